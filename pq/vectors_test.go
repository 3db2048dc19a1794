package pq

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/protocol"
	"golang.org/x/crypto/chacha20poly1305"
)

// The test vectors of docs/PQ.md §11. They are sealed by an independent
// implementation of HPKE base mode with X-Wing (docs/PQ.md §2.3, below:
// from crypto/hkdf, crypto/sha3, crypto/mlkem/mlkemtest and crypto/ecdh),
// derandomised so that every encapsulation's randomness is recorded, and
// opened by the package's own code (crypto/hpke). Regenerate them with
//
//	go test ./pq -run TestVectors -update
var update = flag.Bool("update", false, "rewrite pq/testdata/vectors.json")

const vectorsFile = "testdata/vectors.json"

// hpkeRecord is one HPKE seal with every intermediate value.
type hpkeRecord struct {
	Info              string        `json:"info"`
	RecipientKey      string        `json:"recipient_key"` // name in vectors.Keys
	MLKEMRandomness   protocol.Hex  `json:"mlkem_encaps_randomness"`
	X25519Ephemeral   protocol.Hex  `json:"x25519_ephemeral_secret"`
	MLKEMCiphertext   protocol.Hex  `json:"mlkem_ciphertext"`
	X25519EphemeralPK protocol.Hex  `json:"x25519_ephemeral_public"`
	MLKEMShared       protocol.Hex  `json:"mlkem_shared_secret"`
	X25519Shared      protocol.Hex  `json:"x25519_shared_secret"`
	SharedSecret      protocol.Hex  `json:"shared_secret"`
	Key               protocol.Hex  `json:"key"`
	BaseNonce         protocol.Hex  `json:"base_nonce"`
	ExporterSecret    protocol.Hex  `json:"exporter_secret"`
	AAD               protocol.Hex  `json:"aad"`
	Plaintext         protocol.Hex  `json:"plaintext"`
	Sealed            protocol.Hex  `json:"sealed"` // enc ‖ ciphertext
	Exported          *protocol.Hex `json:"reply_key,omitempty"`
}

type vectorKey struct {
	Seed         protocol.Hex `json:"seed"`
	MLKEMSeed    protocol.Hex `json:"mlkem_seed"`
	X25519Secret protocol.Hex `json:"x25519_secret"`
	PublicKey    protocol.Hex `json:"public_key"`
}

type vectorMessage struct {
	Description string       `json:"description"`
	Plaintext   protocol.Hex `json:"plaintext"`
	// PayloadKey is a multi-recipient box's K; Nonce a J2U's.
	PayloadKey protocol.Hex  `json:"payload_key,omitempty"`
	ReplyKey   protocol.Hex  `json:"reply_key,omitempty"`
	Message    protocol.Hex  `json:"message"`
	HPKE       []*hpkeRecord `json:"hpke"`
}

type vectorDeadDrop struct {
	Digest   protocol.Hex    `json:"signed_digest"`
	DeadDrop json.RawMessage `json:"dead_drop"`
}

type vectorSet struct {
	Description       string                     `json:"description"`
	Suite             map[string]string          `json:"suite"`
	Keys              map[string]*vectorKey      `json:"keys"`
	CoverNodeIdentity protocol.Hex               `json:"covernode_identity_seed"`
	ReaderID          protocol.Hex               `json:"reader_id"`
	JournalistID      string                     `json:"journalist_id"`
	Messages          map[string]*vectorMessage  `json:"messages"`
	DeadDrops         map[string]*vectorDeadDrop `json:"dead_drops"`
}

// vectorSuiteID is RFC 9180's suite_id for X-Wing, HKDF-SHA256,
// ChaCha20-Poly1305.
var vectorSuiteID = []byte{'H', 'P', 'K', 'E', 0x64, 0x7a, 0x00, 0x01, 0x00, 0x03}

