// Package buildinfo names the build a chaff binary came from.
//
// scripts/release sets Version and Commit with the linker's -X flag; a
// plain `go build` leaves them "dev". Nothing here is secret, and nothing
// depends on the machine or the time of the build, so that release builds
// are reproducible byte for byte.
package buildinfo

import (
	"fmt"
	"runtime"
)

// Version and Commit are set by scripts/release through
// -ldflags "-X github.com/chaffhq/chaff/internal/buildinfo.Version=...".
var (
	Version = "dev"
	Commit  = "dev"
)

// String is the one-line answer of `chaff version`: version, commit and the
// Go toolchain the binary was built with.
func String() string {
	return fmt.Sprintf("chaff %s (commit %s, %s, %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
