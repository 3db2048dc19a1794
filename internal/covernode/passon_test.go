package covernode_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// streamHolds is how many messages a stream holds (taken ones are
// removed once acknowledged).
func (w *world) streamHolds(t *testing.T, stream string) uint64 {
	t.Helper()
	js, err := jetstream.New(w.nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// postRound posts a reader's message to alice and three cover messages,
// all sealed to the CoverNode keys cn (a reader's view of the keys).
func (w *world) postRound(t *testing.T, cn []*crypto.PublicKey, alice *crypto.PublicKey, text string) {
	t.Helper()
	reader, _ := crypto.GenerateKey()
	real, err := protocol.SealU2C(cn, "alice", alice, reader.PublicKey(), text)
	if err != nil {
		t.Fatal(err)
	}
	post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(real))
	for range 3 { // the round's cover, from readers with the same view
		c, _ := protocol.SealCoverU2C(cn)
		post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(c))
	}
}

// TestInputSealedBeforeANodeJoined: a CoverNode (covernode_002) joins a
// running deployment; readers who fetched the keys before it published
// its own seal to covernode_001's key alone. covernode_002 takes their
// messages from the shared consumer first (covernode_001 is restarting);
// it opens none of them and hands them back to JetStream, real and cover
// alike, and covernode_001 takes them once it is back: the reader's
// message reaches alice, once. The negative control (DisablePassOn)
// takes them as cover at once, as nodes did before: the stream is empty
// before covernode_001 is back, and alice never gets the message.
func TestInputSealedBeforeANodeJoined(t *testing.T) {
	const text = "sealed before the second node joined"
	run := func(t *testing.T, passOn bool) (received int) {
		covernode.SetPassOn(t, 50*time.Millisecond, 400*time.Millisecond, 200)
		if !passOn {
			covernode.DisablePassOn(t)
		}
		w := newWorld(t)
		first := t.TempDir()
		stop := w.startNode(t, first)
		v := w.verified(t)
		old, err := v.CoverNodeKeys() // covernode_001's key, twice
		if err != nil || !old[0].Equal(old[1]) {
			t.Fatalf("wrapping keys %v %v: want covernode_001's alone", old, err)
		}
		jk, _ := v.JournalistKey("alice")
		stop()

		second := w.n.CoverNodeBundle("covernode_002", t.TempDir())
		reg := prometheus.NewRegistry()
		w.startNode(t, t.TempDir(), func(c *covernode.Config) { c.BundlePath, c.Registry = second, reg })
		if now, _ := w.verified(t).CoverNodeKeys(); now[0].Equal(now[1]) {
			t.Fatal("covernode_002's messaging key is not published")
		}
		w.postRound(t, old, jk, text)
		unopened, dropped := telemetry.CoverNodeUnopened.Name, telemetry.CoverNodeUnopenedDropped.Name
		if !passOn {
			waitFor(t, "covernode_002 to drop the four inputs", func() bool { return counter(t, reg, dropped, "u2j") == 4 })
			if n := w.streamHolds(t, store.StreamU2C); n != 0 {
				t.Fatalf("the stream holds %d messages after covernode_002 dropped them", n)
			}
		} else {
			// Each of the four handed on twice or more: they come back.
			waitFor(t, "covernode_002 to hand the inputs on", func() bool { return counter(t, reg, unopened, "u2j") >= 8 })
			if n := counter(t, reg, dropped, "u2j"); n != 0 {
				t.Fatalf("covernode_002 dropped %v inputs another node can open", n)
			}
		}
		w.startNode(t, first)
		if passOn {
			waitFor(t, "the message at alice", func() bool { return w.aliceReceived(t)[text] >= 1 })
			waitFor(t, "the stream emptied", func() bool { return w.streamHolds(t, store.StreamU2C) == 0 })
		}
		// A further round through both nodes, sealed to both: nothing more
		// of the first reaches alice.
		now, _ := w.verified(t).CoverNodeKeys()
		for range 8 {
			c, _ := protocol.SealCoverU2C(now)
			post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(c))
		}
		waitFor(t, "the further round taken", func() bool { return w.streamHolds(t, store.StreamU2C) == 0 })
		if n := counter(t, reg, dropped, "u2j"); passOn && n != 0 {
			t.Fatalf("covernode_002 dropped %v inputs", n)
		}
		return w.aliceReceived(t)[text]
	}
	t.Run("handed on", func(t *testing.T) {
		if n := run(t, true); n != 1 {
			t.Fatalf("alice has the message %d times, want once", n)
		}
	})
	t.Run("negative control", func(t *testing.T) {
		if n := run(t, false); n != 0 {
			t.Fatalf("taken as cover at once, the message still reached alice %d times: the test cannot catch the loss", n)
		}
	})
}

