package canary_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/canary"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/keys"
)

// shape is what the adversary on the wire sees of a request besides its
// timing: method, path, body size and header names.
func shape(ex adversary.Exchange) string {
	return fmt.Sprintf("%s %s %d %v", ex.Method, ex.Path, len(ex.ReqBody), slices.Sorted(maps.Keys(ex.ReqHeader)))
}

// checkLikeInstall checks that exchanges are an ordinary install's
// background runs: each run starts with the status request, every request
// has a shape an ordinary install's requests have, and every run sends
// exactly perRun messages, none outside a run.
func checkLikeInstall(exs []adversary.Exchange, ordinary map[string]bool, perRun int) error {
	runs, posts := 0, 0
	for _, ex := range exs {
		if !ordinary[shape(ex)] {
			return fmt.Errorf("request %d (%s) is no ordinary install's", ex.Seq, shape(ex))
		}
		switch {
		case ex.Method == apiclient.GetStatus.Method && ex.Path == apiclient.GetStatus.Path:
			if runs > 0 && posts != perRun {
				return fmt.Errorf("run %d sent %d messages, not %d", runs, posts, perRun)
			}
			runs, posts = runs+1, 0
		case ex.Method == apiclient.PostUserMessage.Method:
			if runs == 0 {
				return fmt.Errorf("request %d sends a message outside a background run", ex.Seq)
			}
			posts++
		}
	}
	if runs == 0 || posts > perRun {
		return fmt.Errorf("%d runs, %d messages in the last", runs, posts)
	}
	return nil
}

// TestCanaryTrafficIsAnInstalls: through a recording proxy (the adversary
// on the wire, or running the API), the canary reader's requests during a
// round have the shapes of an ordinary install's background run (which
// sends a real message to a demo journalist), and its messages leave only
// within background runs, two per run. Negative control: a canary that
// also posts its message when it queues it (canary.SetTestHookSendAtOnce) is caught.
func TestCanaryTrafficIsAnInstalls(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := up.Start(ctx, up.Options{
		DataDir: dir, APIAddr: "127.0.0.1:0", JournalistAddr: "127.0.0.1:0", IdentityAddr: "127.0.0.1:0",
		Readers: 20, ReaderEvery: 300 * time.Millisecond, JournalistEvery: 200 * time.Millisecond, Mixing: "test",
		JournalistKDF: adversary.JournalistKDF, ReaderKDF: adversary.ReaderKDF,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	proxy := adversary.NewProxy(t, d.State.API)

	// An ordinary install: a run, a message to alice, a run that sends it.
	anchor, err := keys.ReadPublicKeyFile(d.State.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	app, err := client.Start(client.Config{StateDir: t.TempDir(), API: apiclient.New(proxy.URL), Anchors: []keys.SignedPublicKey{*anchor}, KDF: adversary.ReaderKDF, MinRunInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.BackgroundRun(ctx); err != nil {
		t.Fatal(err)
	}
	_, s, err := app.CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send("alice", "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.BackgroundRun(ctx); err != nil {
		t.Fatal(err)
	}
	ordinary := map[string]bool{}
	for _, ex := range proxy.Exchanges() {
		ordinary[shape(ex)] = true
	}
	if err := checkLikeInstall(proxy.Exchanges(), ordinary, 2); err != nil {
		t.Fatalf("the ordinary install itself: %v", err)
	}

	// The canary's reader goes through the proxy; its journalist's vault
	// talks to the API directly, as a journalist's app would from
	// elsewhere.
	cfg, err := canary.LoadConfig(filepath.Join(dir, up.CanaryDir))
	if err != nil {
		t.Fatal(err)
	}
	cfg.API = proxy.URL
	round := func() error {
		t.Helper()
		proxy.Reset()
		c, err := canary.Open(cfg, adversary.ReaderKDF, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Deadline = 4 * time.Minute
		if _, err := c.Round(ctx); err != nil {
			t.Fatal(err)
		}
		return checkLikeInstall(proxy.Exchanges(), ordinary, 2)
	}
	if err := round(); err != nil {
		t.Fatalf("the canary's requests: %v", err)
	}

	canary.SetTestHookSendAtOnce(true)
	defer canary.SetTestHookSendAtOnce(false)
	if err := round(); err == nil || !strings.Contains(err.Error(), "outside a background run") {
		t.Fatalf("a canary posting its message at once: %v", err)
	}
}
