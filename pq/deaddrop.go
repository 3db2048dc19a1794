package pq

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/protocol"
)

// ChunkSize is the size of one message in a pq dead drop of the kind:
// J2U for user dead drops, C2J for journalist ones.
func ChunkSize(k deaddrop.Kind) int {
	if k == deaddrop.User {
		return J2UMessageSize
	}
	return C2JMessageSize
}

// DeadDrop is a pq dead drop. Its JSON is coverdrop mode's (SPEC §4.4,
// §4.5); its chunks and signed digest are pq's (docs/PQ.md §6).
type DeadDrop struct {
	Kind      deaddrop.Kind
	ID        int64
	CreatedAt time.Time
	Data      []byte
	Signature [crypto.SignatureSize]byte
	Epoch     int32
}

// Chunks returns the number of messages in the dead drop.
func (d *DeadDrop) Chunks() int { return len(d.Data) / ChunkSize(d.Kind) }

// Chunk returns message i.
func (d *DeadDrop) Chunk(i int) []byte {
	n := ChunkSize(d.Kind)
	return d.Data[i*n : (i+1)*n]
}

// CheckLength reports whether Data is a positive whole number of messages.
func (d *DeadDrop) CheckLength() error {
	n := ChunkSize(d.Kind)
	if len(d.Data) == 0 || len(d.Data)%n != 0 {
		return fmt.Errorf("pq: %s dead drop data is %d bytes, not a positive multiple of %d", d.Kind, len(d.Data), n)
	}
	return nil
}

// SignatureData returns the 32-byte digest the CoverNode signs:
// SHA-256(label ‖ data ‖ i64 created_at [‖ i32 epoch]). The label keeps a
// pq dead drop's signature from verifying as a coverdrop one.
func (d *DeadDrop) SignatureData() []byte {
	h := sha256.New()
	if d.Kind == deaddrop.User {
		h.Write([]byte(LabelUserDeadDrop))
	} else {
		h.Write([]byte(LabelJournalistDeadDrop))
	}
	h.Write(d.Data)
	var buf [12]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(d.CreatedAt.Unix()))
	n := 8
	if d.Kind == deaddrop.Journalist {
		binary.BigEndian.PutUint32(buf[8:], uint32(d.Epoch))
		n = 12
	}
	h.Write(buf[:n])
	return h.Sum(nil)
}

// Sign signs the dead drop with a CoverNode identity key.
func (d *DeadDrop) Sign(sk *crypto.SigningKey) { copy(d.Signature[:], sk.Sign(d.SignatureData())) }

// Verify checks the length and that the signature verifies under one of
// the CoverNode identity keys of a verified hierarchy.
func (d *DeadDrop) Verify(coverNodeIdentityKeys []*crypto.VerifyingKey) error {
	if err := d.CheckLength(); err != nil {
		return err
	}
	return deaddrop.VerifyDigest(d.SignatureData(), d.Signature[:], coverNodeIdentityKeys)
}

