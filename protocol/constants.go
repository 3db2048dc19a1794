// Package protocol holds the CoverDrop message formats: fixed-size padded
// text, recipient tags, the U2J, U2C, C2J, J2U and J2C messages, and the
// wire encodings (base64, hex and RFC 3339 timestamps) that upstream's JSON
// uses. Every size is a constant here and nowhere else.
package protocol

import (
	"time"

	"github.com/chaffhq/chaff/crypto"
)

// Specification constants (upstream common/src/protocol/constants.rs).
const (
	// PaddedTextSize is the size of a padded compressed text, its 2-byte
	// length header included (MESSAGE_PADDING_LEN).
	PaddedTextSize = 512
	// RecipientTagSize is the size of a recipient tag.
	RecipientTagSize = 4
	// CoverNodeWrappingKeyCount is how many CoverNode keys every message
	// to the CoverNodes is sealed to.
	CoverNodeWrappingKeyCount = 2
	// MaxJournalistIDLen is the longest journalist id, in bytes.
	MaxJournalistIDLen = 128

	// U2JPlaintextSize: reply key ‖ reserved byte ‖ padded text.
	U2JPlaintextSize = crypto.KeySize + 1 + PaddedTextSize // 545
	// U2JMessageSize: an anonymous box to the journalist.
	U2JMessageSize = U2JPlaintextSize + crypto.AnonymousBoxOverhead // 593

	// U2CPlaintextSize: recipient tag ‖ U2J message.
	U2CPlaintextSize = RecipientTagSize + U2JMessageSize // 597
	// U2CMessageSize: a multi-anonymous box to two CoverNode keys; the
	// size of every message a reader's app sends.
	U2CMessageSize = U2CPlaintextSize + CoverNodeWrappingKeyCount*crypto.MultiAnonymousBoxSlotSize + crypto.TagSize // 773

	// C2JPlaintextSize: the U2J message, unchanged.
	C2JPlaintextSize = U2JMessageSize // 593
	// C2JMessageSize: a two-party box from the CoverNode to the
	// journalist; the chunk size of journalist dead drops.
	C2JMessageSize = C2JPlaintextSize + crypto.TwoPartyBoxOverhead // 633

	// J2UPlaintextSize: type byte ‖ body.
	J2UPlaintextSize = 1 + PaddedTextSize // 513
	// J2UMessageSize: a two-party box from the journalist to the reader;
	// the chunk size of user dead drops.
	J2UMessageSize = J2UPlaintextSize + crypto.TwoPartyBoxOverhead // 553

	// J2CPlaintextSize: real-or-cover flag ‖ J2U message.
	J2CPlaintextSize = 1 + J2UMessageSize // 554
	// J2CMessageSize: a multi-anonymous box to two CoverNode keys; the
	// size of every message a journalist's client sends.
	J2CMessageSize = J2CPlaintextSize + CoverNodeWrappingKeyCount*crypto.MultiAnonymousBoxSlotSize + crypto.TagSize // 730
)

// J2U message types and J2C flags.
const (
	J2UTypeText     byte = 0x00
	J2UTypeHandover byte = 0x01
	J2CFlagCover    byte = 0x00
	J2CFlagReal     byte = 0x01
)

// Lifetimes that readers and journalists apply to messages.
const (
	MessageValidFor      = 14 * 24 * time.Hour // MESSAGE_VALID_FOR_DURATION
	MessageExpiryWarning = 2 * 24 * time.Hour
	DeadDropCacheTTL     = 14 * 24 * time.Hour // CLIENT_DEAD_DROP_CACHE_TTL
)
