package trafficanalysis

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/distinguishers"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackSeq reads the stream sequence out of a JetStream ack subject
// ($JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>,
// or the longer form with domain and account hash).
func ackSeq(subject string) (uint64, bool) {
	tok := strings.Split(subject, ".")
	var i int
	switch len(tok) {
	case 9:
		i = 5
	case 11, 12:
		i = 7
	default:
		return 0, false
	}
	n, err := strconv.ParseUint(tok[i], 10, 64)
	return n, err == nil
}

// TestAckTimingIndistinguishable watches what whoever runs NATS sees of
// the CoverNode: when each message is acknowledged, and in what company.
// Real and cover messages must look the same.
func TestAckTimingIndistinguishable(t *testing.T) {
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{})
	alice, bundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := covernode.New(ctx, nc, covernode.Config{StateDir: t.TempDir(), StateKey: testnet.StateKey(t), BundlePath: bundle, API: apiclient.New(a.URL),
		Anchors: []keys.SignedPublicKey{n.Org.Public}, U2J: mix.Params{ThresholdMin: 20, ThresholdMax: 50, Timeout: time.Hour, OutputSize: 10}, J2U: mix.TestJ2U, BatchSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	// The observer's view: every acknowledgement on the wire.
	var mu sync.Mutex
	ackAt := map[uint64]time.Time{}
	sub, err := nc.Subscribe("$JS.ACK.>", func(m *nats.Msg) {
		if seq, ok := ackSeq(m.Subject); ok {
			mu.Lock()
			if _, seen := ackAt[seq]; !seen {
				ackAt[seq] = time.Now()
			}
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	go node.Run(ctx)

	h, err := apiclient.New(a.URL).PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cks, _ := v.CoverNodeKeys()
	reader, _ := crypto.GenerateKey()
	js, _ := jetstream.New(nc)
	r := rand.New(rand.NewPCG(7, 8))
	const total = 4000
	real := map[uint64]bool{}
	sentAt := map[uint64]time.Time{}
	for i := range total {
		var msg []byte
		isReal := r.IntN(4) == 0
		if isReal {
			msg, err = protocol.SealU2C(cks, "alice", mustPub(t, alice.Msg[0].Public), reader.PublicKey(), "message "+strconv.Itoa(i))
		} else {
			msg, err = protocol.SealCoverU2C(cks)
		}
		if err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, store.SubjectU2C, msg)
		if err != nil {
			t.Fatal(err)
		}
		real[ack.Sequence], sentAt[ack.Sequence] = isReal, time.Now()
		time.Sleep(time.Duration(r.IntN(200)) * time.Microsecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got := len(ackAt)
		mu.Unlock()
		if got >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d messages acknowledged", got, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	// Features per message: delay to its acknowledgement, how many
	// acknowledgements went within a millisecond of it, and its place
	// among them.
	type ackd struct {
		seq uint64
		at  time.Time
	}
	var all []ackd
	for s, at := range ackAt {
		all = append(all, ackd{s, at})
	}
	var rows [][]float64
	var labels []bool
	for _, x := range all {
		company, before := 0, 0
		for _, y := range all {
			d := y.at.Sub(x.at)
			if d > -time.Millisecond && d < time.Millisecond {
				company++
				if d < 0 {
					before++
				}
			}
		}
		rows = append(rows, []float64{x.at.Sub(sentAt[x.seq]).Seconds(), float64(company), float64(before)})
		labels = append(labels, real[x.seq])
	}
	minP, worst := 1.0, ""
	for f, name := range []string{"ack delay", "batch company", "place in batch"} {
		var rs, cs []float64
		for i, row := range rows {
			if labels[i] {
				rs = append(rs, row[f])
			} else {
				cs = append(cs, row[f])
			}
		}
		if _, p := distinguishers.KS(rs, cs); p < minP {
			minP, worst = p, name
		}
	}
	acc, lower := distinguishers.CrossValidated(rows, labels, func(i int) bool { return i%2 == 0 })
	t.Logf("%d acknowledgements; smallest KS p-value %.3g (%s); classifier balanced accuracy %.3f, 95%% lower bound %.3f", len(rows), minP, worst, acc, lower)
	if minP < ksAlpha {
		t.Errorf("acknowledgements tell real messages apart by %s (p = %.3g)", worst, minP)
	}
	if lower > 0.51 {
		t.Errorf("the classifier beats chance by more than 1 point on acknowledgements: %.3f (lower bound %.3f)", acc, lower)
	}
}

func mustPub(t *testing.T, k keys.SignedPublicKey) *crypto.PublicKey {
	pk, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pk
}
