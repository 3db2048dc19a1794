package covernode_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/pq"
)

// streamRun is what TestStreamPowersKeepMessages saw of one deployment.
type streamRun struct {
	received map[string]int // carol's messages
	replies  map[string]int // the reader's replies
	// repeated counts the J2U chunks found more than once in the user
	// dead drops: what the cloud sees of a replayed reply.
	repeated int
}

// streamPowers runs a deployment through the cloud's stream powers
// (adversary harness): while the CoverNode is down, the cloud injects a
// message it made up into the readers' stream, reverses what waits there
// and holds one message back; then, in the journalists' stream, it
// duplicates a reply and a cover message twice each, reverses them and
// holds one back. Every message of both streams is taken and acknowledged
// once (the tap sees it), whatever it is.
func streamPowers(t *testing.T, mode string) streamRun {
	ctx := context.Background()
	one := mix.Params{ThresholdMin: 1, ThresholdMax: 1, Timeout: time.Hour, OutputSize: 1}
	// Two journalists' messages a user dead drop, so that no two dead
	// drops carry the same bytes (the API would take the second for a
	// post repeated).
	two := mix.Params{ThresholdMin: 2, ThresholdMax: 2, Timeout: time.Hour, OutputSize: 2}
	d := adversary.Start(t, adversary.Options{U2J: one, J2U: two, Mode: mode})
	c := d.StartConversation("first")
	adversary.SyncUntil(t, c.Carol, "the first message", func() bool { return adversary.Received(c.Carol)["first"] == 1 })

	// takenOnce checks that the CoverNode took and acknowledged each
	// message of held once, after StartCoverNode; from is what the tap had
	// seen before.
	type tapCounts struct{ acks, deliveries int }
	before := func(stream, subject string) tapCounts {
		return tapCounts{len(d.Tap.Acks(stream, covernode.ConsumerName)), len(d.Tap.Deliveries(subject))}
	}
	takenOnce := func(stream, subject string, from tapCounts, held []adversary.StoredMsg) {
		t.Helper()
		adversary.WaitFor(t, adversary.LiveBound, "every message of "+stream+" acknowledged", func() bool {
			return len(d.Tap.Acks(stream, covernode.ConsumerName))-from.acks == len(held)
		})
		taken, want := map[string]int{}, map[string]int{}
		for _, m := range d.Tap.Deliveries(subject)[from.deliveries:] {
			taken[string(m.Data)]++
		}
		for _, m := range held {
			want[string(m.Data)]++ // a duplicated message is held several times
		}
		for data, n := range want {
			if taken[data] != n {
				t.Fatalf("%s: a message held %d times in the stream was taken %d times", stream, n, taken[data])
			}
		}
		if n := len(d.Tap.Deliveries(subject)) - from.deliveries; n != len(held) {
			t.Fatalf("%s: %d deliveries of %d messages", stream, n, len(held))
		}
	}

	// The readers' stream: inject, reorder, delay. The first message's
	// cover companion may still wait in the stream after carol has the
	// first message: it is taken before the node stops, so that the
	// stream then holds only what this step puts there.
	waitFor(t, "the readers' stream emptied", func() bool {
		held, err := d.Cloud.Messages(ctx, store.StreamU2C)
		return err == nil && len(held) == 0
	})
	d.StopCoverNode()
	other := d.StartReader(t.TempDir())
	if err := other.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c.Send("second")                                    // one real message and one cover
	if _, err := other.BackgroundRun(ctx); err != nil { // two cover
		t.Fatal(err)
	}
	sizes, err := pq.SizesOf(mode)
	if err != nil {
		t.Fatal(err)
	}
	made := make([]byte, sizes.U2C)
	rand.Read(made)
	if _, err := d.Cloud.Inject(ctx, store.SubjectU2C, made, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Cloud.Reorder(ctx, store.StreamU2C, []int{4, 3, 2, 1, 0}); err != nil {
		t.Fatal(err)
	}
	held, err := d.Cloud.Messages(ctx, store.StreamU2C)
	if err != nil || len(held) != 5 || !bytes.Equal(held[0].Data, made) {
		t.Fatalf("the stream holds %d messages after the reorder (%v)", len(held), err)
	}
	back, err := d.Cloud.Delay(ctx, held[4], 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := d.Cloud.Messages(ctx, store.StreamU2C); len(now) != 4 {
		t.Fatalf("the message held back is still in the stream: %d", len(now))
	}
	from := before(store.StreamU2C, store.SubjectU2C)
	d.StartCoverNode()
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	adversary.SyncUntil(t, c.Carol, "the second message", func() bool { return adversary.Received(c.Carol)["second"] == 1 })
	takenOnce(store.StreamU2C, store.SubjectU2C, from, held)

	// The journalists' stream: a reply and a cover message, each
	// duplicated twice, reversed, one held back.
	d.StopCoverNode()
	c.Reply("the reply")
	if _, err := c.Carol.SendOne(ctx); err != nil { // cover
		t.Fatal(err)
	}
	sent, err := d.Cloud.Messages(ctx, store.StreamJ2C)
	if err != nil || len(sent) != 2 {
		t.Fatalf("the journalists' stream holds %d messages (%v)", len(sent), err)
	}
	for _, m := range sent {
		if _, err := d.Cloud.ReplayStored(ctx, m, 2); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Cloud.Reorder(ctx, store.StreamJ2C, []int{5, 4, 3, 2, 1, 0}); err != nil {
		t.Fatal(err)
	}
	held, err = d.Cloud.Messages(ctx, store.StreamJ2C)
	if err != nil || len(held) != 6 {
		t.Fatalf("the journalists' stream holds %d messages (%v)", len(held), err)
	}
	back, err = d.Cloud.Delay(ctx, held[0], 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	drops := len(deadDrops(t, d.API.URL+adversary.DeadDropsPath(deaddrop.User), deaddrop.User))
	from = before(store.StreamJ2C, store.SubjectJ2C)
	d.StartCoverNode()
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	takenOnce(store.StreamJ2C, store.SubjectJ2C, from, held)
	// One user dead drop per two inputs.
	adversary.WaitFor(t, adversary.LiveBound, "three user dead drops", func() bool {
		return len(deadDrops(t, d.API.URL+adversary.DeadDropsPath(deaddrop.User), deaddrop.User)) >= drops+3
	})
	c.RefreshUntil("the reply", func(s *client.Session) bool { return adversary.Replies(s)["the reply"] >= 1 })
	counts, _ := chunkCounts(t, d.API.URL)
	r := streamRun{received: adversary.Received(c.Carol), replies: adversary.Replies(c.Unlock())}
	for _, n := range counts {
		if n > 1 {
			r.repeated++
		}
	}
	return r
}

// TestStreamPowersKeepMessages: the cloud injects, reorders, delays and
// duplicates messages in the readers' and the journalists' streams
// (streamPowers). Every message of the streams, real, cover, duplicated or
// made up, is taken and acknowledged once, alike (a); carol gets the
// reader's messages and the reader carol's reply within the mix's bound
// (b), once each (c); no J2U message appears twice in the user dead
// drops, so the duplicated reply looks like the duplicated cover (a). The
// negative control turns the replay guard off (DisableReplayGuard): the
// reply's copies reach the user dead drops, and the test sees a chunk
// repeated and the reply shown more than once. Both protocol modes (the
// user dead drops' chunks are 553 bytes in both).
func TestStreamPowersKeepMessages(t *testing.T) {
	inModes(t, streamPowersKeepMessages)
}

func streamPowersKeepMessages(t *testing.T, mode string) {
	leaks := func(r streamRun) bool {
		for _, n := range r.replies {
			if n != 1 {
				return true
			}
		}
		return r.repeated != 0
	}
	r := streamPowers(t, mode)
	for text, n := range r.received {
		if n != 1 {
			t.Fatalf("%q received %d times", text, n)
		}
	}
	if len(r.received) != 2 || r.replies["the reply"] != 1 {
		t.Fatalf("carol has %v, the reader %v", r.received, r.replies)
	}
	if leaks(r) {
		t.Fatalf("replies shown %v; %d chunks repeated in the user dead drops", r.replies, r.repeated)
	}
	t.Run("negative control", func(t *testing.T) {
		covernode.DisableReplayGuard(t)
		if r := streamPowers(t, mode); !leaks(r) {
			t.Fatalf("without the replay guard, replies shown %v and no chunk repeated: the test cannot catch a replayed reply", r.replies)
		}
	})
}
