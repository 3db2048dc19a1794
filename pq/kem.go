package pq

import (
	"crypto/hpke"
	"errors"
	"fmt"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
)

// The HPKE suite of every public-key layer (docs/PQ.md §2.1).
var (
	kem  = xwing.KEM
	kdf  = hpke.HKDFSHA256()
	aead = hpke.ChaCha20Poly1305()
)

// PublicKey is an X-Wing (MLKEM768-X25519) public key (package xwing).
type PublicKey = xwing.PublicKey

// PrivateKey is an X-Wing private key, kept as its 32-byte seed (package
// xwing). Handle it as a secret.
type PrivateKey = xwing.PrivateKey

// NewPublicKey parses an X-Wing public key (xwing.NewPublicKey).
func NewPublicKey(b []byte) (*PublicKey, error) { return xwing.NewPublicKey(b) }

// GenerateKey returns a fresh X-Wing key pair (xwing.GenerateKey).
func GenerateKey() (*PrivateKey, error) { return xwing.GenerateKey() }

// NewPrivateKey returns the X-Wing key pair of a 32-byte seed
// (xwing.NewPrivateKey).
func NewPrivateKey(seed []byte) (*PrivateKey, error) { return xwing.NewPrivateKey(seed) }

// ExpandSeed returns the two component secrets of an X-Wing seed
// (xwing.ExpandSeed).
func ExpandSeed(seed []byte) (mlkemSeed, x25519Secret []byte, err error) {
	return xwing.ExpandSeed(seed)
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
	return hpke.NewSender(pk.HPKE(), kdf, aead, []byte(info))
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
	r, err := hpke.NewRecipient(box[:EncSize], sk.HPKE(), kdf, aead, []byte(info))
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
