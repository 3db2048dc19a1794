package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/chaffhq/chaff/crypto"
)

// UserMessage is the content of a U2J message as the journalist reads it.
type UserMessage struct {
	// ReplyKey is the reader's long-lived X25519 key, to which replies are
	// encrypted.
	ReplyKey *crypto.PublicKey
	Text     string
}

// NewU2JPlaintext builds the 545-byte U2J plaintext: reply key, the reserved
// zero byte, padded text.
func NewU2JPlaintext(replyKey *crypto.PublicKey, text string) ([]byte, error) {
	pt, err := EncodeText(text)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, U2JPlaintextSize)
	out = append(out, replyKey.Bytes()...)
	out = append(out, 0)
	return append(out, pt[:]...), nil
}

// ParseU2JPlaintext parses a U2J plaintext. The reserved byte is ignored on
// read, as upstream requires.
func ParseU2JPlaintext(b []byte) (*UserMessage, error) {
	if len(b) != U2JPlaintextSize {
		return nil, lengthError("U2J plaintext", len(b), U2JPlaintextSize)
	}
	pk, err := crypto.NewPublicKey(b[:crypto.KeySize])
	if err != nil {
		return nil, err
	}
	text, err := (*PaddedText)(b[crypto.KeySize+1:]).Text()
	if err != nil {
		return nil, err
	}
	return &UserMessage{ReplyKey: pk, Text: text}, nil
}

// SealU2J encrypts a reader's message to a journalist's messaging key.
func SealU2J(journalistKey, replyKey *crypto.PublicKey, text string) ([]byte, error) {
	pt, err := NewU2JPlaintext(replyKey, text)
	if err != nil {
		return nil, err
	}
	return crypto.SealAnonymous(journalistKey, pt)
}

// OpenU2J opens a U2J message with one of the journalist's messaging keys.
func OpenU2J(journalistKey *crypto.PrivateKey, u2j []byte) (*UserMessage, error) {
	if len(u2j) != U2JMessageSize {
		return nil, lengthError("U2J message", len(u2j), U2JMessageSize)
	}
	pt, err := crypto.OpenAnonymous(journalistKey, u2j)
	if err != nil {
		return nil, err
	}
	return ParseU2JPlaintext(pt)
}

// U2C is an opened U2C message: a recipient tag and, for real messages, the
// U2J message for that journalist.
type U2C struct {
	Tag RecipientTag
	U2J []byte // U2JMessageSize bytes; filler for cover
}

// IsCover reports whether the message is cover. The CoverNode decides from
// the tag alone, as upstream does.
func (m *U2C) IsCover() bool { return m.Tag.IsCover() }

// ParseU2CPlaintext parses the 597-byte U2C plaintext.
func ParseU2CPlaintext(b []byte) (*U2C, error) {
	if len(b) != U2CPlaintextSize {
		return nil, lengthError("U2C plaintext", len(b), U2CPlaintextSize)
	}
	return &U2C{Tag: RecipientTag(b[:RecipientTagSize]), U2J: bytes.Clone(b[RecipientTagSize:])}, nil
}

// coverNodeRecipients checks the CoverNode keys a message is sealed to.
func coverNodeRecipients(keys []*crypto.PublicKey) ([]*crypto.PublicKey, error) {
	if len(keys) != CoverNodeWrappingKeyCount {
		return nil, fmt.Errorf("protocol: messages to the CoverNodes are sealed to %d keys, got %d", CoverNodeWrappingKeyCount, len(keys))
	}
	for _, k := range keys {
		if k == nil {
			return nil, errors.New("protocol: missing CoverNode key")
		}
	}
	return keys, nil
}

// SealU2C seals a real message from a reader: the U2J message to the
// journalist's messaging key, tagged for the journalist id, sealed to the
// CoverNode keys (see keys.Verified.CoverNodeMessagingKeys).
func SealU2C(coverNodeKeys []*crypto.PublicKey, journalistID string, journalistKey, replyKey *crypto.PublicKey, text string) ([]byte, error) {
	if err := ValidateJournalistID(journalistID); err != nil {
		return nil, fmt.Errorf("protocol: %w", err)
	}
	u2j, err := SealU2J(journalistKey, replyKey, text)
	if err != nil {
		return nil, err
	}
	tag := TagFor(journalistID)
	return sealU2C(coverNodeKeys, tag, u2j)
}

// SealCoverU2C seals a cover message: the cover tag and random filler, so
// that it has the size of a real one and nobody but a CoverNode can tell.
func SealCoverU2C(coverNodeKeys []*crypto.PublicKey) ([]byte, error) {
	filler := make([]byte, U2JMessageSize)
	if _, err := rand.Read(filler); err != nil {
		return nil, fmt.Errorf("protocol: reading randomness: %w", err)
	}
	return sealU2C(coverNodeKeys, CoverTag, filler)
}

