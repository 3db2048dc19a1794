// Package release holds the test that scripts/release builds reproducible
// binaries: the same source built in two different directories gives the
// same bytes, with no build path, no VCS stamp and the version and commit
// that the script sets. It has no code of its own.
package release
