package crypto

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/nacl/secretbox"
)

// Wire sizes of the boxes (SPEC §1.4–§1.7).
const (
	// NonceSize is the size of an XSalsa20 or XChaCha20 nonce.
	NonceSize = 24
	// TagSize is the size of a Poly1305 authenticator.
	TagSize = 16
	// AnonymousBoxOverhead is what an anonymous box adds to its message:
	// the ephemeral public key and the tag.
	AnonymousBoxOverhead = KeySize + TagSize // 48
	// TwoPartyBoxOverhead is what a two-party box adds: the tag in front
	// and the random nonce appended.
	TwoPartyBoxOverhead = TagSize + NonceSize // 40
	// MultiAnonymousBoxSlotSize is the size of one recipient's slot: an
	// anonymous box around a 32-byte secretbox key.
	MultiAnonymousBoxSlotSize = AnonymousBoxOverhead + KeySize // 80
	// SecretBoxOverhead is what the XChaCha20-Poly1305 secret box adds.
	SecretBoxOverhead = TagSize + NonceSize // 40
)

// MultiAnonymousBoxOverhead returns what a multi-anonymous box for the given
// number of recipients adds to its message.
func MultiAnonymousBoxOverhead(recipients int) int {
	return recipients*MultiAnonymousBoxSlotSize + TagSize
}

// SealAnonymous encrypts msg to pk so that only the holder of the matching
// secret key can open it, and nobody, not even the recipient, learns who
// sealed it. It is libsodium's crypto_box_seal: an ephemeral X25519 key, the
// nonce BLAKE2b-192(epk ‖ pk), and XSalsa20-Poly1305.
func SealAnonymous(pk *PublicKey, msg []byte) ([]byte, error) {
	esk, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	key, err := Precompute(esk, pk)
	if err != nil {
		return nil, err
	}
	nonce := sealNonce(&esk.pub, pk)
	out := make([]byte, KeySize, AnonymousBoxOverhead+len(msg))
	copy(out, esk.pub.k[:])
	return secretbox.Seal(out, msg, &nonce, &key.k), nil
}

// OpenAnonymous opens an anonymous box sealed to sk's public key. It returns
// ErrDecrypt when the box was sealed to another key or altered, and an error
// wrapping ErrLowOrderPoint when its ephemeral key is a low-order point.
func OpenAnonymous(sk *PrivateKey, box []byte) ([]byte, error) {
	if len(box) < AnonymousBoxOverhead {
		return nil, &LengthError{What: "anonymous box", Got: len(box), Want: AnonymousBoxOverhead, AtLeast: true}
	}
	var epk PublicKey
	copy(epk.k[:], box[:KeySize])
	key, err := Precompute(sk, &epk)
	if err != nil {
		return nil, fmt.Errorf("anonymous box: ephemeral key refused: %w", err)
	}
	nonce := sealNonce(&epk, &sk.pub)
	msg, ok := secretbox.Open(nil, box[KeySize:], &nonce, &key.k)
	if !ok {
		return nil, ErrDecrypt
	}
	return msg, nil
}

// sealNonce is the sealed-box nonce, BLAKE2b with a 24-byte output over the
// ephemeral and the recipient public keys.
func sealNonce(epk, pk *PublicKey) [NonceSize]byte {
	h, err := blake2b.New(NonceSize, nil)
	if err != nil {
		panic("crypto: BLAKE2b-192 unavailable: " + err.Error()) // a constant size that blake2b supports
	}
	h.Write(epk.k[:])
	h.Write(pk.k[:])
	var nonce [NonceSize]byte
	h.Sum(nonce[:0])
	return nonce
}

// SealTwoParty encrypts and authenticates msg from the holder of sender to
// the holder of recipient's secret key: libsodium's crypto_box_easy with a
// fresh random nonce, which is appended to the box.
func SealTwoParty(recipient *PublicKey, sender *PrivateKey, msg []byte) ([]byte, error) {
	key, err := Precompute(sender, recipient)
	if err != nil {
		return nil, err
	}
	return key.SealTwoParty(msg)
}

// OpenTwoParty opens a two-party box that sender made for recipient. It
// returns ErrDecrypt when the box is not from sender to recipient, or was
// altered.
func OpenTwoParty(sender *PublicKey, recipient *PrivateKey, box []byte) ([]byte, error) {
	if len(box) < TwoPartyBoxOverhead {
		return nil, &LengthError{What: "two-party box", Got: len(box), Want: TwoPartyBoxOverhead, AtLeast: true}
	}
	key, err := Precompute(recipient, sender)
	if err != nil {
		return nil, err
	}
	return key.OpenTwoParty(box)
}

