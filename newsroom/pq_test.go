package newsroom_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/newsroom"
)

// TestCeremonyPQ runs the ceremony of a pq deployment (docs/PQ.md §8): the
// anchor file carries "protocol": "pq", the API publishes the pq
// organisation key, bootstrap, a CoverNode and a journalist go through as
// in coverdrop mode, the journalist's bundle pins the pq anchor, and an
// X-Wing messaging key uploaded by the journalist is published and
// verifies from the anchor.
func TestCeremonyPQ(t *testing.T) {
	dir := t.TempDir()
	if _, err := newsroom.InitIn(filepath.Join(dir, "bad"), "quantum", time.Now()); err == nil {
		t.Fatal("an unknown mode")
	}
	c, err := newsroom.InitIn(filepath.Join(dir, "keys"), keys.ModePQ, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(c.Anchor)
	if err != nil || !strings.Contains(string(raw), `"protocol": "pq"`) {
		t.Fatalf("pq anchor file %s: %v", raw, err)
	}
	if m, err := newsroom.Mode(c.Dir); err != nil || m != keys.ModePQ {
		t.Fatalf("mode %q, %v", m, err)
	}
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, &testnet.Newsroom{Org: c.Org}, api.Config{})
	n := &newsroom.Newsroom{KeysDir: c.Dir, API: apiclient.New(a.URL)}
	body, err := n.API.PublicKeysBody(t.Context())
	if err != nil || !strings.Contains(string(body), `"protocol":"pq"`) {
		t.Fatalf("org_pk of a pq deployment without its mode: %s %v", body, err)
	}
	if err := n.Bootstrap(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddCoverNode(t.Context(), "covernode_001", dir, true); err != nil {
		t.Fatal(err)
	}
	j, err := n.AddJournalist(t.Context(), newsroom.Journalist{ID: "alice", Name: "Alice", Description: "courts"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.ReadJournalistBundle(j.Path)
	if err != nil || b.TrustAnchor.Mode() != keys.ModePQ {
		t.Fatalf("journalist bundle does not pin the pq anchor: %v", err)
	}
	// The journalist publishes an X-Wing messaging key, as the vault does.
	msg, err := keys.GenerateIn(keys.ModePQ, keys.JournalistMessaging, b.IdentityKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.API.UploadMessagingKey(t.Context(), apiclient.PostJournalistMessagingKey, b.IdentityKey, msg.Public); err != nil {
		t.Fatalf("uploading an X-Wing messaging key: %v", err)
	}
	kc, err := n.CheckKeys(t.Context(), nil)
	if err != nil || kc.Verified.Mode != keys.ModePQ {
		t.Fatalf("check: %v", err)
	}
	jk, err := kc.Verified.JournalistKEMKey("alice")
	if err != nil || !jk.Equal(msg.Public.KEM) {
		t.Fatalf("published X-Wing key: %v", err)
	}
	// The backup admin's messaging key is X-Wing, published and verified
	// in pq mode (a coverdrop one would be dropped).
	bk, err := n.CreateBackupKeys(t.Context())
	if err != nil || bk.Messaging.Public.KEM == nil {
		t.Fatalf("backup keys: %v", err)
	}
	if kc, err = n.CheckKeys(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if pk, err := kc.Verified.BackupKEMKey(); err != nil || !pk.Equal(bk.Messaging.Public.KEM) {
		t.Fatalf("published backup X-Wing key: %v", err)
	}
	bundle, _ := json.Marshal(b)
	if strings.Contains(string(bundle), `"protocol"`) != true {
		t.Fatal("the bundle's anchor lost its mode")
	}
}
