package pq

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/mlkem"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"public key", PublicKeySize, 1216},
		{"enc", EncSize, 1120},
		{"slot", SlotSize, 1168},
		{"U2J", U2JMessageSize, 1681},
		{"U2C", U2CMessageSize, 4037},
		{"C2J", C2JMessageSize, 2817},
		{"J2U", J2UMessageSize, 553},
		{"J2C", J2CMessageSize, 2906},
		{"KEM certificate data", KEMCertificateDataSize, 1243},
		{"organisation certificate data", OrgCertificateDataSize, 64},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, docs/PQ.md says %d", c.name, c.got, c.want)
		}
	}
	if U2CMessageSize > 4096 {
		t.Errorf("U2C is %d bytes, over the 4,096-byte target", U2CMessageSize)
	}
}

// TestExpandSeed checks docs/PQ.md §2.2 against crypto/hpke: the key built
// from the documented components is the key crypto/hpke derives from the
// seed.
func TestExpandSeed(t *testing.T) {
	sk := mustKey(t)
	mSeed, xSecret, err := ExpandSeed(sk.Seed())
	if err != nil {
		t.Fatal(err)
	}
	dk, err := mlkem.NewDecapsulationKey768(mSeed)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ecdh.X25519().NewPrivateKey(xSecret)
	if err != nil {
		t.Fatal(err)
	}
	built, err := hpke.NewHybridPrivateKey(dk, x)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built.PublicKey().Bytes(), sk.PublicKey().Bytes()) {
		t.Fatal("the public key of the expanded components differs from crypto/hpke's")
	}
	want := append(dk.EncapsulationKey().Bytes(), x.PublicKey().Bytes()...)
	if !bytes.Equal(want, sk.PublicKey().Bytes()) {
		t.Fatal("the public key is not ML-KEM encapsulation key ‖ X25519 public key")
	}
	if _, _, err := ExpandSeed(make([]byte, 31)); err == nil {
		t.Fatal("ExpandSeed accepted a 31-byte seed")
	}
}

func TestKeys(t *testing.T) {
	sk := mustKey(t)
	again, err := NewPrivateKey(sk.Seed())
	if err != nil {
		t.Fatal(err)
	}
	if !again.PublicKey().Equal(sk.PublicKey()) {
		t.Fatal("the same seed gave another key")
	}
	pk, err := NewPublicKey(sk.PublicKey().Bytes())
	if err != nil || !pk.Equal(sk.PublicKey()) {
		t.Fatalf("public key does not round-trip: %v", err)
	}
	if mustKey(t).PublicKey().Equal(sk.PublicKey()) {
		t.Fatal("two fresh keys are equal")
	}
	if _, err := NewPublicKey(make([]byte, PublicKeySize-1)); err == nil {
		t.Fatal("short public key accepted")
	}
	bad := bytes.Repeat([]byte{0xff}, PublicKeySize) // coefficients ≥ q
	if _, err := NewPublicKey(bad); err == nil {
		t.Fatal("non-canonical ML-KEM encapsulation key accepted")
	}
}

func TestU2CRoundTrip(t *testing.T) {
	cn0, cn1, j := mustKey(t), mustKey(t), mustKey(t)
	id := mustReaderID(t)
	msg, rk, err := SealU2C(pubs(cn0, cn1), "alice", j.PublicKey(), id, "the planning office takes bribes")
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) != U2CMessageSize {
		t.Fatalf("U2C is %d bytes", len(msg))
	}
	for slot, cn := range []*PrivateKey{cn0, cn1} {
		m, got, err := OpenU2C(cn, msg, 1-slot) // the wrong slot first
		if err != nil {
			t.Fatal(err)
		}
		if got != slot || m.Tag != protocol.TagFor("alice") || m.IsCover() {
			t.Fatalf("slot %d: opened in %d, tag %s", slot, got, m.Tag)
		}
		um, err := OpenU2J(j, m.U2J)
		if err != nil {
			t.Fatal(err)
		}
		if um.ReaderID != id || um.Text != "the planning office takes bribes" || um.ReplyKey != *rk {
			t.Fatalf("U2J opened to %+v", um)
		}
	}
	if _, _, err := OpenU2C(mustKey(t), msg, 0); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("a stranger's key: %v", err)
	}
	if _, err := OpenU2J(mustKey(t), msg[:U2JMessageSize]); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("garbage U2J: %v", err)
	}
}

