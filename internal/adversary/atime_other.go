//go:build !linux

package adversary

import (
	"io/fs"
	"time"
)

func accessTime(fs.FileInfo) time.Time { return time.Time{} }
