package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// RecipientTag names the journalist a U2C message is for: the first four
// bytes of SHA-256 of the journalist id. The all-zero tag marks cover.
type RecipientTag [RecipientTagSize]byte

// CoverTag is the recipient tag of a cover message.
var CoverTag RecipientTag

// TagFor returns the recipient tag of a journalist id.
func TagFor(journalistID string) RecipientTag {
	sum := sha256.Sum256([]byte(journalistID))
	return RecipientTag(sum[:RecipientTagSize])
}

// IsCover reports whether the tag is the cover tag.
func (t RecipientTag) IsCover() bool { return t == CoverTag }

// String returns the tag as lowercase hex, as profiles publish it.
func (t RecipientTag) String() string { return hex.EncodeToString(t[:]) }

// ParseRecipientTag parses a tag in hex.
func ParseRecipientTag(s string) (RecipientTag, error) {
	var t RecipientTag
	b, err := hex.DecodeString(s)
	if err != nil {
		return t, fmt.Errorf("protocol: recipient tag is not hex: %q", s)
	}
	if len(b) != RecipientTagSize {
		return t, lengthError("recipient tag", len(b), RecipientTagSize)
	}
	return RecipientTag(b), nil
}

// ValidateJournalistID checks a journalist id against upstream's rules: a
// non-empty ASCII string of at most 128 bytes with neither '/' nor '\', and
// whose recipient tag is not the cover tag.
func ValidateJournalistID(id string) error {
	switch {
	case id == "":
		return errors.New("journalist id is empty")
	case len(id) > MaxJournalistIDLen:
		return fmt.Errorf("journalist id is %d bytes long, the most is %d", len(id), MaxJournalistIDLen)
	case strings.ContainsAny(id, `/\`):
		return fmt.Errorf("journalist id %q contains '/' or '\\'", id)
	case TagFor(id).IsCover():
		return fmt.Errorf("journalist id %q has the cover recipient tag; choose another id", id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] >= 0x80 {
			return fmt.Errorf("journalist id %q is not ASCII", id)
		}
	}
	return nil
}

var coverNodeIDPattern = regexp.MustCompile(`covernode_\d\d\d`)

// ValidateCoverNodeID checks a CoverNode id against upstream's rule: it
// contains covernode_ followed by three digits (canonically covernode_001).
func ValidateCoverNodeID(id string) error {
	if !coverNodeIDPattern.MatchString(id) {
		return fmt.Errorf("CoverNode id %q is not of the form covernode_001", id)
	}
	return nil
}