func TestCoverU2C(t *testing.T) {
	cn0, cn1 := mustKey(t), mustKey(t)
	msg, err := SealCoverU2C(pubs(cn0, cn1))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := OpenU2C(cn1, msg, 1)
	if err != nil || !m.IsCover() || len(m.U2J) != U2JMessageSize {
		t.Fatalf("cover opened to %v, %v", m, err)
	}
	if _, err := SealCoverU2C(pubs(cn0)); err == nil {
		t.Fatal("sealed to one CoverNode key")
	}
	if _, err := SealCoverU2C([]*PublicKey{cn0.PublicKey(), nil}); err == nil {
		t.Fatal("sealed to a nil key")
	}
	if _, _, err := SealU2C(pubs(cn0, cn1), "a/b", cn0.PublicKey(), ReaderID{}, "x"); err == nil {
		t.Fatal("sealed to an invalid journalist id")
	}
}

// TestOpenWithKeys: a CoverNode with two messaging keys (the newer first,
// as the node tries them) opens U2C and J2C messages sealed to either, in
// its own slot (the second: another node is first), and counts the X-Wing
// decapsulations each open costs. With the slot known, a message to the
// newer key costs one and one to the older key two: every key is tried in
// the known slot before any key in the other. Control: opening with each
// key in turn (OpenU2C, both slots each) spends three on the older key's
// message. A message to neither key fails after all four, and a tampered
// payload still fails under the right key.
func TestOpenWithKeys(t *testing.T) {
	older, newer, other := mustKey(t), mustKey(t), mustKey(t)
	node := []*PrivateKey{newer, older}
	tries := 0
	testHookSlotTry = func() { tries++ }
	t.Cleanup(func() { testHookSlotTry = nil })
	counted := func(open func() (int, error)) (int, int, error) {
		tries = 0
		slot, err := open()
		return slot, tries, err
	}
	for _, c := range []struct {
		name  string
		to    *PrivateKey
		tries int
		opens bool
	}{{"newer key", newer, 1, true}, {"older key", older, 2, true}, {"neither key", mustKey(t), 4, false}} {
		u2c, err := SealCoverU2C(pubs(other, c.to))
		if err != nil {
			t.Fatal(err)
		}
		j2c, err := SealCoverJ2C(pubs(other, c.to))
		if err != nil {
			t.Fatal(err)
		}
		opens := map[string]func() (int, error){
			"U2C": func() (int, error) { _, slot, err := OpenU2CWith(node, u2c, 1); return slot, err },
			"J2C": func() (int, error) { _, slot, err := OpenJ2CWith(node, j2c, 1); return slot, err },
		}
		for kind, open := range opens {
			slot, n, err := counted(open)
			if !c.opens {
				if !errors.Is(err, crypto.ErrDecrypt) || n != c.tries {
					t.Fatalf("%s to %s: %v after %d decapsulations, want a failure after %d", kind, c.name, err, n, c.tries)
				}
				continue
			}
			if err != nil || slot != 1 || n != c.tries {
				t.Fatalf("%s to the %s: slot %d, %v, %d decapsulations; want slot 1 after %d", kind, c.name, slot, err, n, c.tries)
			}
		}
	}
	u2c, err := SealCoverU2C(pubs(other, older))
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := counted(func() (int, error) {
		for _, k := range node {
			if _, slot, err := OpenU2C(k, u2c, 1); err == nil {
				return slot, nil
			}
		}
		return 0, crypto.ErrDecrypt
	})
	if err != nil || n != 3 {
		t.Fatalf("control: each key in turn opened the older key's message after %d decapsulations (%v), want 3", n, err)
	}
	u2c[len(u2c)-1] ^= 1
	if _, _, err := OpenU2CWith(node, u2c, 1); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("a tampered payload: %v", err)
	}
}