// openAll trial-decrypts every chunk of a verified dead drop of the kind
// with open, and returns what opened, or deaddrop.ErrNotForMe.
func openAll[T any](d *DeadDrop, kind deaddrop.Kind, open func(chunk []byte) (T, bool)) ([]T, error) {
	if d.Kind != kind {
		return nil, fmt.Errorf("pq: this opener reads %s dead drops, not %s ones", kind, d.Kind)
	}
	if err := d.CheckLength(); err != nil {
		return nil, err
	}
	var out []T
	for i := range d.Chunks() {
		if v, ok := open(d.Chunk(i)); ok {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, deaddrop.ErrNotForMe
	}
	return out, nil
}

// MarshalJSON writes the dead drop in coverdrop mode's JSON form.
func (d *DeadDrop) MarshalJSON() ([]byte, error) {
	return (&deaddrop.DeadDrop{Kind: d.Kind, ID: d.ID, CreatedAt: d.CreatedAt, Data: d.Data, Signature: d.Signature, Epoch: d.Epoch}).MarshalJSON()
}

// ParseDeadDrop reads one dead drop of the kind in published or
// unpublished form, refusing unknown fields (the legacy cert too), a
// negative id, and data that is not a whole number of pq chunks.
func ParseDeadDrop(kind deaddrop.Kind, b []byte) (*DeadDrop, error) {
	var j struct {
		ID        int64           `json:"id"`
		CreatedAt protocol.Time   `json:"created_at"`
		Data      protocol.Base64 `json:"data"`
		Signature string          `json:"signature"`
		Epoch     *int32          `json:"epoch"`
	}
	if err := protocol.DecodeJSON(b, &j, true); err != nil {
		return nil, fmt.Errorf("pq: %s dead drop: %w", kind, err)
	}
	d := &DeadDrop{Kind: kind, ID: j.ID, CreatedAt: j.CreatedAt.Time, Data: j.Data}
	switch {
	case j.ID < 0:
		return nil, fmt.Errorf("pq: %s dead drop: negative id %d", kind, j.ID)
	case d.CreatedAt.IsZero():
		return nil, fmt.Errorf("pq: %s dead drop: created_at is required", kind)
	case len(j.Signature) != 2*crypto.SignatureSize:
		return nil, fmt.Errorf("pq: %s dead drop: signature is %d hex digits, want %d", kind, len(j.Signature), 2*crypto.SignatureSize)
	case (kind == deaddrop.Journalist) != (j.Epoch != nil):
		return nil, fmt.Errorf("pq: %s dead drop: epoch is required in journalist dead drops and only there", kind)
	}
	if _, err := hex.Decode(d.Signature[:], []byte(j.Signature)); err != nil {
		return nil, fmt.Errorf("pq: %s dead drop: signature is not hex", kind)
	}
	if j.Epoch != nil {
		d.Epoch = *j.Epoch
	}
	if err := d.CheckLength(); err != nil {
		return nil, err
	}
	return d, nil
}

// List is the body of a GET dead-drops answer in pq mode (read it with
// ParseList).
type List struct {
	DeadDrops []*DeadDrop `json:"dead_drops"`
}

// ParseList reads a GET dead-drops response of the kind in pq mode: every
// dead drop well formed (ParseDeadDrop) and published (a non-zero id);
// signatures are not checked here (see DeadDrop.Verify), nor the page's
// order (deaddrop.CheckPageIDs).
func ParseList(kind deaddrop.Kind, b []byte) ([]*DeadDrop, error) {
	var raw struct {
		DeadDrops []json.RawMessage `json:"dead_drops"`
	}
	if err := protocol.DecodeJSON(b, &raw, true); err != nil {
		return nil, fmt.Errorf("pq: %s dead drops: %w", kind, err)
	}
	if raw.DeadDrops == nil {
		return nil, fmt.Errorf("pq: %s dead drops: dead_drops is required", kind)
	}
	out := make([]*DeadDrop, 0, len(raw.DeadDrops))
	for i, r := range raw.DeadDrops {
		d, err := ParseDeadDrop(kind, r)
		if err != nil {
			return nil, fmt.Errorf("dead drop %d: %w", i, err)
		}
		if d.ID == 0 {
			return nil, fmt.Errorf("dead drop %d: published dead drop without id", i)
		}
		out = append(out, d)
	}
	return out, nil
}

// IDs returns the ids of dead drops, in order, for deaddrop.CheckPageIDs.
func IDs(ds []*DeadDrop) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// StoredReplyKey is a reply key a reader keeps, with the journalist its
// message went to.
type StoredReplyKey struct {
	Key          ReplyKey
	JournalistID string
}

// ReaderOpener trial-decrypts user dead drops with a reader's reply keys.
// Each chunk costs one symmetric open per key and no public-key operation.
type ReaderOpener struct {
	keys []StoredReplyKey
}

// NewReaderOpener prepares trial decryption with the reader's reply keys,
// at most MaxReplyKeys of them (the caller keeps the newest).
func NewReaderOpener(keys []StoredReplyKey) (*ReaderOpener, error) {
	if len(keys) > MaxReplyKeys {
		return nil, fmt.Errorf("pq: %d reply keys, the most a reader keeps is %d", len(keys), MaxReplyKeys)
	}
	return &ReaderOpener{keys: keys}, nil
}

// Open returns the replies in a verified user dead drop, or
// deaddrop.ErrNotForMe when there are none. A reply is from the journalist
// its key's message went to: only that journalist and the reader know the
// key.
func (o *ReaderOpener) Open(d *DeadDrop) ([]deaddrop.Reply, error) {
	return openAll(d, deaddrop.User, func(chunk []byte) (deaddrop.Reply, bool) {
		for k := range o.keys {
			m, err := OpenJ2U(&o.keys[k].Key, chunk)
			if errors.Is(err, crypto.ErrDecrypt) {
				continue
			}
			// Authentic but malformed: skip the message, not the dead drop.
			return deaddrop.Reply{DeadDropID: d.ID, CreatedAt: d.CreatedAt, JournalistID: o.keys[k].JournalistID, Message: m}, err == nil
		}
		return deaddrop.Reply{}, false
	})
}

// Received is a reader's message found in a journalist dead drop.
type Received struct {
	DeadDropID int64
	CreatedAt  time.Time
	Message    *UserMessage
	// U2J is the message as the reader sealed it: each send has its own.
	U2J []byte
}

// JournalistOpener trial-decrypts journalist dead drops with a
// journalist's messaging keys.
type JournalistOpener struct {
	own []*PrivateKey
}

// NewJournalistOpener prepares trial decryption with the journalist's own
// valid messaging keys, latest first: the CoverNode seals to the latest,
// so the first key usually opens a chunk that is the journalist's. A chunk
// that is not costs one X-Wing decapsulation per key.
func NewJournalistOpener(own []*PrivateKey) *JournalistOpener {
	return &JournalistOpener{own: own}
}

// Open returns the readers' messages in a verified journalist dead drop,
// or deaddrop.ErrNotForMe when there are none.
func (o *JournalistOpener) Open(d *DeadDrop) ([]Received, error) {
	return openAll(d, deaddrop.Journalist, func(chunk []byte) (Received, bool) {
		m, u2j := o.openChunk(chunk)
		return Received{DeadDropID: d.ID, CreatedAt: d.CreatedAt, Message: m, U2J: u2j}, m != nil
	})
}

func (o *JournalistOpener) openChunk(chunk []byte) (*UserMessage, []byte) {
	for _, sk := range o.own {
		u2j, err := OpenC2J(sk, chunk)
		if err != nil {
			continue
		}
		// The reader may have used an older key than the CoverNode.
		for _, inner := range o.own {
			if m, err := OpenU2J(inner, u2j); err == nil {
				return m, u2j
			}
		}
		return nil, nil
	}
	return nil, nil
}
