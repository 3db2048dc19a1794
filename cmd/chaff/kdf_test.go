package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
)

// TestShippedKDF: the chaff that go build makes stretches the reader's
// and the journalist's passphrases with the default Argon2id whatever its
// environment says (CHAFF_INSECURE_TEST_KDF was such a switch, and is
// set here); nothing in the binary names it. Negative control: the same
// commands run with this package's test hook (TestMain) make a vault
// whose header names the cheap KDF and a store the cheap KDF opens, so
// the checks catch a binary that weakens either.
func TestShippedKDF(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "chaff")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("CHAFF_INSECURE_TEST_KDF")) {
		t.Error("the shipped binary still names CHAFF_INSECURE_TEST_KDF")
	}
	shipped := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "CHAFF_INSECURE_TEST_KDF=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("chaff %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	hooked := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != 0 {
			t.Fatalf("chaff %v exited %d\n%s", args, code, out.String())
		}
		return out.String()
	}

	// The journalist's vault names its KDF in its header.
	n := testnet.NewNewsroom(t, time.Now())
	n.AddJournalist("carol")
	for _, c := range []struct {
		name string
		run  func(...string) string
		want journalist.KDFParams
	}{
		{"shipped", shipped, journalist.DefaultKDF},
		{"hooked", hooked, cheapJournalistKDF},
	} {
		bundle := n.JournalistBundle("carol", "http://127.0.0.1:1", t.TempDir())
		vault := filepath.Join(dir, c.name+".vault")
		c.run("journalist", "init", "--bundle", bundle, "--vault", vault)
		if got := vaultKDF(t, vault); got != c.want {
			t.Errorf("%s chaff made a vault with %+v, want %+v", c.name, got, c.want)
		}
	}

	// The reader's store does not: only the passphrase stretched with the
	// KDF it was made with opens it.
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{})
	_, cnBundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The CoverNode publishes the messaging key readers seal to.
	if _, err := covernode.New(ctx, nc, covernode.Config{
		StateDir: t.TempDir(), StateKey: testnet.StateKey(t), BundlePath: cnBundle, API: apiclient.New(a.URL),
		Anchors: []keys.SignedPublicKey{n.Org.Public}, U2J: mix.TestU2J, J2U: mix.TestJ2U,
	}); err != nil {
		t.Fatal(err)
	}
	anchor := filepath.Join(dir, "org.pub.json")
	ab, _ := json.Marshal(n.Org.Public)
	if err := os.WriteFile(anchor, ab, 0o644); err != nil {
		t.Fatal(err)
	}
	passphrase := regexp.MustCompile(`(?m)^ {4}(\S.*\S)$`)
	for _, c := range []struct {
		name      string
		run       func(...string) string
		cheapOpen bool
	}{
		{"shipped", shipped, false},
		{"hooked", hooked, true},
	} {
		state := filepath.Join(dir, c.name+"-reader")
		out := c.run("source", "init", "--state-dir", state, "--api", a.URL, "--anchor", anchor)
		m := passphrase.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no passphrase in:\n%s", out)
		}
		app, err := client.Start(client.Config{StateDir: state, API: apiclient.New(a.URL), Anchors: []keys.SignedPublicKey{n.Org.Public}, KDF: cheapReaderKDF})
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.Unlock(m[1])
		if opened := err == nil; opened != c.cheapOpen {
			t.Errorf("%s chaff's store: the cheap KDF opens it: %v (%v), want %v", c.name, opened, err, c.cheapOpen)
		}
		if err != nil && !errors.Is(err, client.ErrNoMailbox) {
			t.Fatal(err)
		}
	}
}

// vaultKDF reads the Argon2id parameters from a vault's header: after the
// magic line and 16 bytes of salt, passes, memory (KiB) and threads,
// big-endian.
func vaultKDF(t *testing.T, path string) journalist.KDFParams {
	t.Helper()
	b, err := os.ReadFile(path)
	off := len("CHAFF-VAULT-1\n") + 16
	if err != nil || len(b) < off+9 {
		t.Fatalf("reading %s: %v", path, err)
	}
	return journalist.KDFParams{Time: binary.BigEndian.Uint32(b[off:]), Memory: binary.BigEndian.Uint32(b[off+4:]), Threads: b[off+8]}
}
