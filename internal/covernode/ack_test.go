package covernode_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// sharedStream is a world with two CoverNodes sharing the streams, both of
// whose messaging keys are published (readers seal to both), and both
// stopped.
type sharedStream struct {
	*world
	stateA, stateB string
	asB            func(*covernode.Config)
	// ackWait is the consumers' AckWait: JetStream offers a message taken
	// but not acknowledged again after it.
	ackWait     time.Duration
	withAckWait func(*covernode.Config)
	text        string
	msg         []byte // a reader's message to alice with text
	cnKeys      []*crypto.PublicKey
}

func newSharedStream(t *testing.T, ackWait time.Duration) *sharedStream {
	w := newWorld(t)
	s := &sharedStream{world: w, stateA: t.TempDir(), stateB: t.TempDir(), text: "the contract was backdated", ackWait: ackWait}
	s.withAckWait = func(c *covernode.Config) { c.AckWait = ackWait }
	withAckWait := s.withAckWait
	bundleB := w.n.CoverNodeBundle("covernode_002", t.TempDir())
	s.asB = func(c *covernode.Config) { c.BundlePath = bundleB }
	stopA := w.startNode(t, s.stateA, withAckWait)
	stopB := w.startNode(t, s.stateB, withAckWait, s.asB)
	waitFor(t, "both CoverNodes' messaging keys", func() bool {
		v := w.verified(t)
		ids := v.CoverNodeIDs()
		return len(ids) == 2 && len(v.CoverNodeMessagingKeys(ids[0])) > 0 && len(v.CoverNodeMessagingKeys(ids[1])) > 0
	})
	stopA()
	stopB()
	v := w.verified(t)
	var err error
	if s.cnKeys, err = v.CoverNodeKeys(); err != nil {
		t.Fatal(err)
	}
	if s.cnKeys[0].Equal(s.cnKeys[1]) {
		t.Fatal("readers seal to one CoverNode only")
	}
	jk, _ := v.JournalistKey("alice")
	reader, _ := crypto.GenerateKey()
	if s.msg, err = protocol.SealU2C(s.cnKeys, "alice", jk, reader.PublicKey(), s.text); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sharedStream) cover(t *testing.T, n int) {
	for range n {
		c, _ := protocol.SealCoverU2C(s.cnKeys)
		post(t, s.a.URL+"/user/messages", testnet.EncodeU2C(c))
	}
}

// drained waits until every message of the readers' stream was taken and
// acknowledged.
func (s *sharedStream) drained(t *testing.T) {
	js, _ := jetstream.New(s.nc)
	waitFor(t, "the readers' stream drained", func() bool {
		c, err := js.Consumer(context.Background(), store.StreamU2C, covernode.ConsumerName)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

// nodeBHoldsNothingOfA runs node B alone for longer than the AckWait with
// cover enough for two releases, and checks that alice has not received
// the message node A took: B must not have been offered it again.
func (s *sharedStream) nodeBHoldsNothingOfA(t *testing.T) {
	time.Sleep(2*s.ackWait + 500*time.Millisecond)
	stopB := s.startNode(t, s.stateB, s.withAckWait, s.asB)
	s.cover(t, 8)
	waitFor(t, "node B's two releases", func() bool {
		return len(deadDrops(t, s.a.URL+"/v1/journalist/dead-drops", deaddrop.Journalist)) >= 2
	})
	s.drained(t)
	stopB()
	if n := s.aliceReceived(t)[s.text]; n != 0 {
		t.Fatalf("node B published the message node A had taken (alice has it %d times): JetStream offered it again", n)
	}
}

// nodeAReleasesOnce restarts node A, which releases what it held, and
// checks that alice has the message once.
func (s *sharedStream) nodeAReleasesOnce(t *testing.T) {
	s.startNode(t, s.stateA, s.withAckWait)
	waitFor(t, "the message at alice", func() bool {
		s.cover(t, 4)
		return s.aliceReceived(t)[s.text] > 0
	})
	s.drained(t)
	if n := s.aliceReceived(t)[s.text]; n != 1 {
		t.Fatalf("alice has the message %d times", n)
	}
}

// TestCrashedNodeAcknowledgesBeforeTheAPI: node A logs a batch holding a
// reader's message and dies before acknowledging it; it comes back at
// once, but the API is down, so it cannot start. It must still have
// acknowledged the batch before it gave up: otherwise, after the AckWait,
// JetStream offers the message to node B, and alice gets it from both.
// (Found by the chaos soak, TestScaleOutUnderFailures: CoverNodes killed
// while both API replicas were down published real messages twice.)
func TestCrashedNodeAcknowledgesBeforeTheAPI(t *testing.T) {
	s := newSharedStream(t, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	off := covernode.CrashAfterLogging(t)
	cfg := s.config(s.stateA)
	s.withAckWait(&cfg)
	node, err := covernode.New(ctx, s.nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	post(t, s.a.URL+"/user/messages", testnet.EncodeU2C(s.msg))
	select {
	case err := <-done:
		if !errors.Is(err, covernode.ErrCrashed) {
			t.Fatalf("node A: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node A never took the message")
	}
	off()

	down := httptest.NewServer(nil)
	down.Close()
	cfg.API = apiclient.New(down.URL)
	if _, err := covernode.New(ctx, s.nc, cfg); err == nil {
		t.Fatal("node A started without its API")
	}
	s.nodeBHoldsNothingOfA(t)
	s.nodeAReleasesOnce(t)
}
