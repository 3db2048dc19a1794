package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/distinguishers"
	"github.com/chaffhq/chaff/keys"
)

// wireRun is what the adversary on the wire records of one install:
// every exchange's method, path, request and answer sizes and status, in
// order, and the time each post took.
type wireRun struct {
	shape []string
	times []float64
}

// wireDeployment is a deployment of one protocol mode as the wire tests
// use it: its API, an install of it, the journalist the sources write to,
// and what that journalist received (text → times), once it received
// want messages or the mix's bound passed.
type wireDeployment struct {
	api      string
	install  func(dir string) client.Config
	to       string
	received func(t *testing.T, want int) map[string]int
}

// startWireDeployment starts a whole in-process deployment of the
// protocol mode (internal/adversary) with journalist carol, whose vault
// syncs until it received every source's message.
func startWireDeployment(t *testing.T, mode string) wireDeployment {
	d := adversary.Start(t, adversary.Options{Mode: mode})
	carol, _ := d.Journalist("carol")
	if _, err := carol.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return wireDeployment{d.API.URL, d.ReaderConfig, "carol", func(t *testing.T, want int) map[string]int {
		adversary.SyncUntil(t, carol, "every source's message", func() bool { return len(adversary.Received(carol)) == want })
		return adversary.Received(carol)
	}}
}

// recordRuns runs readers installs, the first sources of them with a
// mailbox and a message queued to the deployment's journalist, through
// runs background runs each, and returns what the wire shows of each run,
// by source and non-source. The journalist must receive every message,
// once, within the mix's bound.
func recordRuns(t *testing.T, mode string, readers, sources, runs int) (src, other []wireRun) {
	t.Helper()
	ctx := context.Background()
	d := startWireDeployment(t, mode)
	// Each install has its own path to the API, as each phone has its own
	// address: the adversary records each install's exchanges apart.
	apps := make([]*client.App, readers)
	proxies := make([]*adversary.Proxy, readers)
	for i := range apps {
		proxies[i] = adversary.NewProxy(t, d.api)
		cfg := d.install(t.TempDir())
		cfg.API = apiclient.New(proxies[i].URL)
		app, err := client.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		apps[i] = app
		if err := app.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if i < sources {
			_, s, err := app.CreateMailbox()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(d.to, fmt.Sprintf("from source %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range runs {
		// In a new order each time, so that whatever slows the machine
		// for a while (another package's tests, a collection) falls on
		// sources and others alike.
		for _, i := range rand.Perm(len(apps)) {
			if _, err := apps[i].BackgroundRun(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, p := range proxies {
		var r wireRun
		for _, ex := range p.Exchanges() {
			// What a GET answers is public and the same for everyone at
			// one moment; its size says when, not who.
			e := fmt.Sprintf("%s %s %d→%d", ex.Method, ex.Path, len(ex.ReqBody), ex.Status)
			if ex.Method == "POST" {
				e += fmt.Sprintf(" %d", len(ex.RespBody))
				r.times = append(r.times, ex.Duration.Seconds())
			}
			r.shape = append(r.shape, e)
		}
		if i < sources {
			src = append(src, r)
		} else {
			other = append(other, r)
		}
	}
	got := d.received(t, sources)
	if len(got) != sources {
		t.Fatalf("%s received %d of the sources' %d messages", d.to, len(got), sources)
	}
	for text, n := range got {
		if n != 1 {
			t.Fatalf("%q received %d times", text, n)
		}
	}
	return src, other
}

// distinguishable says how the wire tells a source's runs from others':
// "" when it does not (the same exchanges, of the same sizes and status,
// in the same order; the same distribution of times by a KS test).
func distinguishable(src, other []wireRun) string {
	for _, s := range src {
		for _, o := range other {
			if !slices.Equal(s.shape, o.shape) {
				return fmt.Sprintf("a source's run shows %q, another's %q", s.shape, o.shape)
			}
		}
	}
	var a, b []float64
	for _, r := range src {
		a = append(a, r.times...)
	}
	for _, r := range other {
		b = append(b, r.times...)
	}
	if d, p := distinguishers.KS(a, b); p < 1e-4 {
		return fmt.Sprintf("the times of the posts differ: KS D=%.2f p=%.3g", d, p)
	}
	return ""
}

// TestWireShowsNoSource: the adversary records every exchange between the
// apps and the API (the recording proxy). A source's background runs show
// the same exchanges, sizes, status and timing as anyone else's (a), the
// sources' messages reach the journalist within the mix's bound (b), once
// each (c). The negative control makes Send post at once instead of in
// the next run's place of a cover message, and the test sees the sources.
// It runs in both protocol modes.
func TestWireShowsNoSource(t *testing.T) {
	adversary.InModes(t, func(t *testing.T, mode string) {
		src, other := recordRuns(t, mode, 8, 3, 2)
		if why := distinguishable(src, other); why != "" {
			t.Fatal(why)
		}
		// Every reader fetches the keys the same way: the whole hierarchy
		// in coverdrop mode (as upstream's apps), the readers' view in pq.
		want := "GET /v1/public-keys 0"
		if mode == keys.ModePQ {
			want = "GET /v1/public-keys/readers 0"
		}
		for _, r := range append(src, other...) {
			n := 0
			for _, e := range r.shape {
				if strings.HasPrefix(e, "GET /v1/public-keys") {
					if !strings.HasPrefix(e, want) {
						t.Fatalf("a %s reader fetched the keys with %q", mode, e)
					}
					n++
				}
			}
			if n == 0 {
				t.Fatalf("a %s reader's run fetched no keys: %q", mode, r.shape)
			}
		}
		t.Run("negative control", func(t *testing.T) {
			defer client.SetSendAtOnce(true)()
			if why := distinguishable(recordRuns(t, mode, 8, 3, 2)); why == "" {
				t.Fatal("the test did not see sources posting at once")
			}
		})
	})
}