// SealTwoParty is SealTwoParty with a precomputed key.
func (key *SharedKey) SealTwoParty(msg []byte) ([]byte, error) {
	var nonce [NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	return key.sealTwoPartyWithNonce(&nonce, msg), nil
}

// sealTwoPartyWithNonce is the deterministic core of SealTwoParty. The nonce
// must never repeat under one key; only tests pass one in.
func (key *SharedKey) sealTwoPartyWithNonce(nonce *[NonceSize]byte, msg []byte) []byte {
	out := secretbox.Seal(make([]byte, 0, TwoPartyBoxOverhead+len(msg)), msg, nonce, &key.k)
	return append(out, nonce[:]...)
}

// OpenTwoParty is OpenTwoParty with a precomputed key. It costs no X25519
// operation, which makes trial decryption of many boxes cheap.
func (key *SharedKey) OpenTwoParty(box []byte) ([]byte, error) {
	if len(box) < TwoPartyBoxOverhead {
		return nil, &LengthError{What: "two-party box", Got: len(box), Want: TwoPartyBoxOverhead, AtLeast: true}
	}
	split := len(box) - NonceSize
	nonce := (*[NonceSize]byte)(box[split:])
	msg, ok := secretbox.Open(nil, box[:split], nonce, &key.k)
	if !ok {
		return nil, ErrDecrypt
	}
	return msg, nil
}

// zeroNonce is the nonce of the payload of every multi-anonymous box.
//
// A constant nonce is safe here because the secretbox key it is used with is
// 32 fresh random bytes drawn for this one box and never used again: a
// (key, nonce) pair never repeats. This is upstream's construction and must
// stay byte-compatible with it.
var zeroNonce [NonceSize]byte

// SealMultiAnonymous encrypts msg so that the holder of any one of the
// recipients' secret keys can open it. A fresh secretbox key is sealed to
// each recipient in order in an anonymous box, then the message is sealed
// under that key: wrapped_0 ‖ … ‖ wrapped_{N-1} ‖ tag ‖ ciphertext.
//
// Recipients learn nothing about the sender; the box does not say which
// slot belongs to which recipient.
func SealMultiAnonymous(recipients []*PublicKey, msg []byte) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("crypto: multi-anonymous box needs at least one recipient")
	}
	var k [KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	out := make([]byte, 0, MultiAnonymousBoxOverhead(len(recipients))+len(msg))
	for _, pk := range recipients {
		slot, err := SealAnonymous(pk, k[:])
		if err != nil {
			return nil, err
		}
		out = append(out, slot...)
	}
	return secretbox.Seal(out, msg, &zeroNonce, &k), nil
}

// OpenMultiAnonymous opens a multi-anonymous box made for the given number of
// recipients with sk. It tries the slot preferSlot first (a CoverNode knows
// which slot senders usually give it), then the others in order, and returns
// the message and the slot that opened. Each slot tried costs one X25519
// operation. It returns ErrDecrypt when no slot opens or the payload was
// altered.
func OpenMultiAnonymous(sk *PrivateKey, recipients int, box []byte, preferSlot int) ([]byte, int, error) {
	if recipients < 1 {
		return nil, 0, fmt.Errorf("crypto: multi-anonymous box needs at least one recipient")
	}
	if min := MultiAnonymousBoxOverhead(recipients); len(box) < min {
		return nil, 0, &LengthError{What: "multi-anonymous box", Got: len(box), Want: min, AtLeast: true}
	}
	if preferSlot < 0 || preferSlot >= recipients {
		preferSlot = 0
	}
	payload := box[recipients*MultiAnonymousBoxSlotSize:]
	for i := range recipients {
		slot := (preferSlot + i) % recipients
		start := slot * MultiAnonymousBoxSlotSize
		key, err := OpenAnonymous(sk, box[start:start+MultiAnonymousBoxSlotSize])
		if err != nil {
			continue
		}
		msg, ok := secretbox.Open(nil, payload, &zeroNonce, (*[KeySize]byte)(key))
		clear(key)
		if !ok {
			// The slot was ours but the payload does not match it: the
			// box was altered. Another slot cannot hold another key for us.
			return nil, slot, ErrDecrypt
		}
		return msg, slot, nil
	}
	return nil, 0, ErrDecrypt
}