// TestTamper flips every byte position class of the multi-recipient box:
// either slot, the payload, and checks nothing opens.
func TestTamper(t *testing.T) {
	cn0, cn1 := mustKey(t), mustKey(t)
	msg, err := SealCoverU2C(pubs(cn0, cn1))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, EncSize + 3, SlotSize + 5, 2*SlotSize + 1, U2CMessageSize - 1} {
		bad := bytes.Clone(msg)
		bad[at] ^= 1
		for _, cn := range []*PrivateKey{cn0, cn1} {
			if _, _, err := OpenU2C(cn, bad, 0); !errors.Is(err, crypto.ErrDecrypt) {
				t.Fatalf("byte %d flipped: %v", at, err)
			}
		}
	}
}

// TestDomainSeparation checks that a layer made for one purpose never
// opens as another, even under the right key.
func TestDomainSeparation(t *testing.T) {
	k := mustKey(t)
	u2j, _, err := SealU2J(k.PublicKey(), ReaderID{}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenC2J(k, append(u2j, make([]byte, C2JMessageSize-U2JMessageSize)...)); err == nil {
		t.Fatal("a U2J opened as a C2J")
	}
	c2j, err := SealC2J(k.PublicKey(), make([]byte, U2JMessageSize))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := openHPKE(k, LabelU2J, c2j, false); err == nil {
		t.Fatal("a C2J opened with the U2J label")
	}
	// A J2C's slots do not open as a U2C's.
	j2c, err := SealCoverJ2C(pubs(k, k))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := openMulti([]*PrivateKey{k}, LabelU2CSlot, LabelU2CPayload, j2c, 0); err == nil {
		t.Fatal("a J2C opened as a U2C")
	}
}

func TestReplyPath(t *testing.T) {
	cn0, cn1, j := mustKey(t), mustKey(t), mustKey(t)
	u2j, rk, err := SealU2J(j.PublicKey(), ReaderID{1}, "hello")
	if err != nil {
		t.Fatal(err)
	}
	um, err := OpenU2J(j, u2j)
	if err != nil {
		t.Fatal(err)
	}
	j2u, err := SealJ2U(&um.ReplyKey, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "got it"})
	if err != nil {
		t.Fatal(err)
	}
	j2c, err := SealJ2C(pubs(cn0, cn1), j2u)
	if err != nil || len(j2c) != J2CMessageSize {
		t.Fatalf("J2C: %d bytes, %v", len(j2c), err)
	}
	m, _, err := OpenJ2C(cn1, j2c, 0)
	if err != nil || !m.Real {
		t.Fatalf("J2C opened to %v, %v", m, err)
	}
	reply, err := OpenJ2U(rk, m.J2U)
	if err != nil || reply.Text != "got it" {
		t.Fatalf("J2U opened to %v, %v", reply, err)
	}
	other, _, err := SealU2J(j.PublicKey(), ReaderID{1}, "hello")
	if err != nil {
		t.Fatal(err)
	}
	um2, err := OpenU2J(j, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenJ2U(&um2.ReplyKey, m.J2U); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("another message's reply key opened the reply: %v", err)
	}
	cover, err := SealCoverJ2C(pubs(cn0, cn1))
	if err != nil {
		t.Fatal(err)
	}
	if m, _, err := OpenJ2C(cn0, cover, 0); err != nil || m.Real {
		t.Fatalf("cover J2C opened to %v, %v", m, err)
	}
	if _, err := SealJ2U(nil, &protocol.JournalistMessage{}); err == nil {
		t.Fatal("sealed a reply without a key")
	}
	if _, err := OpenJ2U(nil, m.J2U); err == nil {
		t.Fatal("opened a reply without a key")
	}
	if _, _, err := OpenU2C(nil, make([]byte, U2CMessageSize), 0); err == nil {
		t.Fatal("opened a U2C without a key")
	}
	filler, err := RandomJ2U()
	if err != nil || len(filler) != J2UMessageSize {
		t.Fatalf("filler J2U: %d bytes, %v", len(filler), err)
	}
	if _, err := OpenJ2U(rk, filler); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("filler opened: %v", err)
	}
}

