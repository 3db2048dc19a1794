package keys_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
)

// TestRingLatest: the latest key is the published, certified, unexpired
// one valid longest; candidates, expired keys and uncertified keys never
// are.
func TestRingLatest(t *testing.T) {
	now := time.Now()
	c := newChain(t, now.Add(-20*24*time.Hour))
	old := &keys.OwnKey{Pair: gen(t, keys.CoverNodeMessaging, c.cnID, now.Add(-15*24*time.Hour)), Epoch: 1, CreatedAt: now.Add(-15 * 24 * time.Hour)}
	mid := &keys.OwnKey{Pair: gen(t, keys.CoverNodeMessaging, c.cnID, now.Add(-2*time.Hour)), Epoch: 2, CreatedAt: now.Add(-2 * time.Hour)}
	newer := &keys.OwnKey{Pair: gen(t, keys.CoverNodeMessaging, c.cnID, now.Add(-time.Hour)), Epoch: 3, CreatedAt: now.Add(-3 * time.Hour)}
	cand := &keys.OwnKey{Pair: gen(t, keys.CoverNodeMessaging, c.cnID, now), CreatedAt: now}
	if !old.Pair.Public.Expired(now) {
		t.Fatal("the old key should have expired")
	}
	r := keys.Ring{old, newer, mid, cand}
	if got := r.Latest(now); got != newer {
		t.Errorf("latest is not the key valid longest (made %v)", got.CreatedAt)
	}
	unsigned := keys.Ring{{Pair: uncertified(t), Epoch: 5, CreatedAt: now}, cand, old}
	if got := unsigned.Latest(now); got != nil {
		t.Error("an uncertified, a candidate or an expired key was taken as the latest")
	}
	if r.Candidate() != cand || (keys.Ring{old, mid}).Candidate() != nil {
		t.Error("the candidate is not the unpublished key")
	}
}

// TestRingNext: a messaging key is made (certified by the parent) once
// the newest is a rotation period old, an identity key uncertified; a
// candidate is returned again until published, and nothing is due before
// the period is over.
func TestRingNext(t *testing.T) {
	now := time.Now()
	c := newChain(t, now.Add(-3*24*time.Hour))
	id := &keys.OwnKey{Pair: c.jID, Epoch: 1, CreatedAt: now.Add(-3 * 24 * time.Hour)}

	var msg keys.Ring
	k, created, err := msg.Next(keys.JournalistMessaging, c.jID, now)
	if err != nil || !created || k == nil || len(msg) != 1 || !k.Pair.Signed || k.Epoch != 0 {
		t.Fatalf("first messaging key: %v created=%v len=%d", err, created, len(msg))
	}
	if err := k.Pair.Public.Verify(&c.jID.Public, now); err != nil {
		t.Fatalf("the new messaging key is not certified by its parent: %v", err)
	}
	again, created, err := msg.Next(keys.JournalistMessaging, c.jID, now.Add(48*time.Hour))
	if err != nil || created || again != k || len(msg) != 1 {
		t.Fatal("the candidate was not returned again before it was published")
	}
	if err := k.Published(7, nil, now); err != nil || k.Epoch != 7 {
		t.Fatal(err)
	}
	if k, _, _ := msg.Next(keys.JournalistMessaging, c.jID, now.Add(23*time.Hour)); k != nil {
		t.Error("a new messaging key before the rotation period was over")
	}
	k2, created, err := msg.Next(keys.JournalistMessaging, c.jID, now.Add(keys.JournalistMessaging.RotateAfter()))
	if err != nil || !created || k2 == nil || len(msg) != 2 {
		t.Fatal("no new messaging key after the rotation period", err)
	}

	ids := keys.Ring{id}
	if k, _, _ := ids.Next(keys.JournalistIdentity, nil, now); k != nil {
		t.Fatal("a new identity key before the rotation period was over")
	}
	at := id.CreatedAt.Add(keys.JournalistIdentity.RotateAfter())
	cand, created, err := ids.Next(keys.JournalistIdentity, nil, at)
	if err != nil || !created || cand.Pair.Signed || cand.Epoch != 0 || len(ids) != 2 {
		t.Fatal("the new identity key should be an uncertified candidate", err)
	}
	if _, err := cand.Pair.SigningKey(); err != nil {
		t.Fatal(err)
	}
}

