// Package harvest is the "harvest now, decrypt later" adversary of the
// quantum-adversary tests (issue 16, docs/PQ.md §9): it takes what the
// network and the cloud recorded of an exchange (a Transcript) and the
// private keys it is given, tries every key on every layer, and reports
// what it opened and which readers it can name as sources (Findings).
//
// The protocol-level tests (pq/quantum_test.go) and the system-level ones
// (internal/adversary/quantum_test.go) share it, so that one attack is
// checked against both. It is for tests only: nothing in a deployment
// imports it.
package harvest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// Layer names, the keys of Findings.Opened.
const (
	U2C = "U2C" // reader → CoverNode
	U2J = "U2J" // reader → journalist, inside a U2C or a C2J
	C2J = "C2J" // a journalist dead-drop chunk
	J2C = "J2C" // journalist → CoverNode
	J2U = "J2U" // a user dead-drop chunk
)

// Transcript is what the network and the cloud record of an exchange.
type Transcript struct {
	U2C            map[int][][]byte // the U2C messages each reader sent, by reader
	J2C            [][]byte         // every journalist's J2C messages
	JournalistDrop [][]byte         // every journalist dead drop's chunks (C2J)
	UserDrop       [][]byte         // every user dead drop's chunks (J2U)
}

// NewTranscript returns an empty transcript.
func NewTranscript() *Transcript { return &Transcript{U2C: map[int][][]byte{}} }

// Sizes returns every message size the transcript holds, by layer: a
// transcript in which real and cover look alike has one size a layer.
func (tr *Transcript) Sizes() map[string][]int {
	out := map[string][]int{}
	add := func(layer string, msgs [][]byte) {
		for _, m := range msgs {
			if !slices.Contains(out[layer], len(m)) {
				out[layer] = append(out[layer], len(m))
			}
		}
	}
	for _, r := range slices.Sorted(maps.Keys(tr.U2C)) {
		add(U2C, tr.U2C[r])
	}
	add(J2C, tr.J2C)
	add(C2J, tr.JournalistDrop)
	add(J2U, tr.UserDrop)
	return out
}

// Findings is what an adversary got out of a transcript.
type Findings struct {
	Opened  map[string]int  // layers opened, by layer
	Sources map[int]bool    // readers it names as sources
	Texts   map[string]bool // readers' and journalists' plaintexts it read
}

func newFindings() *Findings {
	return &Findings{Opened: map[string]int{}, Sources: map[int]bool{}, Texts: map[string]bool{}}
}

// Nothing says whether the adversary opened nothing, named no source and
// read nothing.
func (f *Findings) Nothing() bool {
	for _, n := range f.Opened {
		if n != 0 {
			return false
		}
	}
	return len(f.Sources) == 0 && len(f.Texts) == 0
}

func (f *Findings) String() string {
	return fmt.Sprintf("opened %v, named sources %v, read %d texts", f.Opened, f.Sources, len(f.Texts))
}

// Half selects which halves of every X-Wing key the adversary holds.
type Half int

const (
	X25519Half Half = iota + 1 // X25519 broken: the X25519 half of every key
	MLKEMHalf                  // ML-KEM broken: the ML-KEM half of every key
	BothHalves                 // both: the control, which must open everything
)

func (h Half) String() string {
	return map[Half]string{X25519Half: "X25519", MLKEMHalf: "ML-KEM", BothHalves: "both halves"}[h]
}

