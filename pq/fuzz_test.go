package pq

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/protocol"
)

// fuzzKeys are fixed keys, so that every fuzz input meets the same keys.
var fuzzKeys = func() [2]*PrivateKey {
	var out [2]*PrivateKey
	for i := range out {
		k, err := NewPrivateKey(bytes.Repeat([]byte{byte(i + 1)}, SeedSize))
		if err != nil {
			panic(err)
		}
		out[i] = k
	}
	return out
}()

// FuzzOpenU2C feeds a CoverNode arbitrary U2C messages. Seeds reach past
// the slot: a real and a cover message sealed to the fuzz keys.
func FuzzOpenU2C(f *testing.F) {
	cn := pubs(fuzzKeys[0], fuzzKeys[1])
	if m, err := SealCoverU2C(cn); err == nil {
		f.Add(m, 0)
	}
	if m, _, err := SealU2C(cn, "alice", fuzzKeys[1].PublicKey(), ReaderID{}, "hi"); err == nil {
		f.Add(m, 1)
	}
	f.Fuzz(func(t *testing.T, msg []byte, prefer int) {
		m, slot, err := OpenU2C(fuzzKeys[0], msg, prefer)
		if err != nil {
			return
		}
		if len(msg) != U2CMessageSize || slot < 0 || slot >= CoverNodeWrappingKeyCount || len(m.U2J) != U2JMessageSize {
			t.Fatalf("opened a %d-byte message in slot %d", len(msg), slot)
		}
		if um, err := OpenU2J(fuzzKeys[1], m.U2J); err == nil && len(um.Text) > 100*protocol.PaddedTextSize {
			t.Fatalf("text of %d bytes", len(um.Text))
		}
	})
}

// FuzzOpenJ2C feeds a CoverNode arbitrary J2C messages.
func FuzzOpenJ2C(f *testing.F) {
	cn := pubs(fuzzKeys[0], fuzzKeys[1])
	if m, err := SealCoverJ2C(cn); err == nil {
		f.Add(m)
	}
	if j2u, err := RandomJ2U(); err == nil {
		if m, err := SealJ2C(cn, j2u); err == nil {
			f.Add(m)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, _, err := OpenJ2C(fuzzKeys[0], msg, 0)
		if err == nil && len(m.J2U) != J2UMessageSize {
			t.Fatalf("J2U of %d bytes", len(m.J2U))
		}
	})
}

// FuzzOpenC2J feeds a journalist arbitrary dead-drop chunks.
func FuzzOpenC2J(f *testing.F) {
	if u2j, _, err := SealU2J(fuzzKeys[0].PublicKey(), ReaderID{}, "hi"); err == nil {
		if c, err := SealC2J(fuzzKeys[0].PublicKey(), u2j); err == nil {
			f.Add(c)
		}
	}
	o := NewJournalistOpener(fuzzKeys[:])
	f.Fuzz(func(t *testing.T, chunk []byte) {
		if m, u2j := o.openChunk(chunk); m != nil && len(u2j) != U2JMessageSize {
			t.Fatalf("U2J of %d bytes", len(u2j))
		}
		if _, err := OpenC2J(fuzzKeys[1], chunk); err == nil && len(chunk) != C2JMessageSize {
			t.Fatalf("opened a %d-byte chunk", len(chunk))
		}
	})
}

// FuzzU2JPlaintext parses arbitrary U2J plaintexts (what a journalist
// reads once the layers open).
func FuzzU2JPlaintext(f *testing.F) {
	if pt, err := NewU2JPlaintext(ReaderID{1}, "hello"); err == nil {
		f.Add(pt)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, text, err := ParseU2JPlaintext(b)
		if err != nil {
			return
		}
		again, err := NewU2JPlaintext(id, text)
		if err != nil {
			return // re-compression may not fit: a text can be parsed that gzip would now write longer
		}
		if id2, text2, err := ParseU2JPlaintext(again); err != nil || id2 != id || text2 != text {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzOpenJ2U feeds a reader arbitrary user dead-drop chunks.
func FuzzOpenJ2U(f *testing.F) {
	var k ReplyKey
	if c, err := SealJ2U(&k, &protocol.JournalistMessage{Type: protocol.J2UTypeHandover, HandoverTo: "bob"}); err == nil {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, chunk []byte) {
		m, err := OpenJ2U(&k, chunk)
		if err == nil && m.Type != protocol.J2UTypeText && m.Type != protocol.J2UTypeHandover {
			t.Fatalf("type %#x", m.Type)
		}
	})
}

// FuzzPublicKey parses arbitrary X-Wing public keys.
func FuzzPublicKey(f *testing.F) {
	f.Add(fuzzKeys[0].PublicKey().Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := NewPublicKey(b)
		if err == nil && !bytes.Equal(pk.Bytes(), b) {
			t.Fatal("a public key does not re-encode to its bytes")
		}
	})
}

// FuzzSignedKEMKey parses arbitrary signed KEM keys.
func FuzzSignedKEMKey(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	sk, pub := identity(f, now)
	if c, err := CertifyKEMKey(sk, pub, fuzzKeys[0].PublicKey(), time.Hour, now); err == nil {
		if b, err := json.Marshal(c); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var k SignedKEMKey
		if err := json.Unmarshal(b, &k); err != nil {
			return
		}
		if _, err := json.Marshal(&k); err != nil {
			t.Fatal(err)
		}
		_ = k.Verify(pub, now)
	})
}

