package covernode

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/identityapi"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
)

// TestKeyRotation, in both protocol modes: two weeks on, the node gets a
// new identity key through the identity API; a week on it publishes a new
// messaging key of the mode (X-Wing in pq mode), on the same cadence; it
// signs with the newest published keys. In pq mode its messaging keys are
// X-Wing keys in the sealed key state (no seed readable in the file), and
// a node started again from that state opens with every unexpired one.
func TestKeyRotation(t *testing.T) {
	for _, mode := range []string{keys.ModeCoverDrop, keys.ModePQ} {
		t.Run(mode, func(t *testing.T) { keyRotation(t, mode) })
	}
}

func keyRotation(t *testing.T, mode string) {
	n := testnet.NewNewsroomIn(t, mode, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{})
	_, bundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	ids := identityapi.New(identityapi.Config{
		API: apiclient.New(a.URL), Anchors: []keys.SignedPublicKey{n.Org.Public},
		CoverNodeProvisioning:  func() (*keys.KeyPair, error) { return n.CNProv, nil },
		JournalistProvisioning: func() (*keys.KeyPair, error) { return n.JProv, nil },
	})
	is := httptest.NewServer(ids.Handler())
	defer is.Close()
	now := time.Now()
	clock := func() time.Time { return now }
	state, stateKey := t.TempDir(), testnet.StateKey(t)
	node, err := New(context.Background(), nc, Config{
		StateDir: state, StateKey: stateKey, BundlePath: bundle, API: apiclient.New(a.URL), IdentityAPI: apiclient.New(is.URL),
		Anchors: []keys.SignedPublicKey{n.Org.Public}, U2J: mix.TestU2J, J2U: mix.TestJ2U, Now: func() time.Time { return clock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	published := func() (ids, msgs int) {
		h, err := apiclient.New(a.URL).PublicKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		v, err := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range v.CoverNodes["covernode_001"] {
			ids++
			msgs += len(f.Messaging)
		}
		if kem := len(v.CoverNodeKEMKeys("covernode_001")); (mode == keys.ModePQ) != (kem == msgs) || (mode == keys.ModePQ) == (kem == 0) {
			t.Fatalf("%d of %d published messaging keys are X-Wing keys in %s mode", kem, msgs, mode)
		}
		return ids, msgs
	}
	if i, m := published(); i != 1 || m != 1 {
		t.Fatalf("at start: %d identity and %d messaging keys published", i, m)
	}
	_, epoch1, _ := node.keys.signer(now)
	node.rotateOnce(context.Background())
	if i, m := published(); i != 1 || m != 1 {
		t.Fatalf("nothing due, yet: %d identity and %d messaging keys", i, m)
	}
	now = now.Add(15 * 24 * time.Hour)
	node.rotateOnce(context.Background())
	if i, m := published(); i != 2 || m != 2 {
		t.Fatalf("after 15 days: %d identity and %d messaging keys published, want 2 and 2", i, m)
	}
	sk, epoch2, err := node.keys.signer(now)
	if err != nil || epoch2 <= epoch1 {
		t.Fatalf("signer epoch %d after %d: %v", epoch2, epoch1, err)
	}
	node.keys.mu.RLock()
	newest := node.keys.Identity[len(node.keys.Identity)-1]
	node.keys.mu.RUnlock()
	if newest.Epoch == 0 || string(sk.VerifyingKey().Bytes()) != string(newest.Pair.Public.Key[:]) {
		t.Fatal("the node does not sign with its new identity key")
	}
	if mode != keys.ModePQ {
		return
	}
	// The first messaging key expired on day 14 and was forgotten.
	if n := len(node.keys.kemDecryptionKeys(now)); n != 1 || len(node.keys.Messaging) != 1 {
		t.Fatalf("the node opens with %d X-Wing keys of %d, want its one unexpired key", n, len(node.keys.Messaging))
	}
	sealed, err := os.ReadFile(filepath.Join(state, SealedKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	node.keys.mu.RLock()
	for _, k := range node.keys.Messaging {
		xk, err := k.Pair.KEMPrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		if seed := xk.Seed(); bytes.Contains(sealed, seed) || bytes.Contains(sealed, []byte(hex.EncodeToString(seed))) {
			t.Fatal("an X-Wing seed is readable in the sealed key state")
		}
	}
	node.keys.mu.RUnlock()
	again, _, err := loadKeyState(state, stateKey)
	if err != nil || again.Mode != keys.ModePQ || len(again.kemDecryptionKeys(now)) != 1 || len(again.decryptionKeys(now)) != 0 {
		t.Fatalf("reloaded key state: %v", err)
	}
}

// TestForgetExpired: expired identity and messaging keys go, secrets and
// all; unexpired ones and an identity key still waiting for its
// certificate stay.
func TestForgetExpired(t *testing.T) {
	now := time.Now()
	n := testnet.NewNewsroom(t, now.Add(-60*24*time.Hour))
	gen := func(role keys.Role, parent *keys.KeyPair, at time.Time, epoch uint64) *ownKey {
		kp, err := keys.Generate(role, parent, at)
		if err != nil {
			t.Fatal(err)
		}
		return &ownKey{Pair: kp, Epoch: epoch, CreatedAt: at}
	}
	oldID := gen(keys.CoverNodeIdentity, n.CNProv, now.Add(-40*24*time.Hour), 1)
	newID := gen(keys.CoverNodeIdentity, n.CNProv, now.Add(-time.Hour), 3)
	sk, _ := crypto.GenerateSigningKey()
	candidate := &ownKey{Pair: keys.NewSigningKeyPair(sk, nil), CreatedAt: now}
	oldMsg := gen(keys.CoverNodeMessaging, oldID.Pair, now.Add(-40*24*time.Hour), 2)
	newMsg := gen(keys.CoverNodeMessaging, newID.Pair, now.Add(-time.Hour), 4)
	ks := &keyState{Identity: []*ownKey{oldID, newID, candidate}, Messaging: []*ownKey{oldMsg, newMsg}}
	if !oldID.Pair.Public.Expired(now) || !oldMsg.Pair.Public.Expired(now) {
		t.Fatal("the old keys should have expired by now")
	}
	if !ks.forgetExpired(now) {
		t.Fatal("nothing forgotten")
	}
	if len(ks.Identity) != 2 || ks.Identity[0] != newID || ks.Identity[1] != candidate {
		t.Errorf("identity keys kept: %d, want the new one and the candidate", len(ks.Identity))
	}
	if len(ks.Messaging) != 1 || ks.Messaging[0] != newMsg {
		t.Errorf("messaging keys kept: %d, want the new one", len(ks.Messaging))
	}
	if ks.forgetExpired(now) {
		t.Error("forgot something a second time")
	}
}

// TestKeyStateSealed: the key state on disk is sealed under the state key
// (none of its secrets appear in the file), another key does not open it,
// and a plaintext key state left by an earlier version is sealed and
// removed.
func TestKeyStateSealed(t *testing.T) {
	dir := t.TempDir()
	key := testnet.StateKey(t)
	ks, migrated, err := loadKeyState(dir, key)
	if err != nil || migrated {
		t.Fatal(err, migrated)
	}
	n := testnet.NewNewsroom(t, time.Now())
	id := n.Gen(keys.CoverNodeIdentity, n.CNProv)
	ks.CoverNodeID, ks.Identity, ks.LogKey = "covernode_001", []*ownKey{{Pair: id, Epoch: 1}}, bytes.Repeat([]byte{7}, 32)
	if err := ks.save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, SealedKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := id.SigningKey()
	for what, secret := range map[string][]byte{"identity key": seed.Seed(), "log key": ks.LogKey, "covernode id": []byte("covernode_001")} {
		if bytes.Contains(b, secret) || bytes.Contains(b, []byte(hex.EncodeToString(secret))) {
			t.Errorf("the %s is readable in %s", what, SealedKeysFile)
		}
	}
	if _, _, err := loadKeyState(dir, testnet.StateKey(t)); !errors.Is(err, ErrWrongStateKey) {
		t.Fatalf("another state key: %v", err)
	}
	if _, _, err := loadKeyState(dir, nil); err == nil {
		t.Fatal("no state key: accepted")
	}
	again, _, err := loadKeyState(dir, key)
	if err != nil || again.CoverNodeID != "covernode_001" || !bytes.Equal(again.LogKey, ks.LogKey) {
		t.Fatalf("reopened: %v", err)
	}

	// An earlier version's plaintext.
	old := t.TempDir()
	plain, _ := json.Marshal(again)
	os.WriteFile(filepath.Join(old, plainKeysFile), plain, 0o600)
	migratedKS, migrated, err := loadKeyState(old, key)
	if err != nil || !migrated || migratedKS.CoverNodeID != "covernode_001" {
		t.Fatalf("migration: %v %v", err, migrated)
	}
	if _, err := os.Stat(filepath.Join(old, plainKeysFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("the plaintext key state is still there")
	}
	if _, migrated, err := loadKeyState(old, key); err != nil || migrated {
		t.Fatalf("after migration: %v %v", err, migrated)
	}
}
