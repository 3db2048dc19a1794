package trafficanalysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/pq"
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
	adversary.InModes(t, testAckTimingIndistinguishable)
}

func testAckTimingIndistinguishable(t *testing.T, mode string) {
	n := testnet.NewNewsroomIn(t, mode, time.Now())
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
	seal := sealer(t, mode, v, alice)
	js, _ := jetstream.New(nc)
	r := rand.New(rand.NewPCG(7, 8))
	const total = 4000
	real := map[uint64]bool{}
	sentAt := map[uint64]time.Time{}
	// Every message is sealed before the first is sent, as phones seal
	// theirs apart from the moment the ingest passes them on: sealing
	// here, between sends, would pace real messages (slower to seal)
	// differently from cover.
	isReal := make([]bool, total)
	msgs := make([][]byte, total)
	for i := range total {
		isReal[i] = r.IntN(4) == 0
		msgs[i] = seal(isReal[i], "message "+strconv.Itoa(i))
	}
	for i, msg := range msgs {
		ack, err := js.Publish(ctx, store.SubjectU2C, msg)
		if err != nil {
			t.Fatal(err)
		}
		real[ack.Sequence], sentAt[ack.Sequence] = isReal[i], time.Now()
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
	// The node took the real messages as real: alice reads them in its
	// dead drops (else the test would compare cover with cover).
	sentReal := map[string]bool{}
	for i := range msgs {
		if isReal[i] {
			sentReal["message "+strconv.Itoa(i)] = true
		}
	}
	var read []string
	for deadline := time.Now().Add(60 * time.Second); len(read) == 0; read = aliceReads(t, mode, a.URL, v, alice) {
		if time.Now().After(deadline) {
			t.Fatal("alice read no real message in the journalist dead drops")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, text := range read {
		if !sentReal[text] {
			t.Fatalf("alice read %q, which was not sent as a real message", text)
		}
	}
	t.Logf("alice read %d of the %d real messages in the first page of journalist dead drops", len(read), len(sentReal))

	mu.Lock()
	defer mu.Unlock()
	seen := ackDistinguishers(ackAt, sentAt, real)
	t.Logf("%d acknowledgements; %v", len(ackAt), seen)
	seen.wantIndistinguishable(t, "real messages' acknowledgements")

	// Negative control, on the distinguishers: the same recording with
	// every real message's acknowledgement moved 2 ms later, what a
	// CoverNode that acknowledged a real message a little after the cover
	// in its batch (as one that wrote the message on first would) would
	// show. The same distinguishers must catch it in this many
	// acknowledgements. (It checks their power on this recording, not the
	// recording: the observer's clock is time.Now in the subscription.)
	leaky := map[uint64]time.Time{}
	for seq, at := range ackAt {
		if real[seq] {
			at = at.Add(ackLeak)
		}
		leaky[seq] = at
	}
	seen = ackDistinguishers(leaky, sentAt, real)
	t.Logf("control, real messages' acknowledgements shifted %v: %v", ackLeak, seen)
	seen.wantCaught(t, fmt.Sprintf("acknowledgements %v late for real messages", ackLeak))
}

// ackLeak is how much later the negative control has real messages
// acknowledged: about one store write.
const ackLeak = 2 * time.Millisecond

// ackDistinguishers runs the distinguishers over acknowledgement times:
// per message, the delay to its acknowledgement, how many
// acknowledgements went within a millisecond of it, and its place among
// them; the classifier's folds alternate.
func ackDistinguishers(ackAt, sentAt map[uint64]time.Time, real map[uint64]bool) verdict {
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
	return judge(rows, labels, []string{"ack delay", "batch company", "place in batch"}, func(i int) bool { return i%2 == 0 })
}

// sealer returns a function that seals one reader's U2C message to alice
// in the deployment's mode: a real one with text, or cover.
func sealer(t *testing.T, mode string, v *keys.Verified, alice *testnet.Member) func(real bool, text string) []byte {
	var seal func(real bool, text string) ([]byte, error)
	switch mode {
	case keys.ModePQ:
		cks, err := v.CoverNodeKEMWrappingKeys()
		if err != nil {
			t.Fatal(err)
		}
		jk, err := v.JournalistKEMKey("alice")
		if err != nil {
			t.Fatal(err)
		}
		reader, err := pq.NewReaderID()
		if err != nil {
			t.Fatal(err)
		}
		seal = func(real bool, text string) ([]byte, error) {
			if !real {
				return pq.SealCoverU2C(cks)
			}
			m, _, err := pq.SealU2C(cks, "alice", jk, reader, text)
			return m, err
		}
	default:
		cks, err := v.CoverNodeKeys()
		if err != nil {
			t.Fatal(err)
		}
		jk, err := alice.Msg[0].Public.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		reader, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		seal = func(real bool, text string) ([]byte, error) {
			if !real {
				return protocol.SealCoverU2C(cks)
			}
			return protocol.SealU2C(cks, "alice", jk, reader.PublicKey(), text)
		}
	}
	return func(real bool, text string) []byte {
		m, err := seal(real, text)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

// aliceReads opens the first page of journalist dead drops with
// alice's messaging key, in the deployment's mode, and returns the texts
// she reads (each dead drop's signature checked).
func aliceReads(t *testing.T, mode string, url string, v *keys.Verified, alice *testnet.Member) []string {
	res, err := http.Get(url + "/v1/journalist/dead-drops?ids_greater_than=0")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cn := v.CoverNodeIdentityKeys()
	if mode == keys.ModePQ {
		sk, err := alice.Msg[0].KEMPrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		ds, err := pq.ParseList(deaddrop.Journalist, page)
		if err != nil {
			t.Fatal(err)
		}
		jo := pq.NewJournalistOpener([]*pq.PrivateKey{sk})
		return readTexts(t, ds, cn, jo.Open, func(m pq.Received) string { return m.Message.Text })
	}
	sk, err := alice.Msg[0].PrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	l, err := deaddrop.ParseList(deaddrop.Journalist, page)
	if err != nil {
		t.Fatal(err)
	}
	jo, err := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{sk}, v.AllCoverNodeMessagingKeys())
	if err != nil {
		t.Fatal(err)
	}
	return readTexts(t, l.DeadDrops, cn, jo.Open, func(m deaddrop.Received) string { return m.Message.Text })
}

// readTexts checks each dead drop's signature under the CoverNode
// identity keys, opens it with open and returns the texts read, in
// either mode's formats.
func readTexts[D interface {
	Verify([]*crypto.VerifyingKey) error
}, R any](t *testing.T, ds []D, cn []*crypto.VerifyingKey, open func(D) ([]R, error), text func(R) string) []string {
	var texts []string
	for _, d := range ds {
		if err := d.Verify(cn); err != nil {
			t.Fatal(err)
		}
		got, err := open(d)
		if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
			t.Fatal(err)
		}
		for _, m := range got {
			texts = append(texts, text(m))
		}
	}
	return texts
}
