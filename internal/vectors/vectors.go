// Package vectors finds the upstream CoverDrop test vectors for conformance
// tests. Chaff keeps no copy of them: tests read them from a CoverDrop
// checkout, or from a folder laid out at upstream's paths, named by
// CHAFF_COVERDROP_DIR; by default from ../shared/vectors/coverdrop beside the
// repository. Where they are absent a test skips, saying how to get them,
// unless CHAFF_REQUIRE_VECTORS=1, where absence fails the test.
package vectors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Paths inside a CoverDrop checkout.
const (
	Common      = "common/tests/vectors"
	TestKeys    = "android/testutils/src/main/assets/integration-test-keys"
	Scenarios   = "android/testutils/src/main/assets/integration-test-vectors"
	AnchorFile  = TestKeys + "/organization-73ee6a1a.pub.json"
	UserKeyFile = TestKeys + "/user-4511b55a.keypair.json"
)

// Locate returns the vectors folder, or "" if none is found. It does not
// need a test and is used by the fuzz seeds and the CLI tests too.
func Locate() string {
	if dir := os.Getenv("CHAFF_COVERDROP_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, Common)); err != nil {
			return ""
		}
		return dir
	}
	// Walk up from the working directory (a package folder under test) to
	// the module root, and look beside it.
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(dir, "..", "shared", "vectors", "coverdrop")
			if _, err := os.Stat(filepath.Join(cand, Common)); err == nil {
				return cand
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// Dir returns the vectors folder, or skips (fails under
// CHAFF_REQUIRE_VECTORS=1) the test when there is none.
func Dir(t testing.TB) string {
	t.Helper()
	dir := Locate()
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, Common)); err == nil {
			return dir
		}
	}
	if Required() {
		t.Fatal(NotFound + " (CHAFF_REQUIRE_VECTORS=1)")
	}
	t.Skip(NotFound)
	return ""
}

// NotFound is what a test says when it skips for want of the vectors;
// ./scripts/test recognises it.
const NotFound = "CoverDrop test vectors not found: set CHAFF_COVERDROP_DIR to a CoverDrop checkout " +
	"(git clone https://github.com/guardian/coverdrop) or to a folder holding its " +
	Common + " and android/testutils/src/main/assets folders"

// Required reports whether a missing vectors folder is a failure
// (CHAFF_REQUIRE_VECTORS=1, as CI sets).
func Required() bool { return os.Getenv("CHAFF_REQUIRE_VECTORS") == "1" }

// Read returns the bytes of a vector file, given its path in the checkout.
func Read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), rel))
	if err != nil {
		t.Fatalf("reading vector: %v", err)
	}
	return b
}

// Glob returns the vector files matching a pattern under the checkout, in
// sorted order; it fails the test when none matches.
func Glob(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(Dir(t), pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vector files match %s", pattern)
	}
	sort.Strings(files)
	return files
}

// Scenario is one step of an upstream integration scenario: the API's
// responses and the stack's clock at that step.
type Scenario struct {
	Name, Step          string
	PublishedKeys       []byte
	UserDeadDrops       []byte
	JournalistDeadDrops []byte
	Timestamp           []byte // a JSON string
}

// Scenarios returns every step of the named scenarios.
func LoadScenarios(t testing.TB, names ...string) []Scenario {
	t.Helper()
	var out []Scenario
	for _, name := range names {
		for _, f := range Glob(t, filepath.Join(Scenarios, name, "published_keys", "*.json")) {
			step := filepath.Base(f)
			read := func(kind string) []byte {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(f)), kind, step))
				if err != nil {
					t.Fatalf("reading vector: %v", err)
				}
				return b
			}
			out = append(out, Scenario{
				Name: name, Step: step,
				PublishedKeys:       read("published_keys"),
				UserDeadDrops:       read("user_dead_drops"),
				JournalistDeadDrops: read("journalist_dead_drops"),
				Timestamp:           read("timestamp"),
			})
		}
	}
	return out
}

// JSON unmarshals a vector file into v.
func JSON(t testing.TB, rel string, v any) {
	t.Helper()
	if err := json.Unmarshal(Read(t, rel), v); err != nil {
		t.Fatalf("parsing vector %s: %v", rel, err)
	}
}
