package pq

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/chaffhq/chaff/crypto"
	"golang.org/x/crypto/chacha20poly1305"
)

// zeroNonce is the nonce of every multi-recipient payload. It is safe
// because each payload key is 32 fresh random bytes used for one box only,
// as in coverdrop mode's multi-anonymous box.
var zeroNonce [chacha20poly1305.NonceSize]byte

// coverNodeRecipients checks the CoverNode keys a message is sealed to.
func coverNodeRecipients(keys []*PublicKey) error {
	if len(keys) != CoverNodeWrappingKeyCount {
		return fmt.Errorf("pq: messages to the CoverNodes are sealed to %d keys, got %d", CoverNodeWrappingKeyCount, len(keys))
	}
	for _, k := range keys {
		if k == nil {
			return errors.New("pq: missing CoverNode key")
		}
	}
	return nil
}

// sealMulti seals pt so that the holder of either CoverNode key can open
// it (docs/PQ.md §4): a fresh payload key K is HPKE-sealed to each key in
// turn, then pt is sealed under K with ChaCha20-Poly1305, a zero nonce and
// the slots as additional data, so that no slot can be changed without
// the payload failing. Nobody learns who sealed it; the box does not say
// which slot is whose.
func sealMulti(keys []*PublicKey, slotLabel, payloadLabel string, pt []byte) ([]byte, error) {
	if err := coverNodeRecipients(keys); err != nil {
		return nil, err
	}
	var k [PayloadKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("pq: reading randomness: %w", err)
	}
	defer clear(k[:])
	out := make([]byte, 0, len(pt)+MultiRecipientOverhead)
	for _, pk := range keys {
		slot, _, err := sealHPKE(pk, slotLabel, k[:], false)
		if err != nil {
			return nil, err
		}
		out = append(out, slot...)
	}
	a, err := chacha20poly1305.New(k[:])
	if err != nil {
		return nil, err
	}
	slots := len(out)
	return a.Seal(out, zeroNonce[:], pt, payloadAAD(payloadLabel, out[:slots])), nil
}

// testHookSlotTry, set only by tests, is called before each slot tried.
var testHookSlotTry func()

func payloadAAD(label string, slots []byte) []byte {
	aad := make([]byte, 0, len(label)+len(slots))
	return append(append(aad, label...), slots...)
}

// openMulti opens a box made by sealMulti with the CoverNode keys sks, and
// returns the plaintext and the slot that opened. It tries slot
// preferSlot first, with every key, then the next slot: a node's slot is
// fixed (its place among the CoverNodes, docs/PQ.md §3) while which of its
// keys a sender used changes at each rotation, so a box sealed to an older
// key opens at the second try, where trying each key in every slot in
// turn took a third. Each try costs one X-Wing decapsulation. It returns
// crypto.ErrDecrypt when no slot opens or the box was altered.
func openMulti(sks []*PrivateKey, slotLabel, payloadLabel string, box []byte, preferSlot int) ([]byte, int, error) {
	if len(box) < MultiRecipientOverhead {
		return nil, 0, &crypto.LengthError{What: "multi-recipient box", Got: len(box), Want: MultiRecipientOverhead, AtLeast: true}
	}
	if preferSlot < 0 || preferSlot >= CoverNodeWrappingKeyCount {
		preferSlot = 0
	}
	slots := box[:CoverNodeWrappingKeyCount*SlotSize]
	for i := range CoverNodeWrappingKeyCount {
		slot := (preferSlot + i) % CoverNodeWrappingKeyCount
		for _, sk := range sks {
			if testHookSlotTry != nil {
				testHookSlotTry()
			}
			k, _, err := openHPKE(sk, slotLabel, slots[slot*SlotSize:(slot+1)*SlotSize], false)
			if err != nil {
				continue
			}
			a, err := chacha20poly1305.New(k)
			clear(k)
			if err != nil {
				return nil, slot, crypto.ErrDecrypt
			}
			pt, err := a.Open(nil, zeroNonce[:], box[len(slots):], payloadAAD(payloadLabel, slots))
			if err != nil {
				// The slot was ours but the payload does not match it.
				return nil, slot, crypto.ErrDecrypt
			}
			return pt, slot, nil
		}
	}
	return nil, 0, crypto.ErrDecrypt
}