func TestKEMCertificate(t *testing.T) {
	now := time.Now()
	idSK, idPub := identity(t, now)
	k := mustKey(t)
	c, err := CertifyKEMKey(idSK, idPub, k.PublicKey(), 2*keys.Week, now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotValidAfter.Equal(idPub.NotValidAfter) {
		t.Fatalf("expiry %v not clamped to the parent's %v", c.NotValidAfter, idPub.NotValidAfter)
	}
	if err := c.Verify(idPub, now); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back SignedKEMKey
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(idPub, now); err != nil {
		t.Fatalf("after JSON: %v", err)
	}
	_, otherPub := identity(t, now)
	if err := c.Verify(otherPub, now); !errors.Is(err, keys.ErrBadCertificate) {
		t.Fatalf("another parent: %v", err)
	}
	if err := c.Verify(idPub, c.NotValidAfter.Add(time.Second)); !errors.Is(err, keys.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	// A coverdrop-form certificate over the same key's bytes does not verify.
	forged := *c
	copy(forged.Certificate[:], idSK.Sign(keys.CertificateData(k.PublicKey().Bytes()[:32], c.NotValidAfter)))
	if err := forged.Verify(idPub, now); !errors.Is(err, keys.ErrBadCertificate) {
		t.Fatalf("coverdrop-form certificate: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"key":"00","certificate":"","not_valid_after":""}`), &back); err == nil {
		t.Fatal("a 1-byte key parsed")
	}
}

// TestAnchorModes checks docs/PQ.md §8: a coverdrop anchor is upstream's
// bytes, a pq one carries its mode, and neither verifies as the other.
func TestAnchorModes(t *testing.T) {
	now := time.Now()
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	cd, err := NewAnchor(sk, ModeCoverDrop, now)
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := keys.Certify(sk, nil, sk.VerifyingKey().Bytes(), keys.Organization.ValidFor(), now)
	if err != nil {
		t.Fatal(err)
	}
	cdJSON, _ := json.Marshal(cd)
	upJSON, _ := json.Marshal(upstream)
	if !bytes.Equal(cdJSON, upJSON) {
		t.Fatalf("coverdrop anchor is not upstream's bytes:\n%s\n%s", cdJSON, upJSON)
	}
	if err := upstream.Verify(upstream, now); err != nil {
		t.Fatal(err)
	}

	p, err := NewAnchor(sk, ModePQ, now)
	if err != nil {
		t.Fatal(err)
	}
	pJSON, _ := json.Marshal(p)
	if !strings.Contains(string(pJSON), `"protocol":"pq"`) {
		t.Fatalf("pq anchor without its mode: %s", pJSON)
	}
	for _, c := range []struct {
		b    []byte
		mode string
	}{{cdJSON, ModeCoverDrop}, {pJSON, ModePQ}} {
		a, err := ParseAnchor(c.b)
		if err != nil || a.Mode != c.mode {
			t.Fatalf("%s: parsed as %v, %v", c.b, a, err)
		}
		if err := a.Verify(now); err != nil {
			t.Fatalf("%s mode: %v", c.mode, err)
		}
	}
	// Downgrade: the pq self-signature under the coverdrop form, and the
	// upstream (coverdrop) one under the pq form.
	down := *p
	down.Mode = ModeCoverDrop
	if err := down.Verify(now); !errors.Is(err, keys.ErrBadCertificate) {
		t.Fatalf("pq anchor read as coverdrop: %v", err)
	}
	up := *cd
	up.Mode = ModePQ
	if err := up.Verify(now); !errors.Is(err, keys.ErrBadCertificate) {
		t.Fatalf("coverdrop anchor read as pq: %v", err)
	}
	// The key files' parser keeps the mode with the key: a pq anchor read
	// there is never taken for a coverdrop one (keys.Verify compares modes).
	if k, _, err := keys.ParsePublicKey(pJSON); err != nil || k.Mode() != ModePQ || k.Equal(&cd.SignedPublicKey) {
		t.Fatalf("pq anchor read by package keys: mode %q, %v", k.Mode(), err)
	}
	if _, err := ParseAnchor([]byte(strings.Replace(string(pJSON), `"pq"`, `"pq2"`, 1))); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestDeadDrops(t *testing.T) {
	now := time.Now()
	cnSK, _ := identity(t, now)
	j, j2 := mustKey(t), mustKey(t)
	throwaway := mustKey(t)

	// A journalist dead drop: two real messages to j (one sealed to j2's
	// older key by the reader), one to another journalist, fillers.
	var data []byte
	var sent []ReplyKey
	for i, inner := range []*PrivateKey{j, j2} {
		u2j, rk, err := SealU2J(inner.PublicKey(), ReaderID{byte(i)}, "message")
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, *rk)
		c2j, err := SealC2J(j.PublicKey(), u2j)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, c2j...)
	}
	other, _, _ := SealU2J(mustKey(t).PublicKey(), ReaderID{9}, "not for j")
	c2j, _ := SealC2J(mustKey(t).PublicKey(), other)
	data = append(data, c2j...)
	for range 2 {
		f, err := FillerC2J(throwaway.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, f...)
	}
	d := &DeadDrop{Kind: deaddrop.Journalist, ID: 7, CreatedAt: now.Truncate(time.Microsecond), Data: data, Epoch: 3}
	d.Sign(cnSK)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseDeadDrop(deaddrop.Journalist, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify([]*crypto.VerifyingKey{cnSK.VerifyingKey()}); err != nil {
		t.Fatal(err)
	}
	got, err := NewJournalistOpener([]*PrivateKey{j, j2}).Open(back)
	if err != nil || len(got) != 2 {
		t.Fatalf("journalist found %d messages, %v", len(got), err)
	}
	for i, r := range got {
		if r.Message.ReplyKey != sent[i] || r.Message.ReaderID != (ReaderID{byte(i)}) || r.DeadDropID != 7 {
			t.Fatalf("message %d: %+v", i, r.Message)
		}
	}
	if _, err := NewJournalistOpener([]*PrivateKey{mustKey(t)}).Open(back); !errors.Is(err, deaddrop.ErrNotForMe) {
		t.Fatalf("a stranger: %v", err)
	}

	// The epoch is signed.
	back.Epoch++
	if err := back.Verify([]*crypto.VerifyingKey{cnSK.VerifyingKey()}); !errors.Is(err, deaddrop.ErrBadSignature) {
		t.Fatalf("changed epoch: %v", err)
	}

	// A user dead drop: one reply among fillers.
	j2u, err := SealJ2U(&sent[0], &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "reply"})
	if err != nil {
		t.Fatal(err)
	}
	udata := bytes.Clone(j2u)
	for range 3 {
		f, _ := RandomJ2U()
		udata = append(udata, f...)
	}
	u := &DeadDrop{Kind: deaddrop.User, ID: 1, CreatedAt: now, Data: udata}
	u.Sign(cnSK)
	cdForm := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: now, Data: udata}
	cdForm.Sign(cnSK)
	if bytes.Equal(cdForm.Signature[:], u.Signature[:]) {
		t.Fatal("a pq user dead drop has coverdrop's signature")
	}
	ub, _ := json.Marshal(u)
	uback, err := ParseDeadDrop(deaddrop.User, ub)
	if err != nil {
		t.Fatal(err)
	}
	if err := uback.Verify([]*crypto.VerifyingKey{cnSK.VerifyingKey()}); err != nil {
		t.Fatal(err)
	}
	ro, err := NewReaderOpener([]StoredReplyKey{{sent[1], "bob"}, {sent[0], "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	replies, err := ro.Open(uback)
	if err != nil || len(replies) != 1 || replies[0].JournalistID != "alice" || replies[0].Message.Text != "reply" {
		t.Fatalf("reader found %+v, %v", replies, err)
	}
	if _, err := NewReaderOpener(make([]StoredReplyKey, MaxReplyKeys+1)); err == nil {
		t.Fatal("more reply keys than a reader keeps")
	}

	// A page of them: published ones only, ids checked by the caller.
	page := []byte(`{"dead_drops":[` + string(ub) + `]}`)
	if l, err := ParseList(deaddrop.User, page); err != nil || len(l) != 1 || l[0].ID != 1 || deaddrop.CheckPageIDs(0, IDs(l)) != nil || deaddrop.CheckPageIDs(1, IDs(l)) == nil {
		t.Fatalf("page: %v", err)
	}
	unpublished, _ := json.Marshal(&DeadDrop{Kind: deaddrop.User, CreatedAt: now, Data: udata})
	for _, bad := range []string{`{}`, `{"dead_drops":[` + string(unpublished) + `]}`, `{"dead_drops":[` + string(b) + `]}`, `{"dead_drops":[],"x":1}`} {
		if _, err := ParseList(deaddrop.User, []byte(bad)); err == nil {
			t.Fatalf("parsed the page %.80s", bad)
		}
	}

	for _, bad := range []string{
		`{"created_at":"2026-01-01T00:00:00Z","data":"AAAA","signature":"` + strings.Repeat("00", 64) + `"}`,
		`{"id":-1,"created_at":"2026-01-01T00:00:00Z","data":"","signature":""}`,
		string(ub[:len(ub)-1]) + `,"epoch":1}`,
		string(ub[:len(ub)-1]) + `,"cert":"00"}`,
	} {
		if _, err := ParseDeadDrop(deaddrop.User, []byte(bad)); err == nil {
			t.Fatalf("parsed %.80s", bad)
		}
	}
}

// TestBackupShare: a sealed share opens only with the colleague's key and
// its own label, and not once altered; nothing else opens as a share.
func TestBackupShare(t *testing.T) {
	colleague, other := mustKey(t), mustKey(t)
	share := []byte(`{"chaff_backup_share":"1"}`)
	sealed, err := SealBackupShare(colleague.PublicKey(), share)
	if err != nil || len(sealed) != len(share)+HPKEOverhead {
		t.Fatalf("sealed %d bytes, %v", len(sealed), err)
	}
	if got, err := OpenBackupShare(colleague, sealed); err != nil || !bytes.Equal(got, share) {
		t.Fatalf("open: %v", err)
	}
	if _, err := OpenBackupShare(other, sealed); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("another key: %v", err)
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	if _, err := OpenBackupShare(colleague, altered); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("altered: %v", err)
	}
	// Domain separation: a C2J to the same key is no share, and a share of
	// a C2J's size is no C2J.
	c2j, err := SealC2J(colleague.PublicKey(), make([]byte, U2JMessageSize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBackupShare(colleague, c2j); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("a C2J opened as a share: %v", err)
	}
	asShare, err := SealBackupShare(colleague.PublicKey(), make([]byte, U2JMessageSize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenC2J(colleague, asShare); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("a share opened as a C2J: %v", err)
	}
}
