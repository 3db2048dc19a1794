package covernode

import (
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// protocolMode is what the node does differently in each protocol mode
// (coverdrop, the default, or pq, docs/PQ.md): how an input opens, how a
// released reader message is sealed to its journalist, what fills a dead
// drop, and how a dead drop is signed. The node chooses it once, at
// start, from the deployment's mode; everything else (batches, the round
// log, the replay guard, the check of recipient tags, mixing,
// acknowledgement, publication, key rotation) is the one pipeline both
// modes share, so that each guarantee holds in both by construction.
type protocolMode interface {
	// name is the mode's name, pq.ModeCoverDrop or pq.ModePQ.
	name() string
	// payloadSize is the largest entry payload the mode keeps in the round
	// log: a U2C plaintext (recipient tag ‖ U2J).
	payloadSize() int
	// opener returns what opens a batch's inputs with the node's
	// messaging keys valid at now, newest first.
	opener(ks *keyState, now time.Time) batchOpener
	// tags gives the recipient tags of the journalists a reader can write
	// to in the verified hierarchy: those with a messaging key of the mode.
	tags(v *keys.Verified) tagSet
	// c2jSealer prepares one release of a journalist dead drop: the
	// journalists of the verified hierarchy, and whatever key fillers are
	// sealed to. Its close deletes what is secret in it.
	c2jSealer(ks *keyState, v *keys.Verified, now time.Time) (c2jSealer, error)
	// randomJ2U returns a filler for a user dead drop, the size of a J2U.
	randomJ2U() ([]byte, error)
	// deadDrop signs a dead drop of the kind with the identity key sk and
	// returns its JSON, as posted.
	deadDrop(kind deaddrop.Kind, createdAt time.Time, data []byte, epoch int32, sk *crypto.SigningKey) ([]byte, error)
}

// batchOpener opens inputs with the keys of one batch. It is used by
// several workers at once.
type batchOpener interface {
	// openU2C returns a reader message's plaintext, recipient tag ‖ U2J
	// (a fresh slice), and the wrapping slot that opened; ok is false when
	// no key of the node opens it.
	openU2C(msg []byte, preferSlot int) (pt []byte, slot int, ok bool)
	// openJ2C returns a journalist message and the slot that opened.
	openJ2C(msg []byte, preferSlot int) (m *protocol.J2C, slot int, ok bool)
}

// c2jSealer seals the messages of one journalist dead drop.
type c2jSealer interface {
	// seal returns one message: the U2J of payload (tag ‖ U2J) sealed to
	// the journalist the tag names, or a filler when payload is nil or its
	// tag names no journalist. Both cost the same work, so that how long a
	// release takes does not tell how many real messages it holds.
	seal(payload []byte) ([]byte, error)
	close()
}

// deploymentMode is the protocol mode of the deployment: the one its
// organisation keys (the trust anchors) signed. Anchors of two modes are
// refused.
func deploymentMode(anchors []keys.SignedPublicKey) (protocolMode, error) {
	name := keys.ModeCoverDrop
	for i := range anchors {
		if i == 0 {
			name = anchors[i].Mode()
		} else if anchors[i].Mode() != name {
			return nil, keys.ErrMixedModes
		}
	}
	return modeByName(name)
}

// modeByName returns the mode of that name; "" is coverdrop.
func modeByName(name string) (protocolMode, error) {
	switch name {
	case "", pq.ModeCoverDrop:
		return coverDropMode{}, nil
	case pq.ModePQ:
		return pqMode{}, nil
	}
	return nil, fmt.Errorf("covernode: unknown protocol mode %q", name)
}

// tagSet is the recipient tags of the journalists in a verified
// hierarchy.
type tagSet map[protocol.RecipientTag]bool
