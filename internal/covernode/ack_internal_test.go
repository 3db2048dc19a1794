package covernode

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackStream is a work-queue stream with three messages taken by a
// consumer with a long AckWait; it returns their reply subjects and a
// function that reports how many JetStream still waits to see
// acknowledged.
func ackStream(t *testing.T) (*nats.Conn, []ack, func() int) {
	_, nc := testnet.StartNATS(t)
	ctx := context.Background()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "t", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := c.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var acks []ack
	for m := range batch.Messages() {
		acks = append(acks, ack{reply: m.Reply(), body: ackBody})
	}
	if len(acks) != 3 {
		t.Fatalf("took %d messages", len(acks))
	}
	pending := func() int {
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.NumAckPending
	}
	return nc, acks, pending
}

// loseFirst makes sendAck lose its first n acknowledgements on the way:
// JetStream neither records nor answers them.
func loseFirst(t *testing.T, n int64) {
	orig := sendAck
	var sent atomic.Int64
	sendAck = func(ctx context.Context, nc *nats.Conn, a ack) error {
		if sent.Add(1) <= n {
			<-ctx.Done()
			return ctx.Err()
		}
		return orig(ctx, nc, a)
	}
	t.Cleanup(func() { sendAck = orig })
}

// TestAckConfirmedSendsLostAcknowledgementsAgain: two of a batch's three
// acknowledgements are lost on the way (a NATS node, or the consumer's
// leader, died with them); when ackConfirmed returns, JetStream has
// recorded all three, so that it offers none of them again to another
// CoverNode. (Found by the chaos soak, TestScaleOutUnderFailures: with
// NATS nodes killed under load, real messages taken by one CoverNode were
// offered again to the other, which published them a second time.)
// Negative control: acknowledging as the node did before, each sent once
// and not waited for, leaves the two lost ones unrecorded.
func TestAckConfirmedSendsLostAcknowledgementsAgain(t *testing.T) {
	t.Run("confirmed", func(t *testing.T) {
		nc, acks, pending := ackStream(t)
		loseFirst(t, 2)
		if err := ackConfirmed(context.Background(), nc, acks, 4*time.Second, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		if n := pending(); n != 0 {
			t.Fatalf("%d acknowledgements unrecorded when ackConfirmed returned", n)
		}
	})
	t.Run("negative control: sent once", func(t *testing.T) {
		nc, acks, pending := ackStream(t)
		lost := 0
		for _, a := range acks {
			if lost < 2 {
				lost++
				continue
			}
			nc.Publish(a.reply, a.body)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := pending(); n != 2 {
			t.Fatalf("%d acknowledgements unrecorded, want the 2 lost: the test cannot see a lost acknowledgement", n)
		}
	})
}

// TestAckConfirmedGivesUpAfterAckWait: acknowledgements that nothing
// answers for the whole AckWait (JetStream offers their messages again
// by then anyway) do not hold the node: ackConfirmed returns.
func TestAckConfirmedGivesUpAfterAckWait(t *testing.T) {
	nc, acks, _ := ackStream(t)
	loseFirst(t, 1<<40)
	start := time.Now()
	if err := ackConfirmed(context.Background(), nc, acks, 400*time.Millisecond, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("ackConfirmed held the node %v", d)
	}
}
