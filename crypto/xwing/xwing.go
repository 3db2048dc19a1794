// Package xwing holds X-Wing (MLKEM768-X25519) key pairs as Chaff's pq
// mode uses them (docs/PQ.md §2.2): a private key is a 32-byte seed that
// SHAKE256 expands into an ML-KEM-768 seed and an X25519 secret; a public
// key is the ML-KEM-768 encapsulation key then the X25519 public key.
//
// The ML-KEM half is crypto/mlkem's; the X25519 half goes through package
// crypto (CIRCL, refusing low-order points), as every X25519 operation of
// the repository does. The keys plug into crypto/hpke's MLKEM768X25519.
// It sits below package keys and package pq so that both can hold X-Wing
// keys; the messages that use them are package pq's.
package xwing

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha3"
	"crypto/subtle"
	"fmt"

	"github.com/chaffhq/chaff/crypto"
)

// Sizes (docs/PQ.md §2.2).
const (
	// X25519Size is the size of an X25519 public or secret key.
	X25519Size = 32
	// SeedSize is the size of a private key: a seed that SHAKE256 expands
	// into the ML-KEM-768 seed and the X25519 secret key.
	SeedSize = 32
	// PublicKeySize is a public key: the ML-KEM-768 encapsulation key,
	// then the X25519 public key.
	PublicKeySize = mlkem.EncapsulationKeySize768 + X25519Size // 1216
	// EncSize is an encapsulation: the ML-KEM-768 ciphertext, then the
	// ephemeral X25519 public key.
	EncSize = mlkem.CiphertextSize768 + X25519Size // 1120
)

// KEM is crypto/hpke's X-Wing.
var KEM = hpke.MLKEM768X25519()

// PublicKey is an X-Wing public key: 1,216 bytes, the ML-KEM-768
// encapsulation key then the X25519 public key.
type PublicKey struct {
	k hpke.PublicKey
}

// NewPublicKey parses an X-Wing public key. It refuses a wrong size and an
// ML-KEM encapsulation key that is not canonically encoded (FIPS 203's
// modulus check).
func NewPublicKey(b []byte) (*PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, &crypto.LengthError{What: "X-Wing public key", Got: len(b), Want: PublicKeySize}
	}
	k, err := KEM.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("pq: X-Wing public key: %w", err)
	}
	return &PublicKey{k}, nil
}

// Bytes returns the 1,216-byte encoding of the key.
func (pk *PublicKey) Bytes() []byte { return pk.k.Bytes() }

// HPKE returns the key as crypto/hpke uses it.
func (pk *PublicKey) HPKE() hpke.PublicKey { return pk.k }

// Equal reports whether pk and other are the same key.
func (pk *PublicKey) Equal(other *PublicKey) bool {
	return other != nil && subtle.ConstantTimeCompare(pk.Bytes(), other.Bytes()) == 1
}

// PrivateKey is an X-Wing private key, kept as its 32-byte seed. Handle it
// as a secret.
type PrivateKey struct {
	seed [SeedSize]byte
	k    hpke.PrivateKey
}

// GenerateKey returns a fresh X-Wing key pair from crypto/rand.
func GenerateKey() (*PrivateKey, error) {
	var seed [SeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("pq: reading randomness: %w", err)
	}
	defer clear(seed[:])
	return NewPrivateKey(seed[:])
}

// NewPrivateKey returns the X-Wing key pair of a 32-byte seed.
func NewPrivateKey(seed []byte) (*PrivateKey, error) {
	mlkemSeed, xSecret, err := ExpandSeed(seed)
	if err != nil {
		return nil, err
	}
	sk, err := FromComponents(mlkemSeed, xSecret)
	clear(mlkemSeed)
	clear(xSecret)
	if err != nil {
		return nil, err
	}
	copy(sk.seed[:], seed)
	return sk, nil
}

// FromComponents returns the key pair of an ML-KEM-768 seed d ‖ z (64
// bytes) and an X25519 secret key (32 bytes), with no seed of its own
// (Seed returns zeros). Only tests need it: an adversary in a test that
// holds one half of a key and not the other.
func FromComponents(mlkemSeed, x25519Secret []byte) (*PrivateKey, error) {
	// The ML-KEM half is crypto/mlkem's, as the mode's rules require
	// (only crypto/hpke, crypto/mlkem and the repository's existing
	// primitives); docs/PQ.md §10.2 gives what that costs a CoverNode.
	dk, err := mlkem.NewDecapsulationKey768(mlkemSeed)
	if err != nil {
		return nil, fmt.Errorf("pq: X-Wing seed: %w", err)
	}
	x, err := newX25519Exchanger(x25519Secret)
	if err != nil {
		return nil, err
	}
	k, err := hpke.NewHybridPrivateKey(dk, x)
	if err != nil {
		return nil, fmt.Errorf("pq: X-Wing seed: %w", err)
	}
	return &PrivateKey{k: k}, nil
}

// x25519Exchanger is the X25519 half of an X-Wing private key, computed by
// package crypto rather than crypto/ecdh.
type x25519Exchanger struct {
	sk  *crypto.PrivateKey
	pub *ecdh.PublicKey
}

func newX25519Exchanger(secret []byte) (*x25519Exchanger, error) {
	sk, err := crypto.NewPrivateKey(secret)
	if err != nil {
		return nil, err
	}
	pub, err := ecdh.X25519().NewPublicKey(sk.PublicKey().Bytes())
	if err != nil {
		return nil, fmt.Errorf("pq: X25519 public key: %w", err)
	}
	return &x25519Exchanger{sk, pub}, nil
}

func (x *x25519Exchanger) PublicKey() *ecdh.PublicKey { return x.pub }
func (x *x25519Exchanger) Curve() ecdh.Curve          { return ecdh.X25519() }

// ECDH returns the X25519 shared secret, or an error for a low-order peer
// key (an all-zero secret), as crypto/ecdh does.
func (x *x25519Exchanger) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	pk, err := crypto.NewPublicKey(peer.Bytes())
	if err != nil {
		return nil, err
	}
	ss, err := crypto.X25519(x.sk, pk)
	if err != nil {
		return nil, err
	}
	return ss[:], nil
}

// Seed returns a copy of the 32-byte seed. Handle it as a secret.
func (sk *PrivateKey) Seed() []byte { return append([]byte(nil), sk.seed[:]...) }

// PublicKey returns the public half of the key pair.
func (sk *PrivateKey) PublicKey() *PublicKey { return &PublicKey{sk.k.PublicKey()} }

// HPKE returns the key as crypto/hpke uses it. Handle it as a secret.
func (sk *PrivateKey) HPKE() hpke.PrivateKey { return sk.k }

// ExpandSeed returns the two component secrets of an X-Wing seed
// (docs/PQ.md §2.2): the 64-byte ML-KEM-768 seed d ‖ z and the 32-byte
// X25519 secret key, the first 96 bytes of SHAKE256(seed). Only tests and
// test vectors need them: they let an adversary in a test hold one half of
// every key and not the other.
func ExpandSeed(seed []byte) (mlkemSeed, x25519Secret []byte, err error) {
	if len(seed) != SeedSize {
		return nil, nil, &crypto.LengthError{What: "X-Wing seed", Got: len(seed), Want: SeedSize}
	}
	e := make([]byte, 96)
	h := sha3.NewSHAKE256()
	h.Write(seed)
	h.Read(e)
	return e[:64], e[64:], nil
}
