package filelock_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/internal/filelock"
)

// TestLock: a second lock on the same file is refused until the first is
// released. (flock locks belong to open files, so two opens in one process
// exclude each other as two processes do.)
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	a, err := filelock.Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.Lock(path); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	a.Close()
	b, err := filelock.Lock(path)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Close()
}
