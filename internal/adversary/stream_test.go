package adversary_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
)

// TestStreamPowersKeepMessages: while the CoverNode is down, the cloud
// injects a message it made up into the readers' stream, reverses the
// order of what waits there and holds one message back for a while. When
// the CoverNode takes them, every genuine message reaches the journalist
// within the mix's bound (b), once (c), and every message of the stream,
// real, cover or made up, is taken and acknowledged once, alike (a). The
// control: the stream did hold the messages in the reversed order, and the
// message held back was away when the CoverNode started.
func TestStreamPowersKeepMessages(t *testing.T) {
	ctx := context.Background()
	one := mix.Params{ThresholdMin: 1, ThresholdMax: 1, Timeout: time.Hour, OutputSize: 1}
	d := adversary.Start(t, adversary.Options{U2J: one})
	c := d.StartConversation("first")
	adversary.SyncUntil(t, c.Carol, "the first message", func() bool { return adversary.Received(c.Carol)["first"] == 1 })

	d.StopCoverNode()
	other := d.StartReader(t.TempDir())
	if err := other.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c.Send("second")                                    // one real message and one cover
	if _, err := other.BackgroundRun(ctx); err != nil { // two cover
		t.Fatal(err)
	}
	made := make([]byte, protocol.U2CMessageSize)
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
	acksBefore := len(d.Tap.Acks(store.StreamU2C, covernode.ConsumerName))
	deliveriesBefore := len(d.Tap.Deliveries(store.SubjectU2C))
	d.StartCoverNode()
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	adversary.SyncUntil(t, c.Carol, "the second message", func() bool { return adversary.Received(c.Carol)["second"] == 1 })
	adversary.WaitFor(t, adversary.LiveBound, "every message of the stream acknowledged", func() bool {
		return len(d.Tap.Acks(store.StreamU2C, covernode.ConsumerName))-acksBefore == 5
	})
	if n := len(d.Tap.Deliveries(store.SubjectU2C)) - deliveriesBefore; n != 5 {
		t.Fatalf("%d deliveries of 5 messages", n)
	}
	taken := map[string]int{}
	for _, m := range d.Tap.Deliveries(store.SubjectU2C)[deliveriesBefore:] {
		taken[string(m.Data)]++
	}
	for _, m := range held {
		if taken[string(m.Data)] != 1 {
			t.Fatalf("a message of the stream was taken %d times", taken[string(m.Data)])
		}
	}
	for text, n := range adversary.Received(c.Carol) {
		if n != 1 {
			t.Fatalf("%q received %d times", text, n)
		}
	}
	if n := len(adversary.Received(c.Carol)); n != 2 {
		t.Fatalf("%d messages received, want 2", n)
	}
}
