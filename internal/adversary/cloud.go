package adversary

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BusMsg is one message seen on the NATS bus: a publish into a stream, a
// JetStream acknowledgement ($JS.ACK.…), an API call ($JS.API.…), a
// key-value put ($KV.…).
type BusMsg struct {
	Seq     int // order seen, from 0
	Subject string
	Reply   string
	Header  nats.Header
	Data    []byte
	At      time.Time
}

// Tap records every message on the NATS bus, as the adversary who runs
// the NATS servers sees them. JetStream's work queues forget what the
// CoverNode acknowledged; the tap keeps it, so that it can be replayed.
type Tap struct {
	sub *nats.Subscription
	mu  sync.Mutex
	log []BusMsg
}

// StartTap subscribes to every subject on nc's account; it stops when the
// test ends.
func StartTap(t testing.TB, nc *nats.Conn) *Tap {
	tp := &Tap{}
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		tp.mu.Lock()
		tp.log = append(tp.log, BusMsg{Seq: len(tp.log), Subject: m.Subject, Reply: m.Reply, Header: m.Header, Data: append([]byte(nil), m.Data...), At: time.Now()})
		tp.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	tp.sub = sub
	return tp
}

// Messages returns the recorded messages whose subject starts with
// prefix ("" for all), in the order seen.
func (tp *Tap) Messages(prefix string) []BusMsg {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []BusMsg
	for _, m := range tp.log {
		if strings.HasPrefix(m.Subject, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// Publishes returns the messages published on subject into its stream
// (by the API, or by anyone injecting), in the order seen.
func (tp *Tap) Publishes(subject string) []BusMsg {
	var out []BusMsg
	for _, m := range tp.Messages(subject) {
		if m.Subject == subject && !strings.HasPrefix(m.Reply, "$JS.ACK.") {
			out = append(out, m)
		}
	}
	return out
}

// Deliveries returns the messages JetStream delivered from subject's
// stream to a consumer (their reply subject is the $JS.ACK one the
// consumer acknowledges on), redeliveries included, in the order seen.
func (tp *Tap) Deliveries(subject string) []BusMsg {
	var out []BusMsg
	for _, m := range tp.Messages(subject) {
		if m.Subject == subject && strings.HasPrefix(m.Reply, "$JS.ACK.") {
			out = append(out, m)
		}
	}
	return out
}

// Acks returns the acknowledgements recorded for a stream's consumer, in
// the order seen (each a "$JS.ACK.<stream>.<consumer>.…" message).
func (tp *Tap) Acks(stream, consumer string) []BusMsg {
	var out []BusMsg
	for _, m := range tp.Messages("$JS.ACK.") {
		if strings.Contains(m.Subject, "."+stream+"."+consumer+".") {
			out = append(out, m)
		}
	}
	return out
}

// StoredMsg is a message held in a stream.
type StoredMsg struct {
	Stream  string
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
	Time    time.Time
}

// Cloud is the adversary's hand on JetStream: it reads and rewrites every
// stream and bucket, as whoever runs the NATS servers can.
type Cloud struct {
	JS jetstream.JetStream
}

// Messages returns what a stream holds now, in sequence order.
func (c *Cloud) Messages(ctx context.Context, stream string) ([]StoredMsg, error) {
	s, err := c.JS.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []StoredMsg
	if info.State.Msgs == 0 {
		return nil, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, StoredMsg{Stream: stream, Seq: m.Sequence, Subject: m.Subject, Header: m.Header, Data: m.Data, Time: m.Time})
	}
	return out, nil
}

// Inject publishes data on subject as a new message, with the headers
// given (nil: none). JetStream de-duplicates by the Nats-Msg-Id header
// only: a replay without it (or with a fresh one) is stored again.
func (c *Cloud) Inject(ctx context.Context, subject string, data []byte, header nats.Header) (uint64, error) {
	ack, err := c.JS.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data, Header: header})
	if err != nil {
		return 0, err
	}
	if ack.Duplicate {
		return ack.Sequence, fmt.Errorf("adversary: %s: JetStream took the message for a duplicate of %d", subject, ack.Sequence)
	}
	return ack.Sequence, nil
}

