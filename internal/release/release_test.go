package release

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const (
	testVersion = "v9.9.9-repro"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testBinary  = "chaff_" + testVersion + "_linux_amd64"
)

// TestReleaseIsReproducible copies the source tree into two directories,
// runs scripts/release for linux/amd64 in each and compares the binaries.
// The Go build cache is shared (so the test takes seconds, not minutes):
// with -trimpath the compiler's cache keys do not contain the source
// directory, and the linker runs again in each directory.
func TestReleaseIsReproducible(t *testing.T) {
	root := repoRoot(t)
	var bins [2][]byte
	var dirs [2]string
	for i := range bins {
		dirs[i] = filepath.Join(t.TempDir(), "src"+string(rune('a'+i)))
		copyTree(t, root, dirs[i])
		cmd := exec.Command("bash", "scripts/release", testVersion)
		cmd.Dir = dirs[i]
		// The SBOM is written once, in the first directory (about half a
		// minute on a loaded machine): it is checked below, not compared.
		sbom := "CHAFF_RELEASE_SBOM=0"
		if i == 0 {
			sbom = "CHAFF_RELEASE_SBOM=1"
		}
		cmd.Env = append(os.Environ(),
			"CHAFF_RELEASE_TARGETS=linux/amd64",
			"CHAFF_RELEASE_COMMIT="+testCommit,
			sbom,
		)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/release in %s: %v\n%s", dirs[i], err, out)
		}
		dist := filepath.Join(dirs[i], "dist", testVersion)
		b, err := os.ReadFile(filepath.Join(dist, testBinary))
		if err != nil {
			t.Fatal(err)
		}
		bins[i] = b
		sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(sums, []byte("  "+testBinary+"\n")) {
			t.Fatalf("SHA256SUMS does not list %s:\n%s", testBinary, sums)
		}
	}
	if !bytes.Equal(bins[0], bins[1]) {
		t.Fatalf("the two builds differ (%d and %d bytes)", len(bins[0]), len(bins[1]))
	}
	for _, d := range dirs {
		if leaksPath(bins[0], d) {
			t.Errorf("the binary contains its build directory %s", d)
		}
	}
	if leaksPath(bins[0], root) {
		t.Errorf("the binary contains the repository path %s", root)
	}

	checkSBOM(t, filepath.Join(dirs[0], "dist", testVersion))

	// The build settings the script promises, as the binary records them.
	bin := filepath.Join(dirs[0], "dist", testVersion, testBinary)
	info, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, info)
	}
	for _, want := range []string{"-trimpath=true", "CGO_ENABLED=0", "GOAMD64=v1"} {
		if !bytes.Contains(info, []byte(want)) {
			t.Errorf("go version -m lacks %s:\n%s", want, info)
		}
	}
	if bytes.Contains(info, []byte("vcs")) { // -buildvcs=false: no vcs, vcs.revision, vcs.time...
		t.Errorf("the binary carries a VCS stamp:\n%s", info)
	}

	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("chaff version: %v\n%s", err, out)
		}
		for _, want := range []string{testVersion, testCommit, runtime.Version()} {
			if !strings.Contains(string(out), want) {
				t.Errorf("chaff version = %q, missing %q", out, want)
			}
		}
	}
}

// TestLeaksPathCatchesAnUntrimmedBuild is the negative control of the path
// check above: a program built without -trimpath contains its directory,
// and leaksPath says so.
func TestLeaksPathCatchesAnUntrimmedBuild(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/leak\n\ngo 1.21\n")
	write(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { panic(\"x\") }\n")
	bin := filepath.Join(dir, "leak")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !leaksPath(b, dir) {
		t.Fatal("leaksPath missed the build directory of an untrimmed build")
	}
}

// checkSBOM checks the release's SBOM: listed in SHA256SUMS, its top
// component named by the release's VERSION (not a git pseudo-version, nor
// nothing, which is what the generator gives in a tree without .git, like
// this copy), and the module graph in it.
func checkSBOM(t *testing.T, dist string) {
	t.Helper()
	name := "chaff_" + testVersion + ".cdx.json"
	b, err := os.ReadFile(filepath.Join(dist, name))
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sums, []byte("  "+name+"\n")) {
		t.Errorf("SHA256SUMS does not list %s:\n%s", name, sums)
	}
	var d struct {
		Metadata struct {
			Component struct {
				Name, Version, Purl string
				BOMRef              string `json:"bom-ref"`
			}
		}
		Components   []struct{ Name string }
		Dependencies []struct{ Ref string }
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := d.Metadata.Component
	want := "pkg:golang/github.com/chaffhq/chaff@" + testVersion + "?type=module"
	if c.Name != "github.com/chaffhq/chaff" || c.Version != testVersion || c.Purl != want || c.BOMRef != want {
		t.Errorf("the SBOM names the release %+v, want version %s", c, testVersion)
	}
	if !slices.ContainsFunc(d.Dependencies, func(dep struct{ Ref string }) bool { return dep.Ref == want }) {
		t.Errorf("the SBOM's dependency graph does not name %s", want)
	}
	if !slices.ContainsFunc(d.Components, func(m struct{ Name string }) bool { return m.Name == "golang.org/x/crypto" }) {
		t.Errorf("the SBOM lacks golang.org/x/crypto: %d components", len(d.Components))
	}
}

// leaksPath reports whether bin contains dir (as built on this machine).
func leaksPath(bin []byte, dir string) bool {
	return bytes.Contains(bin, []byte(filepath.ToSlash(dir)))
}

// repoRoot is the module root: two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "release")); err != nil {
		t.Fatal(err)
	}
	return root
}

// copyTree copies the files git knows of (tracked, or untracked and not
// ignored) from src to dst, so that build output and local data stay out.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = src
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		from := filepath.Join(src, name)
		fi, err := os.Lstat(from)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
