package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"filippo.io/edwards25519"
)

// SignatureSize is the size of an Ed25519 signature.
const SignatureSize = ed25519.SignatureSize

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("crypto: signature does not verify")

// VerifyingKey is an Ed25519 public key. Its constructor refuses encodings
// that are not points on the curve, as upstream's deserialiser does.
type VerifyingKey struct {
	k [KeySize]byte
}

// NewVerifyingKey returns the Ed25519 public key encoded in b.
func NewVerifyingKey(b []byte) (*VerifyingKey, error) {
	if len(b) != KeySize {
		return nil, &LengthError{What: "Ed25519 public key", Got: len(b), Want: KeySize}
	}
	if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
		return nil, fmt.Errorf("crypto: Ed25519 public key is not a valid curve point")
	}
	var vk VerifyingKey
	copy(vk.k[:], b)
	return &vk, nil
}

// Bytes returns a copy of the 32-byte encoding of the key.
func (vk *VerifyingKey) Bytes() []byte { return append([]byte(nil), vk.k[:]...) }

// Hex returns the lowercase hex encoding of the key.
func (vk *VerifyingKey) Hex() string { return hex.EncodeToString(vk.k[:]) }

// Equal reports whether vk and other are the same key.
func (vk *VerifyingKey) Equal(other *VerifyingKey) bool {
	return other != nil && subtle.ConstantTimeCompare(vk.k[:], other.k[:]) == 1
}

// Verify checks an Ed25519 signature (RFC 8032, no pre-hash, no context)
// over msg. It returns ErrBadSignature if the signature does not verify.
func (vk *VerifyingKey) Verify(msg, sig []byte) error {
	if len(sig) != SignatureSize {
		return &LengthError{What: "Ed25519 signature", Got: len(sig), Want: SignatureSize}
	}
	if !ed25519.Verify(vk.k[:], msg, sig) {
		return ErrBadSignature
	}
	return nil
}

// HumanDigest returns the short digest of the key that user interfaces show
// so that people can compare keys by eye: the first 16 bytes of SHA-512 of
// the key, in unpadded base64, in groups of six characters.
func (vk *VerifyingKey) HumanDigest() string { return HumanDigest(vk.k[:]) }

// HumanDigest returns upstream's short digest of a public key's bytes (of
// any kind and size): the first 16 bytes of their SHA-512, in unpadded
// base64, in groups of six characters.
func HumanDigest(key []byte) string {
	sum := sha512.Sum512(key)
	s := base64.RawStdEncoding.EncodeToString(sum[:16])
	var groups []string
	for len(s) > 6 {
		groups = append(groups, s[:6])
		s = s[6:]
	}
	return strings.Join(append(groups, s), " ")
}

// SigningKey is an Ed25519 key pair, stored as its 32-byte seed.
type SigningKey struct {
	priv ed25519.PrivateKey
	pub  VerifyingKey
}

// GenerateSigningKey returns a fresh Ed25519 key pair from crypto/rand.
func GenerateSigningKey() (*SigningKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	return NewSigningKey(seed)
}

// NewSigningKey returns the Ed25519 key pair with the given 32-byte seed.
func NewSigningKey(seed []byte) (*SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, &LengthError{What: "Ed25519 seed", Got: len(seed), Want: ed25519.SeedSize}
	}
	sk := &SigningKey{priv: ed25519.NewKeyFromSeed(seed)}
	copy(sk.pub.k[:], sk.priv.Public().(ed25519.PublicKey))
	return sk, nil
}

// Seed returns a copy of the 32-byte seed. Handle it as a secret.
func (sk *SigningKey) Seed() []byte { return sk.priv.Seed() }

// VerifyingKey returns the public half of the key pair.
func (sk *SigningKey) VerifyingKey() *VerifyingKey {
	pub := sk.pub
	return &pub
}

// Sign returns the Ed25519 signature of msg.
func (sk *SigningKey) Sign(msg []byte) []byte { return ed25519.Sign(sk.priv, msg) }
