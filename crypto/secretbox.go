package crypto

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// SecretBoxKeySize is the size of a secret-box key.
const SecretBoxKeySize = chacha20poly1305.KeySize

// SealSecret encrypts msg under key with XChaCha20-Poly1305 (empty
// additional data) and a random nonce: ciphertext ‖ tag ‖ nonce, as
// upstream's secret box (SPEC §1.7). It is used off the main wire, for
// backups and local storage.
func SealSecret(key *[SecretBoxKeySize]byte, msg []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, fmt.Errorf("crypto: secret box: %w", err)
	}
	var nonce [chacha20poly1305.NonceSizeX]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	out := aead.Seal(make([]byte, 0, len(msg)+SecretBoxOverhead), nonce[:], msg, nil)
	return append(out, nonce[:]...), nil
}

// OpenSecret opens a box made by SealSecret. It returns ErrDecrypt when the
// key is wrong or the box was altered.
func OpenSecret(key *[SecretBoxKeySize]byte, box []byte) ([]byte, error) {
	if len(box) < SecretBoxOverhead {
		return nil, &LengthError{What: "secret box", Got: len(box), Want: SecretBoxOverhead, AtLeast: true}
	}
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, fmt.Errorf("crypto: secret box: %w", err)
	}
	split := len(box) - chacha20poly1305.NonceSizeX
	msg, err := aead.Open(nil, box[split:], box[:split], nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return msg, nil
}

// NewSecretKey returns a new random secret-box key.
func NewSecretKey() (*[SecretBoxKeySize]byte, error) {
	var k [SecretBoxKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	return &k, nil
}
