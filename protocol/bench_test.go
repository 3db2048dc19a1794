package protocol_test

import (
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/benchratio"
	"github.com/chaffhq/chaff/protocol"
)

// BenchmarkX25519 is the bound the other figures are reported against
// (X25519/op), measured in the same run.
func BenchmarkX25519(b *testing.B) {
	sk, peer := mustKey(b), mustKey(b)
	pk := peer.PublicKey()
	for b.Loop() {
		if _, err := crypto.X25519(sk, pk); err != nil {
			b.Fatal(err)
		}
	}
}

func mustKey(b *testing.B) *crypto.PrivateKey {
	k, err := crypto.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkOpenU2C is the CoverNode's work per incoming message: open the
// outer multi-anonymous box in the slot it expects and parse the tag.
// Target: at most 1.15 X25519/op.
func BenchmarkOpenU2C(b *testing.B) {
	cn, other := mustKey(b), mustKey(b)
	msg, err := protocol.SealCoverU2C([]*crypto.PublicKey{cn.PublicKey(), other.PublicKey()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(protocol.U2CMessageSize)
	for b.Loop() {
		if _, _, err := protocol.OpenU2C(cn, msg, 0); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

// BenchmarkOpenU2CWrongSlot is the same when the sender put the CoverNode's
// key in the slot it did not expect: one more X25519.
func BenchmarkOpenU2CWrongSlot(b *testing.B) {
	cn, other := mustKey(b), mustKey(b)
	msg, err := protocol.SealCoverU2C([]*crypto.PublicKey{other.PublicKey(), cn.PublicKey()})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := protocol.OpenU2C(cn, msg, 0); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

// BenchmarkSealCoverU2C is a client's work per cover message.
func BenchmarkSealCoverU2C(b *testing.B) {
	keys := []*crypto.PublicKey{mustKey(b).PublicKey(), mustKey(b).PublicKey()}
	b.SetBytes(protocol.U2CMessageSize)
	for b.Loop() {
		if _, err := protocol.SealCoverU2C(keys); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

// BenchmarkSealU2C is a client's work for a real message (same cost as
// cover plus the inner box, which is why clients pre-build cover).
func BenchmarkSealU2C(b *testing.B) {
	keys := []*crypto.PublicKey{mustKey(b).PublicKey(), mustKey(b).PublicKey()}
	j, reply := mustKey(b).PublicKey(), mustKey(b).PublicKey()
	for b.Loop() {
		if _, err := protocol.SealU2C(keys, "alice", j, reply, "meet me at the usual place"); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

func BenchmarkEncodeText(b *testing.B) {
	for b.Loop() {
		if _, err := protocol.EncodeText("meet me at the usual place at nine, bring the papers"); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}
