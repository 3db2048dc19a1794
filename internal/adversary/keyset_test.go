package adversary_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/journalist"
)

// TestHostileKeySets: the API (or the CDN) serves hostile key sets.
//   - To a reader, one from which every key is gone: the refresh fails and
//     changes nothing on the device (a snapshot before and after shows
//     the same bytes, sizes and times). The control: the refresh did get
//     the hostile key set and refused it.
//   - To a journalist, the genuine keys with max_epoch (which no
//     signature covers) set to 0, so that every dead drop looks newer than
//     the keys: syncs wait, but at most journalist.MaxEpochWait.
//
// Once the hostile answers stop, or the wait is over, a reply reaches the
// reader and a message the journalist, each once and within the mix's
// bound.
func TestHostileKeySets(t *testing.T) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{})
	c := d.StartConversation("first")
	adversary.SyncUntil(t, c.Carol, "the first message", func() bool { return adversary.Received(c.Carol)["first"] == 1 })

	// The reader.
	remove := d.Proxy.Serve("GET", "/v1/public-keys", 200, []byte(`{"journalist_profiles":[],"default_journalist_id":null,"keys":[],"max_epoch":1000000}`))
	before := adversary.SnapshotDir(t, c.Dir)
	time.Sleep(20 * time.Millisecond) // a write now would show in the times
	err := c.App.Refresh(ctx)
	after := adversary.SnapshotDir(t, c.Dir)
	if err == nil {
		t.Fatal("a key set without keys was taken")
	}
	if got := d.Proxy.Matching("GET", "/v1/public-keys"); len(got) == 0 || !got[len(got)-1].Intercepted {
		t.Fatal("control: the hostile key set was never served")
	}
	for i, f := range before.Files {
		g := after.Files[i]
		if f.Name != g.Name || f.SHA256 != g.SHA256 || f.Size != g.Size || !f.ModTime.Equal(g.ModTime) {
			t.Fatalf("a refused refresh changed %s", f.Name)
		}
	}
	remove()
	c.Reply("a reply meanwhile")
	c.RefreshUntil("the reply", func(s *client.Session) bool { return adversary.Replies(s)["a reply meanwhile"] == 1 })

	// The journalist.
	d.Proxy.Intercept(adversary.Rule{Method: "GET", Path: "/v1/public-keys", Rewrite: func(ex *adversary.Exchange) {
		if ex.Path != "/v1/public-keys" || ex.Status != 200 {
			return
		}
		var h map[string]json.RawMessage
		if json.Unmarshal(ex.RespBody, &h) == nil {
			h["max_epoch"] = json.RawMessage("0")
			ex.RespBody, _ = json.Marshal(h)
			ex.RespHeader.Del("Etag")
		}
	}})
	c.Send("second")
	adversary.WaitFor(t, adversary.LiveBound, "a sync to wait for keys", func() bool {
		res, err := c.Carol.Sync(ctx)
		return err == nil && strings.Contains(res.Waiting, "newer keys")
	})
	d.AdvanceJournalistClocks(journalist.MaxEpochWait + time.Minute)
	adversary.SyncUntil(t, c.Carol, "the second message", func() bool { return adversary.Received(c.Carol)["second"] == 1 })

	got := adversary.Received(c.Carol)
	if texts := slices.Sorted(maps.Keys(got)); !slices.Equal(texts, []string{"first", "second"}) || got["first"] != 1 || got["second"] != 1 {
		t.Fatalf("carol has %v", got)
	}
	for text, n := range adversary.Replies(c.Unlock()) {
		if n != 1 {
			t.Fatalf("%q shown %d times", text, n)
		}
	}
}
