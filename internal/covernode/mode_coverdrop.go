package covernode

import (
	"encoding/json"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// coverDropMode is CoverDrop's protocol (SPEC §7), byte-compatible with
// upstream: X25519 messaging keys, multi-anonymous boxes in, two-party
// boxes from the node's messaging key to journalists out.
type coverDropMode struct{}

// coverDropEntryPayloadSize is the room of an entry's payload in a
// coverdrop round log (a U2C plaintext is 597 bytes); it is fixed, so
// that logs written by earlier versions read.
const coverDropEntryPayloadSize = 600

func (coverDropMode) name() string     { return pq.ModeCoverDrop }
func (coverDropMode) payloadSize() int { return coverDropEntryPayloadSize }

func (coverDropMode) opener(ks *keyState, now time.Time) batchOpener {
	return coverDropOpener(ks.decryptionKeys(now))
}

// coverDropOpener is the node's X25519 messaging keys, newest first.
type coverDropOpener []*crypto.PrivateKey

func (o coverDropOpener) openU2C(msg []byte, preferSlot int) ([]byte, int, bool) {
	if len(msg) != protocol.U2CMessageSize {
		return nil, 0, false
	}
	for _, k := range o {
		// The plaintext is tag ‖ U2J, kept whole as the entry's payload:
		// no copy on the hot path.
		pt, slot, err := crypto.OpenMultiAnonymous(k, protocol.CoverNodeWrappingKeyCount, msg, preferSlot)
		if err == nil && len(pt) == protocol.U2CPlaintextSize {
			return pt, slot, true
		}
	}
	return nil, 0, false
}

func (o coverDropOpener) openJ2C(msg []byte, preferSlot int) (*protocol.J2C, int, bool) {
	for _, k := range o {
		if m, slot, err := protocol.OpenJ2C(k, msg, preferSlot); err == nil {
			return m, slot, true
		}
	}
	return nil, 0, false
}

func (coverDropMode) tags(v *keys.Verified) tagSet {
	tags := tagSet{}
	for tag := range coverDropJournalistKeys(v) {
		tags[tag] = true
	}
	return tags
}

// coverDropJournalistKeys maps recipient tags to the key each journalist
// is written to (its messaging key with the latest expiry).
func coverDropJournalistKeys(v *keys.Verified) map[protocol.RecipientTag]*crypto.PublicKey {
	byTag := map[protocol.RecipientTag]*crypto.PublicKey{}
	for _, id := range v.JournalistIDs() {
		if k, err := v.JournalistKey(id); err == nil {
			byTag[protocol.TagFor(id)] = k
		}
	}
	return byTag
}

func (coverDropMode) c2jSealer(ks *keyState, v *keys.Verified, now time.Time) (c2jSealer, error) {
	sender, err := ks.messagingKey(now)
	if err != nil {
		return nil, err
	}
	return &coverDropC2J{byTag: coverDropJournalistKeys(v), sender: sender}, nil
}

// coverDropC2J seals C2J messages from the node's latest messaging key
// (SPEC §7.4); fillers go to random keys, as upstream's do.
type coverDropC2J struct {
	byTag  map[protocol.RecipientTag]*crypto.PublicKey
	sender *crypto.PrivateKey
}

func (s *coverDropC2J) seal(payload []byte) ([]byte, error) {
	// Make a filler, then seal either it or the real message.
	recipient, u2j, err := protocol.FillerU2J()
	if err != nil {
		return nil, err
	}
	if payload != nil {
		if jk, ok := s.byTag[protocol.RecipientTag(payload[:protocol.RecipientTagSize])]; ok {
			recipient, u2j = jk, payload[protocol.RecipientTagSize:]
		}
	}
	return protocol.SealC2J(recipient, s.sender, u2j)
}

func (s *coverDropC2J) close() { s.sender = nil }

func (coverDropMode) randomJ2U() ([]byte, error) { return protocol.RandomJ2U() }

func (coverDropMode) deadDrop(kind deaddrop.Kind, createdAt time.Time, data []byte, epoch int32, sk *crypto.SigningKey) ([]byte, error) {
	dd := &deaddrop.DeadDrop{Kind: kind, CreatedAt: createdAt, Data: data, Epoch: epoch}
	dd.Sign(sk)
	return json.Marshal(dd)
}
