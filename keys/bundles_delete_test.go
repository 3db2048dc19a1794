package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeleteBundle: a bundle is gone after DeleteBundle; when it cannot be
// removed, the error says that it holds a secret key and must be deleted
// by hand, and its bytes are overwritten all the same.
func TestDeleteBundle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, JournalistBundleName("alice"))
	if err := os.WriteFile(path, []byte(`{"identity_key_pair":"secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := DeleteBundle(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bundle is still there: %v", err)
	}

	os.WriteFile(path, []byte(`{"identity_key_pair":"secret"}`), 0o600)
	removeFile = func(string) error { return errors.New("read-only file system") }
	t.Cleanup(func() { removeFile = os.Remove })
	err := DeleteBundle(path)
	if err == nil || !strings.Contains(err.Error(), "secret identity key in plaintext") || !strings.Contains(err.Error(), "delete it yourself") {
		t.Fatalf("DeleteBundle said %v", err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "secret") {
		t.Fatalf("the bundle's bytes were left: %q", b)
	}
}
