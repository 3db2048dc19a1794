package pq

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/protocol"
)

// ReaderID is a reader's 32 random bytes, sent in every U2J so that a
// journalist threads the reader's messages (docs/PQ.md §5.1). It links the
// reader's messages to each other for every journalist who reads them,
// exactly as coverdrop mode's reply key does, and reveals nothing else.
type ReaderID [ReaderIDSize]byte

// NewReaderID returns a fresh reader id from crypto/rand.
func NewReaderID() (ReaderID, error) {
	var id ReaderID
	if _, err := rand.Read(id[:]); err != nil {
		return id, fmt.Errorf("pq: reading randomness: %w", err)
	}
	return id, nil
}

// ReplyKey is the symmetric key a journalist answers one reader message
// with (docs/PQ.md §5.5): the HPKE exporter output of that message's U2J.
// Only the reader and the holder of the journalist messaging key the U2J
// was sealed to can compute it; its secrecy rests on the X-Wing
// encapsulation. Handle it as a secret.
type ReplyKey [ReplyKeySize]byte

// UserMessage is an opened U2J message.
type UserMessage struct {
	ReaderID ReaderID
	Text     string
	// ReplyKey is what the journalist seals its answers with.
	ReplyKey ReplyKey
}

// NewU2JPlaintext builds the 545-byte U2J plaintext: reader id, the
// reserved zero byte, padded text.
func NewU2JPlaintext(id ReaderID, text string) ([]byte, error) {
	pt, err := protocol.EncodeText(text)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, U2JPlaintextSize)
	out = append(append(out, id[:]...), 0)
	return append(out, pt[:]...), nil
}

// ParseU2JPlaintext parses a U2J plaintext; the reserved byte is ignored.
func ParseU2JPlaintext(b []byte) (ReaderID, string, error) {
	var id ReaderID
	if len(b) != U2JPlaintextSize {
		return id, "", lengthError("U2J plaintext", len(b), U2JPlaintextSize)
	}
	copy(id[:], b)
	text, err := (*protocol.PaddedText)(b[ReaderIDSize+1:]).Text()
	return id, text, err
}

// SealU2J seals a reader's message to a journalist's messaging key and
// returns it with its reply key, which the reader keeps (docs/PQ.md §5.5).
func SealU2J(journalistKey *PublicKey, id ReaderID, text string) ([]byte, *ReplyKey, error) {
	pt, err := NewU2JPlaintext(id, text)
	if err != nil {
		return nil, nil, err
	}
	return sealHPKE(journalistKey, LabelU2J, pt, true)
}

// OpenU2J opens a U2J message with one of the journalist's messaging keys.
func OpenU2J(journalistKey *PrivateKey, u2j []byte) (*UserMessage, error) {
	if len(u2j) != U2JMessageSize {
		return nil, lengthError("U2J message", len(u2j), U2JMessageSize)
	}
	pt, rk, err := openHPKE(journalistKey, LabelU2J, u2j, true)
	if err != nil {
		return nil, err
	}
	id, text, err := ParseU2JPlaintext(pt)
	if err != nil {
		return nil, err
	}
	return &UserMessage{ReaderID: id, Text: text, ReplyKey: *rk}, nil
}

// SealU2C seals a real message from a reader: the U2J to the journalist's
// messaging key, tagged for the journalist id, sealed to the two CoverNode
// keys. It returns the message's reply key.
func SealU2C(coverNodeKeys []*PublicKey, journalistID string, journalistKey *PublicKey, id ReaderID, text string) ([]byte, *ReplyKey, error) {
	if err := protocol.ValidateJournalistID(journalistID); err != nil {
		return nil, nil, fmt.Errorf("pq: %w", err)
	}
	if err := coverNodeRecipients(coverNodeKeys); err != nil {
		return nil, nil, err
	}
	u2j, rk, err := SealU2J(journalistKey, id, text)
	if err != nil {
		return nil, nil, err
	}
	msg, err := sealU2C(coverNodeKeys, protocol.TagFor(journalistID), u2j)
	return msg, rk, err
}

