package journalist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/journalist"
)

// hugeEpoch is an epoch no key hierarchy reaches.
const hugeEpoch = 1 << 30

// TestSyncPastHostileDeadDrops: the cloud writes hostile dead drops into
// the journalist dead-drop stream, and the API serves them to every
// journalist like the genuine ones (ids come from the stream). Every
// reader's message published after them still reaches the journalist,
// once: an unsigned dead drop with an enormous epoch is skipped at once;
// one signed by a CoverNode key (stolen) holds syncs back at most
// MaxEpochWait. The negative control brings back the old order (epoch
// before signature) and sees the first one hold every sync back. Both
// protocol modes, each against a whole deployment of its mode (the stolen
// key signs the mode's digest).
func TestSyncPastHostileDeadDrops(t *testing.T) {
	adversary.InModes(t, syncPastHostileDeadDrops)
}

func syncPastHostileDeadDrops(t *testing.T, mode string) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{Mode: mode})
	c := d.StartConversation("before")
	adversary.SyncUntil(t, c.Carol, "the first message", func() bool { return adversary.Received(c.Carol)["before"] == 1 })

	// An unsigned (all-zero signature) dead drop of an enormous epoch.
	if _, err := d.Cloud.InjectDeadDrop(ctx, adversary.ForgeIn(t, mode, deaddrop.Journalist, 0, time.Now(), hugeEpoch, 1, nil)); err != nil {
		t.Fatal(err)
	}
	c.Send("after an unsigned one")
	t.Run("negative control", func(t *testing.T) {
		defer journalist.SetEpochFirst(true)()
		for range 3 {
			res, err := c.Carol.Sync(ctx)
			if err != nil || !strings.Contains(res.Waiting, "newer keys") {
				t.Fatalf("the old sync did not stop at the epoch: %+v %v", res, err)
			}
		}
		if adversary.Received(c.Carol)["after an unsigned one"] != 0 {
			t.Fatal("the old sync went past the epoch")
		}
	})
	adversary.SyncUntil(t, c.Carol, "the message after an unsigned huge epoch", func() bool {
		return adversary.Received(c.Carol)["after an unsigned one"] == 1
	})

	// A dead drop of an enormous epoch signed with the CoverNode's key
	// (the API refuses to store it; the cloud writes it itself), and one
	// dated ten years ahead.
	for _, forged := range []*deaddrop.DeadDrop{
		adversary.ForgeIn(t, mode, deaddrop.Journalist, 0, time.Now(), hugeEpoch, 1, d.CoverNodeSigner()),
		adversary.ForgeIn(t, mode, deaddrop.Journalist, 0, time.Now().AddDate(10, 0, 0), 1, 1, d.CoverNodeSigner()),
	} {
		if _, err := d.Cloud.InjectDeadDrop(ctx, forged); err != nil {
			t.Fatal(err)
		}
	}
	c.Send("after a signed one")
	var res journalist.SyncResult
	adversary.WaitFor(t, adversary.LiveBound, "the sync to stop at the signed epoch", func() bool {
		var err error
		res, err = c.Carol.Sync(ctx)
		return err == nil && strings.Contains(res.Waiting, "newer keys")
	})
	if adversary.Received(c.Carol)["after a signed one"] != 0 {
		t.Fatal("went past a signed dead drop of an unknown epoch at once")
	}
	// Still waiting just before the bound; past it, the sync goes on.
	start := time.Now()
	c.Carol.SetClock(func() time.Time { return time.Now().Add(journalist.MaxEpochWait - time.Minute) })
	if res, err := c.Carol.Sync(ctx); err != nil || res.Waiting == "" {
		t.Fatalf("stopped waiting before MaxEpochWait: %+v %v", res, err)
	}
	c.Carol.SetClock(func() time.Time { return time.Now().Add(journalist.MaxEpochWait + time.Since(start)) })
	adversary.SyncUntil(t, c.Carol, "the message after a signed huge epoch", func() bool {
		return adversary.Received(c.Carol)["after a signed one"] == 1
	})
	// Exactly once, every one.
	for text, n := range adversary.Received(c.Carol) {
		if n != 1 {
			t.Fatalf("%q received %d times", text, n)
		}
	}
	if n := len(adversary.Received(c.Carol)); n != 3 {
		t.Fatalf("%d messages received, want 3", n)
	}
}

// TestSyncReplayedDeadDrops: the cloud writes copies of a genuine
// journalist dead drop into its stream again (replay, duplication: the API
// serves each under a new id, and they verify, ids not being signed); the
// journalist keeps the message once. The negative control turns off the
// record of messages seen (SetKeepCopies) and sees the copies kept. Both
// protocol modes.
func TestSyncReplayedDeadDrops(t *testing.T) {
	adversary.InModes(t, syncReplayedDeadDrops)
}