var xwingLabel = []byte(`\./` + `/^\`)

func labeledExtract(salt []byte, label string, ikm []byte) []byte {
	in := append(append(append([]byte("HPKE-v1"), vectorSuiteID...), label...), ikm...)
	out, err := hkdf.Extract(sha256.New, in, salt)
	if err != nil {
		panic(err)
	}
	return out
}

func labeledExpand(prk []byte, label string, info []byte, n int) []byte {
	in := binary.BigEndian.AppendUint16(nil, uint16(n))
	in = append(append(append(append(in, "HPKE-v1"...), vectorSuiteID...), label...), info...)
	out, err := hkdf.Expand(sha256.New, prk, string(in), n)
	if err != nil {
		panic(err)
	}
	return out
}

// xwingCombine is X-Wing's combiner.
func xwingCombine(ssM, ssX, ctX, pkX []byte) []byte {
	s := sha3.Sum256(append(append(append(append(append([]byte(nil), ssM...), ssX...), ctX...), pkX...), xwingLabel...))
	return s[:]
}

// keySchedule fills key, base nonce and exporter secret (RFC 9180 §5.1,
// base mode).
func (r *hpkeRecord) keySchedule() {
	pskIDHash := labeledExtract(nil, "psk_id_hash", nil)
	infoHash := labeledExtract(nil, "info_hash", []byte(r.Info))
	ctx := append(append([]byte{0}, pskIDHash...), infoHash...)
	secret := labeledExtract(r.SharedSecret, "secret", nil)
	r.Key = labeledExpand(secret, "key", ctx, chacha20poly1305.KeySize)
	r.BaseNonce = labeledExpand(secret, "base_nonce", ctx, chacha20poly1305.NonceSize)
	r.ExporterSecret = labeledExpand(secret, "exp", ctx, 32)
}

// vectorGen seals deterministically and records every HPKE operation.
type vectorGen struct {
	stream  *sha3.SHAKE
	names   map[string]string // public key hex → name
	records []*hpkeRecord
}

func (g *vectorGen) newSender(pk *PublicKey, info string) ([]byte, hpkeSender, error) {
	r := &hpkeRecord{Info: info, RecipientKey: g.names[hex.EncodeToString(pk.Bytes())]}
	r.MLKEMRandomness, r.X25519Ephemeral = make([]byte, 32), make([]byte, 32)
	g.stream.Read(r.MLKEMRandomness)
	g.stream.Read(r.X25519Ephemeral)
	ekM, pkX := pk.Bytes()[:mlkem.EncapsulationKeySize768], pk.Bytes()[mlkem.EncapsulationKeySize768:]
	ek, err := mlkem.NewEncapsulationKey768(ekM)
	if err != nil {
		return nil, nil, err
	}
	if r.MLKEMShared, r.MLKEMCiphertext, err = mlkemtest.Encapsulate768(ek, r.MLKEMRandomness); err != nil {
		return nil, nil, err
	}
	esk, err := ecdh.X25519().NewPrivateKey(r.X25519Ephemeral)
	if err != nil {
		return nil, nil, err
	}
	peer, err := ecdh.X25519().NewPublicKey(pkX)
	if err != nil {
		return nil, nil, err
	}
	if r.X25519Shared, err = esk.ECDH(peer); err != nil {
		return nil, nil, err
	}
	r.X25519EphemeralPK = esk.PublicKey().Bytes()
	r.SharedSecret = xwingCombine(r.MLKEMShared, r.X25519Shared, r.X25519EphemeralPK, pkX)
	r.keySchedule()
	g.records = append(g.records, r)
	return append(bytes.Clone(r.MLKEMCiphertext), r.X25519EphemeralPK...), &vectorSender{r}, nil
}

type vectorSender struct{ r *hpkeRecord }

func (s *vectorSender) Seal(aad, pt []byte) ([]byte, error) {
	a, err := chacha20poly1305.New(s.r.Key)
	if err != nil {
		return nil, err
	}
	s.r.AAD, s.r.Plaintext = bytes.Clone(aad), bytes.Clone(pt)
	ct := a.Seal(nil, s.r.BaseNonce, pt, aad) // sequence number 0: the base nonce itself
	s.r.Sealed = append(append(bytes.Clone(s.r.MLKEMCiphertext), s.r.X25519EphemeralPK...), ct...)
	return ct, nil
}

func (s *vectorSender) Export(ctx string, n int) ([]byte, error) {
	out := labeledExpand(s.r.ExporterSecret, "sec", []byte(ctx), n)
	e := protocol.Hex(bytes.Clone(out))
	s.r.Exported = &e
	return out, nil
}

// take returns the HPKE records made since the last call.
func (g *vectorGen) take() []*hpkeRecord {
	r := g.records
	g.records = nil
	return r
}

func vectorKeyFrom(t *testing.T, b byte) (*PrivateKey, *vectorKey) {
	seed := bytes.Repeat([]byte{b}, SeedSize)
	sk, err := NewPrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	m, x, err := ExpandSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return sk, &vectorKey{seed, m, x, sk.PublicKey().Bytes()}
}

// generateVectors builds the whole vector set deterministically: fixed
// keys, encapsulation randomness from SHAKE256, and every other random byte
// (payload keys, padding, nonces, fillers) from cryptotest's deterministic
// crypto/rand, all of them recorded.
func generateVectors(t *testing.T) []byte {
	cryptotest.SetGlobalRandom(t, 16)
	g := &vectorGen{stream: sha3.NewSHAKE256(), names: map[string]string{}}
	g.stream.Write([]byte("chaff pq test vectors"))
	saved := newSender
	newSender = g.newSender
	defer func() { newSender = saved }()

	v := &vectorSet{
		Description: "Chaff pq mode test vectors (docs/PQ.md). Hex everywhere; HPKE records in the order the seals happen.",
		Suite:       map[string]string{"kem": "MLKEM768-X25519 (0x647a)", "kdf": "HKDF-SHA256 (0x0001)", "aead": "ChaCha20Poly1305 (0x0003)", "mode": "base (0x00)"},
		Keys:        map[string]*vectorKey{},
		Messages:    map[string]*vectorMessage{},
		DeadDrops:   map[string]*vectorDeadDrop{},
	}
	sks := map[string]*PrivateKey{}
	for i, name := range []string{"covernode_0", "covernode_1", "journalist", "throwaway"} {
		sk, vk := vectorKeyFrom(t, byte(i+1))
		sks[name], v.Keys[name] = sk, vk
		g.names[hex.EncodeToString(vk.PublicKey)] = name
	}
	cn := pubs(sks["covernode_0"], sks["covernode_1"])
	id := ReaderID(bytes.Repeat([]byte{0xab}, ReaderIDSize))
	v.ReaderID, v.JournalistID = id[:], "alice"
	payloadKey := func(recs []*hpkeRecord) protocol.Hex { return recs[len(recs)-1].Plaintext }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	u2c, rk, err := SealU2C(cn, v.JournalistID, sks["journalist"].PublicKey(), id, "the planning office takes bribes")
	must(err)
	recs := g.take()
	v.Messages["u2c_real"] = &vectorMessage{
		Description: "A reader's real message to alice: hpke[0] is the U2J to the journalist key (with its reply key), hpke[1..2] the slots to covernode_0 and covernode_1; plaintext is the U2C plaintext (tag ‖ U2J).",
		Plaintext:   append(tagBytes(v.JournalistID), recs[0].Sealed...),
		PayloadKey:  payloadKey(recs), ReplyKey: rk[:], Message: u2c, HPKE: recs,
	}
	cover, err := SealCoverU2C(cn)
	must(err)
	recs = g.take()
	m, _, err := OpenU2C(sks["covernode_0"], cover, 0)
	must(err)
	v.Messages["u2c_cover"] = &vectorMessage{Description: "A reader's cover message: tag 00000000 and random filler.", Plaintext: append(m.Tag[:], m.U2J...), PayloadKey: payloadKey(recs), Message: cover, HPKE: recs}

	c2j, err := SealC2J(sks["journalist"].PublicKey(), v.Messages["u2c_real"].HPKE[0].Sealed)
	must(err)
	v.Messages["c2j"] = &vectorMessage{Description: "The CoverNode's re-encryption of u2c_real's U2J to the journalist key.", Plaintext: v.Messages["u2c_real"].HPKE[0].Sealed, Message: c2j, HPKE: g.take()}
	filler, err := FillerC2J(sks["throwaway"].PublicKey())
	must(err)
	v.Messages["c2j_filler"] = &vectorMessage{Description: "A filler C2J: random bytes sealed to the throwaway key.", Message: filler, HPKE: g.take()}
	v.Messages["c2j_filler"].Plaintext = v.Messages["c2j_filler"].HPKE[0].Plaintext

	reply := &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you, can we meet?"}
	j2u, err := SealJ2U(rk, reply)
	must(err)
	pt, err := crypto.OpenSecret((*[32]byte)(rk), j2u)
	must(err)
	v.Messages["j2u"] = &vectorMessage{Description: "alice's reply under u2c_real's reply key: XChaCha20-Poly1305, ciphertext ‖ tag ‖ nonce.", Plaintext: pt, ReplyKey: rk[:], Message: j2u}
	j2c, err := SealJ2C(cn, j2u)
	must(err)
	recs = g.take()
	v.Messages["j2c_real"] = &vectorMessage{Description: "alice's reply wrapped for the CoverNodes: flag 01 ‖ J2U.", Plaintext: append([]byte{protocol.J2CFlagReal}, j2u...), PayloadKey: payloadKey(recs), Message: j2c, HPKE: recs}
	j2cCover, err := SealCoverJ2C(cn)
	must(err)
	recs = g.take()
	v.Messages["j2c_cover"] = &vectorMessage{Description: "A journalist's cover message: flag 00 and 553 zero bytes.", Plaintext: make([]byte, J2CPlaintextSize), PayloadKey: payloadKey(recs), Message: j2cCover, HPKE: recs}

	idSeed := bytes.Repeat([]byte{0x77}, 32)
	v.CoverNodeIdentity = idSeed
	signer, err := crypto.NewSigningKey(idSeed)
	must(err)
	created := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	fillerJ2U, err := RandomJ2U()
	must(err)
	for _, d := range []*DeadDrop{
		{Kind: deaddrop.User, ID: 1, CreatedAt: created, Data: append(bytes.Clone(j2u), fillerJ2U...)},
		{Kind: deaddrop.Journalist, ID: 1, CreatedAt: created, Data: append(bytes.Clone(c2j), filler...), Epoch: 42},
	} {
		d.Sign(signer)
		b, err := json.Marshal(d)
		must(err)
		v.DeadDrops[d.Kind.String()] = &vectorDeadDrop{Digest: d.SignatureData(), DeadDrop: b}
	}
	// Last, so that adding it changed none of the values before it.
	share := []byte(`{"chaff_backup_share":"1","backup":"000102030405060708090a0b0c0d0e0f","threshold":2,"shares":3,"x":1,"y":"` + hex.EncodeToString(bytes.Repeat([]byte{0x5a}, 32)) + `"}`)
	sealedShare, err := SealBackupShare(sks["journalist"].PublicKey(), share)
	must(err)
	v.Messages["backup_share"] = &vectorMessage{Description: "A recovery share of a vault backup sealed to a colleague's X-Wing messaging key (here the journalist key): HPKE, info chaff-pq-v1/backup-share, empty AAD; the plaintext is the share file in the clear.", Plaintext: share, Message: sealedShare, HPKE: g.take()}
	out, err := json.MarshalIndent(v, "", "  ")
	must(err)
	return append(out, '\n')
}

// TestVectors opens the committed vectors with the package's code, checks
// every intermediate value of every HPKE seal against the key components
// (so that docs/PQ.md §2.3 and crypto/hpke agree byte for byte), and
// regenerates the set to check it is reproduced exactly.
func TestVectors(t *testing.T) {
	fresh := generateVectors(t)
	if *update {
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (generate with go test ./pq -run TestVectors -update)", err)
	}
	if !bytes.Equal(committed, fresh) {
		t.Fatalf("re-sealing does not reproduce %s byte for byte", vectorsFile)
	}
	var v vectorSet
	if err := json.Unmarshal(committed, &v); err != nil {
		t.Fatal(err)
	}
	checkVectors(t, &v)
}

func checkVectors(t *testing.T, v *vectorSet) {
	sks := map[string]*PrivateKey{}
	for name, k := range v.Keys {
		sk, err := NewPrivateKey(k.Seed)
		if err != nil {
			t.Fatal(err)
		}
		m, x, _ := ExpandSeed(k.Seed)
		if !bytes.Equal(m, k.MLKEMSeed) || !bytes.Equal(x, k.X25519Secret) || !bytes.Equal(sk.PublicKey().Bytes(), k.PublicKey) {
			t.Fatalf("key %s: components or public key differ", name)
		}
		sks[name] = sk
	}
	for name, msg := range v.Messages {
		for i, r := range msg.HPKE {
			checkRecord(t, fmt.Sprintf("%s hpke[%d]", name, i), r, v.Keys[r.RecipientKey], sks[r.RecipientKey])
		}
	}
	id := ReaderID(v.ReaderID)
	for i, cn := range []*PrivateKey{sks["covernode_0"], sks["covernode_1"]} {
		m, slot, err := OpenU2C(cn, v.Messages["u2c_real"].Message, 0)
		if err != nil || slot != i || !bytes.Equal(append(m.Tag[:], m.U2J...), v.Messages["u2c_real"].Plaintext) {
			t.Fatalf("u2c_real with covernode_%d: slot %d, %v", i, slot, err)
		}
		um, err := OpenU2J(sks["journalist"], m.U2J)
		if err != nil || um.ReaderID != id || !bytes.Equal(um.ReplyKey[:], v.Messages["u2c_real"].ReplyKey) {
			t.Fatalf("U2J: %+v, %v", um, err)
		}
		c, _, err := OpenU2C(cn, v.Messages["u2c_cover"].Message, 0)
		if err != nil || !c.IsCover() {
			t.Fatalf("u2c_cover: %v", err)
		}
		for _, name := range []string{"j2c_real", "j2c_cover"} {
			j, _, err := OpenJ2C(cn, v.Messages[name].Message, 0)
			if err != nil || !bytes.Equal(append([]byte{map[bool]byte{true: 1}[j.Real]}, j.J2U...), v.Messages[name].Plaintext) {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	u2j, err := OpenC2J(sks["journalist"], v.Messages["c2j"].Message)
	if err != nil || !bytes.Equal(u2j, v.Messages["c2j"].Plaintext) {
		t.Fatalf("c2j: %v", err)
	}
	if share, err := OpenBackupShare(sks["journalist"], v.Messages["backup_share"].Message); err != nil || !bytes.Equal(share, v.Messages["backup_share"].Plaintext) {
		t.Fatalf("backup_share: %v", err)
	}
	rk := ReplyKey(v.Messages["j2u"].ReplyKey)
	reply, err := OpenJ2U(&rk, v.Messages["j2u"].Message)
	if err != nil || reply.Text != "thank you, can we meet?" {
		t.Fatalf("j2u: %v, %v", reply, err)
	}
	signer, err := crypto.NewSigningKey(v.CoverNodeIdentity)
	if err != nil {
		t.Fatal(err)
	}
	vks := []*crypto.VerifyingKey{signer.VerifyingKey()}
	for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
		vd := v.DeadDrops[kind.String()]
		d, err := ParseDeadDrop(kind, vd.DeadDrop)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Verify(vks); err != nil || !bytes.Equal(d.SignatureData(), vd.Digest) {
			t.Fatalf("%s dead drop: %v", kind, err)
		}
		if kind == deaddrop.User {
			o, _ := NewReaderOpener([]StoredReplyKey{{rk, "alice"}})
			if got, err := o.Open(d); err != nil || len(got) != 1 {
				t.Fatalf("user dead drop: %d replies, %v", len(got), err)
			}
		} else if got, err := NewJournalistOpener([]*PrivateKey{sks["journalist"]}).Open(d); err != nil || len(got) != 1 || got[0].Message.ReaderID != id {
			t.Fatalf("journalist dead drop: %d messages, %v", len(got), err)
		}
	}
}

// checkRecord recomputes an HPKE seal's intermediate values from the
// recipient's key components and the recorded randomness, and opens it
// with crypto/hpke.
func checkRecord(t *testing.T, what string, r *hpkeRecord, k *vectorKey, sk *PrivateKey) {
	t.Helper()
	dk, err := mlkem.NewDecapsulationKey768(k.MLKEMSeed)
	if err != nil {
		t.Fatal(err)
	}
	enc := r.Sealed[:EncSize]
	if !bytes.Equal(enc, append(bytes.Clone(r.MLKEMCiphertext), r.X25519EphemeralPK...)) {
		t.Fatalf("%s: enc is not ML-KEM ciphertext ‖ X25519 ephemeral key", what)
	}
	ssM, err := dk.Decapsulate(r.MLKEMCiphertext)
	if err != nil || !bytes.Equal(ssM, r.MLKEMShared) {
		t.Fatalf("%s: ML-KEM shared secret differs", what)
	}
	x, err := crypto.NewPrivateKey(k.X25519Secret)
	if err != nil {
		t.Fatal(err)
	}
	epk, err := crypto.NewPublicKey(r.X25519EphemeralPK)
	if err != nil {
		t.Fatal(err)
	}
	ssX, err := crypto.X25519(x, epk)
	if err != nil || !bytes.Equal(ssX[:], r.X25519Shared) {
		t.Fatalf("%s: X25519 shared secret differs", what)
	}
	if !bytes.Equal(xwingCombine(ssM, ssX[:], r.X25519EphemeralPK, x.PublicKey().Bytes()), r.SharedSecret) {
		t.Fatalf("%s: X-Wing shared secret differs", what)
	}
	again := &hpkeRecord{Info: r.Info, SharedSecret: r.SharedSecret}
	again.keySchedule()
	if !bytes.Equal(again.Key, r.Key) || !bytes.Equal(again.BaseNonce, r.BaseNonce) || !bytes.Equal(again.ExporterSecret, r.ExporterSecret) {
		t.Fatalf("%s: key schedule differs", what)
	}
	pt, rk, err := openHPKE(sk, r.Info, r.Sealed, r.Exported != nil)
	if err != nil || !bytes.Equal(pt, r.Plaintext) {
		t.Fatalf("%s: crypto/hpke does not open it: %v", what, err)
	}
	if r.Exported != nil && !bytes.Equal(rk[:], *r.Exported) {
		t.Fatalf("%s: crypto/hpke exports another reply key", what)
	}
}

func tagBytes(id string) []byte {
	t := protocol.TagFor(id)
	return t[:]
}
