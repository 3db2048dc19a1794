package client

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

var fuzzNow = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// FuzzUnmarshalQueue: queue.bin parses without panicking, or gives an
// error; a queue that parses marshals to the very same bytes, and the
// secret's count of real messages stays within the slots.
func FuzzUnmarshalQueue(f *testing.F) {
	cn1, err := crypto.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	cn2, err := crypto.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	cover := func() ([]byte, error) {
		return protocol.SealCoverU2C([]*crypto.PublicKey{cn1.PublicKey(), cn2.PublicKey()})
	}
	secret := []byte("the queue secret of this fuzz target")
	q, err := newQueue(protocol.U2CMessageSize, cover)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(q.marshal())
	for range 2 {
		m, err := cover()
		if err != nil {
			f.Fatal(err)
		}
		if err := q.enqueue(secret, m); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(q.marshal())
	f.Add(q.marshal()[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := unmarshalQueue(b, protocol.U2CMessageSize)
		if err != nil {
			return
		}
		if !bytes.Equal(q.marshal(), b) {
			t.Fatal("a parsed queue does not marshal to its bytes")
		}
		for i, it := range q.items {
			if len(it) != protocol.U2CMessageSize {
				t.Fatalf("slot %d holds %d bytes", i, len(it))
			}
		}
		if n := q.realCount(secret); n < 0 || n > QueueSlots {
			t.Fatalf("%d real messages", n)
		}
	})
}

// FuzzStorageFile: the storage file's outer box is opened without
// panicking (and without the passphrase's KDF); a file that opens gives an
// inner blob of the one size, and no longer opens once changed.
func FuzzStorageFile(f *testing.F) {
	key := [crypto.SecretBoxKeySize]byte{0xde, 0xad, 0xbe, 0xef}
	s := &storage{deviceKey: key, kdf: testKDF}
	add := func(b []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add(s.created())
	// The KDF runs here once, with fixed small parameters.
	add(s.sealed("orbit fancy tulip acorn", []byte(`{"threads":{}}`)))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		inner, err := openOuter(&key, b)
		if err != nil {
			return
		}
		if len(b) != StorageSize || len(inner) != innerSize {
			t.Fatalf("a file of %d bytes opens to %d", len(b), len(inner))
		}
		// Any change to a file that opens makes it a damaged one.
		i := int(binary.BigEndian.Uint32(b)) % len(b)
		tampered := bytes.Clone(b)
		tampered[i] ^= 1
		if _, err := openOuter(&key, tampered); err == nil {
			t.Fatalf("the storage file still opens with byte %d changed", i)
		}
	})
}

// FuzzUnpadMailbox: the plaintext of an inner box gives its mailbox, or
// ErrNoMailbox (the answer of a wrong passphrase), without panicking; a
// mailbox padded as seal pads it comes back whole.
func FuzzUnpadMailbox(f *testing.F) {
	pad := func(m []byte, extra int) []byte {
		p := binary.BigEndian.AppendUint32(nil, uint32(len(m)))
		return append(append(p, m...), bytes.Repeat([]byte{0xa5}, extra)...)
	}
	f.Add(pad([]byte(`{"threads":{}}`), 100))
	f.Add(pad(nil, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, plain []byte) {
		m, err := unpadMailbox(plain)
		switch {
		case err != nil && !errors.Is(err, ErrNoMailbox):
			t.Fatalf("an error other than ErrNoMailbox: %v", err)
		case err == nil && (len(plain) < 4 || uint32(len(m)) != binary.BigEndian.Uint32(plain) || !bytes.Equal(m, plain[4:4+len(m)])):
			t.Fatalf("a mailbox of %d bytes from a plaintext of %d", len(m), len(plain))
		}
		back, err := unpadMailbox(pad(plain, len(plain)%7))
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("a padded mailbox does not come back: %v", err)
		}
	})
}

// fuzzHierarchy publishes a hierarchy of one CoverNode and one journalist,
// and returns it with the CoverNode's identity key.
func fuzzHierarchy(f *testing.F) ([]byte, *keys.KeyPair) {
	n := testnet.NewNewsroom(f, fuzzNow.Add(-time.Hour))
	gen, org, cnProv, jProv := n.Gen, n.Org, n.CNProv, n.JProv
	cnID, jID := gen(keys.CoverNodeIdentity, cnProv), gen(keys.JournalistIdentity, jProv)
	desk := "news_desk"
	h := keys.Hierarchy{
		JournalistProfiles:  []keys.JournalistProfile{{ID: "alice", DisplayName: "Alice", SortName: "alice", Tag: protocol.TagFor("alice").String(), Status: keys.StatusVisible}},
		DefaultJournalistID: &desk,
		Keys: []keys.OrganizationFamily{{
			OrgPK: org.Public,
			CoverNodes: []keys.CoverNodeProvisioningFamily{{ProvisioningPK: cnProv.Public, CoverNodes: map[string][]keys.IdentityFamily{
				"covernode_001": {{IDPK: cnID.Public, MsgPKs: []keys.SignedPublicKey{gen(keys.CoverNodeMessaging, cnID).Public}}},
			}}},
			Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{
				"alice": {{IDPK: jID.Public, MsgPKs: []keys.SignedPublicKey{gen(keys.JournalistMessaging, jID).Public}}},
			}}},
		}},
		MaxEpoch: 7,
	}
	b, err := json.Marshal(h)
	if err != nil {
		f.Fatal(err)
	}
	return b, cnID
}

