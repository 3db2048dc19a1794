package pq

import (
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha3"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/chaffhq/chaff/crypto"
)

// The HPKE suite of every public-key layer (docs/PQ.md §2.1).
var (
	kem  = hpke.MLKEM768X25519()
	kdf  = hpke.HKDFSHA256()
	aead = hpke.ChaCha20Poly1305()
)

// PublicKey is an X-Wing (MLKEM768-X25519) public key: 1,216 bytes, the
// ML-KEM-768 encapsulation key then the X25519 public key.
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
	k, err := kem.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("pq: X-Wing public key: %w", err)
	}
	return &PublicKey{k}, nil
}

// Bytes returns the 1,216-byte encoding of the key.
func (pk *PublicKey) Bytes() []byte { return pk.k.Bytes() }

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

// NewPrivateKey returns the X-Wing key pair of a 32-byte seed. Its X25519
// half goes through package crypto (CIRCL, refusing low-order points), as
// every X25519 operation of the repository does.
func NewPrivateKey(seed []byte) (*PrivateKey, error) {
	mlkemSeed, xSecret, err := ExpandSeed(seed)
	if err != nil {
		return nil, err
	}
	// The ML-KEM half is crypto/mlkem's, as the mode's rules require
	// (only crypto/hpke, crypto/mlkem and the repository's existing
	// primitives); docs/PQ.md §10.2 gives what that costs a CoverNode.
	dk, err := mlkem.NewDecapsulationKey768(mlkemSeed)
	clear(mlkemSeed)
	if err != nil {
		return nil, fmt.Errorf("pq: X-Wing seed: %w", err)
	}
	x, err := newX25519Exchanger(xSecret)
	clear(xSecret)
	if err != nil {
		return nil, err
	}
	k, err := hpke.NewHybridPrivateKey(dk, x)
	if err != nil {
		return nil, fmt.Errorf("pq: X-Wing seed: %w", err)
	}
	sk := &PrivateKey{k: k}
	copy(sk.seed[:], seed)
	return sk, nil
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

// hpkeSender is what the message formats need of an HPKE sending context.
type hpkeSender interface {
	Seal(aad, plaintext []byte) ([]byte, error)
	Export(exporterContext string, length int) ([]byte, error)
}

// newSender sets up an HPKE base-mode sending context (encapsulating with
// fresh randomness). It is a variable only so that the test-vector
// generator can substitute an independent, derandomised implementation.
var newSender = func(pk *PublicKey, info string) ([]byte, hpkeSender, error) {
	return hpke.NewSender(pk.k, kdf, aead, []byte(info))
}

// sealHPKE returns enc ‖ ct, the HPKE seal of pt to pk with the given info,
// and with export, the reply key exported from the same context.
func sealHPKE(pk *PublicKey, info string, pt []byte, export bool) ([]byte, *ReplyKey, error) {
	if pk == nil {
		return nil, nil, errors.New("pq: missing public key")
	}
	enc, s, err := newSender(pk, info)
	if err != nil {
		return nil, nil, fmt.Errorf("pq: HPKE: %w", err)
	}
	ct, err := s.Seal(nil, pt)
	if err != nil {
		return nil, nil, fmt.Errorf("pq: HPKE: %w", err)
	}
	out := make([]byte, 0, len(enc)+len(ct))
	out = append(append(out, enc...), ct...)
	if !export {
		return out, nil, nil
	}
	rk, err := exportReplyKey(s)
	return out, rk, err
}

func exportReplyKey(s interface {
	Export(string, int) ([]byte, error)
}) (*ReplyKey, error) {
	b, err := s.Export(LabelReplyKey, ReplyKeySize)
	if err != nil {
		return nil, fmt.Errorf("pq: HPKE export: %w", err)
	}
	var rk ReplyKey
	copy(rk[:], b)
	clear(b)
	return &rk, nil
}

// openHPKE opens enc ‖ ct with sk. It returns crypto.ErrDecrypt when the
// box was sealed to another key or with another info, or was altered
// (ML-KEM's implicit rejection turns a wrong key into a failed AEAD open),
// and when its X25519 half is a low-order point.
func openHPKE(sk *PrivateKey, info string, box []byte, export bool) ([]byte, *ReplyKey, error) {
	if sk == nil {
		return nil, nil, errors.New("pq: missing private key")
	}
	if len(box) < HPKEOverhead {
		return nil, nil, &crypto.LengthError{What: "HPKE box", Got: len(box), Want: HPKEOverhead, AtLeast: true}
	}
	r, err := hpke.NewRecipient(box[:EncSize], sk.k, kdf, aead, []byte(info))
	if err != nil {
		return nil, nil, crypto.ErrDecrypt
	}
	pt, err := r.Open(nil, box[EncSize:])
	if err != nil {
		return nil, nil, crypto.ErrDecrypt
	}
	if !export {
		return pt, nil, nil
	}
	rk, err := exportReplyKey(r)
	return pt, rk, err
}