func sealU2C(coverNodeKeys []*crypto.PublicKey, tag RecipientTag, u2j []byte) ([]byte, error) {
	keys, err := coverNodeRecipients(coverNodeKeys)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, 0, U2CPlaintextSize)
	pt = append(pt, tag[:]...)
	pt = append(pt, u2j...)
	return crypto.SealMultiAnonymous(keys, pt)
}

// OpenU2C opens a U2C message with one CoverNode messaging key, trying the
// wrapping slot preferSlot first. It returns the slot that opened, to prefer
// next time.
func OpenU2C(coverNodeKey *crypto.PrivateKey, msg []byte, preferSlot int) (*U2C, int, error) {
	if len(msg) != U2CMessageSize {
		return nil, 0, lengthError("U2C message", len(msg), U2CMessageSize)
	}
	pt, slot, err := crypto.OpenMultiAnonymous(coverNodeKey, CoverNodeWrappingKeyCount, msg, preferSlot)
	if err != nil {
		return nil, 0, err
	}
	m, err := ParseU2CPlaintext(pt)
	return m, slot, err
}

// SealC2J re-encrypts a reader's U2J message from the CoverNode to the
// journalist: a two-party box from the CoverNode's messaging key.
func SealC2J(journalistKey *crypto.PublicKey, coverNodeKey *crypto.PrivateKey, u2j []byte) ([]byte, error) {
	if len(u2j) != U2JMessageSize {
		return nil, lengthError("U2J message", len(u2j), U2JMessageSize)
	}
	return crypto.SealTwoParty(journalistKey, coverNodeKey, u2j)
}

// RandomC2J returns a filler C2J message for a journalist dead drop,
// indistinguishable from a real one to anyone who cannot open it: a U2J of
// an empty text from a fresh reader key to a fresh journalist key, in a
// two-party box from the CoverNode's key to another fresh key (upstream
// covernode's construction).
func RandomC2J(coverNodeKey *crypto.PrivateKey) ([]byte, error) {
	recipient, u2j, err := FillerU2J()
	if err != nil {
		return nil, err
	}
	return SealC2J(recipient, coverNodeKey, u2j)
}

// FillerU2J returns what RandomC2J seals: a fresh recipient key and a U2J
// of an empty text between fresh keys. A CoverNode that makes one for
// every slot of a dead drop, real or not, does the same work whatever the
// dead drop holds.
func FillerU2J() (*crypto.PublicKey, []byte, error) {
	fakeJournalist, err := crypto.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	fakeReader, err := crypto.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	u2j, err := SealU2J(fakeJournalist.PublicKey(), fakeReader.PublicKey(), "")
	if err != nil {
		return nil, nil, err
	}
	fakeRecipient, err := crypto.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	return fakeRecipient.PublicKey(), u2j, nil
}

// OpenC2J opens the outer layer of a C2J chunk with the precomputed key of
// a (CoverNode messaging key, journalist messaging key) pair, giving the
// U2J message inside.
func OpenC2J(key *crypto.SharedKey, chunk []byte) ([]byte, error) {
	if len(chunk) != C2JMessageSize {
		return nil, lengthError("C2J message", len(chunk), C2JMessageSize)
	}
	return key.OpenTwoParty(chunk)
}

// JournalistMessage is the content of a J2U message: a text, or a handover
// naming the journalist who takes the conversation over.
type JournalistMessage struct {
	Type       byte // J2UTypeText or J2UTypeHandover
	Text       string
	HandoverTo string
}

// NewJ2UPlaintext builds the 513-byte J2U plaintext of a message.
func NewJ2UPlaintext(m *JournalistMessage) ([]byte, error) {
	out := make([]byte, 1, J2UPlaintextSize)
	out[0] = m.Type
	switch m.Type {
	case J2UTypeText:
		pt, err := EncodeText(m.Text)
		if err != nil {
			return nil, err
		}
		return append(out, pt[:]...), nil
	case J2UTypeHandover:
		if err := ValidateJournalistID(m.HandoverTo); err != nil {
			return nil, fmt.Errorf("protocol: handover: %w", err)
		}
		if len(m.HandoverTo) >= MaxJournalistIDLen {
			return nil, fmt.Errorf("protocol: handover journalist id must be shorter than %d bytes", MaxJournalistIDLen)
		}
		out = append(out, m.HandoverTo...)
		return append(out, make([]byte, J2UPlaintextSize-len(out))...), nil
	default:
		return nil, fmt.Errorf("protocol: unknown J2U message type %#x", m.Type)
	}
}

