// Package filelock takes exclusive advisory locks on files, so that two
// processes never work on the same state at once. A lock lasts until its
// file is closed or the process ends (a crash releases it).
package filelock

import "errors"

// ErrLocked is returned when another process holds the lock.
var ErrLocked = errors.New("locked by another process")
