package crypto_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"path"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/vectors"
	"golang.org/x/crypto/nacl/secretbox"
)

func vec(t *testing.T, name string) []byte {
	t.Helper()
	return vectors.Read(t, path.Join(vectors.Common, name))
}

func mustPriv(t testing.TB, b []byte) *crypto.PrivateKey {
	t.Helper()
	sk, err := crypto.NewPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func mustPub(t testing.TB, b []byte) *crypto.PublicKey {
	t.Helper()
	pk, err := crypto.NewPublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func genKey(t testing.TB) *crypto.PrivateKey {
	t.Helper()
	sk, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// TestVectors opens every upstream primitive vector and, where the
// construction is deterministic given what the box carries, seals again and
// compares bytes.
func TestVectors(t *testing.T) {
	t.Run("anonymous_box", func(t *testing.T) {
		sk := mustPriv(t, vec(t, "anonymous_box/02_recipient_sk"))
		if !bytes.Equal(sk.PublicKey().Bytes(), vec(t, "anonymous_box/01_recipient_pk")) {
			t.Fatal("secret key does not derive the vector's public key")
		}
		box := vec(t, "anonymous_box/04_anonymous_box")
		msg, err := crypto.OpenAnonymous(sk, box)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msg, vec(t, "anonymous_box/03_message")) {
			t.Fatal("opened message differs from the vector")
		}
		if len(box) != len(msg)+crypto.AnonymousBoxOverhead {
			t.Fatalf("overhead %d, want %d", len(box)-len(msg), crypto.AnonymousBoxOverhead)
		}
	})
	t.Run("two_party_box", func(t *testing.T) {
		senderPK := mustPub(t, vec(t, "two_party_box/01_sender_pk"))
		senderSK := mustPriv(t, vec(t, "two_party_box/02_sender_sk"))
		recipientPK := mustPub(t, vec(t, "two_party_box/03_recipient_pk"))
		recipientSK := mustPriv(t, vec(t, "two_party_box/04_recipient_sk"))
		box := vec(t, "two_party_box/06_two_party_box")
		want := vec(t, "two_party_box/05_message")
		msg, err := crypto.OpenTwoParty(senderPK, recipientSK, box)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msg, want) {
			t.Fatal("opened message differs from the vector")
		}
		// Given the appended nonce, sealing is deterministic: the sender's
		// side must reproduce the box byte for byte.
		key, err := crypto.Precompute(senderSK, recipientPK)
		if err != nil {
			t.Fatal(err)
		}
		nonce := (*[crypto.NonceSize]byte)(box[len(box)-crypto.NonceSize:])
		if again := key.SealTwoPartyWithNonce(nonce, want); !bytes.Equal(again, box) {
			t.Fatal("re-sealed two-party box differs from the vector")
		}
	})
	t.Run("multi_anonymous_box", func(t *testing.T) {
		box := vec(t, "multi_anonymous_box/06_multi_anonymous_box")
		want := vec(t, "multi_anonymous_box/05_message")
		for i, kp := range [][2]string{{"01_recipient_1_pk", "02_recipient_1_sk"}, {"03_recipient_2_pk", "04_recipient_2_sk"}} {
			sk := mustPriv(t, vec(t, "multi_anonymous_box/"+kp[1]))
			if !bytes.Equal(sk.PublicKey().Bytes(), vec(t, "multi_anonymous_box/"+kp[0])) {
				t.Fatal("secret key does not derive the vector's public key")
			}
			for prefer := range 2 {
				msg, slot, err := crypto.OpenMultiAnonymous(sk, 2, box, prefer)
				if err != nil {
					t.Fatalf("recipient %d: %v", i+1, err)
				}
				if slot != i {
					t.Fatalf("recipient %d opened slot %d", i+1, slot)
				}
				if !bytes.Equal(msg, want) {
					t.Fatal("opened message differs from the vector")
				}
			}
			// The payload is deterministic given the wrapped key.
			k, err := crypto.OpenAnonymous(sk, box[i*crypto.MultiAnonymousBoxSlotSize:(i+1)*crypto.MultiAnonymousBoxSlotSize])
			if err != nil || len(k) != crypto.KeySize {
				t.Fatalf("slot key: %v (%d bytes)", err, len(k))
			}
			payload := secretbox.Seal(nil, want, new([24]byte), (*[32]byte)(k))
			if !bytes.Equal(payload, box[2*crypto.MultiAnonymousBoxSlotSize:]) {
				t.Fatal("re-sealed payload differs from the vector")
			}
		}
	})
	t.Run("signature", func(t *testing.T) {
		sk, err := crypto.NewSigningKey(vec(t, "signature/02_sk"))
		if err != nil {
			t.Fatal(err)
		}
		vk, err := crypto.NewVerifyingKey(vec(t, "signature/01_pk"))
		if err != nil {
			t.Fatal(err)
		}
		if !sk.VerifyingKey().Equal(vk) {
			t.Fatal("seed does not derive the vector's public key")
		}
		msg, sig := vec(t, "signature/03_message"), vec(t, "signature/04_signature")
		if err := vk.Verify(msg, sig); err != nil {
			t.Fatal(err)
		}
		if again := sk.Sign(msg); !bytes.Equal(again, sig) {
			t.Fatal("re-signed signature differs from the vector (Ed25519 is deterministic)")
		}
	})
}

func TestLowOrderPointsRefused(t *testing.T) {
	sk := genKey(t)
	msg := []byte("hello")
	for i, p := range lowOrderPoints(t) {
		// An anonymous box whose ephemeral key is low-order.
		box := make([]byte, crypto.AnonymousBoxOverhead+len(msg))
		copy(box, p[:])
		if _, err := rand.Read(box[crypto.KeySize:]); err != nil {
			t.Fatal(err)
		}
		if _, err := crypto.OpenAnonymous(sk, box); !errors.Is(err, crypto.ErrLowOrderPoint) {
			t.Errorf("point %d: OpenAnonymous error = %v, want ErrLowOrderPoint", i, err)
		}
		pk := mustPub(t, p[:])
		if _, err := crypto.SealAnonymous(pk, msg); !errors.Is(err, crypto.ErrLowOrderPoint) {
			t.Errorf("point %d: SealAnonymous error = %v, want ErrLowOrderPoint", i, err)
		}
		if _, err := crypto.SealTwoParty(pk, sk, msg); !errors.Is(err, crypto.ErrLowOrderPoint) {
			t.Errorf("point %d: SealTwoParty error = %v", i, err)
		}
		if _, err := crypto.OpenTwoParty(pk, sk, make([]byte, 100)); !errors.Is(err, crypto.ErrLowOrderPoint) {
			t.Errorf("point %d: OpenTwoParty error = %v", i, err)
		}
		if _, err := crypto.SealMultiAnonymous([]*crypto.PublicKey{sk.PublicKey(), pk}, msg); !errors.Is(err, crypto.ErrLowOrderPoint) {
			t.Errorf("point %d: SealMultiAnonymous error = %v", i, err)
		}
		if _, err := crypto.X25519(sk, pk); !errors.Is(err, crypto.ErrLowOrderPoint) {
			t.Errorf("point %d: X25519 error = %v", i, err)
		}
	}
}

// lowOrderPoints returns libsodium's blocklist of X25519 points of small
// order (crypto_scalarmult/curve25519/ref10/x25519_ref10.c), and the same
// points with the top bit set, which X25519 ignores.
func lowOrderPoints(t *testing.T) [][crypto.KeySize]byte {
	hexes := []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	}
	var out [][crypto.KeySize]byte
	for _, h := range hexes {
		var p [crypto.KeySize]byte
		if n, err := hexDecode(p[:], h); err != nil || n != crypto.KeySize {
			t.Fatalf("bad test point %s", h)
		}
		out = append(out, p)
		p[31] |= 0x80
		out = append(out, p)
	}
	return out
}

