package embeddednats_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/internal/embeddednats"
)

// TestStartRefusesExposed: a client listener beyond loopback needs both
// TLS and a token, and no cluster routes; nothing listens when refused.
func TestStartRefusesExposed(t *testing.T) {
	for _, o := range []embeddednats.Options{
		{Host: "0.0.0.0", Port: -1},
		{Host: "0.0.0.0", Port: -1, Token: "t"},
		{Host: "192.0.2.1", Port: 4222, TLS: &tls.Config{}},
		{Host: "::", Port: -1, Token: "t", TLS: &tls.Config{}, ClusterName: "c"},
	} {
		o.StoreDir, o.Name = t.TempDir(), "x"
		if s, err := embeddednats.Start(o); !errors.Is(err, embeddednats.ErrExposed) {
			if s != nil {
				s.Shutdown()
			}
			t.Errorf("%+v: %v", o, err)
		}
	}
	for host, want := range map[string]bool{"": true, "localhost": true, "127.0.0.1": true, "::1": true, "127.1.2.3": true, "0.0.0.0": false, "::": false, "example.org": false, "10.0.0.1": false} {
		if embeddednats.IsLoopback(host) != want {
			t.Errorf("IsLoopback(%q) = %v", host, !want)
		}
	}
}

// TestToken: a token file is created 0600 with a fresh token, read back
// the same, and refused when others may read it or it is short.
func TestToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	tok, created, err := embeddednats.LoadOrCreateToken(path)
	if err != nil || !created || len(tok) != 2*embeddednats.TokenSize {
		t.Fatal(tok, created, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	other, _, _ := embeddednats.LoadOrCreateToken(filepath.Join(dir, "other"))
	if other == tok {
		t.Error("two tokens alike")
	}
	again, created, err := embeddednats.LoadOrCreateToken(path)
	if err != nil || created || again != tok {
		t.Fatal(again, created, err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := embeddednats.LoadOrCreateToken(path); err == nil {
		t.Error("a token others can read was taken")
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := embeddednats.ReadToken(short); err == nil {
		t.Error("a short token was taken")
	}
}