func syncReplayedDeadDrops(t *testing.T, mode string) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{Mode: mode})
	c := d.StartConversation("once")
	adversary.SyncUntil(t, c.Carol, "the message", func() bool { return adversary.Received(c.Carol)["once"] == 1 })
	held, err := d.Cloud.Messages(ctx, store.StreamJournalistDeadDrops)
	if err != nil || len(held) == 0 {
		t.Fatalf("journalist dead drops: %d %v", len(held), err)
	}
	genuine := held[len(held)-1] // the round that carried the message
	replay := func(n int) {
		t.Helper()
		if _, err := d.Cloud.ReplayStored(ctx, genuine, n); err != nil {
			t.Fatal(err)
		}
		// The API hears of dead drops written into the stream a moment
		// later: sync until every copy was read.
		got := 0
		adversary.WaitFor(t, adversary.LiveBound, "the copies read", func() bool {
			res, err := c.Carol.Sync(ctx)
			if err != nil {
				t.Fatalf("sync after %d copies: %+v %v", n, res, err)
			}
			got += res.DeadDrops
			return got >= n
		})
		if got != n {
			t.Fatalf("syncs read %d dead drops after %d copies", got, n)
		}
	}
	replay(3)
	if n := adversary.Received(c.Carol)["once"]; n != 1 {
		t.Fatalf("a message served 4 times was kept %d times", n)
	}
	t.Run("negative control", func(t *testing.T) {
		defer journalist.SetKeepCopies(true)()
		replay(2)
		if n := adversary.Received(c.Carol)["once"]; n != 3 {
			t.Fatalf("without the record of what was seen, two more copies gave %d messages, want 3", n)
		}
	})
}

// TestSeizedLaptopShowsNoMessages: a journalist's vault directory,
// snapshotted after each sync, is the same size whether the sync brought
// messages or only cover; so two seizures of a laptop (or its backups) do
// not count the messages received between them. The negative control, in
// the same deployment, seals the vault unpadded for three more messages
// and sees it grow with each. Both protocol modes, each against a whole
// deployment of its mode (a pq vault holds a reply key per reader).
func TestSeizedLaptopShowsNoMessages(t *testing.T) {
	adversary.InModes(t, seizedLaptopShowsNoMessages)
}

func seizedLaptopShowsNoMessages(t *testing.T, mode string) {
	d := adversary.Start(t, adversary.Options{Mode: mode})
	c := d.StartConversation("first")
	adversary.SyncUntil(t, c.Carol, "the first message", func() bool { return adversary.Received(c.Carol)["first"] == 1 })
	sent := 0
	// sizes sends n messages, and snapshots carol's vault after the sync
	// that brought each.
	sizes := func(n int) []int64 {
		var out []int64
		for range n {
			text := fmt.Sprintf("message %d", sent)
			sent++
			c.Send(text)
			adversary.SyncUntil(t, c.Carol, text, func() bool { return adversary.Received(c.Carol)[text] == 1 })
			snap := adversary.SnapshotDir(t, filepath.Dir(c.CarolVault))
			f, ok := snap.File(filepath.Base(c.CarolVault))
			if !ok {
				t.Fatalf("no vault in %v", snap.Names())
			}
			out = append(out, f.Size)
		}
		return out
	}
	padded := sizes(3)
	unpadded := func() []int64 { defer journalist.SetUnpaddedVault(true)(); return sizes(3) }()
	for _, n := range padded {
		if n != padded[0] {
			t.Fatalf("the vault's sizes after each message: %v", padded)
		}
	}
	t.Run("negative control", func(t *testing.T) {
		if unpadded[0] == unpadded[len(unpadded)-1] {
			t.Fatalf("the test did not see an unpadded vault grow: %v", unpadded)
		}
	})
}

// TestHostileKeySetJournalist: the API (or the CDN) serves journalists
// the genuine keys with max_epoch (which no signature covers) set to 0,
// so that every dead drop looks newer than the keys. Syncs wait, but at
// most MaxEpochWait; then the message sent meanwhile arrives, once. The
// negative control, first in the same deployment, brings back the sync
// that acted on the epoch alone (SetEpochFirst): past MaxEpochWait it
// still waits and the message does not arrive, and the test sees it.
// Both protocol modes.
func TestHostileKeySetJournalist(t *testing.T) {
	adversary.InModes(t, hostileKeySetJournalist)
}

func hostileKeySetJournalist(t *testing.T, mode string) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{Mode: mode})
	c := d.StartConversation("first")
	adversary.SyncUntil(t, c.Carol, "the first message", func() bool { return adversary.Received(c.Carol)["first"] == 1 })

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
	waits := func() bool {
		res, err := c.Carol.Sync(ctx)
		return err == nil && strings.Contains(res.Waiting, "newer keys")
	}
	t.Run("negative control", func(t *testing.T) {
		defer journalist.SetEpochFirst(true)()
		adversary.WaitFor(t, adversary.LiveBound, "a sync to wait for keys", waits)
		d.AdvanceJournalistClocks(journalist.MaxEpochWait + time.Minute)
		for range 3 {
			if !waits() {
				t.Fatal("the sync acting on the epoch alone went on past MaxEpochWait")
			}
		}
		if adversary.Received(c.Carol)["second"] != 0 {
			t.Fatal("the message arrived: the test cannot catch a sync held for ever")
		}
	})
	adversary.WaitFor(t, adversary.LiveBound, "a sync to wait for keys", waits)
	d.AdvanceJournalistClocks(journalist.MaxEpochWait + time.Minute)
	adversary.SyncUntil(t, c.Carol, "the second message", func() bool { return adversary.Received(c.Carol)["second"] == 1 })
	got := adversary.Received(c.Carol)
	if texts := slices.Sorted(maps.Keys(got)); !slices.Equal(texts, []string{"first", "second"}) || got["first"] != 1 || got["second"] != 1 {
		t.Fatalf("carol has %v", got)
	}
}
