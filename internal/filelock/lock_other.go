//go:build !unix

package filelock

import "os"

// Lock does not lock where flock is missing.
func Lock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