// FuzzAnchor parses arbitrary organisation keys with their mode.
func FuzzAnchor(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	sk, err := crypto.NewSigningKey(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	for _, mode := range []string{ModeCoverDrop, ModePQ} {
		if a, err := NewAnchor(sk, mode, now); err == nil {
			if b, err := json.Marshal(a); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnchor(b)
		if err != nil {
			return
		}
		if a.Mode != ModeCoverDrop && a.Mode != ModePQ {
			t.Fatalf("mode %q", a.Mode)
		}
		_ = a.Verify(now)
	})
}

// FuzzDeadDrop parses arbitrary dead drops of both kinds and opens them.
func FuzzDeadDrop(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	cn, _ := identity(f, now)
	if c, err := FillerC2J(fuzzKeys[0].PublicKey()); err == nil {
		d := &DeadDrop{Kind: deaddrop.Journalist, ID: 1, CreatedAt: now, Data: c, Epoch: 2}
		d.Sign(cn)
		if b, err := json.Marshal(d); err == nil {
			f.Add(b, true)
		}
	}
	if c, err := RandomJ2U(); err == nil {
		d := &DeadDrop{Kind: deaddrop.User, ID: 1, CreatedAt: now, Data: c}
		d.Sign(cn)
		if b, err := json.Marshal(d); err == nil {
			f.Add(b, false)
		}
	}
	jo := NewJournalistOpener(fuzzKeys[:1])
	ro, err := NewReaderOpener([]StoredReplyKey{{JournalistID: "alice"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, journalist bool) {
		kind := deaddrop.User
		if journalist {
			kind = deaddrop.Journalist
		}
		d, err := ParseDeadDrop(kind, b)
		if err != nil {
			return
		}
		if d.CheckLength() != nil {
			t.Fatal("parsed a dead drop of a wrong length")
		}
		_ = d.Verify([]*crypto.VerifyingKey{cn.VerifyingKey()})
		if journalist {
			_, _ = jo.Open(d)
		} else {
			_, _ = ro.Open(d)
		}
	})
}

// FuzzParseList parses arbitrary pages of dead drops of both kinds.
func FuzzParseList(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	cn, _ := identity(f, now)
	if c, err := RandomJ2U(); err == nil {
		d := &DeadDrop{Kind: deaddrop.User, ID: 3, CreatedAt: now, Data: c}
		d.Sign(cn)
		if b, err := json.Marshal(d); err == nil {
			f.Add([]byte(`{"dead_drops":[`+string(b)+`]}`), false)
		}
	}
	f.Add([]byte(`{"dead_drops":[]}`), true)
	f.Fuzz(func(t *testing.T, b []byte, journalist bool) {
		kind := deaddrop.User
		if journalist {
			kind = deaddrop.Journalist
		}
		ds, err := ParseList(kind, b)
		if err != nil {
			return
		}
		for _, d := range ds {
			if d.ID <= 0 || d.Kind != kind || d.CheckLength() != nil {
				t.Fatalf("parsed dead drop %d of kind %s, %d bytes", d.ID, d.Kind, len(d.Data))
			}
		}
		_ = deaddrop.CheckPageIDs(0, IDs(ds))
	})
}

// FuzzOpenBackupShare opens arbitrary bytes as a backup share.
func FuzzOpenBackupShare(f *testing.F) {
	if s, err := SealBackupShare(fuzzKeys[0].PublicKey(), []byte(`{"x":1}`)); err == nil {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if pt, err := OpenBackupShare(fuzzKeys[0], b); err == nil && len(pt) != len(b)-HPKEOverhead {
			t.Fatalf("opened %d bytes from %d", len(pt), len(b))
		}
	})
}
