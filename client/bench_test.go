package client

import (
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/benchratio"
	"github.com/chaffhq/chaff/protocol"
)

// BenchmarkCoverMessage is the CPU an install spends on each cover
// message it sends (a battery proxy). Target: at most 5 X25519/op.
func BenchmarkCoverMessage(b *testing.B) {
	a, _ := crypto.GenerateKey()
	c, _ := crypto.GenerateKey()
	ks := []*crypto.PublicKey{a.PublicKey(), c.PublicKey()}
	for b.Loop() {
		if _, err := protocol.SealCoverU2C(ks); err != nil {
			b.Fatal(err)
		}
	}
	benchratio.ReportX25519Ratio(b)
}

// BenchmarkProcessUserDeadDrop is the CPU an install spends on each user
// dead drop it downloads, once unlocked: verify the signature and
// trial-decrypt its 20 messages (production size) against 10 journalists
// with two messaging keys each.
func BenchmarkProcessUserDeadDrop(b *testing.B) {
	cn, _ := crypto.GenerateSigningKey()
	reader, _ := crypto.GenerateKey()
	journalists := map[string][]*crypto.PublicKey{}
	for i := range 10 {
		for range 2 {
			k, _ := crypto.GenerateKey()
			id := string(rune('a' + i))
			journalists[id] = append(journalists[id], k.PublicKey())
		}
	}
	d := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: time.Now()}
	for range 20 {
		m, _ := protocol.RandomJ2U()
		d.Data = append(d.Data, m...)
	}
	d.Sign(cn)
	vks := []*crypto.VerifyingKey{cn.VerifyingKey()}
	for b.Loop() {
		if err := d.Verify(vks); err != nil {
			b.Fatal(err)
		}
		o, err := deaddrop.NewReaderOpener(reader, journalists)
		if err != nil {
			b.Fatal(err)
		}
		o.Open(d)
	}
	benchratio.ReportX25519Ratio(b)
}