// TestUnopenableInputsGivenUp: an input no CoverNode can open (garbage
// the cloud writes into the stream) is handed between the two nodes at
// most the bound of deliveries in all, then taken as cover by one of
// them: it neither loops nor stays in the stream. The negative control
// lifts the bound (a thousand deliveries): the garbage is still going
// round when the test looks, and the test sees it. Both protocol modes:
// the garbage is of the mode's U2C size, so the ingest takes it.
func TestUnopenableInputsGivenUp(t *testing.T) {
	inModes(t, unopenableInputsGivenUp)
}

func unopenableInputsGivenUp(t *testing.T, mode string) {
	const deliveries = 5
	sizes, err := pq.SizesOf(mode)
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, bound uint64) (taken float64, left uint64) {
		covernode.SetPassOn(t, 10*time.Millisecond, 40*time.Millisecond, bound)
		w := newWorldIn(t, mode)
		regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
		w.startNode(t, t.TempDir(), func(c *covernode.Config) { c.Registry = regs[0] })
		second := w.n.CoverNodeBundle("covernode_002", t.TempDir())
		w.startNode(t, t.TempDir(), func(c *covernode.Config) { c.BundlePath, c.Registry = second, regs[1] })

		garbage := make([]byte, sizes.U2C)
		rand.Read(garbage)
		w.republish(t, store.SubjectU2C, garbage, 1)
		sum := func(name string) (n float64) {
			for _, r := range regs {
				n += counter(t, r, name, "u2j")
			}
			return n
		}
		waitFor(t, "the garbage delivered as often as the bound allows", func() bool { return sum(telemetry.CoverNodeInputs.Name) >= deliveries })
		// A redelivery waits for the delay and a node's next pull request
		// (they last a second): it would show within three seconds.
		time.Sleep(3 * time.Second)
		// A node counts an input as taken before it tries its keys on it:
		// the two counters agree once it has tried (every input was the
		// garbage, so every one is unopened).
		waitFor(t, "every input taken counted unopened", func() bool {
			return sum(telemetry.CoverNodeUnopened.Name) == sum(telemetry.CoverNodeInputs.Name)
		})
		return sum(telemetry.CoverNodeInputs.Name), w.streamHolds(t, store.StreamU2C)
	}
	if taken, left := run(t, deliveries); taken != deliveries || left != 0 {
		t.Fatalf("the garbage was delivered %v times (want %d) and the stream holds %d", taken, deliveries, left)
	}
	t.Run("negative control", func(t *testing.T) {
		if taken, left := run(t, 1000); taken <= deliveries || left != 1 {
			t.Fatalf("without the bound the garbage was delivered %v times and the stream holds %d: the test cannot catch a loop", taken, left)
		}
	})
}

// TestHandedOnAfterACrash: covernode_002 logs a batch it cannot open,
// to be handed on, and crashes before handing it on. Restarted, it hands
// the batch on rather than acknowledging it (which would drop it), and
// covernode_001 delivers the reader's message to alice, once.
func TestHandedOnAfterACrash(t *testing.T) {
	const text = "handed on after a crash"
	covernode.SetPassOn(t, 50*time.Millisecond, 400*time.Millisecond, 200)
	w := newWorld(t)
	first := t.TempDir()
	stop := w.startNode(t, first)
	v := w.verified(t)
	old, _ := v.CoverNodeKeys() // covernode_001's key alone
	jk, _ := v.JournalistKey("alice")
	stop()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second, state := w.n.CoverNodeBundle("covernode_002", t.TempDir()), t.TempDir()
	cfg := w.config(state)
	cfg.BundlePath = second
	off := covernode.CrashAfterLogging(t)
	node, err := covernode.New(ctx, w.nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	w.postRound(t, old, jk, text)
	select {
	case err := <-done:
		if !errors.Is(err, covernode.ErrCrashed) {
			t.Fatalf("covernode_002: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("covernode_002 never took the messages")
	}
	off()
	w.startNode(t, state, func(c *covernode.Config) { c.BundlePath = second })
	w.startNode(t, first)
	waitFor(t, "the message at alice", func() bool { return w.aliceReceived(t)[text] >= 1 })
	waitFor(t, "the stream emptied", func() bool { return w.streamHolds(t, store.StreamU2C) == 0 })
	if n := w.aliceReceived(t)[text]; n != 1 {
		t.Fatalf("alice has the message %d times", n)
	}
}