// Replay publishes copies of a recorded message again, n times, each with
// its own de-duplication id so that JetStream stores every copy: what
// an adversary replaying a captured message into a stream does.
func (c *Cloud) Replay(ctx context.Context, subject string, data []byte, n int) ([]uint64, error) {
	var seqs []uint64
	for i := range n {
		h := nats.Header{}
		h.Set(jetstream.MsgIDHeader, fmt.Sprintf("adversary-replay-%d-%d", time.Now().UnixNano(), i))
		seq, err := c.Inject(ctx, subject, data, h)
		if err != nil {
			return seqs, err
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// InjectDeadDrop writes a dead drop into its stream as the API stores
// one, without the API's checks, and returns its id: the API then serves
// it to every client like any other.
func (c *Cloud) InjectDeadDrop(ctx context.Context, d *deaddrop.DeadDrop) (int64, error) {
	m := store.DeadDropMsg(d)
	seq, err := c.Inject(ctx, m.Subject, m.Data, m.Header)
	return int64(seq), err
}

// ReplayStored publishes copies of a message a stream held (taken with
// Messages), n times, with its own headers (a dead drop's date, signature
// and epoch; not JetStream's) and each with its own de-duplication id.
func (c *Cloud) ReplayStored(ctx context.Context, m StoredMsg, n int) ([]uint64, error) {
	var seqs []uint64
	for i := range n {
		h := nats.Header{}
		for k, vs := range m.Header {
			// JetStream's own (Nats-Sequence, Nats-Stream, … that a direct
			// get adds) would be stored with the copy and read back as its
			// own by the next direct get.
			if !strings.HasPrefix(k, "Nats-") {
				h[k] = append([]string(nil), vs...)
			}
		}
		h.Set(jetstream.MsgIDHeader, fmt.Sprintf("adversary-replay-%d-%d", time.Now().UnixNano(), i))
		seq, err := c.Inject(ctx, m.Subject, m.Data, h)
		if err != nil {
			return seqs, err
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// Drop deletes a message from a stream before anyone takes it.
func (c *Cloud) Drop(ctx context.Context, stream string, seq uint64) error {
	s, err := c.JS.Stream(ctx, stream)
	if err != nil {
		return err
	}
	return s.DeleteMsg(ctx, seq)
}

// Reorder takes every message a stream holds out of it and publishes them
// again (with their headers) in the order perm gives (perm[i] is the index, in sequence order,
// of the message to publish i-th). It returns the new sequences.
func (c *Cloud) Reorder(ctx context.Context, stream string, perm []int) ([]uint64, error) {
	msgs, err := c.Messages(ctx, stream)
	if err != nil {
		return nil, err
	}
	if len(perm) != len(msgs) {
		return nil, fmt.Errorf("adversary: %d indices for %d messages", len(perm), len(msgs))
	}
	for _, m := range msgs {
		if err := c.Drop(ctx, stream, m.Seq); err != nil {
			return nil, err
		}
	}
	var seqs []uint64
	for _, i := range perm {
		r, err := c.ReplayStored(ctx, msgs[i], 1)
		if err != nil {
			return seqs, err
		}
		seqs = append(seqs, r...)
	}
	return seqs, nil
}

// Delay takes a message out of its stream now and puts it back (as a new
// message, with its headers) after d, unless ctx ends first. The error of the put is sent
// on the returned channel.
func (c *Cloud) Delay(ctx context.Context, m StoredMsg, d time.Duration) (<-chan error, error) {
	if err := c.Drop(ctx, m.Stream, m.Seq); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		select {
		case <-ctx.Done():
			done <- ctx.Err()
		case <-time.After(d):
			_, err := c.ReplayStored(ctx, m, 1)
			done <- err
		}
	}()
	return done, nil
}

// Bucket returns a key-value bucket by name (store.Bucket…).
func (c *Cloud) Bucket(ctx context.Context, name string) (jetstream.KeyValue, error) {
	return c.JS.KeyValue(ctx, name)
}

// Entries returns every live entry of a bucket.
func (c *Cloud) Entries(ctx context.Context, bucket string) (map[string]jetstream.KeyValueEntry, error) {
	kv, err := c.Bucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]jetstream.KeyValueEntry{}
	for k := range lister.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = e
	}
	return out, nil
}

// RollBack puts back a value a bucket entry had earlier (an entry taken
// by Entries before it changed, or a $KV put the Tap recorded): a stale
// key, status or profile. Buckets keep one revision, so the adversary
// keeps the old values itself.
func (c *Cloud) RollBack(ctx context.Context, bucket string, old jetstream.KeyValueEntry) error {
	return c.Put(ctx, bucket, old.Key(), old.Value())
}

// Put writes a bucket entry.
func (c *Cloud) Put(ctx context.Context, bucket, key string, value []byte) error {
	kv, err := c.Bucket(ctx, bucket)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, key, value)
	return err
}

// Delete deletes a bucket entry.
func (c *Cloud) Delete(ctx context.Context, bucket, key string) error {
	kv, err := c.Bucket(ctx, bucket)
	if err != nil {
		return err
	}
	return kv.Delete(ctx, key)
}
