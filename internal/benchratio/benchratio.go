// Package benchratio lets a benchmark report its cost as a ratio to a bound
// measured in the same run, so that figures compare across machines.
package benchratio

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
)

// X25519Loop performs n bare X25519 shared-secret computations (the same
// operation as BenchmarkX25519) and returns the time they took.
func X25519Loop(tb testing.TB, n int) time.Duration {
	tb.Helper()
	sk, err := crypto.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	var raw [crypto.KeySize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		tb.Fatal(err)
	}
	peer, err := crypto.NewPrivateKey(raw[:])
	if err != nil {
		tb.Fatal(err)
	}
	pk := peer.PublicKey()
	start := time.Now()
	for range n {
		if _, err := crypto.X25519(sk, pk); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// ReportX25519Ratio, called at the end of a benchmark, times b.N bare X25519
// operations and reports the benchmark's cost per operation in units of one
// X25519 operation ("X25519/op"), and the bare rate itself.
func ReportX25519Ratio(b *testing.B) {
	b.Helper()
	elapsed := b.Elapsed()
	b.StopTimer()
	n := max(b.N, 200)
	bare := X25519Loop(b, n)
	perOp := float64(elapsed) / float64(b.N)
	barePerOp := float64(bare) / float64(n)
	b.ReportMetric(perOp/barePerOp, "X25519/op")
	b.ReportMetric(1e9/barePerOp, "bare-X25519/s")
}
