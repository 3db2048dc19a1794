package crypto_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/vectors"
)

// seedVector adds an upstream box to the corpus when the vectors are present.
func seedVector(f *testing.F, name string) {
	if dir := vectors.Locate(); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, vectors.Common, name)); err == nil {
			f.Add(b)
		}
	}
}

// The openers are the parsers of the crypto layer: whatever bytes arrive,
// they either open to what was sealed or fail, and never panic. Keys are
// fixed because the fuzzing engine runs each target in several processes;
// "seed" is the only message ever sealed under them.

func fixedKey(b byte) *crypto.PrivateKey {
	k, err := crypto.NewPrivateKey(bytes.Repeat([]byte{b}, crypto.KeySize))
	if err != nil {
		panic(err)
	}
	return k
}

func FuzzOpenAnonymous(f *testing.F) {
	seedVector(f, "anonymous_box/04_anonymous_box")
	sk := fixedKey(1)
	box, _ := crypto.SealAnonymous(sk.PublicKey(), []byte("seed"))
	f.Add(box)
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := crypto.OpenAnonymous(sk, b)
		if err == nil && string(msg) != "seed" {
			t.Fatalf("a forged anonymous box opened to %q", msg)
		}
	})
}

func FuzzOpenTwoParty(f *testing.F) {
	seedVector(f, "two_party_box/06_two_party_box")
	a, b := fixedKey(2), fixedKey(3)
	box, _ := crypto.SealTwoParty(b.PublicKey(), a, []byte("seed"))
	f.Add(box)
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := crypto.OpenTwoParty(a.PublicKey(), b, in)
		if err == nil && string(msg) != "seed" {
			t.Fatalf("a forged two-party box opened to %q", msg)
		}
	})
}

func FuzzOpenMultiAnonymous(f *testing.F) {
	seedVector(f, "multi_anonymous_box/06_multi_anonymous_box")
	sk, other := fixedKey(4), fixedKey(5)
	box, _ := crypto.SealMultiAnonymous([]*crypto.PublicKey{other.PublicKey(), sk.PublicKey()}, []byte("seed"))
	f.Add(box)
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, slot, err := crypto.OpenMultiAnonymous(sk, 2, in, 1)
		if err == nil && (string(msg) != "seed" || slot != 1) {
			t.Fatalf("a forged multi-anonymous box opened to %q in slot %d", msg, slot)
		}
	})
}

func FuzzOpenSecret(f *testing.F) {
	var key [crypto.SecretBoxKeySize]byte
	key[0] = 1
	box, _ := crypto.SealSecret(&key, []byte("seed"))
	f.Add(box)
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := crypto.OpenSecret(&key, in)
		if err == nil && string(msg) != "seed" {
			t.Fatalf("a forged secret box opened to %q", msg)
		}
	})
}

func FuzzKeys(f *testing.F) {
	seedVector(f, "signature/01_pk")
	seedVector(f, "two_party_box/01_sender_pk")
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pk, err := crypto.NewPublicKey(b); err == nil {
			sk, _ := crypto.GenerateKey()
			_, _ = crypto.X25519(sk, pk)
		}
		if vk, err := crypto.NewVerifyingKey(b); err == nil {
			_ = vk.HumanDigest()
			_ = vk.Verify([]byte("m"), make([]byte, crypto.SignatureSize))
		}
	})
}
