package client_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
)

// TestReaderPastHostileDeadDrops: the cloud writes hostile user dead
// drops into the stream (unsigned; signed with a stolen CoverNode key but
// dated ten years ahead) and the API serves every genuine dead drop again
// under a new id. The reader still gets every reply published after them
// (b), each once (c), and the install keeps none of the hostile dead
// drops (a: nothing the adversary made, and could recognise on a seized
// phone, is stored); the hostile dead drops did reach the app. Negative
// controls, in the same deployment: with dead drops kept unchecked
// (SetKeepUnchecked) another install's first refresh keeps the hostile ones, and with replies
// shown again when served again (SetKeepReplyCopies) the renumbered copies
// show every reply twice; the test sees both. Both protocol modes, each
// against a whole deployment of its mode (the stolen key signs the mode's
// digest).
func TestReaderPastHostileDeadDrops(t *testing.T) {
	adversary.InModes(t, readerPastHostileDeadDrops)
}

func readerPastHostileDeadDrops(t *testing.T, mode string) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{Mode: mode})
	c := d.StartConversation("hello")
	adversary.SyncUntil(t, c.Carol, "the message", func() bool { return adversary.Received(c.Carol)["hello"] == 1 })
	c.Reply("first reply")
	c.RefreshUntil("the first reply", func(s *client.Session) bool { return adversary.Replies(s)["first reply"] == 1 })

	var hostile []int64
	for _, f := range []*deaddrop.DeadDrop{
		adversary.ForgeIn(t, mode, deaddrop.User, 0, time.Now(), 0, 1, nil),
		adversary.ForgeIn(t, mode, deaddrop.User, 0, time.Now().AddDate(10, 0, 0), 0, 1, d.CoverNodeSigner()),
	} {
		id, err := d.Cloud.InjectDeadDrop(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		hostile = append(hostile, id)
	}
	keptHostile := func(a *client.App) bool {
		for _, id := range client.CachedDeadDropIDs(a) {
			if slices.Contains(hostile, id) {
				return true
			}
		}
		return false
	}
	shownTwice := func(s *client.Session) bool {
		for _, n := range adversary.Replies(s) {
			if n != 1 {
				return true
			}
		}
		return false
	}
	// Every page of user dead drops also carries the genuine ones again,
	// renumbered above the page's last id.
	d.Proxy.RewriteDeadDrops(t, deaddrop.User, func(after int64, g []*deaddrop.DeadDrop) []*deaddrop.DeadDrop {
		if len(g) == 0 {
			return g
		}
		next := g[len(g)-1].ID
		out := append([]*deaddrop.DeadDrop(nil), g...)
		for _, x := range g {
			c := *x
			next++
			c.ID = next
			out = append(out, &c)
		}
		return out
	})
	c.Reply("second reply")
	c.RefreshUntil("the second reply", func(s *client.Session) bool { return adversary.Replies(s)["second reply"] >= 1 })
	if s := c.Unlock(); shownTwice(s) {
		t.Fatalf("replies shown: %v", adversary.Replies(s))
	}
	if keptHostile(c.App) {
		t.Fatalf("the install keeps a hostile dead drop: cached %v, hostile %v", client.CachedDeadDropIDs(c.App), hostile)
	}
	served := map[int64]bool{}
	for _, ex := range d.Proxy.Matching("GET", adversary.DeadDropsPath(deaddrop.User)) {
		if l, err := deaddrop.ParseList(deaddrop.User, ex.RespBody); err == nil {
			for _, x := range l.DeadDrops {
				served[x.ID] = true
			}
		}
	}
	for _, id := range hostile {
		if !served[id] {
			t.Fatalf("hostile dead drop %d never reached the reader", id)
		}
	}

	t.Run("negative control: kept unchecked", func(t *testing.T) {
		client.SetKeepUnchecked(t)
		other := d.StartReader(t.TempDir()) // reads every dead drop from the start
		if err := other.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if !keptHostile(other) {
			t.Fatal("with dead drops kept unchecked the install still keeps no hostile one: the test cannot catch it")
		}
	})
	t.Run("negative control: reply copies", func(t *testing.T) {
		client.SetKeepReplyCopies(t)
		if s := c.Unlock(); !shownTwice(s) {
			t.Fatalf("with reply copies kept the replies show %v: the test cannot catch a renumbered dead drop", adversary.Replies(s))
		}
	})
}

// TestHostileKeySetReader: the API (or the CDN) serves a reader a key set
// from which every key is gone. The refresh fails and changes nothing on
// the device (a snapshot before and after shows the same bytes, sizes and
// times); the hostile key set was served. Once the hostile answers stop,
// a reply reaches the reader, once, within the mix's bound. The negative
// control writes the refused key set to the install (SetWriteRefusedKeys),
// and the snapshot shows it. Both protocol modes.
func TestHostileKeySetReader(t *testing.T) {
	adversary.InModes(t, hostileKeySetReader)
}

func hostileKeySetReader(t *testing.T, mode string) {
	d := adversary.Start(t, adversary.Options{Mode: mode})
	c := d.StartConversation("first")
	adversary.SyncUntil(t, c.Carol, "the first message", func() bool { return adversary.Received(c.Carol)["first"] == 1 })

	remove := d.Proxy.Serve("GET", "/v1/public-keys", 200, []byte(`{"journalist_profiles":[],"default_journalist_id":null,"keys":[],"max_epoch":1000000}`))
	// changed refreshes once under the hostile key set and names a file
	// the refresh changed ("" if none).
	changed := func(t *testing.T) string {
		before := adversary.SnapshotDir(t, c.Dir)
		time.Sleep(20 * time.Millisecond) // a write now would show in the times
		err := c.App.Refresh(context.Background())
		after := adversary.SnapshotDir(t, c.Dir)
		if err == nil {
			t.Fatal("a key set without keys was taken")
		}
		if got := d.Proxy.Matching("GET", "/v1/public-keys"); len(got) == 0 || !got[len(got)-1].Intercepted {
			t.Fatal("the hostile key set was never served")
		}
		for i, f := range before.Files {
			g := after.Files[i]
			if f.Name != g.Name || f.SHA256 != g.SHA256 || f.Size != g.Size || !f.ModTime.Equal(g.ModTime) {
				return f.Name
			}
		}
		return ""
	}
	if f := changed(t); f != "" {
		t.Fatalf("a refused refresh changed %s", f)
	}
	t.Run("negative control", func(t *testing.T) {
		client.SetWriteRefusedKeys(t)
		if f := changed(t); f == "" {
			t.Fatal("with the refused keys written, the snapshots still show no change: the test cannot catch it")
		}
	})
	remove()
	c.Reply("a reply meanwhile")
	c.RefreshUntil("the reply", func(s *client.Session) bool { return adversary.Replies(s)["a reply meanwhile"] == 1 })
	for text, n := range adversary.Replies(c.Unlock()) {
		if n != 1 {
			t.Fatalf("%q shown %d times", text, n)
		}
	}
}
