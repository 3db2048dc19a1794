//go:build !unix

package journalist

import "os"

// lockFile does not lock where flock is missing.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
}
