package covernode

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// pqMode is Chaff's post-quantum protocol mode (docs/PQ.md): X-Wing
// (ML-KEM-768 + X25519) messaging keys, HPKE multi-recipient boxes in,
// HPKE seals to journalists out. No layer's secrecy rests on X25519
// alone.
type pqMode struct{}

func (pqMode) name() string { return pq.ModePQ }

// payloadSize is a pq U2C plaintext, recipient tag ‖ U2J (1,685 bytes).
func (pqMode) payloadSize() int { return pq.U2CPlaintextSize }

func (pqMode) opener(ks *keyState, now time.Time) batchOpener {
	return pqOpener(ks.kemDecryptionKeys(now))
}

// pqOpener is the node's X-Wing messaging keys, newest first.
type pqOpener []*pq.PrivateKey

func (o pqOpener) openU2C(msg []byte, preferSlot int) ([]byte, int, bool) {
	if len(msg) != pq.U2CMessageSize {
		return nil, 0, false
	}
	m, slot, err := pq.OpenU2CWith(o, msg, preferSlot)
	if err != nil {
		return nil, 0, false
	}
	pt := make([]byte, 0, pq.U2CPlaintextSize)
	pt = append(append(pt, m.Tag[:]...), m.U2J...)
	return pt, slot, len(pt) == pq.U2CPlaintextSize
}

func (o pqOpener) openJ2C(msg []byte, preferSlot int) (*protocol.J2C, int, bool) {
	if len(msg) != pq.J2CMessageSize {
		return nil, 0, false
	}
	if m, slot, err := pq.OpenJ2CWith(o, msg, preferSlot); err == nil && len(m.J2U) == pq.J2UMessageSize {
		return m, slot, true
	}
	return nil, 0, false
}

func (pqMode) tags(v *keys.Verified) tagSet {
	tags := tagSet{}
	for tag := range pqJournalistKeys(v) {
		tags[tag] = true
	}
	return tags
}

func (pqMode) c2jSealer(_ *keyState, v *keys.Verified, _ time.Time) (c2jSealer, error) {
	return newPQC2J(pqJournalistKeys(v))
}

// newPQC2J prepares a release: the journalists' latest keys, and a
// throwaway X-Wing key that fillers are sealed to. Only the throwaway's
// public half is kept, for this release alone: nobody ever opens a
// filler, and its private half is never stored.
func newPQC2J(byTag map[protocol.RecipientTag]*pq.PublicKey) (*pqC2J, error) {
	throwaway, err := pq.GenerateKey()
	if err != nil {
		return nil, err
	}
	return &pqC2J{byTag: byTag, throwaway: throwaway.PublicKey()}, nil
}

// pqC2J seals the messages of one journalist dead drop (docs/PQ.md §5.3).
type pqC2J struct {
	byTag     map[protocol.RecipientTag]*pq.PublicKey
	throwaway *pq.PublicKey
}

func (s *pqC2J) seal(payload []byte) ([]byte, error) {
	if s.throwaway == nil {
		return nil, fmt.Errorf("covernode: the release's throwaway key is gone")
	}
	// Make a filler, then seal either it (to the throwaway key) or the
	// real U2J (to its journalist): one encapsulation either way.
	recipient, u2j := s.throwaway, make([]byte, pq.U2JMessageSize)
	if _, err := rand.Read(u2j); err != nil {
		return nil, err
	}
	if payload != nil {
		if jk, ok := s.byTag[protocol.RecipientTag(payload[:protocol.RecipientTagSize])]; ok {
			recipient, u2j = jk, payload[protocol.RecipientTagSize:]
		}
	}
	return pq.SealC2J(recipient, u2j)
}

// close forgets the throwaway key: the next release makes its own.
func (s *pqC2J) close() { s.throwaway = nil }

func (pqMode) randomJ2U() ([]byte, error) { return pq.RandomJ2U() }

func (pqMode) deadDrop(kind deaddrop.Kind, createdAt time.Time, data []byte, epoch int32, sk *crypto.SigningKey) ([]byte, error) {
	dd := &pq.DeadDrop{Kind: kind, CreatedAt: createdAt, Data: data, Epoch: epoch}
	dd.Sign(sk)
	return dd.MarshalJSON()
}

// pqJournalistKeys maps recipient tags to the X-Wing key each journalist
// of a pq hierarchy is written to (its messaging key with the latest
// expiry).
func pqJournalistKeys(v *keys.Verified) map[protocol.RecipientTag]*pq.PublicKey {
	byTag := map[protocol.RecipientTag]*pq.PublicKey{}
	for _, id := range v.JournalistIDs() {
		if k, err := v.JournalistKEMKey(id); err == nil {
			byTag[protocol.TagFor(id)] = k
		}
	}
	return byTag
}
