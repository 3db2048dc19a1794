package covernode

import (
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/benchratio"
	"github.com/chaffhq/chaff/pq"
)

// BenchmarkProcessU2C measures the CoverNode's work per incoming reader
// message (open the outer box, sort real from cover, make the log entry)
// on a batch of cover and real messages, with one worker and with two.
// It reports messages per second for each, the bare X25519 rate of one
// core measured in the same run, and the ratios the targets are set on:
// one worker against bare X25519 (target at least 0.85) and two workers
// against one (target at least 1.7).
func BenchmarkProcessU2C(b *testing.B) {
	p, err := newProcessingBatch(pq.ModeCoverDrop)
	if err != nil {
		b.Fatal(err)
	}
	const batch = processingBatchSize
	run := func(workers, batches int) time.Duration {
		start := time.Now()
		for range batches {
			if es := p.open(workers); len(es) != batch || es[0].kind != kindReal || es[1].kind != kindCover {
				b.Fatal("messages did not open")
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for b.Loop() {
		p.open(1)
	}
	one := b.Elapsed()
	b.StopTimer()
	batches := max(b.N, 4)
	two := run(2, batches)
	oneAgain := run(1, batches)
	bare := benchratio.X25519Loop(b, batches*batch)
	rate1 := float64(batch*b.N) / one.Seconds()
	rate1b := float64(batch*batches) / oneAgain.Seconds()
	rate2 := float64(batch*batches) / two.Seconds()
	bareRate := float64(batches*batch) / bare.Seconds()
	b.ReportMetric(rate1, "msgs/s-1worker")
	b.ReportMetric(rate2, "msgs/s-2workers")
	b.ReportMetric(bareRate, "bare-X25519/s")
	b.ReportMetric(rate1/bareRate, "1worker/bare")
	b.ReportMetric(rate2/rate1b, "2workers/1worker")
}

// BenchmarkProcessU2CModes measures the CoverNode's work per incoming
// reader message in both protocol modes, one batch of each in turn on one
// worker (MeasureModes), and reports each rate and pq mode's as a
// fraction of coverdrop mode's (issue 16's target: at least 0.4).
func BenchmarkProcessU2CModes(b *testing.B) {
	var cd, pqr float64
	for b.Loop() {
		c, p, err := MeasureModes(200 * time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		cd, pqr = cd+c, pqr+p
	}
	b.ReportMetric(cd/float64(b.N), "coverdrop-msgs/s")
	b.ReportMetric(pqr/float64(b.N), "pq-msgs/s")
	b.ReportMetric(pqr/cd, "pq/coverdrop")
}

// BenchmarkBatchKeys measures what a batch's opener costs in each mode
// with two unexpired messaging keys (a key and its successor): the keys
// parsed from their secrets for the batch, as every batch did before
// (the ring's DecryptionKeys and KEMDecryptionKeys), against the keys
// kept parsed (keyState), in turn in the same loop. µs per batch.
func BenchmarkBatchKeys(b *testing.B) {
	now := time.Now()
	cd, pqs := &keyState{}, &keyState{}
	for i := range 2 {
		created := now.Add(time.Duration(i-2) * time.Hour)
		sk, err := crypto.GenerateKey()
		if err != nil {
			b.Fatal(err)
		}
		cd.Messaging = append(cd.Messaging, x25519OwnKey(sk, created, now.Add(time.Hour)))
		xk, err := pq.GenerateKey()
		if err != nil {
			b.Fatal(err)
		}
		pqs.Messaging = append(pqs.Messaging, kemOwnKey(xk, created, now.Add(time.Hour)))
	}
	ops := []func() int{
		func() int { return len(cd.Messaging.DecryptionKeys(now)) },
		func() int { return len(cd.decryptionKeys(now)) },
		func() int { return len(pqs.Messaging.KEMDecryptionKeys(now)) },
		func() int { return len(pqs.kemDecryptionKeys(now)) },
	}
	var spent [4]time.Duration
	for b.Loop() {
		for i, op := range ops {
			start := time.Now()
			if op() != 2 {
				b.Fatal("two keys expected")
			}
			spent[i] += time.Since(start)
		}
	}
	for i, unit := range []string{"coverdrop-parsed-µs", "coverdrop-kept-µs", "pq-parsed-µs", "pq-kept-µs"} {
		b.ReportMetric(spent[i].Seconds()*1e6/float64(b.N), unit)
	}
}