// SealCoverU2C seals a cover message: the cover tag and random filler, the
// size of a real message; only a CoverNode can tell them apart.
func SealCoverU2C(coverNodeKeys []*PublicKey) ([]byte, error) {
	filler := make([]byte, U2JMessageSize)
	if _, err := rand.Read(filler); err != nil {
		return nil, fmt.Errorf("pq: reading randomness: %w", err)
	}
	return sealU2C(coverNodeKeys, protocol.CoverTag, filler)
}

func sealU2C(coverNodeKeys []*PublicKey, tag protocol.RecipientTag, u2j []byte) ([]byte, error) {
	pt := make([]byte, 0, U2CPlaintextSize)
	pt = append(append(pt, tag[:]...), u2j...)
	return sealMulti(coverNodeKeys, LabelU2CSlot, LabelU2CPayload, pt)
}

// OpenU2C opens a U2C message with one CoverNode messaging key, trying slot
// preferSlot first; it returns the slot that opened. The CoverNode tells
// cover from the tag alone.
func OpenU2C(coverNodeKey *PrivateKey, msg []byte, preferSlot int) (*protocol.U2C, int, error) {
	return OpenU2CWith([]*PrivateKey{coverNodeKey}, msg, preferSlot)
}

// OpenU2CWith opens a U2C message with whichever of a CoverNode's
// messaging keys it was sealed to, trying every key in slot preferSlot
// before the other slot (openMulti); it returns the slot that opened.
func OpenU2CWith(coverNodeKeys []*PrivateKey, msg []byte, preferSlot int) (*protocol.U2C, int, error) {
	if len(msg) != U2CMessageSize {
		return nil, 0, lengthError("U2C message", len(msg), U2CMessageSize)
	}
	pt, slot, err := openMulti(coverNodeKeys, LabelU2CSlot, LabelU2CPayload, msg, preferSlot)
	if err != nil {
		return nil, 0, err
	}
	return &protocol.U2C{Tag: protocol.RecipientTag(pt[:protocol.RecipientTagSize]), U2J: pt[protocol.RecipientTagSize:]}, slot, nil
}

// SealC2J re-encrypts a reader's U2J from the CoverNode to the journalist's
// latest messaging key, so that nobody who injected a message recognises
// it in a dead drop (docs/PQ.md §5.3).
func SealC2J(journalistKey *PublicKey, u2j []byte) ([]byte, error) {
	if len(u2j) != U2JMessageSize {
		return nil, lengthError("U2J message", len(u2j), U2JMessageSize)
	}
	out, _, err := sealHPKE(journalistKey, LabelC2J, u2j, false)
	return out, err
}

// FillerC2J returns a filler chunk for a journalist dead drop: random bytes
// the size of a U2J, sealed to throwaway, a key the CoverNode generates for
// one release and deletes after it. It costs the same encapsulation as a
// real chunk and is indistinguishable from one without a journalist key.
func FillerC2J(throwaway *PublicKey) ([]byte, error) {
	filler := make([]byte, U2JMessageSize)
	if _, err := rand.Read(filler); err != nil {
		return nil, fmt.Errorf("pq: reading randomness: %w", err)
	}
	return SealC2J(throwaway, filler)
}

// OpenC2J opens the outer layer of a journalist dead-drop chunk with one
// of the journalist's messaging keys, giving the U2J inside.
func OpenC2J(journalistKey *PrivateKey, chunk []byte) ([]byte, error) {
	if len(chunk) != C2JMessageSize {
		return nil, lengthError("C2J message", len(chunk), C2JMessageSize)
	}
	u2j, _, err := openHPKE(journalistKey, LabelC2J, chunk, false)
	return u2j, err
}

