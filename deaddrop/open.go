package deaddrop

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/protocol"
)

// Reply is a journalist's message found in a user dead drop.
type Reply struct {
	DeadDropID   int64
	CreatedAt    time.Time
	JournalistID string
	Message      *protocol.JournalistMessage
}

// ReaderOpener trial-decrypts user dead drops for one reader. It computes
// the shared key with every journalist messaging key once.
type ReaderOpener struct {
	keys []senderKey
}

type senderKey struct {
	id  string
	key *crypto.SharedKey
}

// NewReaderOpener prepares trial decryption for the reader's key against
// the messaging keys of the journalists the reader talks to, by id.
func NewReaderOpener(reader *crypto.PrivateKey, journalists map[string][]*crypto.PublicKey) (*ReaderOpener, error) {
	o := &ReaderOpener{}
	for _, id := range slices.Sorted(maps.Keys(journalists)) {
		for _, pk := range journalists[id] {
			k, err := crypto.Precompute(reader, pk)
			if err != nil {
				return nil, fmt.Errorf("journalist %s: %w", id, err)
			}
			o.keys = append(o.keys, senderKey{id, k})
		}
	}
	return o, nil
}

// Open returns the replies in a user dead drop, or ErrNotForMe when there
// are none. The dead drop's signature must have been verified.
func (o *ReaderOpener) Open(d *DeadDrop) ([]Reply, error) {
	if d.Kind != User {
		return nil, fmt.Errorf("deaddrop: a reader opens user dead drops, not %s ones", d.Kind)
	}
	if err := d.CheckLength(); err != nil {
		return nil, err
	}
	var out []Reply
	for i := range d.Chunks() {
		chunk := d.Chunk(i)
		for _, k := range o.keys {
			m, err := protocol.OpenJ2U(k.key, chunk)
			if errors.Is(err, crypto.ErrDecrypt) {
				continue
			}
			if err != nil {
				// Authentic but malformed: the journalist's client is at
				// fault; skip the message rather than the dead drop.
				break
			}
			out = append(out, Reply{DeadDropID: d.ID, CreatedAt: d.CreatedAt, JournalistID: k.id, Message: m})
			break
		}
	}
	if len(out) == 0 {
		return nil, ErrNotForMe
	}
	return out, nil
}

// Received is a reader's message found in a journalist dead drop.
type Received struct {
	DeadDropID int64
	CreatedAt  time.Time
	Message    *protocol.UserMessage
	// U2J is the message as the reader's client sealed it to the
	// journalist: each send has its own (a fresh ephemeral key), and every
	// copy of one send the same, so it tells a message delivered twice
	// from the same text sent twice.
	U2J []byte
}

// JournalistOpener trial-decrypts journalist dead drops for one journalist.
type JournalistOpener struct {
	outer []*crypto.SharedKey
	own   []*crypto.PrivateKey
}

// NewJournalistOpener prepares trial decryption with the journalist's own
// messaging keys (every valid one, candidates included) against every
// CoverNode messaging key of the verified hierarchy (SPEC §4.8).
func NewJournalistOpener(own []*crypto.PrivateKey, coverNodeKeys []*crypto.PublicKey) (*JournalistOpener, error) {
	o := &JournalistOpener{own: own}
	for _, cn := range coverNodeKeys {
		for _, sk := range own {
			k, err := crypto.Precompute(sk, cn)
			if err != nil {
				return nil, fmt.Errorf("CoverNode key %x: %w", cn.Bytes()[:4], err)
			}
			o.outer = append(o.outer, k)
		}
	}
	return o, nil
}

// Open returns the readers' messages in a journalist dead drop, or
// ErrNotForMe when there are none. The dead drop's signature must have
// been verified.
func (o *JournalistOpener) Open(d *DeadDrop) ([]Received, error) {
	if d.Kind != Journalist {
		return nil, fmt.Errorf("deaddrop: a journalist opens journalist dead drops, not %s ones", d.Kind)
	}
	if err := d.CheckLength(); err != nil {
		return nil, err
	}
	var out []Received
	for i := range d.Chunks() {
		if m, u2j := o.openChunk(d.Chunk(i)); m != nil {
			out = append(out, Received{DeadDropID: d.ID, CreatedAt: d.CreatedAt, Message: m, U2J: u2j})
		}
	}
	if len(out) == 0 {
		return nil, ErrNotForMe
	}
	return out, nil
}

func (o *JournalistOpener) openChunk(chunk []byte) (*protocol.UserMessage, []byte) {
	for _, k := range o.outer {
		u2j, err := protocol.OpenC2J(k, chunk)
		if err != nil {
			continue
		}
		for _, sk := range o.own {
			if m, err := protocol.OpenU2J(sk, u2j); err == nil {
				return m, u2j
			}
		}
		// The outer layer opened but the inner did not: cover, or another
		// journalist's message. Only one outer key can open a chunk.
		return nil, nil
	}
	return nil, nil
}