// ParseJ2UPlaintext parses a J2U plaintext.
func ParseJ2UPlaintext(b []byte) (*JournalistMessage, error) {
	if len(b) != J2UPlaintextSize {
		return nil, lengthError("J2U plaintext", len(b), J2UPlaintextSize)
	}
	switch b[0] {
	case J2UTypeText:
		text, err := (*PaddedText)(b[1:]).Text()
		if err != nil {
			return nil, err
		}
		return &JournalistMessage{Type: J2UTypeText, Text: text}, nil
	case J2UTypeHandover:
		body := b[1:]
		end := bytes.IndexByte(body, 0)
		if end < 0 || end >= MaxJournalistIDLen {
			return nil, errors.New("protocol: handover message: journalist id not terminated within 128 bytes")
		}
		id := string(body[:end])
		if err := ValidateJournalistID(id); err != nil {
			return nil, fmt.Errorf("protocol: handover message: %w", err)
		}
		return &JournalistMessage{Type: J2UTypeHandover, HandoverTo: id}, nil
	default:
		return nil, fmt.Errorf("protocol: unknown J2U message type %#x", b[0])
	}
}

// SealJ2U encrypts a journalist's message to a reader's reply key, from the
// journalist's latest messaging key.
func SealJ2U(replyKey *crypto.PublicKey, journalistKey *crypto.PrivateKey, m *JournalistMessage) ([]byte, error) {
	pt, err := NewJ2UPlaintext(m)
	if err != nil {
		return nil, err
	}
	return crypto.SealTwoParty(replyKey, journalistKey, pt)
}

// RandomJ2U returns a filler J2U message for a user dead drop: an empty
// text between two fresh key pairs (upstream covernode's construction).
func RandomJ2U() ([]byte, error) {
	a, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	b, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	return SealJ2U(a.PublicKey(), b, &JournalistMessage{Type: J2UTypeText})
}

// OpenJ2U opens a J2U chunk with the precomputed key of a (journalist
// messaging key, reader key) pair.
func OpenJ2U(key *crypto.SharedKey, chunk []byte) (*JournalistMessage, error) {
	if len(chunk) != J2UMessageSize {
		return nil, lengthError("J2U message", len(chunk), J2UMessageSize)
	}
	pt, err := key.OpenTwoParty(chunk)
	if err != nil {
		return nil, err
	}
	return ParseJ2UPlaintext(pt)
}

// J2C is an opened J2C message.
type J2C struct {
	Real bool
	J2U  []byte // J2UMessageSize bytes; filler for cover
}

// ParseJ2CPlaintext parses the 554-byte J2C plaintext. Only the flag 0x01
// marks a real message; any other value is cover, as upstream reads it.
func ParseJ2CPlaintext(b []byte) (*J2C, error) {
	if len(b) != J2CPlaintextSize {
		return nil, lengthError("J2C plaintext", len(b), J2CPlaintextSize)
	}
	return &J2C{Real: b[0] == J2CFlagReal, J2U: bytes.Clone(b[1:])}, nil
}

// SealJ2C wraps a journalist's J2U message for the CoverNodes.
func SealJ2C(coverNodeKeys []*crypto.PublicKey, j2u []byte) ([]byte, error) {
	if len(j2u) != J2UMessageSize {
		return nil, lengthError("J2U message", len(j2u), J2UMessageSize)
	}
	return sealJ2C(coverNodeKeys, J2CFlagReal, j2u)
}

// SealCoverJ2C seals a journalist's cover message, the same size as a real
// one: the cover flag and zero filler, as upstream writes it.
func SealCoverJ2C(coverNodeKeys []*crypto.PublicKey) ([]byte, error) {
	return sealJ2C(coverNodeKeys, J2CFlagCover, make([]byte, J2UMessageSize))
}

func sealJ2C(coverNodeKeys []*crypto.PublicKey, flag byte, j2u []byte) ([]byte, error) {
	keys, err := coverNodeRecipients(coverNodeKeys)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, 0, J2CPlaintextSize)
	pt = append(pt, flag)
	pt = append(pt, j2u...)
	return crypto.SealMultiAnonymous(keys, pt)
}

// OpenJ2C opens a J2C message with one CoverNode messaging key.
func OpenJ2C(coverNodeKey *crypto.PrivateKey, msg []byte, preferSlot int) (*J2C, int, error) {
	if len(msg) != J2CMessageSize {
		return nil, 0, lengthError("J2C message", len(msg), J2CMessageSize)
	}
	pt, slot, err := crypto.OpenMultiAnonymous(coverNodeKey, CoverNodeWrappingKeyCount, msg, preferSlot)
	if err != nil {
		return nil, 0, err
	}
	m, err := ParseJ2CPlaintext(pt)
	return m, slot, err
}
