// Package deaddrop holds CoverDrop's dead drops (SPEC §4): the signed
// batches of fixed-size messages the CoverNode publishes, their JSON forms,
// signatures, and trial decryption by readers and journalists.
package deaddrop

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/protocol"
)

// MaxClockSkew is how far past a clock a dead drop's created_at may be
// and still be taken: the CoverNode's clock, the API's and a device's
// disagree a little. The API refuses a dead drop dated further ahead;
// clients skip one (without moving past it).
const MaxClockSkew = time.Hour

// Kind is the direction of a dead drop.
type Kind uint8

const (
	// User dead drops carry journalists' replies (J2U) to readers.
	User Kind = iota + 1
	// Journalist dead drops carry readers' messages (C2J) to journalists.
	Journalist
)

func (k Kind) String() string {
	switch k {
	case User:
		return "user"
	case Journalist:
		return "journalist"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// ChunkSize is the size of one message in a dead drop of this kind.
func (k Kind) ChunkSize() int {
	if k == User {
		return protocol.J2UMessageSize
	}
	return protocol.C2JMessageSize
}

// ErrNotForMe is returned by trial decryption when no message of a dead
// drop opens under the keys tried.
var ErrNotForMe = protocol.ErrNotForMe

// ErrBadSignature is returned when a dead drop's signature verifies under
// none of the CoverNode identity keys.
var ErrBadSignature = errors.New("dead drop signature verifies under no CoverNode identity key")

// DeadDrop is a dead drop of either kind. ID is 0 until the API publishes
// it; Epoch is used by journalist dead drops only.
type DeadDrop struct {
	Kind      Kind
	ID        int64
	CreatedAt time.Time
	Data      []byte
	Signature [crypto.SignatureSize]byte
	Epoch     int32
}

// Chunks returns the number of messages in the dead drop.
func (d *DeadDrop) Chunks() int { return len(d.Data) / d.Kind.ChunkSize() }

// Chunk returns message i.
func (d *DeadDrop) Chunk(i int) []byte {
	n := d.Kind.ChunkSize()
	return d.Data[i*n : (i+1)*n]
}

// CheckLength reports whether Data is a positive whole number of messages.
func (d *DeadDrop) CheckLength() error {
	n := d.Kind.ChunkSize()
	if len(d.Data) == 0 || len(d.Data)%n != 0 {
		return fmt.Errorf("%s dead drop data is %d bytes, not a positive multiple of %d", d.Kind, len(d.Data), n)
	}
	return nil
}

// SignatureData returns the 32-byte digest the CoverNode signs (SPEC §4.2,
// v2): SHA-256(data ‖ i64 created_at seconds), and for journalist dead
// drops ‖ i32 epoch, all big-endian.
func (d *DeadDrop) SignatureData() []byte {
	h := sha256.New()
	h.Write(d.Data)
	var buf [12]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(d.CreatedAt.Unix()))
	n := 8
	if d.Kind == Journalist {
		binary.BigEndian.PutUint32(buf[8:], uint32(d.Epoch))
		n = 12
	}
	h.Write(buf[:n])
	return h.Sum(nil)
}

// Sign signs the dead drop with a CoverNode identity key.
func (d *DeadDrop) Sign(sk *crypto.SigningKey) {
	copy(d.Signature[:], sk.Sign(d.SignatureData()))
}

// Verify checks the length and that the signature verifies under one of
// the CoverNode identity keys (from a verified hierarchy).
func (d *DeadDrop) Verify(coverNodeIdentityKeys []*crypto.VerifyingKey) error {
	if err := d.CheckLength(); err != nil {
		return err
	}
	return VerifyDigest(d.SignatureData(), d.Signature[:], coverNodeIdentityKeys)
}

// VerifyDigest checks that sig is a signature of a dead drop's digest
// under one of the CoverNode identity keys (from a verified hierarchy).
func VerifyDigest(digest, sig []byte, coverNodeIdentityKeys []*crypto.VerifyingKey) error {
	for _, vk := range coverNodeIdentityKeys {
		if vk.Verify(digest, sig) == nil {
			return nil
		}
	}
	return ErrBadSignature
}

// deadDropJSON is the union of the published and unpublished forms.
// Cert is the legacy field of the 2023 vectors: accepted, ignored.
type deadDropJSON struct {
	ID        int64            `json:"id,omitzero"`
	CreatedAt string           `json:"created_at"`
	Data      string           `json:"data"`
	Cert      *json.RawMessage `json:"cert,omitempty"`
	Signature string           `json:"signature"`
	Epoch     *int32           `json:"epoch,omitempty"`
}

// MarshalJSON writes the dead drop as upstream does: with id once
// published, epoch for journalist dead drops, never the legacy cert.
func (d *DeadDrop) MarshalJSON() ([]byte, error) {
	j := deadDropJSON{
		ID:        d.ID,
		CreatedAt: protocol.FormatTime(d.CreatedAt),
		Data:      protocol.EncodeBase64(d.Data),
		Signature: hex.EncodeToString(d.Signature[:]),
	}
	if d.Kind == Journalist {
		j.Epoch = &d.Epoch
	}
	return json.Marshal(j)
}

// Parse reads one dead drop of the given kind in published or unpublished
// form. With strict, unknown fields (and the legacy cert) are refused, as
// the API does for POSTed dead drops.
func Parse(kind Kind, b []byte, strict bool) (*DeadDrop, error) {
	var j deadDropJSON
	if err := protocol.DecodeJSON(b, &j, strict); err != nil {
		return nil, fmt.Errorf("%s dead drop: %w", kind, err)
	}
	return fromJSON(kind, &j, strict)
}

func fromJSON(kind Kind, j *deadDropJSON, strict bool) (*DeadDrop, error) {
	d := &DeadDrop{Kind: kind, ID: j.ID}
	if j.ID < 0 {
		return nil, fmt.Errorf("%s dead drop: negative id %d", kind, j.ID)
	}
	if strict && j.Cert != nil {
		return nil, fmt.Errorf("%s dead drop: unknown field \"cert\"", kind)
	}
	var err error
	if j.CreatedAt == "" {
		return nil, fmt.Errorf("%s dead drop: created_at is required", kind)
	}
	if d.CreatedAt, err = protocol.ParseTime(j.CreatedAt); err != nil {
		return nil, fmt.Errorf("%s dead drop: created_at: %w", kind, err)
	}
	if d.Data, err = protocol.DecodeBase64(j.Data); err != nil {
		return nil, fmt.Errorf("%s dead drop: data: %w", kind, err)
	}
	if err := d.CheckLength(); err != nil {
		return nil, err
	}
	if len(j.Signature) != 2*crypto.SignatureSize {
		return nil, fmt.Errorf("%s dead drop: signature is %d hex digits, want %d", kind, len(j.Signature), 2*crypto.SignatureSize)
	}
	if _, err := hex.Decode(d.Signature[:], []byte(j.Signature)); err != nil {
		return nil, fmt.Errorf("%s dead drop: signature: %v", kind, err)
	}
	switch {
	case kind == Journalist && j.Epoch == nil:
		return nil, fmt.Errorf("journalist dead drop: epoch is required")
	case kind == Journalist:
		d.Epoch = *j.Epoch
	case j.Epoch != nil:
		return nil, fmt.Errorf("user dead drop: unexpected epoch")
	}
	return d, nil
}

// List is the body of GET /v1/user/dead-drops and /v1/journalist/dead-drops.
type List struct {
	DeadDrops []*DeadDrop `json:"dead_drops"`
}

// CheckPage checks what the API must hold to for a page asked with
// ids_greater_than=after: ids above after, rising, and small enough to be
// asked after in turn (upstream's ids are 32-bit). A client that moves its
// position only through checked pages cannot be sent backwards, made to
// loop, or pushed past every id the API will accept.
func (l *List) CheckPage(after int64) error {
	ids := make([]int64, len(l.DeadDrops))
	for i, d := range l.DeadDrops {
		ids[i] = d.ID
	}
	return CheckPageIDs(after, ids)
}

// CheckPageIDs is List.CheckPage over the ids of a page, in order, for a
// page of dead drops of either protocol mode.
func CheckPageIDs(after int64, ids []int64) error {
	prev := after
	for i, id := range ids {
		switch {
		case id <= prev:
			return fmt.Errorf("dead drop %d: id %d after %d: the ids of a page must rise above the one asked for", i, id, prev)
		case id > math.MaxInt32:
			return fmt.Errorf("dead drop %d: id %d is beyond 32 bits", i, id)
		}
		prev = id
	}
	return nil
}

// ParseList reads a GET dead-drops response. Every dead drop must be well
// formed; signatures are not checked here (see Verify).
func ParseList(kind Kind, b []byte) (*List, error) {
	var raw struct {
		DeadDrops []deadDropJSON `json:"dead_drops"`
	}
	if err := protocol.DecodeJSON(b, &raw, true); err != nil {
		return nil, fmt.Errorf("%s dead drops: %w", kind, err)
	}
	if raw.DeadDrops == nil {
		return nil, fmt.Errorf("%s dead drops: dead_drops is required", kind)
	}
	l := &List{DeadDrops: make([]*DeadDrop, 0, len(raw.DeadDrops))}
	for i := range raw.DeadDrops {
		d, err := fromJSON(kind, &raw.DeadDrops[i], false)
		if err != nil {
			return nil, fmt.Errorf("dead drop %d: %w", i, err)
		}
		if d.ID == 0 {
			return nil, fmt.Errorf("dead drop %d: published dead drop without id", i)
		}
		l.DeadDrops = append(l.DeadDrops, d)
	}
	return l, nil
}
