package newsroom_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
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
	// The backup admin's keys: published under the organisation key, the
	// messaging key pair kept beside the others, readable by its owner.
	bk, err := n.CreateBackupKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(bk.Files[keys.BackupMessaging]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup messaging key pair: %v", err)
	}
	h, err := n.API.PublicKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{c.Org.Public}, time.Now())
	if err != nil || len(v.Backup) != 1 || len(v.Backup[0].Messaging) != 1 || !v.Backup[0].Messaging[0].SignedPublicKey.Equal(&bk.Messaging.Public) {
		t.Fatalf("the published backup keys: %+v %v", v.Backup, err)
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

// TestRenew renews the provisioning and admin keys: the new ones are
// published and used for what follows, and keys the old ones certified
// still verify.
func TestRenew(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	c, err := newsroom.Init(dir, start)
	if err != nil {
		t.Fatal(err)
	}
	var offset atomic.Int64 // how far the newsroom's and the API's clock are ahead
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, &testnet.Newsroom{Org: c.Org}, api.Config{Now: clock})
	n := &newsroom.Newsroom{KeysDir: dir, API: apiclient.New(a.URL), Now: clock}
	n.API.Now = clock
	if err := n.Bootstrap(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddJournalist(t.Context(), newsroom.Journalist{ID: "alice", Name: "Alice", Description: "courts"}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	old, err := newsroom.LoadKeyPair(dir, keys.JournalistProvisioning, start)
	if err != nil {
		t.Fatal(err)
	}

	// Too soon: the API refuses a provisioning key within 26 weeks of the
	// last, as upstream does, and the refused key pairs are not kept.
	files, _ := os.ReadDir(dir)
	if _, err := n.Renew(t.Context(), nil); err == nil {
		t.Fatal("a renewal the day after bootstrap was accepted")
	}
	if after, _ := os.ReadDir(dir); len(after) != len(files) {
		t.Fatalf("a refused renewal left %d files behind", len(after)-len(files))
	}
	// Half a year on, when keys.VerifiedKey.RenewalDue says the renewal is due; the files of
	// the ceremony are as old.
	offset.Store(int64(27 * keys.Week))
	for _, f := range files {
		then := start.Add(-27 * keys.Week)
		if err := os.Chtimes(filepath.Join(dir, f.Name()), then, then); err != nil {
			t.Fatal(err)
		}
	}
	var uploaded []keys.Role
	r, err := n.Renew(t.Context(), func(role keys.Role, _ *keys.KeyPair) { uploaded = append(uploaded, role) })
	if err != nil || len(uploaded) != 3 || len(r.Files) != 3 {
		t.Fatalf("renew: %v, uploaded %v", err, uploaded)
	}
	renewed, err := newsroom.LoadKeyPair(dir, keys.JournalistProvisioning, n.Now())
	if err != nil || renewed.Public.Equal(&old.Public) {
		t.Fatalf("the newsroom does not sign with the renewed key: %v", err)
	}
	kc, err := n.CheckKeys(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var published bool
	for _, k := range kc.Verified.All() {
		published = published || (k.Role == keys.JournalistProvisioning && k.Key == renewed.Public.Key)
	}
	if !published || len(kc.Verified.Profiles) != 1 {
		t.Fatalf("after renewal: renewed key published %v, profiles %d", published, len(kc.Verified.Profiles))
	}

	n.API = nil
	if _, err := n.Renew(t.Context(), nil); err == nil {
		t.Fatal("a renewal without the API")
	}
}