func TestRoundTrips(t *testing.T) {
	a, b, c := genKey(t), genKey(t), genKey(t)
	msg := make([]byte, 597)
	if _, err := rand.Read(msg); err != nil {
		t.Fatal(err)
	}

	ab, err := crypto.SealAnonymous(b.PublicKey(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := crypto.OpenAnonymous(b, ab); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("anonymous box round trip: %v", err)
	}
	if _, err := crypto.OpenAnonymous(a, ab); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("anonymous box opened by the wrong key: %v", err)
	}

	tpb, err := crypto.SealTwoParty(b.PublicKey(), a, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := crypto.OpenTwoParty(a.PublicKey(), b, tpb); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("two-party box round trip: %v", err)
	}
	if _, err := crypto.OpenTwoParty(c.PublicKey(), b, tpb); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("two-party box opened with the wrong sender: %v", err)
	}

	for n := 1; n <= 3; n++ {
		rs := []*crypto.PublicKey{a.PublicKey(), b.PublicKey(), c.PublicKey()}[:n]
		mab, err := crypto.SealMultiAnonymous(rs, msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(mab) != len(msg)+crypto.MultiAnonymousBoxOverhead(n) {
			t.Fatalf("n=%d: size %d", n, len(mab))
		}
		for i, sk := range []*crypto.PrivateKey{a, b, c}[:n] {
			got, slot, err := crypto.OpenMultiAnonymous(sk, n, mab, n-1)
			if err != nil || slot != i || !bytes.Equal(got, msg) {
				t.Fatalf("n=%d recipient %d: slot %d, %v", n, i, slot, err)
			}
		}
		if _, _, err := crypto.OpenMultiAnonymous(genKey(t), n, mab, 0); !errors.Is(err, crypto.ErrDecrypt) {
			t.Fatalf("n=%d: a stranger opened the box: %v", n, err)
		}
	}

	var key [crypto.SecretBoxKeySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	sb, err := crypto.SealSecret(&key, msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sb) != len(msg)+crypto.SecretBoxOverhead {
		t.Fatalf("secret box overhead %d", len(sb)-len(msg))
	}
	if got, err := crypto.OpenSecret(&key, sb); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("secret box round trip: %v", err)
	}
	key[0] ^= 1
	if _, err := crypto.OpenSecret(&key, sb); !errors.Is(err, crypto.ErrDecrypt) {
		t.Fatalf("secret box opened with the wrong key: %v", err)
	}
}