// Keys rebuilds every key from the half the adversary holds (docs/PQ.md
// §2.2): the half it does not hold is replaced by one of its own, which is
// the best it can do without breaking that half.
func Keys(keys []*xwing.PrivateKey, h Half) ([]*xwing.PrivateKey, error) {
	var out []*xwing.PrivateKey
	for _, k := range keys {
		m, x, err := xwing.ExpandSeed(k.Seed())
		if err != nil {
			return nil, err
		}
		own, err := xwing.GenerateKey()
		if err != nil {
			return nil, err
		}
		ownM, ownX, err := xwing.ExpandSeed(own.Seed())
		if err != nil {
			return nil, err
		}
		switch h {
		case X25519Half:
			m = ownM
		case MLKEMHalf:
			x = ownX
		case BothHalves:
		default:
			return nil, fmt.Errorf("harvest: no half %d", h)
		}
		sk, err := xwing.FromComponents(m, x)
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}

// openers are a mode's ways of opening each layer with the keys an
// adversary holds (ok false when none opens it). u2j and j2u return the
// plaintext read; u2j also keeps any reply key it learns for j2u.
type openers struct {
	u2c func(msg []byte) (*protocol.U2C, bool)
	u2j func(u2j []byte) (string, bool)
	c2j func(chunk []byte) ([]byte, bool)
	j2c func(msg []byte) bool
	j2u func(chunk []byte) (string, bool)
}

// attack tries the openers on every layer of tr, in the order the
// messages flowed (a U2J's reply key is learnt before the J2U it opens).
func (o *openers) attack(tr *Transcript) *Findings {
	f := newFindings()
	openU2J := func(u2j []byte) {
		if text, ok := o.u2j(u2j); ok {
			f.Opened[U2J]++
			f.Texts[text] = true
		}
	}
	for _, r := range slices.Sorted(maps.Keys(tr.U2C)) {
		for _, msg := range tr.U2C[r] {
			if m, ok := o.u2c(msg); ok {
				f.Opened[U2C]++
				if !m.IsCover() {
					f.Sources[r] = true
					openU2J(m.U2J)
				}
			}
		}
	}
	for _, chunk := range tr.JournalistDrop {
		if u2j, ok := o.c2j(chunk); ok {
			f.Opened[C2J]++
			openU2J(u2j)
		}
	}
	for _, msg := range tr.J2C {
		if o.j2c(msg) {
			f.Opened[J2C]++
		}
	}
	for _, chunk := range tr.UserDrop {
		if text, ok := o.j2u(chunk); ok {
			f.Opened[J2U]++
			f.Texts[text] = true
		}
	}
	return f
}

// first returns the first of keys for which open succeeds.
func first[K, T any](keys []K, open func(K) (T, error)) (T, bool) {
	for _, k := range keys {
		if v, err := open(k); err == nil {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// AttackPQ tries every key on every layer of a pq-mode transcript, and
// every reply key it learns from a U2J it opens on every user dead-drop
// chunk. Readers hold no private key of their own in pq mode: their reply
// keys come out of the U2J, or not at all.
func AttackPQ(tr *Transcript, keys []*xwing.PrivateKey) *Findings {
	var replyKeys []pq.ReplyKey
	return (&openers{
		u2c: func(msg []byte) (*protocol.U2C, bool) {
			return first(keys, func(k *xwing.PrivateKey) (*protocol.U2C, error) { m, _, err := pq.OpenU2C(k, msg, 0); return m, err })
		},
		u2j: func(u2j []byte) (string, bool) {
			m, ok := first(keys, func(k *xwing.PrivateKey) (*pq.UserMessage, error) { return pq.OpenU2J(k, u2j) })
			if !ok {
				return "", false
			}
			replyKeys = append(replyKeys, m.ReplyKey)
			return m.Text, true
		},
		c2j: func(chunk []byte) ([]byte, bool) {
			return first(keys, func(k *xwing.PrivateKey) ([]byte, error) { return pq.OpenC2J(k, chunk) })
		},
		j2c: func(msg []byte) bool {
			_, ok := first(keys, func(k *xwing.PrivateKey) (*protocol.J2C, error) { m, _, err := pq.OpenJ2C(k, msg, 0); return m, err })
			return ok
		},
		j2u: func(chunk []byte) (string, bool) {
			m, ok := first(replyKeys, func(k pq.ReplyKey) (*protocol.JournalistMessage, error) { return pq.OpenJ2U(&k, chunk) })
			if !ok {
				return "", false
			}
			return m.Text, true
		},
	}).attack(tr)
}

// CoverDropKeys is every X25519 private key of every party of a
// coverdrop-mode exchange. Readers may be left out: their public keys come
// out of every U2J opened, and a journalist's key with a reader's public
// key opens the replies as well as the reader's own key does.
type CoverDropKeys struct {
	CoverNodes, Journalists, Readers []*crypto.PrivateKey
}

// AttackCoverDrop is AttackPQ's coverdrop-mode counterpart: every key on
// every layer, with a journalist dead drop's chunks opened under every
// pair of a journalist's and a CoverNode's key, and a user dead drop's
// under every pair of a reader's and a journalist's key (the reader's
// private key, or the public key a U2J it opened carries).
func AttackCoverDrop(tr *Transcript, k *CoverDropKeys) *Findings {
	var c2jKeys, j2uKeys []*crypto.SharedKey
	pair := func(to *[]*crypto.SharedKey, sk *crypto.PrivateKey, pk *crypto.PublicKey) {
		if key, err := crypto.Precompute(sk, pk); err == nil {
			*to = append(*to, key)
		}
	}
	for _, j := range k.Journalists {
		for _, cn := range k.CoverNodes {
			pair(&c2jKeys, j, cn.PublicKey())
		}
		for _, r := range k.Readers {
			pair(&j2uKeys, r, j.PublicKey())
		}
	}
	return (&openers{
		u2c: func(msg []byte) (*protocol.U2C, bool) {
			return first(k.CoverNodes, func(cn *crypto.PrivateKey) (*protocol.U2C, error) {
				m, _, err := protocol.OpenU2C(cn, msg, 0)
				return m, err
			})
		},
		u2j: func(u2j []byte) (string, bool) {
			for _, j := range k.Journalists {
				if m, err := protocol.OpenU2J(j, u2j); err == nil {
					pair(&j2uKeys, j, m.ReplyKey)
					return m.Text, true
				}
			}
			return "", false
		},
		c2j: func(chunk []byte) ([]byte, bool) {
			return first(c2jKeys, func(key *crypto.SharedKey) ([]byte, error) { return protocol.OpenC2J(key, chunk) })
		},
		j2c: func(msg []byte) bool {
			_, ok := first(k.CoverNodes, func(cn *crypto.PrivateKey) (*protocol.J2C, error) {
				m, _, err := protocol.OpenJ2C(cn, msg, 0)
				return m, err
			})
			return ok
		},
		j2u: func(chunk []byte) (string, bool) {
			m, ok := first(j2uKeys, func(key *crypto.SharedKey) (*protocol.JournalistMessage, error) { return protocol.OpenJ2U(key, chunk) })
			if !ok {
				return "", false
			}
			return m.Text, true
		},
	}).attack(tr)
}

// Check returns an error unless the adversary opened exactly opened (by
// layer; nil for nothing), named exactly sources as sources and, when it
// opened nothing, read nothing.
func (f *Findings) Check(opened map[string]int, sources map[int]bool) error {
	got := maps.Clone(f.Opened)
	maps.DeleteFunc(got, func(_ string, n int) bool { return n == 0 })
	if !maps.Equal(got, opened) {
		return fmt.Errorf("harvest: the adversary opened %v, want %v (%s)", got, opened, f)
	}
	named := maps.Clone(f.Sources)
	maps.DeleteFunc(named, func(_ int, s bool) bool { return !s })
	want := maps.Clone(sources)
	maps.DeleteFunc(want, func(_ int, s bool) bool { return !s })
	if !maps.Equal(named, want) {
		return fmt.Errorf("harvest: the adversary names readers %v as sources, want %v", slices.Sorted(maps.Keys(named)), slices.Sorted(maps.Keys(want)))
	}
	if len(opened) == 0 && len(f.Texts) != 0 {
		return fmt.Errorf("harvest: the adversary opened nothing yet read %d texts", len(f.Texts))
	}
	return nil
}

// CheckSizes returns an error unless every message of a layer has that
// layer's one size: what an adversary that opens nothing has left.
func (tr *Transcript) CheckSizes(sizes map[string]int) error {
	for layer, got := range tr.Sizes() {
		if len(got) != 1 || got[0] != sizes[layer] {
			return fmt.Errorf("harvest: %s messages of %v bytes, want only %d", layer, got, sizes[layer])
		}
	}
	return nil
}