// TestRingPublished: an identity candidate takes the certificate the API
// answers with only when it is for its own key, unexpired, at a non-zero
// epoch.
func TestRingPublished(t *testing.T) {
	now := time.Now()
	c := newChain(t, now)
	var ids keys.Ring
	cand, _, err := ids.Next(keys.JournalistIdentity, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	other := gen(t, keys.JournalistIdentity, c.jProv, now)
	if err := cand.Published(4, &other.Public, now); !errors.Is(err, keys.ErrNotThisKey) || cand.Epoch != 0 || cand.Pair.Signed {
		t.Fatalf("took a certificate for another key: %v", err)
	}
	sk, _ := cand.Pair.SigningKey()
	cert, err := keys.Certify(mustSigner(t, c.jProv), &c.jProv.Public, sk.VerifyingKey().Bytes(), keys.JournalistIdentity.ValidFor(), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := cand.Published(4, cert, now.Add(keys.JournalistIdentity.ValidFor()+time.Hour)); !errors.Is(err, keys.ErrNotThisKey) {
		t.Fatalf("took an expired certificate: %v", err)
	}
	if err := cand.Published(0, cert, now); err == nil {
		t.Fatal("published at epoch 0")
	}
	if err := cand.Published(4, cert, now); err != nil || cand.Epoch != 4 || !cand.Pair.Signed || ids.Latest(now) != cand {
		t.Fatalf("the certified candidate is not the latest: %v", err)
	}
}

func uncertified(t *testing.T) *keys.KeyPair {
	t.Helper()
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return keys.NewSigningKeyPair(sk, nil)
}

func mustSigner(t *testing.T, kp *keys.KeyPair) *crypto.SigningKey {
	t.Helper()
	sk, err := kp.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// TestRingForget: expired keys go, an uncertified candidate stays; the
// decryption keys are the unexpired ones, newest first.
func TestRingForget(t *testing.T) {
	now := time.Now()
	c := newChain(t, now.Add(-20*24*time.Hour))
	old := &keys.OwnKey{Pair: c.cnMsg[0], Epoch: 1, CreatedAt: now.Add(-20 * 24 * time.Hour)}
	a := &keys.OwnKey{Pair: gen(t, keys.CoverNodeMessaging, c.cnID, now.Add(-2*time.Hour)), Epoch: 2, CreatedAt: now.Add(-2 * time.Hour)}
	b := &keys.OwnKey{Pair: gen(t, keys.CoverNodeMessaging, c.cnID, now.Add(-time.Hour)), Epoch: 3, CreatedAt: now.Add(-time.Hour)}
	r := keys.Ring{b, old, a}
	dks := r.DecryptionKeys(now)
	skA, _ := a.Pair.PrivateKey()
	skB, _ := b.Pair.PrivateKey()
	if len(dks) != 2 || !bytes.Equal(dks[0].Bytes(), skB.Bytes()) || !bytes.Equal(dks[1].Bytes(), skA.Bytes()) {
		t.Fatalf("decryption keys: %d, want the two unexpired ones newest first", len(dks))
	}
	if !r.Forget(now) || len(r) != 2 || r[0] != b || r[1] != a {
		t.Fatalf("forget kept %d keys, want the two unexpired ones in order", len(r))
	}
	if r.Forget(now) {
		t.Error("forgot something a second time")
	}
	cand := &keys.OwnKey{Pair: uncertified(t), CreatedAt: now.Add(-60 * 24 * time.Hour)}
	ids := keys.Ring{cand}
	if ids.Forget(now) || len(ids) != 1 {
		t.Error("an identity key waiting for its certificate was forgotten")
	}
}

// TestRingJSON: a ring is the JSON array the vault and the key state have
// always kept (pair, epoch, created_at).
func TestRingJSON(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newChain(t, now)
	r := keys.Ring{{Pair: c.jMsg[0], Epoch: 3, CreatedAt: now}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 1 || len(raw[0]) != 3 ||
		string(raw[0]["epoch"]) != "3" || string(raw[0]["created_at"]) != `"2026-01-02T03:04:05Z"` || raw[0]["pair"] == nil {
		t.Fatalf("ring JSON %s", b)
	}
	var back keys.Ring
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 || !back[0].Pair.Public.Equal(&r[0].Pair.Public) {
		t.Fatal("ring JSON does not round-trip", err)
	}
}