// TestBitFlips alters every bit of each vector box in turn: none may open.
func TestBitFlips(t *testing.T) {
	abSK := mustPriv(t, vec(t, "anonymous_box/02_recipient_sk"))
	tpbSender := mustPub(t, vec(t, "two_party_box/01_sender_pk"))
	tpbSK := mustPriv(t, vec(t, "two_party_box/04_recipient_sk"))
	mabSK := mustPriv(t, vec(t, "multi_anonymous_box/02_recipient_1_sk"))
	tpbKey, err := crypto.Precompute(tpbSK, tpbSender)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		box  []byte
		open func([]byte) error
	}{
		{"anonymous_box", vec(t, "anonymous_box/04_anonymous_box"), func(b []byte) error {
			_, err := crypto.OpenAnonymous(abSK, b)
			return err
		}},
		{"two_party_box", vec(t, "two_party_box/06_two_party_box"), func(b []byte) error {
			_, err := tpbKey.OpenTwoParty(b)
			return err
		}},
		{"multi_anonymous_box", vec(t, "multi_anonymous_box/06_multi_anonymous_box"), func(b []byte) error {
			_, _, err := crypto.OpenMultiAnonymous(mabSK, 2, b, 0)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.open(tc.box); err != nil {
				t.Fatalf("unaltered box: %v", err)
			}
			step := 1
			if testing.Short() {
				step = 7
			}
			for bit := 0; bit < len(tc.box)*8; bit += step {
				b := bytes.Clone(tc.box)
				b[bit/8] ^= 1 << (bit % 8)
				if tc.open(b) == nil {
					// In the multi-anonymous box, the other recipient's
					// slot is not covered by our slot's authenticator.
					if tc.name == "multi_anonymous_box" && bit/8 >= crypto.MultiAnonymousBoxSlotSize && bit/8 < 2*crypto.MultiAnonymousBoxSlotSize {
						continue
					}
					t.Fatalf("box opened with bit %d flipped", bit)
				}
			}
		})
	}
}

func TestBadLengths(t *testing.T) {
	sk := genKey(t)
	var lerr *crypto.LengthError
	if _, err := crypto.NewPublicKey(make([]byte, 31)); !errors.As(err, &lerr) {
		t.Errorf("NewPublicKey(31 bytes) = %v", err)
	}
	if _, err := crypto.NewPrivateKey(make([]byte, 33)); !errors.As(err, &lerr) {
		t.Errorf("NewPrivateKey(33 bytes) = %v", err)
	}
	if _, err := crypto.OpenAnonymous(sk, make([]byte, 47)); !errors.As(err, &lerr) {
		t.Errorf("OpenAnonymous(47 bytes) = %v", err)
	}
	if _, _, err := crypto.OpenMultiAnonymous(sk, 2, make([]byte, 175), 0); !errors.As(err, &lerr) {
		t.Errorf("OpenMultiAnonymous(175 bytes) = %v", err)
	}
	if _, err := crypto.OpenTwoParty(sk.PublicKey(), sk, make([]byte, 39)); !errors.As(err, &lerr) {
		t.Errorf("OpenTwoParty(39 bytes) = %v", err)
	}
	var key [32]byte
	if _, err := crypto.OpenSecret(&key, make([]byte, 39)); !errors.As(err, &lerr) {
		t.Errorf("OpenSecret(39 bytes) = %v", err)
	}
	if _, err := crypto.NewVerifyingKey(make([]byte, 32)); err != nil {
		t.Errorf("the identity point is a valid encoding: %v", err)
	}
	// y = 2 is not the y-coordinate of any point on edwards25519.
	notOnCurve := make([]byte, 32)
	notOnCurve[0] = 2
	if _, err := crypto.NewVerifyingKey(notOnCurve); err == nil {
		t.Error("NewVerifyingKey accepted a point that does not decompress")
	}
}

func TestHumanDigest(t *testing.T) {
	// The example of SPEC §1.9 (upstream human_key_digest.rs).
	var b [32]byte
	if _, err := hexDecode(b[:], "c941a9beed1c8c945c27b150b5aa725a6366f71900a5e93607ba93254fe8d585"); err != nil {
		t.Fatal(err)
	}
	vk, err := crypto.NewVerifyingKey(b[:])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := vk.HumanDigest(), "jdiH4c 9DO9cT kefiCh OXoQ"; got != want {
		t.Fatalf("HumanDigest = %q, want %q", got, want)
	}
}
