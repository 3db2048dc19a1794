// Package crypto implements the CoverDrop-compatible cryptographic
// constructions: the anonymous box (libsodium sealed box), the two-party box
// (crypto_box_easy with the nonce appended), the multi-anonymous box, the
// XChaCha20-Poly1305 secret box, and Ed25519 signatures.
//
// Every X25519 operation goes through CIRCL's x25519, which refuses the
// low-order public keys that make the shared secret predictable. The NaCl
// constructions on top (HSalsa20 key derivation, XSalsa20-Poly1305) are the
// same as libsodium's, so boxes made here open there and vice versa.
package crypto

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/dh/x25519"
	"golang.org/x/crypto/salsa20/salsa"
)

// KeySize is the size of an X25519 public or secret key, and of an Ed25519
// public key or seed.
const KeySize = 32

// ErrLowOrderPoint is returned when a Diffie-Hellman operation is asked to
// use a low-order X25519 public key. Such a key yields an all-zero shared
// secret that anyone can compute; libsodium refuses it in the same way.
var ErrLowOrderPoint = errors.New("crypto: X25519 public key is a low-order point")

// ErrDecrypt is returned when a box does not open under the given keys: it
// was made for another key, or it was altered. Callers that try several keys
// in turn treat it as "not for this key".
var ErrDecrypt = errors.New("crypto: box does not open with this key")

// LengthError reports an input of the wrong size.
type LengthError struct {
	What    string // what was being parsed, e.g. "X25519 public key"
	Got     int
	Want    int // the exact size, or the minimum when AtLeast is set
	AtLeast bool
}

func (e *LengthError) Error() string {
	if e.AtLeast {
		return fmt.Sprintf("%s: got %d bytes, want at least %d", e.What, e.Got, e.Want)
	}
	return fmt.Sprintf("%s: got %d bytes, want %d", e.What, e.Got, e.Want)
}

// PublicKey is an X25519 public key. Any 32 bytes are accepted, as upstream
// accepts them; a low-order key is refused when it is used.
type PublicKey struct {
	k x25519.Key
}

// NewPublicKey returns the X25519 public key encoded in b.
func NewPublicKey(b []byte) (*PublicKey, error) {
	if len(b) != KeySize {
		return nil, &LengthError{What: "X25519 public key", Got: len(b), Want: KeySize}
	}
	var pk PublicKey
	copy(pk.k[:], b)
	return &pk, nil
}

// Bytes returns a copy of the 32-byte encoding of the key.
func (pk *PublicKey) Bytes() []byte { return append([]byte(nil), pk.k[:]...) }

// Hex returns the lowercase hex encoding of the key, as upstream writes it.
func (pk *PublicKey) Hex() string { return hex.EncodeToString(pk.k[:]) }

// Equal reports whether pk and other are the same key.
func (pk *PublicKey) Equal(other *PublicKey) bool {
	return other != nil && subtle.ConstantTimeCompare(pk.k[:], other.k[:]) == 1
}

// PrivateKey is an X25519 secret key with its public key. The secret is
// stored as generated; clamping is applied by the scalar multiplication, as
// in libsodium.
type PrivateKey struct {
	k   x25519.Key
	pub PublicKey
}

// GenerateKey returns a fresh X25519 key pair from crypto/rand.
func GenerateKey() (*PrivateKey, error) {
	var sk PrivateKey
	if _, err := rand.Read(sk.k[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	x25519.KeyGen(&sk.pub.k, &sk.k)
	return &sk, nil
}

// NewPrivateKey returns the X25519 key pair whose secret key is b.
func NewPrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != KeySize {
		return nil, &LengthError{What: "X25519 secret key", Got: len(b), Want: KeySize}
	}
	var sk PrivateKey
	copy(sk.k[:], b)
	x25519.KeyGen(&sk.pub.k, &sk.k)
	return &sk, nil
}

// PublicKey returns the public half of the key pair.
func (sk *PrivateKey) PublicKey() *PublicKey {
	pub := sk.pub
	return &pub
}

// Bytes returns a copy of the 32-byte secret key. Handle it as a secret.
func (sk *PrivateKey) Bytes() []byte { return append([]byte(nil), sk.k[:]...) }

// X25519 computes the raw Diffie-Hellman shared secret of sk and pk. It
// fails with ErrLowOrderPoint rather than return an all-zero secret.
func X25519(sk *PrivateKey, pk *PublicKey) ([KeySize]byte, error) {
	var shared x25519.Key
	if !x25519.Shared(&shared, &sk.k, &pk.k) {
		return [KeySize]byte{}, ErrLowOrderPoint
	}
	return shared, nil
}

// SharedKey is the precomputed crypto_box key of a pair of X25519 keys
// (libsodium's crypto_box_beforenm): HSalsa20 of the X25519 shared secret.
// Precomputing it lets a reader who trial-decrypts many boxes from the same
// sender pay for the Diffie-Hellman operation once.
type SharedKey struct {
	k [KeySize]byte
}

// Precompute returns the crypto_box key shared by sk and pk.
func Precompute(sk *PrivateKey, pk *PublicKey) (*SharedKey, error) {
	shared, err := X25519(sk, pk)
	if err != nil {
		return nil, err
	}
	var key SharedKey
	var zero [16]byte
	salsa.HSalsa20(&key.k, &zero, &shared, &salsa.Sigma)
	return &key, nil
}
