// Package client is what a news organisation's app embeds to let its
// readers write to journalists (SPEC §8): verified keys and status, the
// private sending queue with its steady cover traffic, plausibly deniable
// storage, and conversations.
package client

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/chaffhq/chaff/crypto"
	"github.com/sethvargo/go-diceware/diceware"
	"golang.org/x/crypto/argon2"
)

// The storage file has a fixed size whether or not anyone ever used it:
// an outer box under the install's device key, rewritten with a fresh
// nonce on every start, around an inner blob that is either random bytes
// (nobody set up a mailbox) or a mailbox sealed under a key stretched from
// the passphrase. Without the passphrase the two cannot be told apart; a
// wrong passphrase and "nothing stored" give the same answer.
const (
	// StorageSize is the size of the storage file (as Android's 512 KiB
	// content blob).
	StorageSize = 512 << 10
	saltSize    = 16
	innerSize   = StorageSize - crypto.SecretBoxOverhead // outer box
	// MailboxCapacity is the most mailbox JSON the storage holds.
	MailboxCapacity = innerSize - saltSize - crypto.SecretBoxOverhead - 4
)

// KDFParams are the Argon2id parameters that stretch a passphrase.
type KDFParams struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultKDF is upstream's choice where no secure element rate-limits
// guesses: Argon2id, 3 passes over 256 MiB. With a five-word passphrase
// (5 × log2(7776) ≈ 64.6 bits) an attacker needs about 2^63 guesses on
// average, each costing 256 MiB of memory-hard work: far beyond any budget.
var DefaultKDF = KDFParams{Time: 3, Memory: 256 << 10, Threads: 4}

// PassphraseWords is the number of words in a generated passphrase.
const PassphraseWords = 5

// ErrNoMailbox is returned when the passphrase opens nothing: a wrong
// passphrase, or a storage nobody ever used. The two are the same answer.
var ErrNoMailbox = errors.New("no secure messages for this passphrase")

// NewPassphrase draws words uniformly (crypto/rand) from the EFF large
// wordlist of 7776 words (https://www.eff.org/dice, published by the
// Electronic Frontier Foundation under CC BY 3.0 US; embedded by
// github.com/sethvargo/go-diceware, MIT).
func NewPassphrase(words int) (string, error) {
	ws, err := diceware.GenerateWithWordList(words, diceware.WordListEffLarge())
	if err != nil {
		return "", err
	}
	return strings.Join(ws, " "), nil
}

func stretch(passphrase string, salt []byte, p KDFParams) [crypto.SecretBoxKeySize]byte {
	norm := strings.Join(strings.Fields(strings.ToLower(passphrase)), " ")
	var k [crypto.SecretBoxKeySize]byte
	copy(k[:], argon2.IDKey([]byte(norm), salt, p.Time, p.Memory, p.Threads, crypto.SecretBoxKeySize))
	return k
}

// storage is the storage file of one install.
type storage struct {
	path      string
	deviceKey [crypto.SecretBoxKeySize]byte
	kdf       KDFParams
}

// readInner opens the outer box.
func (s *storage) readInner() ([]byte, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, err
	}
	return openOuter(&s.deviceKey, b)
}

// openOuter opens the outer box of a storage file's bytes b under the
// install's device key, giving the inner blob.
func openOuter(deviceKey *[crypto.SecretBoxKeySize]byte, b []byte) ([]byte, error) {
	if len(b) != StorageSize {
		return nil, fmt.Errorf("the storage file is %d bytes, not %d: it was damaged", len(b), StorageSize)
	}
	inner, err := crypto.OpenSecret(deviceKey, b)
	if err != nil {
		return nil, errors.New("the storage file does not open with this install's device key: it was damaged")
	}
	return inner, nil
}

// boxInner seals the inner blob in a fresh outer box: the storage file's
// new bytes.
func (s *storage) boxInner(inner []byte) ([]byte, error) {
	if len(inner) != innerSize {
		return nil, fmt.Errorf("client: inner storage is %d bytes, want %d", len(inner), innerSize)
	}
	return crypto.SealSecret(&s.deviceKey, inner)
}

// The storage file's next bytes come from one of three functions, and
// nothing here writes the file: writeAll computes them first, then writes
// every file of the install back to back, so that slow work (the
// passphrase stretch of sealed) never sits between two writes.

// created returns a storage holding random bytes: what every install has
// from its first start.
func (s *storage) created() ([]byte, error) {
	inner := make([]byte, innerSize)
	if _, err := rand.Read(inner); err != nil {
		return nil, err
	}
	return s.boxInner(inner)
}

// resealed returns the storage re-sealed with fresh randomness, as every
// start does, without needing the passphrase.
func (s *storage) resealed() ([]byte, error) {
	inner, err := s.readInner()
	if err != nil {
		return nil, err
	}
	return s.boxInner(inner)
}

// sealed returns a storage holding a mailbox under a passphrase.
func (s *storage) sealed(passphrase string, mailbox []byte) ([]byte, error) {
	if len(mailbox) > MailboxCapacity {
		return nil, fmt.Errorf("client: mailbox of %d bytes does not fit the storage", len(mailbox))
	}
	inner := make([]byte, saltSize, innerSize)
	if _, err := rand.Read(inner); err != nil {
		return nil, err
	}
	key := stretch(passphrase, inner[:saltSize], s.kdf)
	plain := make([]byte, innerSize-saltSize-crypto.SecretBoxOverhead)
	plain[0], plain[1], plain[2], plain[3] = byte(len(mailbox)>>24), byte(len(mailbox)>>16), byte(len(mailbox)>>8), byte(len(mailbox))
	copy(plain[4:], mailbox)
	if _, err := rand.Read(plain[4+len(mailbox):]); err != nil {
		return nil, err
	}
	box, err := crypto.SealSecret(&key, plain)
	if err != nil {
		return nil, err
	}
	return s.boxInner(append(inner, box...))
}

// open returns the mailbox the passphrase opens, or ErrNoMailbox.
func (s *storage) open(passphrase string) ([]byte, error) {
	inner, err := s.readInner()
	if err != nil {
		return nil, err
	}
	key := stretch(passphrase, inner[:saltSize], s.kdf)
	plain, err := crypto.OpenSecret(&key, inner[saltSize:])
	if err != nil {
		return nil, ErrNoMailbox
	}
	return unpadMailbox(plain)
}

// unpadMailbox returns the mailbox in the plaintext of an inner box: u32
// length, mailbox, random padding (see seal).
func unpadMailbox(plain []byte) ([]byte, error) {
	if len(plain) < 4 {
		return nil, ErrNoMailbox
	}
	n := int(plain[0])<<24 | int(plain[1])<<16 | int(plain[2])<<8 | int(plain[3])
	if n > len(plain)-4 {
		return nil, ErrNoMailbox
	}
	return plain[4 : 4+n], nil
}
