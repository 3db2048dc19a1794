package adversary_test

import (
	"context"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// TestHarnessRoundTrip checks the harness itself: a reader's message and
// a journalist's reply go through the recording proxy, the tap sees the
// readers' messages and the CoverNode's acknowledgements, and a snapshot
// shows the install's files. Both protocol modes, the harness's on each
// a whole deployment of its mode.
func TestHarnessRoundTrip(t *testing.T) {
	adversary.InModes(t, harnessRoundTrip)
}

func harnessRoundTrip(t *testing.T, mode string) {
	d := adversary.Start(t, adversary.Options{Mode: mode})
	if got := d.Mode(); got != mode {
		t.Fatalf("a %s deployment started for %s", got, mode)
	}
	c := d.StartConversation("hello carol")
	adversary.SyncUntil(t, c.Carol, "carol to receive the message", func() bool { return adversary.Received(c.Carol)["hello carol"] == 1 })

	posts := d.Proxy.Matching("POST", "/user/messages")
	if len(posts) != 2 {
		t.Fatalf("the proxy saw %d reader messages, want 2 (one background run)", len(posts))
	}
	// Every message recorded is the mode's U2C, on the wire and on the bus.
	size := map[string]int{keys.ModeCoverDrop: protocol.U2CMessageSize, keys.ModePQ: pq.U2CMessageSize}[mode]
	for _, ex := range posts {
		if !ex.Forwarded || ex.Status != 200 || ex.Duration <= 0 {
			t.Fatalf("recorded exchange %+v", ex)
		}
		if n := len(decodeBody(t, ex.ReqBody)); n != size {
			t.Fatalf("the proxy recorded a %d-byte message, want %s's %d", n, mode, size)
		}
	}
	if p, dl := len(d.Tap.Publishes(store.SubjectU2C)), len(d.Tap.Deliveries(store.SubjectU2C)); p != 2 || dl != 2 {
		t.Fatalf("the tap saw %d U2C publishes and %d deliveries, want 2 and 2", p, dl)
	}
	for _, m := range d.Tap.Publishes(store.SubjectU2C) {
		if len(m.Data) != size {
			t.Fatalf("the tap recorded a %d-byte U2C, want %s's %d", len(m.Data), mode, size)
		}
	}
	adversary.WaitFor(t, adversary.LiveBound, "the CoverNode's acks", func() bool {
		return len(d.Tap.Acks(store.StreamU2C, covernode.ConsumerName)) == 2
	})

	c.Reply("hello reader")
	c.RefreshUntil("the reply to reach the reader", func(s *client.Session) bool { return adversary.Replies(s)["hello reader"] == 1 })

	snap := adversary.SnapshotDir(t, c.Dir)
	sh := snap.Shape()
	if len(sh.Names) != 3 || sh.Sizes[2] != client.StorageSize {
		t.Fatalf("install snapshot %+v", sh)
	}
	for _, f := range snap.Files {
		if f.Mode.Perm() != 0o600 || f.ModTime.IsZero() {
			t.Fatalf("%s: mode %v, mtime %v", f.Name, f.Mode, f.ModTime)
		}
	}
}

// TestCloudPowers checks the JetStream powers on a deployment without a
// CoverNode, so that what is injected stays in the streams to be seen.
func TestCloudPowers(t *testing.T) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{NoCoverNode: true})
	msg := make([]byte, 773)
	for i := range msg {
		msg[i] = byte(i)
	}
	seqs, err := d.Cloud.Replay(ctx, store.SubjectU2C, msg, 3)
	if err != nil || len(seqs) != 3 {
		t.Fatalf("replay: %v %v", seqs, err)
	}
	if err := d.Cloud.Drop(ctx, store.StreamU2C, seqs[1]); err != nil {
		t.Fatal(err)
	}
	held, err := d.Cloud.Messages(ctx, store.StreamU2C)
	if err != nil || len(held) != 2 {
		t.Fatalf("after a drop the stream holds %d (%v)", len(held), err)
	}
	held[1].Data = append([]byte(nil), held[1].Data...)
	held[1].Data[0] ^= 1
	if _, err := d.Cloud.Inject(ctx, store.SubjectU2C, held[1].Data, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Cloud.Reorder(ctx, store.StreamU2C, []int{2, 1, 0}); err != nil {
		t.Fatal(err)
	}
	held, _ = d.Cloud.Messages(ctx, store.StreamU2C)
	if len(held) != 3 || held[0].Data[0] != msg[0]^1 {
		t.Fatalf("reorder: %d messages, first byte %d", len(held), held[0].Data[0])
	}
	done, err := d.Cloud.Delay(ctx, held[0], 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if held, _ := d.Cloud.Messages(ctx, store.StreamU2C); len(held) != 2 {
		t.Fatalf("a delayed message is still there: %d", len(held))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if held, _ := d.Cloud.Messages(ctx, store.StreamU2C); len(held) != 3 {
		t.Fatalf("a delayed message did not come back: %d", len(held))
	}

	// Buckets: the status rolled back to an earlier revision.
	entries, err := d.Cloud.Entries(ctx, store.BucketStatus)
	if err != nil || len(entries) == 0 {
		t.Fatalf("status bucket: %v %v", entries, err)
	}
	for k, e := range entries {
		if err := d.Cloud.Put(ctx, store.BucketStatus, k, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if err := d.Cloud.RollBack(ctx, store.BucketStatus, e); err != nil {
			t.Fatal(err)
		}
		now, _ := d.Cloud.Entries(ctx, store.BucketStatus)
		if string(now[k].Value()) != string(e.Value()) {
			t.Fatalf("roll back of %s: %q", k, now[k].Value())
		}
	}
}

// TestProxyPowers checks the API/CDN powers: a forged answer never
// reaches the API, a rewritten page replaces the genuine one, and both are
// recorded as the client got them. Both protocol modes (a pq journalist
// dead drop's chunks are 2,817 bytes).
func TestProxyPowers(t *testing.T) {
	adversary.InModes(t, proxyPowers)
}

func proxyPowers(t *testing.T, mode string) {
	d := adversary.Start(t, adversary.Options{NoCoverNode: true, Mode: mode})
	forged := adversary.ForgeIn(t, mode, deaddrop.Journalist, 7, time.Now(), 1<<30, 1, nil)
	remove := d.Proxy.Serve("GET", adversary.DeadDropsPath(deaddrop.Journalist), 200, adversary.DeadDropPage(t, forged))
	b, err := d.Client().DeadDropsAfter(context.Background(), deaddrop.Journalist, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := adversary.ParseDeadDrops(mode, deaddrop.Journalist, b)
	if err != nil || len(l) != 1 || l[0].Epoch != 1<<30 {
		t.Fatalf("forged page: %v %v", l, err)
	}
	remove()
	// A dead drop of the mode in the genuine page (written into the
	// stream by the cloud, served by the API), which the rewrite reads.
	stored := adversary.ForgeIn(t, mode, deaddrop.Journalist, 0, time.Now(), 1, 1, nil)
	if _, err := d.Cloud.InjectDeadDrop(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	adversary.WaitFor(t, adversary.LiveBound, "the API to serve the stored dead drop", func() bool {
		b, err := apiclient.New(d.API.URL).DeadDropsAfter(context.Background(), deaddrop.Journalist, 0)
		l, _ := adversary.ParseDeadDrops(mode, deaddrop.Journalist, b)
		return err == nil && len(l) == 1
	})
	d.Proxy.RewriteDeadDrops(t, deaddrop.Journalist, func(after int64, g []*deaddrop.DeadDrop) []*deaddrop.DeadDrop {
		return append(g, forged)
	})
	b, err = d.Client().DeadDropsAfter(context.Background(), deaddrop.Journalist, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := adversary.ParseDeadDrops(mode, deaddrop.Journalist, b); err != nil || len(l) != 2 || l[1].Epoch != 1<<30 {
		t.Fatalf("rewritten page: %v %v", l, err)
	}
	ex := d.Proxy.Exchanges()
	if len(ex) != 2 || ex[0].Forwarded || !ex[1].Forwarded || !ex[0].Intercepted || !ex[1].Intercepted {
		t.Fatalf("recorded %+v", ex)
	}
}

// TestForgeSignsInTheMode: a dead drop ForgeIn signs with a CoverNode key
// verifies in its own mode's form, and not in the other's, so that the
// hostile dead-drop tests of each mode hand the clients what a stolen key
// makes there; an unsigned one verifies in neither.
func TestForgeSignsInTheMode(t *testing.T) {
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	vk := []*crypto.VerifyingKey{sk.VerifyingKey()}
	verify := map[string]func(d *deaddrop.DeadDrop) error{
		keys.ModeCoverDrop: func(d *deaddrop.DeadDrop) error { return d.Verify(vk) },
		keys.ModePQ: func(d *deaddrop.DeadDrop) error {
			return (&pq.DeadDrop{Kind: d.Kind, ID: d.ID, CreatedAt: d.CreatedAt, Data: d.Data, Signature: d.Signature, Epoch: d.Epoch}).Verify(vk)
		},
	}
	for _, mode := range []string{keys.ModeCoverDrop, keys.ModePQ} {
		for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
			signed := adversary.ForgeIn(t, mode, kind, 0, time.Now(), 3, 2, sk)
			unsigned := adversary.ForgeIn(t, mode, kind, 0, time.Now(), 3, 2, nil)
			for other, v := range verify {
				if err := v(signed); (err == nil) != (other == mode) {
					t.Errorf("a %s %s dead drop signed by the key, verified in %s: %v", mode, kind, other, err)
				}
				if err := v(unsigned); err == nil {
					t.Errorf("an unsigned %s %s dead drop verifies in %s", mode, kind, other)
				}
			}
		}
	}
}
