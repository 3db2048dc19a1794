package covernode

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadStateKey: a first start creates the key file (owner-only); later
// starts read it; a key inside the state directory, a loose file mode, a
// missing key for an existing sealed state and a malformed key are refused;
// the environment may stand in for the file, not beside it.
func TestLoadStateKey(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "secrets", "state.key")
	os.MkdirAll(filepath.Dir(path), 0o700)
	var out bytes.Buffer
	k1, err := LoadStateKey("", path, state, &out)
	if err != nil || !strings.Contains(out.String(), "Created a new state key") {
		t.Fatalf("first start: %v %q", err, out.String())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	out.Reset()
	k2, err := LoadStateKey("", path, state, &out)
	if err != nil || *k1 != *k2 || out.Len() != 0 {
		t.Fatalf("second start: %v, same key %v, said %q", err, k1 == k2, out.String())
	}
	refused := func(what, path, want string) {
		t.Helper()
		if _, err := LoadStateKey("", path, state, &out); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error about %q", what, err, want)
		}
	}
	refused("inside the state", filepath.Join(state, "state.key"), "inside --state")
	refused("no file given", "", "--state-key-file is required")
	os.Chmod(path, 0o644)
	refused("readable by others", path, "chmod 600")
	os.Chmod(path, 0o600)
	os.MkdirAll(state, 0o700)
	os.WriteFile(filepath.Join(state, "keys.sealed"), []byte("sealed"), 0o600)
	refused("sealed state, key missing", filepath.Join(dir, "other.key"), "holds a sealed key state")
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not hex\n"), 0o600)
	refused("malformed", bad, "64 hex digits")

	env := hex.EncodeToString(k1[:])
	if k3, err := LoadStateKey(env, "", state, &out); err != nil || *k3 != *k1 {
		t.Errorf("from the environment: %v", err)
	}
	if _, err := LoadStateKey(env, path, state, &out); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both: %v", err)
	}
}
