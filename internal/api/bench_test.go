package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/benchsuite"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rawPublishRate measures JetStream async publishing of n U2C-sized
// messages to a file-backed stream on the same server: the bound the
// ingest is compared with.
func rawPublishRate(b *testing.B, nc *nats.Conn, n int) float64 {
	b.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{"bench.raw"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	msg := randomMessage(b, protocol.U2CMessageSize)
	start := time.Now()
	for range n {
		if _, err := js.PublishAsync("bench.raw", msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("async publishes not acknowledged")
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkIngest posts U2C messages over loopback HTTP, each answered
// after its durable append, from many clients at once. It reports
// requests per second and their ratio to raw JetStream async publishing
// measured in the same run (target: at least 0.5).
func BenchmarkIngest(b *testing.B) {
	n := testnet.NewNewsroom(b, time.Now())
	_, nc := testnet.StartNATS(b)
	a := testnet.StartAPI(b, nc, n, api.Config{IngestRate: 1e9, IngestBurst: 1 << 30})
	body := testnet.EncodeU2C(randomMessage(b, protocol.U2CMessageSize))
	addr := strings.TrimPrefix(a.URL, "http://")
	b.ResetTimer()
	if _, err := benchsuite.HammerMessages(addr, "POST", "/user/messages", body, 128, 0, b.N); err != nil {
		b.Fatal(err)
	}
	elapsed := b.Elapsed()
	b.StopTimer()
	// Every request was a durable append of its own message, none a copy
	// answered from the duplicate window.
	if got := a.StreamMsgs(b, "CHAFF_U2C"); got != uint64(b.N) {
		b.Fatalf("%d messages stored for %d requests", got, b.N)
	}
	rate := float64(b.N) / elapsed.Seconds()
	raw := rawPublishRate(b, nc, max(b.N, 20000))
	// The HTTP ceiling: the cheapest request this server answers, with the
	// same client on the same cores.
	ceiling, err := benchsuite.Hammer(addr, "GET", "/v1/healthcheck", nil, 128, 0, max(b.N, 20000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(raw, "raw-publish/s")
	b.ReportMetric(rate/raw, "ratio")
	b.ReportMetric(ceiling/raw, "http-ceiling-ratio")
}

// BenchmarkGetUserDeadDrops is the poll millions of apps make: a page of
// user dead drops after the newest they have (empty), and a full page.
func BenchmarkGetUserDeadDrops(b *testing.B) {
	n := testnet.NewNewsroom(b, time.Now())
	_, nc := testnet.StartNATS(b)
	a := testnet.StartAPI(b, nc, n, api.Config{})
	st, err := store.Open(context.Background(), nc, store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	sk, _ := crypto.GenerateSigningKey() // the store does not check signatures
	for range 40 {
		d := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: time.Now(), Data: randomMessage(b, 20*protocol.J2UMessageSize)}
		d.Sign(sk)
		if _, _, err := st.PublishDeadDrop(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct{ name, query string }{{"empty", "ids_greater_than=40"}, {"page-of-10", "ids_greater_than=30"}} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := benchsuite.Hammer(strings.TrimPrefix(a.URL, "http://"), "GET", "/v1/user/dead-drops?"+bc.query, nil, 32, 0, b.N); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
