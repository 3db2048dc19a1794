package store_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

// TestReplicasOpenTogether opens the store from three replicas at once on
// a fresh 3-node cluster, as a deployment's API replicas do when they all
// start together. Each must get every stream and bucket, with three
// replicas, well within the JetStream request timeout (10 s): creating
// first, rather than updating first, keeps their requests from racing
// (an update racing a create used to go unanswered for the whole timeout).
func TestReplicasOpenTogether(t *testing.T) {
	// The bound is measured in the same run: one replica opening the store
	// alone on a fresh cluster of its own.
	alone := func() time.Duration {
		c := testnet.StartCluster(t, 3)
		start := time.Now()
		if _, err := store.Open(t.Context(), c.Connect(t, "alone"), store.Config{Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}()
	c := testnet.StartCluster(t, 3)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		nc := c.Connect(t, "replica")
		wg.Go(func() {
			_, errs[i] = store.Open(t.Context(), nc, store.Config{Replicas: 3})
		})
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	// The stall this guards against left creations unanswered for 10 s
	// each; three replicas racing to create the same streams may retry a
	// few of the store's 3-second attempts, no more.
	t.Logf("three replicas together: %v; one alone: %v", took, alone)
	if bound := 3*alone + 6*time.Second; took > bound {
		t.Errorf("three replicas took %v to open the store together; one alone took %v (bound %v)", took, alone, bound)
	}
	js, err := jetstream.New(c.Connect(t, "check"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{store.StreamU2C, store.StreamJ2C, store.StreamUserDeadDrops, store.StreamJournalistDeadDrops, "KV_" + store.BucketKeys, "KV_" + store.BucketSeenForms} {
		st, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("%s has %d replicas, want 3", name, r)
		}
	}
}

// TestOpenUpdatesConfiguration reopens the store with another dead-drop
// retention: the existing streams take it, and their data stays.
func TestOpenUpdatesConfiguration(t *testing.T) {
	_, nc := testnet.StartNATS(t)
	st, err := store.Open(t.Context(), nc, store.Config{DeadDropRetention: 14 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AppendU2C(t.Context(), make([]byte, 773)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(t.Context(), nc, store.Config{DeadDropRetention: 7 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	for _, name := range []string{store.StreamUserDeadDrops, store.StreamJournalistDeadDrops} {
		s, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		if cfg.MaxAge != 7*24*time.Hour || cfg.Duplicates != 7*24*time.Hour {
			t.Errorf("%s: max age %v, duplicate window %v after reopening with 7 days", name, cfg.MaxAge, cfg.Duplicates)
		}
	}
	u2c, err := js.Stream(t.Context(), store.StreamU2C)
	if err != nil {
		t.Fatal(err)
	}
	if n := u2c.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("U2C stream holds %d messages after reopening, want 1", n)
	}
}

// TestBuckets: handlers write the buckets by name through the store (Put,
// Purge, MaxRevision, Mirror); the seen-forms bucket and unknown names
// are not reachable that way.
func TestBuckets(t *testing.T) {
	_, nc := testnet.StartNATS(t)
	st, err := store.Open(t.Context(), nc, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	m, err := st.Mirror(ctx, store.BucketProfiles)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := st.Put(ctx, store.BucketProfiles, "p1", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	if max, err := st.MaxRevision(ctx, store.BucketProfiles); err != nil || max != rev {
		t.Fatalf("max revision %d, want %d: %v", max, rev, err)
	}
	if err := m.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, store.BucketProfiles, "p1"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{store.BucketSeenForms, "nope"} {
		if _, err := st.Put(ctx, name, "k", []byte("v")); err == nil {
			t.Errorf("Put reached bucket %q", name)
		}
	}
}

// TestWatchDeadDrops: a watcher hears of each new dead drop, and once its
// context ends it stops at once, even when NATS has gone away under it.
// (nats.go's ordered consumer, used before, could keep its goroutines for
// up to 20 s when it was re-creating itself at that moment; CI's leak
// check in internal/api caught it once.)
func TestWatchDeadDrops(t *testing.T) {
	srv, nc := testnet.StartNATS(t)
	st, err := store.Open(t.Context(), nc, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(t.Context())
	seen := make(chan uint64, 16)
	if err := st.WatchDeadDrops(ctx, deaddrop.User, func(id uint64) { seen <- id }); err != nil {
		t.Fatal(err)
	}
	d := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: time.Now().UTC().Truncate(time.Second), Data: make([]byte, deaddrop.User.ChunkSize())}
	for want := uint64(1); want <= 3; want++ {
		d.Data[0] = byte(want) // distinct, or the stream would de-duplicate it
		id, _, err := st.PublishDeadDrop(t.Context(), d)
		if err != nil || id != want {
			t.Fatalf("published id %d, want %d: %v", id, want, err)
		}
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("watcher saw %d, want %d", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watcher never saw dead drop %d", want)
		}
	}
	srv.Shutdown()
	cancel()
	nc.Close() // its reconnect loop is not the watcher's
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := goleak.Find(before)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher outlived its context: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCopiesStoredOnce: the same message appended twice (an app's re-send
// after an answer lost on the way back) is stored once, within the
// stream's duplicate window, in both directions; a different message of
// the same size is stored (the control: the count sees every message).
func TestCopiesStoredOnce(t *testing.T) {
	_, nc := testnet.StartNATS(t)
	st, err := store.Open(t.Context(), nc, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	for _, c := range []struct {
		stream string
		size   int
		append func(context.Context, []byte) error
	}{{store.StreamU2C, 773, st.AppendU2C}, {store.StreamJ2C, 730, st.AppendJ2C}} {
		msg, other := make([]byte, c.size), make([]byte, c.size)
		rand.Read(msg)
		rand.Read(other)
		for _, m := range [][]byte{msg, msg, other, msg} {
			if err := c.append(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		s, err := js.Stream(t.Context(), c.stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 2 {
			t.Errorf("%s holds %d messages after a message, two copies of it and another, want 2", c.stream, info.State.Msgs)
		}
	}
}
