package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
)

var fuzzNow = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// seedKeyRecords adds bucket entries as PutKey writes them, for a chain of
// roles with owners and parents.
func seedKeyRecords(f *testing.F) {
	gen := func(role keys.Role, parent *keys.KeyPair) *keys.KeyPair {
		kp, err := keys.Generate(role, parent, fuzzNow)
		if err != nil {
			f.Fatal(err)
		}
		return kp
	}
	org := gen(keys.Organization, nil)
	cnProv := gen(keys.CoverNodeProvisioning, org)
	cnID := gen(keys.CoverNodeIdentity, cnProv)
	jProv := gen(keys.JournalistProvisioning, org)
	jID := gen(keys.JournalistIdentity, jProv)
	for _, r := range []struct {
		role         keys.Role
		owner        string
		pair, parent *keys.KeyPair
	}{
		{keys.Organization, "", org, nil},
		{keys.CoverNodeProvisioning, "", cnProv, org},
		{keys.CoverNodeIdentity, "covernode_001", cnID, cnProv},
		{keys.CoverNodeMessaging, "covernode_001", gen(keys.CoverNodeMessaging, cnID), cnID},
		{keys.JournalistIdentity, "alice", jID, jProv},
		{keys.JournalistMessaging, "alice", gen(keys.JournalistMessaging, jID), jID},
		{keys.Admin, "", gen(keys.Admin, org), org},
	} {
		rec := KeyRecord{Role: r.role, Owner: r.owner, Key: r.pair.Public, AddedAt: fuzzNow}
		if r.parent != nil {
			rec.Parent = r.parent.Public.Hex()
		}
		rec.RoleStr = rec.Role.String()
		b, err := json.Marshal(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(entryName(rec.Role, rec.Owner, rec.Key.Key[:]), b, uint64(7))
	}
}

func keyRecordsEqual(a, b KeyRecord) bool {
	return a.Role == b.Role && a.RoleStr == b.RoleStr && a.Owner == b.Owner && a.Parent == b.Parent &&
		a.Key.Equal(&b.Key) && a.AddedAt.Equal(b.AddedAt) && a.Epoch == b.Epoch
}

// FuzzDecodeKeyRecord: a key bucket entry decodes without panicking, or
// gives an error; a record that decodes has a known role that names its
// entry and the entry's revision for epoch, and re-encodes (as PutKey
// does) to an entry that decodes to the same record.
func FuzzDecodeKeyRecord(f *testing.F) {
	seedKeyRecords(f)
	f.Add("organization.x", []byte(`{"role":"organization"}`), uint64(0))
	f.Fuzz(func(t *testing.T, name string, value []byte, rev uint64) {
		rec, err := DecodeKeyRecord(name, value, rev)
		if err != nil {
			return
		}
		if role, ok := keys.RoleByEntity(rec.RoleStr); !ok || role != rec.Role || rec.Role.String() != rec.RoleStr {
			t.Fatalf("decoded role %v from %q", rec.Role, rec.RoleStr)
		}
		if !strings.HasPrefix(name, rec.RoleStr+".") || rec.Epoch != rev {
			t.Fatalf("record %s: role %q, epoch %d of revision %d", name, rec.RoleStr, rec.Epoch, rev)
		}
		again, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeKeyRecord(name, again, rev)
		if err != nil || !keyRecordsEqual(back, rec) {
			t.Fatalf("a re-encoded record does not decode to the same: %v\n%s", err, again)
		}
		if b2, err := json.Marshal(back); err != nil || !bytes.Equal(b2, again) {
			t.Fatalf("encoding is not stable: %v\n%s\n%s", err, again, b2)
		}
	})
}

func deadDropsEqual(a, b *deaddrop.DeadDrop) bool {
	return a.Kind == b.Kind && a.ID == b.ID && a.CreatedAt.Equal(b.CreatedAt) && bytes.Equal(a.Data, b.Data) &&
		a.Signature == b.Signature && a.Epoch == b.Epoch
}

// FuzzDecodeDeadDrop: a dead drop's stream message (data and headers)
// decodes without panicking, or gives an error; one that decodes is
// encoded by deadDropMsg (as PublishDeadDrop posts it) to a message that
// decodes to the same dead drop; and a dead drop made of the input
// survives deadDropMsg and decodeDeadDrop.
func FuzzDecodeDeadDrop(f *testing.F) {
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		f.Fatal(err)
	}
	for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
		d := &deaddrop.DeadDrop{Kind: kind, CreatedAt: fuzzNow, Data: bytes.Repeat([]byte{7}, 2*kind.ChunkSize()), Epoch: 12}
		d.Sign(sk)
		m := deadDropMsg(d)
		f.Add(kind == deaddrop.User, uint64(42), m.Data, m.Header.Get(headerCreatedAt), m.Header.Get(headerSignature), m.Header.Get(headerEpoch))
	}
	zeroSig := hex.EncodeToString(make([]byte, crypto.SignatureSize))
	f.Add(false, uint64(1), []byte{}, "2023-10-04T19:06:52+02:00", zeroSig, "-1")
	// Instants whose offset takes them out of years 0 to 9999 in UTC: they
	// used to parse, and then formatted to timestamps that did not.
	f.Add(true, uint64(1), []byte{}, "0000-01-01T00:00:00+01:00", zeroSig, "")
	f.Add(true, uint64(1), []byte{}, "9999-12-31T23:59:59-01:00", zeroSig, "")
	f.Fuzz(func(t *testing.T, user bool, seq uint64, data []byte, createdAt, sig, epoch string) {
		kind := deaddrop.Journalist
		if user {
			kind = deaddrop.User
		}
		h := nats.Header{}
		for k, v := range map[string]string{headerCreatedAt: createdAt, headerSignature: sig, headerEpoch: epoch} {
			if v != "" {
				h.Set(k, v)
			}
		}
		if d, err := decodeDeadDrop(kind, seq, data, h); err == nil {
			if d.Kind != kind || d.ID != int64(seq) || !bytes.Equal(d.Data, data) {
				t.Fatalf("decoded %s dead drop %d from %s message %d", d.Kind, d.ID, kind, seq)
			}
			m := deadDropMsg(d)
			back, err := decodeDeadDrop(kind, seq, m.Data, m.Header)
			if err != nil || !deadDropsEqual(back, d) {
				t.Fatalf("a re-encoded dead drop does not decode to the same: %v (%v)", err, m.Header)
			}
		}
		// A dead drop made of the input, dated within what timestamps
		// can say (years 0 to 9999).
		d := &deaddrop.DeadDrop{Kind: kind, ID: int64(seq >> 1), Data: data,
			CreatedAt: time.Unix(int64(seq%253402300800)-62167219200, int64(seq%1e9)).UTC()}
		copy(d.Signature[:], sig)
		if kind == deaddrop.Journalist {
			d.Epoch = int32(seq)
		}
		m := deadDropMsg(d)
		back, err := decodeDeadDrop(kind, uint64(d.ID), m.Data, m.Header)
		if err != nil || !deadDropsEqual(back, d) {
			t.Fatalf("dead drop dated %s does not survive its message: %v (%v)", protocol.FormatTime(d.CreatedAt), err, m.Header)
		}
	})
}
