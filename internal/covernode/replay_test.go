package covernode_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// republish is the cloud putting the bytes of a message into a stream
// again, as a new stream message.
func (w *world) republish(t testing.TB, subject string, msg []byte, times int) {
	t.Helper()
	js, err := jetstream.New(w.nc)
	if err != nil {
		t.Fatal(err)
	}
	for range times {
		if _, err := js.Publish(context.Background(), subject, msg); err != nil {
			t.Fatal(err)
		}
	}
}

// startNode runs a CoverNode on stateDir until the test ends (or stop is
// called); change, when given, adjusts its configuration.
func (w *world) startNode(t *testing.T, stateDir string, change ...func(*covernode.Config)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := w.config(stateDir)
	for _, f := range change {
		f(&cfg)
	}
	node, err := covernode.New(ctx, w.nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// chunkCounts counts each chunk of every published user dead drop.
func chunkCounts(t testing.TB, url string) (counts map[string]int, drops int) {
	counts = map[string]int{}
	dds := deadDrops(t, url+"/v1/user/dead-drops", deaddrop.User)
	for _, d := range dds {
		for i := range d.Chunks() {
			counts[string(d.Data[i*protocol.J2UMessageSize:(i+1)*protocol.J2UMessageSize])]++
		}
	}
	return counts, len(dds)
}

// replayJ2C sends one journalist message (a reply when real, else cover)
// in a world of the mode, and the cloud republishes its bytes three
// times; cover from journalists fills the rounds. It returns how often
// the reply's bytes are in the user dead drops, how many chunks appear
// more than once, and how many dead drops were published.
func replayJ2C(t *testing.T, mode string, real bool) (replyCopies, repeated, drops int) {
	w := newWorldIn(t, mode)
	w.startNode(t, t.TempDir())
	p := w.parties(t)
	j2u, j2c := p.reply(t, "we are looking")
	if !real {
		j2c = p.coverJ2C(t)
	}
	// The J2U params release every three inputs: 1 + 3 copies + 2 cover
	// make two dead drops.
	post(t, w.a.URL+"/v1/journalist-messages", w.n.Form(w.alice.ID, protocol.EncodeBase64(j2c)))
	w.republish(t, store.SubjectJ2C, j2c, 3)
	for range 2 {
		post(t, w.a.URL+"/v1/journalist-messages", w.n.Form(w.alice.ID, protocol.EncodeBase64(p.coverJ2C(t))))
	}
	waitFor(t, "two user dead drops", func() bool { _, n := p.userChunks(t); return n >= 2 })
	counts, drops := p.userChunks(t)
	for _, c := range counts {
		if c > 1 {
			repeated++
		}
	}
	return counts[string(j2u)], repeated, drops
}

// TestReplayedJournalistMessage, in both protocol modes: the cloud
// republishes one journalist message three times. A real reply reaches
// the user dead drops once, and what the replay provokes (dead drops
// published, chunks that repeat) is the same whether the message was a
// reply or cover. The negative control turns the replay guard off: the
// reply then repeats in the dead drops, and the comparison sees it.
func TestReplayedJournalistMessage(t *testing.T) {
	inModes(t, func(t *testing.T, mode string) {
		check := func(t *testing.T) (leak bool) {
			copies, realRepeats, realDrops := replayJ2C(t, mode, true)
			_, coverRepeats, coverDrops := replayJ2C(t, mode, false)
			t.Logf("reply in %d chunks; repeated chunks: %d after a real message, %d after cover; dead drops %d and %d",
				copies, realRepeats, coverRepeats, realDrops, coverDrops)
			if realDrops != coverDrops {
				t.Fatalf("dead drops: %d after replaying a reply, %d after replaying cover", realDrops, coverDrops)
			}
			return copies != 1 || realRepeats != coverRepeats
		}
		t.Run("guarded", func(t *testing.T) {
			if check(t) {
				t.Fatal("a replayed reply is told apart from replayed cover, or not delivered once")
			}
		})
		t.Run("negative control", func(t *testing.T) {
			covernode.DisableReplayGuard(t)
			if !check(t) {
				t.Fatal("without the replay guard the replay went unseen: the test cannot catch the leak")
			}
		})
	})
}

// TestReplayedReaderMessageAcrossRestarts, in both protocol modes: a
// reader's message is taken, released, and the node restarts (its round
// log compacted in between); the cloud then republishes the message.
// alice has it once. With the guard off she has it twice.
func TestReplayedReaderMessageAcrossRestarts(t *testing.T) {
	inModes(t, func(t *testing.T, mode string) {
		run := func(t *testing.T) int {
			w := newWorldIn(t, mode)
			state := t.TempDir()
			stop := w.startNode(t, state)
			p := w.parties(t)
			msg := p.u2c(t, "alice", "the minutes were shredded")
			cover := func(n int) {
				for range n {
					post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(p.coverU2C(t)))
				}
			}
			// U2J releases every four inputs.
			post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(msg))
			cover(3)
			waitFor(t, "the message at alice", func() bool { return aliceReceived(t, p)["the minutes were shredded"] == 1 })
			stop()
			w.startNode(t, state)
			// The cloud replays it, once in a batch of its own and twice
			// within one batch, among cover.
			w.republish(t, store.SubjectU2C, msg, 1)
			cover(3)
			w.republish(t, store.SubjectU2C, msg, 2)
			cover(2)
			waitFor(t, "three journalist dead drops", func() bool { return p.journalistDeadDrops(t) >= 3 })
			return aliceReceived(t, p)["the minutes were shredded"]
		}
		t.Run("guarded", func(t *testing.T) {
			if n := run(t); n != 1 {
				t.Fatalf("alice has the message %d times", n)
			}
		})
		t.Run("negative control", func(t *testing.T) {
			covernode.DisableReplayGuard(t)
			if n := run(t); n < 2 {
				t.Fatalf("without the replay guard alice has the message %d times: the test cannot catch a replay", n)
			}
		})
	})
}

