package crypto_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/benchratio"
)

// BenchmarkX25519 is the bare shared-secret operation that every other
// figure is measured against. bench/x25519-vs-libsodium.sh compares it with
// libsodium's crypto_scalarmult.
func BenchmarkX25519(b *testing.B) {
	sk, peer := genKey(b), genKey(b)
	pk := peer.PublicKey()
	for b.Loop() {
		if _, err := crypto.X25519(sk, pk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkX25519StdlibECDH is crypto/ecdh's X25519, for comparison: we use
// CIRCL's because it is faster on amd64.
func BenchmarkX25519StdlibECDH(b *testing.B) {
	sk, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	pk := peer.PublicKey()
	for b.Loop() {
		if _, err := sk.ECDH(pk); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkGenerateKey(b *testing.B) {
	for b.Loop() {
		genKey(b)
	}
	benchratio.ReportX25519Ratio(b)
}

func randMsg(b *testing.B, n int) []byte {
	m := make([]byte, n)
	if _, err := rand.Read(m); err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkSealAnonymous(b *testing.B) {
	pk, msg := genKey(b).PublicKey(), randMsg(b, 545)
	for b.Loop() {
		if _, err := crypto.SealAnonymous(pk, msg); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkOpenAnonymous(b *testing.B) {
	sk := genKey(b)
	box, err := crypto.SealAnonymous(sk.PublicKey(), randMsg(b, 545))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := crypto.OpenAnonymous(sk, box); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkSealTwoParty(b *testing.B) {
	a, c := genKey(b), genKey(b)
	msg := randMsg(b, 593)
	for b.Loop() {
		if _, err := crypto.SealTwoParty(c.PublicKey(), a, msg); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkOpenTwoParty(b *testing.B) {
	a, c := genKey(b), genKey(b)
	box, err := crypto.SealTwoParty(c.PublicKey(), a, randMsg(b, 593))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := crypto.OpenTwoParty(a.PublicKey(), c, box); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

// BenchmarkOpenTwoPartyPrecomputed is one trial decryption of a dead-drop
// chunk once the shared key of the (sender, recipient) pair is known.
func BenchmarkOpenTwoPartyPrecomputed(b *testing.B) {
	a, c := genKey(b), genKey(b)
	box, err := crypto.SealTwoParty(c.PublicKey(), a, randMsg(b, 593))
	if err != nil {
		b.Fatal(err)
	}
	key, err := crypto.Precompute(c, a.PublicKey())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := key.OpenTwoParty(box); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkSealMultiAnonymous(b *testing.B) {
	pks := []*crypto.PublicKey{genKey(b).PublicKey(), genKey(b).PublicKey()}
	msg := randMsg(b, 597)
	for b.Loop() {
		if _, err := crypto.SealMultiAnonymous(pks, msg); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkOpenMultiAnonymous(b *testing.B) {
	sk := genKey(b)
	box, err := crypto.SealMultiAnonymous([]*crypto.PublicKey{sk.PublicKey(), genKey(b).PublicKey()}, randMsg(b, 597))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := crypto.OpenMultiAnonymous(sk, 2, box, 0); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkSecretBox(b *testing.B) {
	var key [crypto.SecretBoxKeySize]byte
	msg := randMsg(b, 4096)
	for b.Loop() {
		box, err := crypto.SealSecret(&key, msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := crypto.OpenSecret(&key, box); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkSign(b *testing.B) {
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		b.Fatal(err)
	}
	msg := randMsg(b, 32)
	for b.Loop() {
		sk.Sign(msg)
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkVerify(b *testing.B) {
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		b.Fatal(err)
	}
	msg := randMsg(b, 32)
	sig := sk.Sign(msg)
	vk := sk.VerifyingKey()
	for b.Loop() {
		if err := vk.Verify(msg, sig); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}