// FuzzPublicState: public.json is read as Start reads it without
// panicking; its device key is 32 bytes or an error; the state re-encodes
// (as savePublic writes it) to JSON that reads back the same; and what the
// app does with it (trimming cached dead drops, the status, verifying the
// cached keys) does not panic.
func FuzzPublicState(f *testing.F) {
	hier, cnID := fuzzHierarchy(f)
	sk, err := cnID.SigningKey()
	if err != nil {
		f.Fatal(err)
	}
	var drops []json.RawMessage
	for i := range 2 {
		d := &deaddrop.DeadDrop{Kind: deaddrop.User, ID: int64(i + 1), CreatedAt: fuzzNow.Add(-time.Duration(i) * time.Hour),
			Data: bytes.Repeat([]byte{byte(i)}, protocol.J2UMessageSize)}
		d.Sign(sk)
		b, err := json.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		drops = append(drops, b)
	}
	p := &publicState{
		DeviceKey: hex.EncodeToString(bytes.Repeat([]byte{0x42}, crypto.SecretBoxKeySize)), LastRun: fuzzNow,
		Keys: hier, Status: json.RawMessage(`{"status":"AVAILABLE","is_available":true,"description":"","updated_at":"2025-03-14T15:00:00Z"}`),
		DeadDrops: drops, MaxDeadDropID: 2, KeysDownloaded: fuzzNow,
	}
	b, err := json.Marshal(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"device_key":"` + strings.Repeat("AB", crypto.SecretBoxKeySize) + `","dead_drops":null,"max_dead_drop_id":4294967296}`))
	f.Add([]byte(`{"device_key":"abc"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &publicState{}
		if err := json.Unmarshal(b, p); err != nil {
			return
		}
		if dk, err := p.deviceKey(); err == nil && !strings.EqualFold(hex.EncodeToString(dk[:]), p.DeviceKey) {
			t.Fatalf("device key %q read as %x", p.DeviceKey, dk)
		}
		if again, err := json.Marshal(p); err == nil {
			back := &publicState{}
			if err := json.Unmarshal(again, back); err != nil {
				t.Fatalf("the public state as written does not read back: %v\n%s", err, again)
			}
			if b2, err := json.Marshal(back); err != nil || !bytes.Equal(b2, again) {
				t.Fatalf("the public state does not survive re-encoding: %v\n%s\n%s", err, again, b2)
			}
		}
		// The install trusts the organisation keys of its cached keys, so
		// that verification reaches below them whatever process made them.
		var anchors []keys.SignedPublicKey
		if h, err := keys.ParseHierarchy(p.Keys); err == nil {
			for _, o := range h.Keys {
				anchors = append(anchors, o.OrgPK)
			}
		}
		a := &App{cfg: Config{Anchors: anchors, Now: func() time.Time { return fuzzNow }}, pub: p, mode: coverDropMode{}}
		_ = a.Available()
		_, _ = a.Verified()
		trimDeadDrops(p, fuzzNow)
		if p.MaxDeadDropID < 0 || p.MaxDeadDropID > math.MaxInt32 {
			t.Fatalf("position %d after the trim", p.MaxDeadDropID)
		}
		for _, raw := range p.DeadDrops {
			if _, err := deaddrop.Parse(deaddrop.User, raw, false); err != nil {
				t.Fatalf("a dead drop kept by the trim does not parse: %v", err)
			}
		}
	})
}

// FuzzReplyKeys: a pq reader's reply-key store (inside the mailbox) is
// decoded without panicking, or refused; what decodes holds at most
// pq.MaxReplyKeys keys, valid journalist ids, oldest first, and encodes
// back to the very same bytes, also through the mailbox's JSON.
func FuzzReplyKeys(f *testing.F) {
	var r replyKeys
	for i, id := range []string{"alice", "news_desk", strings.Repeat("j", protocol.MaxJournalistIDLen)} {
		var k replyKey
		k.Key[0] = byte(i)
		k.JournalistID, k.SentAt = id, fuzzNow.Add(time.Duration(i)*time.Hour)
		r = r.add(k)
	}
	f.Add(r.marshal())
	f.Add(replyKeys(nil).marshal())
	f.Add(r.marshal()[:50])
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReplyKeys(b)
		if err != nil {
			return
		}
		if len(r) > pq.MaxReplyKeys {
			t.Fatalf("%d keys", len(r))
		}
		for i, k := range r {
			if protocol.ValidateJournalistID(k.JournalistID) != nil || (i > 0 && k.SentAt.Before(r[i-1].SentAt)) {
				t.Fatalf("key %d: %q at %v", i, k.JournalistID, k.SentAt)
			}
		}
		if !bytes.Equal(r.marshal(), b) {
			t.Fatal("a decoded store does not encode to its bytes")
		}
		j, err := json.Marshal(mailbox{ReplyKeys: r})
		if err != nil {
			t.Fatal(err)
		}
		var back mailbox
		if err := json.Unmarshal(j, &back); err != nil || !bytes.Equal(back.ReplyKeys.marshal(), r.marshal()) {
			t.Fatalf("the store does not survive the mailbox's JSON: %v", err)
		}
	})
}