// TestMessagesToNoOneDoNotQueue, in both protocol modes: eight readers'
// messages sealed to a tag that names no journalist, then a genuine one
// to alice, then cover, in one round of twelve inputs whose dead drop
// holds four messages. The eight are taken as cover, so the genuine
// message is in the first dead drop. The negative control lets them
// queue as real: the genuine message then waits two releases behind them.
func TestMessagesToNoOneDoNotQueue(t *testing.T) {
	inModes(t, func(t *testing.T, mode string) {
		run := func(t *testing.T) (firstWith int) {
			w := newWorldIn(t, mode)
			w.startNode(t, t.TempDir(), func(c *covernode.Config) {
				c.U2J = mix.Params{ThresholdMin: 12, ThresholdMax: 12, Timeout: time.Hour, OutputSize: 4}
			})
			p := w.parties(t)
			send := func(msg []byte) { post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(msg)) }
			for range 8 {
				send(p.u2c(t, "no-such-journalist", "flood"))
			}
			send(p.u2c(t, "alice", "genuine"))
			for range 3 {
				send(p.coverU2C(t))
			}
			waitFor(t, "three journalist dead drops", func() bool {
				for range 4 { // cover keeps the rounds going
					send(p.coverU2C(t))
				}
				return p.journalistDeadDrops(t) >= 3
			})
			for i, texts := range p.aliceDeadDrops(t) {
				if len(texts) == 1 && texts[0] == "genuine" {
					return i
				}
			}
			t.Fatal("the genuine message is in no dead drop")
			return -1
		}
		t.Run("checked", func(t *testing.T) {
			if i := run(t); i != 0 {
				t.Fatalf("the genuine message waited for release %d behind messages to no one", i+1)
			}
		})
		t.Run("negative control", func(t *testing.T) {
			covernode.DisableTagCheck(t)
			if i := run(t); i != 2 {
				t.Fatalf("without the tag check the genuine message is in release %d, want 3: the test cannot catch the flood", i+1)
			}
		})
	})
}

// TestSetupBundleDeletedAfterUse: once the node has sealed the identity
// key from its setup bundle, the bundle (that key in plaintext) is gone;
// a copy left behind is deleted at the next start, and another node's
// bundle is refused rather than taken or deleted. The negative control
// leaves bundles behind (KeepBundle), and the test sees one survive.
func TestSetupBundleDeletedAfterUse(t *testing.T) {
	w := newWorld(t)
	b, err := os.ReadFile(w.bundle)
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	ctx := context.Background()
	if _, err := covernode.New(ctx, w.nc, w.config(state)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.bundle); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the setup bundle is still there after the first start: %v", err)
	}
	// The same path, gone, on the next start: fine.
	if _, err := covernode.New(ctx, w.nc, w.config(state)); err != nil {
		t.Fatal(err)
	}
	// A copy left behind (restored from a backup) is deleted.
	os.WriteFile(w.bundle, b, 0o600)
	if _, err := covernode.New(ctx, w.nc, w.config(state)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.bundle); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a copy of the bundle survived a start: %v", err)
	}
	// Another node's bundle is neither taken nor deleted.
	cfg := w.config(state)
	cfg.BundlePath = w.n.CoverNodeBundle("covernode_002", t.TempDir())
	if _, err := covernode.New(ctx, w.nc, cfg); err == nil || !strings.Contains(err.Error(), "another CoverNode") {
		t.Fatalf("started with another node's bundle: %v", err)
	}
	if _, err := os.Stat(cfg.BundlePath); err != nil {
		t.Fatalf("another node's bundle was deleted: %v", err)
	}
	t.Run("negative control", func(t *testing.T) {
		covernode.KeepBundle(t)
		bundle := w.n.CoverNodeBundle("covernode_003", t.TempDir())
		cfg := w.config(t.TempDir())
		cfg.BundlePath = bundle
		if _, err := covernode.New(ctx, w.nc, cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(bundle); err != nil {
			t.Fatalf("with bundles kept, the bundle is gone all the same (%v): the test cannot catch one left behind", err)
		}
	})
}
