package newsroom_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/newsroom"
)

// TestCeremony runs the ceremony against an API: init, bootstrap, a
// CoverNode and a journalist with their bundles, a profile change, the
// status, the key check and a removal; and checks the refusals.
func TestCeremony(t *testing.T) {
	dir := t.TempDir()
	c, err := newsroom.Init(filepath.Join(dir, "keys"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newsroom.Init(c.Dir, time.Now()); err == nil {
		t.Fatal("a second Init in the same directory")
	}
	for _, role := range newsroom.InitRoles {
		fi, err := os.Stat(c.Files[role])
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", role, fi.Mode(), err)
		}
	}
	anchor, path, err := newsroom.Anchor(c.Dir)
	if err != nil || path != c.Anchor || !anchor.Equal(&c.Org.Public) {
		t.Fatalf("anchor %s: %v", path, err)
	}

	_, nc := testnet.StartNATS(t)
	// An API that trusts another organisation: bootstrap refuses it.
	other := testnet.StartAPI(t, nc, testnet.NewNewsroom(t, time.Now()), api.Config{})
	n := &newsroom.Newsroom{KeysDir: c.Dir, API: apiclient.New(other.URL)}
	if err := n.Bootstrap(t.Context(), nil); !errors.Is(err, newsroom.ErrAnchorNotServed) {
		t.Fatalf("bootstrap against a foreign API: %v", err)
	}
	_, nc2 := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc2, &testnet.Newsroom{Org: c.Org}, api.Config{})
	n.API = apiclient.New(a.URL)
	var uploaded []keys.Role
	if err := n.Bootstrap(t.Context(), func(r keys.Role, _ *keys.KeyPair) { uploaded = append(uploaded, r) }); err != nil || len(uploaded) != 3 {
		t.Fatalf("bootstrap: %v, uploaded %v", err, uploaded)
	}
	cn, err := n.AddCoverNode(t.Context(), "covernode_001", dir, true)
	if err != nil || cn.Epoch == 0 {
		t.Fatalf("covernode: %v", err)
	}
	if b, err := keys.ReadCoverNodeBundle(cn.Path); err != nil || b.CoverNodeID != "covernode_001" {
		t.Fatalf("covernode bundle: %v", err)
	}
	if _, err := n.AddCoverNode(t.Context(), "covernode_001", dir, false); err == nil {
		t.Fatal("a bundle written over another")
	}
	alice := newsroom.Journalist{ID: "alice", Name: "Alice", Description: "courts"}
	j, err := n.AddJournalist(t.Context(), alice, dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := keys.ReadJournalistBundle(j.Path); err != nil || b.JournalistID != "alice" || b.API != a.URL || !b.TrustAnchor.Equal(&c.Org.Public) {
		t.Fatalf("journalist bundle: %+v %v", b, err)
	}
	if _, err := n.AddJournalist(t.Context(), alice, t.TempDir()); !errors.Is(err, newsroom.ErrJournalistExists) {
		t.Fatalf("alice twice: %v", err)
	}
	long := "a description much longer than forty bytes"
	if err := n.UpdateJournalist(t.Context(), "alice", newsroom.ProfileChange{Description: &long}); err == nil {
		t.Fatal("a long description for a journalist who is not a desk")
	}
	desk := true
	if err := n.UpdateJournalist(t.Context(), "alice", newsroom.ProfileChange{Description: &long, Desk: &desk}); err != nil {
		t.Fatal(err)
	}
	if s, err := n.SetStatus(t.Context(), "available", "up"); err != nil || s != "AVAILABLE" {
		t.Fatalf("status %q: %v", s, err)
	}
	if _, err := n.SetStatus(t.Context(), "sleepy", "up"); err == nil {
		t.Fatal("an unknown status")
	}
	kc, err := n.CheckKeys(t.Context(), nil)
	if err != nil || len(kc.Verified.Profiles) != 1 || len(kc.Warnings) != 0 {
		t.Fatalf("check: %v %+v", err, kc)
	}
	if err := n.RemoveJournalist(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := n.RemoveJournalist(t.Context(), "alice"); !errors.Is(err, newsroom.ErrNoJournalist) {
		t.Fatalf("alice removed twice: %v", err)
	}
	if err := n.UpdateJournalist(t.Context(), "zed", newsroom.ProfileChange{Desk: &desk}); !errors.Is(err, newsroom.ErrNoJournalist) {
		t.Fatalf("zed: %v", err)
	}
}
