// Package pq holds the formats of Chaff's post-quantum protocol mode
// (docs/PQ.md): X-Wing (ML-KEM-768 + X25519) keys, their certificates, the
// U2J, U2C, C2J, J2U and J2C messages, and dead drops.
//
// Every confidentiality layer is HPKE base mode with the hybrid KEM
// MLKEM768-X25519, HKDF-SHA256 and ChaCha20-Poly1305 (Go's crypto/hpke),
// or a symmetric box under a key exported from such a layer: recorded
// traffic stays secret if either ML-KEM-768 or X25519 holds. Signatures
// stay Ed25519 (docs/PQ.md §7). The padded text, recipient tags and the J2U
// and J2C plaintexts are package protocol's, unchanged.
//
// Every size is a constant here, built from the ones before it.
package pq

import (
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// X-Wing and HPKE sizes (docs/PQ.md §2).
const (
	// X25519Size is the size of an X25519 public or secret key.
	X25519Size = xwing.X25519Size
	// SeedSize is the size of an X-Wing private key (package xwing).
	SeedSize = xwing.SeedSize
	// PublicKeySize is an X-Wing public key (package xwing).
	PublicKeySize = xwing.PublicKeySize // 1216
	// EncSize is an X-Wing encapsulation (package xwing).
	EncSize = xwing.EncSize // 1120
	// AEADTagSize is the size of a Poly1305 tag.
	AEADTagSize = crypto.TagSize // 16
	// HPKEOverhead is what one HPKE seal adds to its plaintext.
	HPKEOverhead = EncSize + AEADTagSize // 1136
	// PayloadKeySize is the size of a multi-recipient box's payload key.
	PayloadKeySize = 32
	// SlotSize is one recipient's slot of a multi-recipient box: the
	// payload key sealed with HPKE.
	SlotSize = PayloadKeySize + HPKEOverhead // 1168
	// CoverNodeWrappingKeyCount is how many CoverNode keys every message
	// to the CoverNodes is sealed to, as in coverdrop mode.
	CoverNodeWrappingKeyCount = protocol.CoverNodeWrappingKeyCount
	// MultiRecipientOverhead is what a box to the CoverNodes adds.
	MultiRecipientOverhead = CoverNodeWrappingKeyCount*SlotSize + AEADTagSize // 2352
	// ReplyKeySize is the size of a reply key (docs/PQ.md §5.5).
	ReplyKeySize = 32
	// ReaderIDSize is the size of a reader id.
	ReaderIDSize = 32
)

// Message sizes (docs/PQ.md §5).
const (
	// U2JPlaintextSize: reader id ‖ reserved byte ‖ padded text.
	U2JPlaintextSize = ReaderIDSize + 1 + protocol.PaddedTextSize // 545
	// U2JMessageSize: an HPKE seal to the journalist's messaging key.
	U2JMessageSize = U2JPlaintextSize + HPKEOverhead // 1681

	// U2CPlaintextSize: recipient tag ‖ U2J message.
	U2CPlaintextSize = protocol.RecipientTagSize + U2JMessageSize // 1685
	// U2CMessageSize: a multi-recipient box to two CoverNode keys; the
	// size of every message a reader's app sends.
	U2CMessageSize = U2CPlaintextSize + MultiRecipientOverhead // 4037

	// C2JPlaintextSize: the U2J message, unchanged.
	C2JPlaintextSize = U2JMessageSize // 1681
	// C2JMessageSize: an HPKE seal to the journalist's messaging key; the
	// chunk size of journalist dead drops.
	C2JMessageSize = C2JPlaintextSize + HPKEOverhead // 2817

	// J2UPlaintextSize: coverdrop mode's J2U plaintext.
	J2UPlaintextSize = protocol.J2UPlaintextSize // 513
	// J2UMessageSize: a secret box under the reply key; the chunk size of
	// user dead drops.
	J2UMessageSize = J2UPlaintextSize + crypto.SecretBoxOverhead // 553

	// J2CPlaintextSize: real-or-cover flag ‖ J2U message.
	J2CPlaintextSize = 1 + J2UMessageSize // 554
	// J2CMessageSize: a multi-recipient box to two CoverNode keys.
	J2CMessageSize = J2CPlaintextSize + MultiRecipientOverhead // 2906
)

// How long a reader keeps a reply key, and how many it keeps at most
// (docs/PQ.md §5.5): a journalist may answer until the message expires, and
// the answer may wait in the dead-drop cache as long again.
const (
	ReplyKeyRetention = protocol.MessageValidFor + protocol.DeadDropCacheTTL
	MaxReplyKeys      = 256
)

// Domain-separation labels (docs/PQ.md §2.3).
const (
	LabelU2J                = "chaff-pq-v1/u2j"
	LabelC2J                = "chaff-pq-v1/c2j"
	LabelU2CSlot            = "chaff-pq-v1/u2c-slot"
	LabelJ2CSlot            = "chaff-pq-v1/j2c-slot"
	LabelU2CPayload         = "chaff-pq-v1/u2c-payload"
	LabelJ2CPayload         = "chaff-pq-v1/j2c-payload"
	LabelReplyKey           = "chaff-pq-v1/reply-key"
	LabelKEMKey             = keys.LabelKEMKey
	LabelOrganization       = keys.LabelOrganization
	LabelUserDeadDrop       = "chaff-pq-v1/user-dead-drop"
	LabelJournalistDeadDrop = "chaff-pq-v1/journalist-dead-drop"
	LabelBackupShare        = "chaff-pq-v1/backup-share"
)

// Certificate sizes (docs/PQ.md §3, §8).
const (
	// KEMCertificateDataSize is what a KEM key's certificate signs.
	KEMCertificateDataSize = keys.KEMCertificateDataSize // 1243
	// OrgCertificateDataSize is what the organisation key's pq-mode
	// self-certificate signs.
	OrgCertificateDataSize = keys.OrgCertificateDataSize // 64
)

// Mode names (docs/PQ.md §8).
const (
	ModeCoverDrop = keys.ModeCoverDrop
	ModePQ        = keys.ModePQ
)

// Sizes are the sizes a deployment of one protocol mode accepts: every
// message of a kind is exactly its size, so that real and cover messages
// are alike, and a message of the other mode's size is refused.
type Sizes struct {
	// U2C is a reader's message to the CoverNodes.
	U2C int
	// J2C is a journalist's message to the CoverNodes.
	J2C int
	// UserChunk and JournalistChunk are the chunk sizes of user (J2U) and
	// journalist (C2J) dead drops.
	UserChunk, JournalistChunk int
}

// SizesOf returns the sizes of a protocol mode: coverdrop's (SPEC §3) or
// pq's (docs/PQ.md §5, §6).
func SizesOf(mode string) (Sizes, error) {
	switch mode {
	case ModeCoverDrop:
		return Sizes{protocol.U2CMessageSize, protocol.J2CMessageSize, protocol.J2UMessageSize, protocol.C2JMessageSize}, nil
	case ModePQ:
		return Sizes{U2CMessageSize, J2CMessageSize, J2UMessageSize, C2JMessageSize}, nil
	}
	return Sizes{}, keys.CheckMode(mode)
}