// SealJ2U seals a journalist's message to a reader under the reply key of
// the reader's latest message: XChaCha20-Poly1305 with a random nonce,
// ciphertext ‖ tag ‖ nonce (docs/PQ.md §5.4).
func SealJ2U(replyKey *ReplyKey, m *protocol.JournalistMessage) ([]byte, error) {
	if replyKey == nil || m == nil {
		return nil, errors.New("pq: a reply needs a reply key and a message")
	}
	pt, err := protocol.NewJ2UPlaintext(m)
	if err != nil {
		return nil, err
	}
	return crypto.SealSecret((*[ReplyKeySize]byte)(replyKey), pt)
}

// RandomJ2U returns a filler chunk for a user dead drop: an empty text
// under a fresh random key.
func RandomJ2U() ([]byte, error) {
	var k ReplyKey
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("pq: reading randomness: %w", err)
	}
	return SealJ2U(&k, &protocol.JournalistMessage{Type: protocol.J2UTypeText})
}

// OpenJ2U opens a user dead-drop chunk with one reply key. It costs one
// symmetric open and no public-key operation.
func OpenJ2U(replyKey *ReplyKey, chunk []byte) (*protocol.JournalistMessage, error) {
	if replyKey == nil {
		return nil, errors.New("pq: missing reply key")
	}
	if len(chunk) != J2UMessageSize {
		return nil, lengthError("J2U message", len(chunk), J2UMessageSize)
	}
	pt, err := crypto.OpenSecret((*[ReplyKeySize]byte)(replyKey), chunk)
	if err != nil {
		return nil, err
	}
	return protocol.ParseJ2UPlaintext(pt)
}

// SealJ2C wraps a journalist's J2U for the CoverNodes.
func SealJ2C(coverNodeKeys []*PublicKey, j2u []byte) ([]byte, error) {
	if len(j2u) != J2UMessageSize {
		return nil, lengthError("J2U message", len(j2u), J2UMessageSize)
	}
	return sealJ2C(coverNodeKeys, protocol.J2CFlagReal, j2u)
}

// SealCoverJ2C seals a journalist's cover message, the size of a real one:
// the cover flag and zero filler, as in coverdrop mode.
func SealCoverJ2C(coverNodeKeys []*PublicKey) ([]byte, error) {
	return sealJ2C(coverNodeKeys, protocol.J2CFlagCover, make([]byte, J2UMessageSize))
}

func sealJ2C(coverNodeKeys []*PublicKey, flag byte, j2u []byte) ([]byte, error) {
	pt := make([]byte, 0, J2CPlaintextSize)
	pt = append(append(pt, flag), j2u...)
	return sealMulti(coverNodeKeys, LabelJ2CSlot, LabelJ2CPayload, pt)
}

// OpenJ2C opens a J2C message with one CoverNode messaging key.
func OpenJ2C(coverNodeKey *PrivateKey, msg []byte, preferSlot int) (*protocol.J2C, int, error) {
	return OpenJ2CWith([]*PrivateKey{coverNodeKey}, msg, preferSlot)
}

// OpenJ2CWith opens a J2C message with whichever of a CoverNode's
// messaging keys it was sealed to, as OpenU2CWith does.
func OpenJ2CWith(coverNodeKeys []*PrivateKey, msg []byte, preferSlot int) (*protocol.J2C, int, error) {
	if len(msg) != J2CMessageSize {
		return nil, 0, lengthError("J2C message", len(msg), J2CMessageSize)
	}
	pt, slot, err := openMulti(coverNodeKeys, LabelJ2CSlot, LabelJ2CPayload, msg, preferSlot)
	if err != nil {
		return nil, 0, err
	}
	m, err := protocol.ParseJ2CPlaintext(pt)
	return m, slot, err
}

func lengthError(what string, got, want int) error {
	return &crypto.LengthError{What: "pq: " + what, Got: got, Want: want}
}
