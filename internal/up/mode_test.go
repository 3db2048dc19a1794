package up_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/newsroom"
)

// TestProtocolOfDataDir checks that chaff up --protocol never runs a data
// directory in a mode other than the one its organisation key signed, and
// refuses an unknown mode, before it starts anything.
func TestProtocolOfDataDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := newsroom.InitIn(filepath.Join(dir, "keys"), keys.ModePQ, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "up.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := up.Start(t.Context(), up.Options{DataDir: dir, Protocol: keys.ModeCoverDrop, Mixing: "test"})
	if err == nil || !strings.Contains(err.Error(), "holds a pq deployment") {
		t.Fatalf("a pq data directory started in coverdrop mode: %v", err)
	}
	if _, err := up.Start(t.Context(), up.Options{DataDir: t.TempDir(), Protocol: "quantum", Mixing: "test"}); err == nil || !strings.Contains(err.Error(), "unknown protocol mode") {
		t.Fatalf("an unknown mode: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err == nil {
		t.Fatal("a refused start began the deployment")
	}
}
