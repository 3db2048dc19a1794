package journalist_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
)

var deadDropsPath = apiclient.DeadDrops(deaddrop.Journalist).Get.Path

// proxy stands between a journalist's vault and the real API. It counts
// every request by path, and answers the journalist dead-drop polls itself
// while page is set.
type proxy struct {
	url string

	mu       sync.Mutex
	page     func(after int64) []byte
	polls    int
	requests map[string]int
	// delay holds each journalist message sent through the proxy this
	// long (or until the request is given up, or the test ends).
	delay time.Duration
	quit  chan struct{} // closed when the test ends
}

func startProxy(t *testing.T, target string) *proxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &proxy{requests: map[string]int{}, quit: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests[r.URL.Path]++
		page, delay := p.page, p.delay
		if r.URL.Path == deadDropsPath {
			p.polls++
		}
		p.mu.Unlock()
		if delay > 0 && r.URL.Path == apiclient.PostJournalistMessage.Path {
			// The body is read first: until it is, the server does not
			// notice that the client gave up the request.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			case <-p.quit:
				return
			}
		}
		if page != nil && r.URL.Path == deadDropsPath {
			after, _ := strconv.ParseInt(r.URL.Query().Get("ids_greater_than"), 10, 64)
			rw.Header().Set("Content-Type", "application/json")
			rw.Write(page(after))
			return
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(p.quit) }) // runs first: no request is held past the test
	p.url = srv.URL
	return p
}

// serve makes the proxy answer dead-drop polls with page (nil: pass them
// through) and restarts the poll count.
func (p *proxy) serve(page func(after int64) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.page, p.polls = page, 0
}

func (p *proxy) pollCount() int { p.mu.Lock(); defer p.mu.Unlock(); return p.polls }

func (p *proxy) count(path string) int { p.mu.Lock(); defer p.mu.Unlock(); return p.requests[path] }

func (p *proxy) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.requests {
		n += c
	}
	return n
}

func pageOf(t *testing.T, dds []*deaddrop.DeadDrop) []byte {
	b, err := json.Marshal(&deaddrop.List{DeadDrops: dds})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// renumbered copies dead drops under the ids after+1, after+2...
func renumbered(dds []*deaddrop.DeadDrop, after int64) []*deaddrop.DeadDrop {
	var out []*deaddrop.DeadDrop
	for i, d := range dds {
		c := *d
		c.ID = after + 1 + int64(i)
		out = append(out, &c)
	}
	return out
}

// messaged is a deployment in which a reader has written to carol, whose
// vault talks to the API through a proxy. snapshot is carol's vault file
// from before the message arrived; deadDrops are every journalist dead
// drop the API holds, carol's message among them.
type messaged struct {
	d         *deployment
	p         *proxy
	v         *journalist.Vault // carol's vault, with the message
	path      string
	snapshot  []byte
	deadDrops []*deaddrop.DeadDrop
}

const messageText = "the tender was rigged"

func newMessaged(t *testing.T) *messaged { return newMessagedIn(t, keys.ModeCoverDrop) }

// newMessagedIn is newMessaged with a deployment of a protocol mode.
func newMessagedIn(t *testing.T, mode string) *messaged {
	d := deployIn(t, mode, true)
	p := startProxy(t, d.url)
	path := filepath.Join(t.TempDir(), "carol.vault")
	v, err := journalist.Create(path, "pw", testKDF, d.n.JournalistBundle("carol", d.url, t.TempDir()), p.url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Sync(ctx); err != nil { // publishes carol's messaging key
		t.Fatal(err)
	}
	v.Close()
	snapshot, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err = journalist.Open(path, "pw"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	d.sourceWrites(t, v, "carol", messageText)
	b, err := apiclient.New(d.url).DeadDropsAfter(ctx, deaddrop.Journalist, 0)
	if err != nil {
		t.Fatal(err)
	}
	dds, err := adversary.ParseDeadDrops(mode, deaddrop.Journalist, b)
	if err != nil || len(dds) == 0 {
		t.Fatalf("the API's journalist dead drops: %v", err)
	}
	return &messaged{d: d, p: p, v: v, path: path, snapshot: snapshot, deadDrops: dds}
}

// fresh opens a copy of carol's vault from before the message arrived.
func (m *messaged) fresh(t *testing.T) *journalist.Vault {
	path := filepath.Join(t.TempDir(), "carol-copy.vault")
	if err := os.WriteFile(path, m.snapshot, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := journalist.Open(path, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// messages counts the messages from sources in a vault.
func messages(v *journalist.Vault) (n int, texts []string) {
	for _, c := range v.Conversations() {
		for _, m := range c.Messages {
			if m.From == "source" {
				n++
				texts = append(texts, m.Text)
			}
		}
	}
	return n, texts
}

// TestSyncHostileAPI puts a proxy that lies about dead drops between a
// journalist and a real deployment: Sync must end, keep nothing from a
// page that cannot be right, move only past verified dead drops, and never
// keep one message twice. Both protocol modes, each against a whole
// deployment of its mode (the stolen key signs the mode's digest).
func TestSyncHostileAPI(t *testing.T) {
	adversary.InModes(t, syncHostileAPI)
}

func syncHostileAPI(t *testing.T, mode string) {
	m := newMessagedIn(t, mode)
	if got := m.v.Protocol(); got != mode {
		t.Fatalf("carol's vault speaks %s", got)
	}
	ctx := context.Background()
	genuine := m.deadDrops
	last := genuine[len(genuine)-1].ID

	t.Run("same page every time", func(t *testing.T) {
		v := m.fresh(t)
		m.p.serve(func(int64) []byte { return pageOf(t, genuine) })
		defer m.p.serve(nil)
		done := make(chan struct{})
		var err error
		go func() { _, err = v.Sync(ctx); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Sync still polling a page that never changes")
		}
		// The first answer is right (ids above 0); the second repeats ids
		// not above the one asked for.
		if err == nil || !strings.Contains(err.Error(), "must rise above") || m.p.pollCount() != 2 {
			t.Fatalf("after %d polls: %v", m.p.pollCount(), err)
		}
		if n, texts := messages(v); n != 1 || texts[0] != messageText {
			t.Fatalf("%d messages: %q", n, texts)
		}
		// Again: the same page is refused at once, and adds nothing.
		if _, err := v.Sync(ctx); err == nil || m.p.pollCount() != 3 {
			t.Fatalf("second sync after %d polls: %v", m.p.pollCount(), err)
		}
		if n, _ := messages(v); n != 1 {
			t.Fatalf("%d messages after a repeated page", n)
		}
	})

	t.Run("renumbered for ever", func(t *testing.T) {
		// Genuine dead drops under ever new ids: every page is right,
		// signatures verify (ids are not signed), and it never ends.
		v := m.fresh(t)
		m.p.serve(func(after int64) []byte { return pageOf(t, renumbered(genuine, after)) })
		defer m.p.serve(nil)
		res, err := v.Sync(ctx)
		if err != nil || res.Waiting == "" || m.p.pollCount() != journalist.MaxSyncPages {
			t.Fatalf("after %d polls: %+v %v", m.p.pollCount(), res, err)
		}
		if n, _ := messages(v); n != 1 || res.Messages != 1 {
			t.Fatalf("one message renumbered %d times was kept %d times (%d reported)", journalist.MaxSyncPages, n, res.Messages)
		}
		// The replay carries on into the next sync and still adds nothing.
		if _, err := v.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := messages(v); n != 1 {
			t.Fatalf("%d messages", n)
		}
	})

	t.Run("renumbered for ever, negative control", func(t *testing.T) {
		// Without the record of messages seen (SetKeepCopies), the
		// renumbered copies are kept: the subtest above would see them.
		defer journalist.SetKeepCopies(true)()
		v := m.fresh(t)
		m.p.serve(func(after int64) []byte { return pageOf(t, renumbered(genuine, after)) })
		defer m.p.serve(nil)
		if _, err := v.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := messages(v); n < 2 {
			t.Fatalf("without the record of what was seen, one message renumbered %d times was kept %d times: the test cannot catch copies", journalist.MaxSyncPages, n)
		}
	})

	t.Run("bad signatures", func(t *testing.T) {
		v := m.fresh(t)
		var forged []*deaddrop.DeadDrop
		for _, d := range genuine {
			c := *d
			c.Signature[0] ^= 1
			forged = append(forged, &c)
		}
		m.p.serve(func(after int64) []byte {
			if after >= last {
				return pageOf(t, []*deaddrop.DeadDrop{})
			}
			return pageOf(t, forged)
		})
		res, err := v.Sync(ctx)
		if err == nil || !strings.Contains(err.Error(), "verify under no CoverNode identity key") || res.Unverified != len(genuine) || m.p.pollCount() != 1 {
			t.Fatalf("after %d polls: %+v %v", m.p.pollCount(), res, err)
		}
		if n, _ := messages(v); n != 0 {
			t.Fatalf("%d messages from forged dead drops", n)
		}
		// Nothing moved past them: the genuine dead drops, served again
		// under the same ids, are read.
		m.p.serve(nil)
		if res, err := v.Sync(ctx); err != nil || res.Messages != 1 {
			t.Fatalf("honest sync: %+v %v", res, err)
		}
	})

	t.Run("dated in the future", func(t *testing.T) {
		// The CoverNode's key signs the same dead drops dated in ten
		// years; then the genuine ones follow under new ids.
		b := m.d.cnBundle
		var bundle struct {
			IdentityKey *keys.KeyPair `json:"identity_key_pair"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatal(err)
		}
		sk, err := bundle.IdentityKey.SigningKey()
		if err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Truncate(time.Second)
		var future []*deaddrop.DeadDrop
		for _, d := range genuine {
			c := *d
			c.CreatedAt = later
			adversary.SignIn(mode, &c, sk)
			future = append(future, &c)
		}
		n := int64(len(genuine))
		m.p.serve(func(after int64) []byte {
			switch {
			case after < n:
				return pageOf(t, future)
			case after < 2*n:
				return pageOf(t, renumbered(genuine, n))
			}
			return pageOf(t, []*deaddrop.DeadDrop{})
		})
		defer m.p.serve(nil)
		v := m.fresh(t)
		before := time.Now()
		res, err := v.Sync(ctx)
		if err != nil || res.Messages != 1 || res.DeadDrops != 2*len(genuine) {
			t.Fatalf("%+v %v", res, err)
		}
		cs := v.Conversations()
		if len(cs) != 1 || len(cs[0].Messages) != 1 {
			t.Fatalf("conversations %+v", cs)
		}
		if at := cs[0].Messages[0].Time; at.After(time.Now()) || at.Before(before) {
			t.Fatalf("a message dated %v, received between %v and now", at, before)
		}
	})
}

// TestKeysFetchedOnSchedule: replying, handing over and opening pages make
// no request to the API, in a freshly opened vault as in the web UI; the
// web UI fetches keys with a sync at unlock and then on its timers.
func TestKeysFetchedOnSchedule(t *testing.T) {
	m := newMessaged(t)
	ctx := context.Background()
	m.v.Close()
	// A vault just opened (another run of the CLI) has the keys the last
	// sync fetched.
	v, err := journalist.Open(m.path, "pw")
	if err != nil {
		t.Fatal(err)
	}
	conv := v.Conversations()[0].ID
	before := m.p.total()
	if err := v.Reply(ctx, conv, "who signed it?"); err != nil {
		t.Fatal(err)
	}
	if err := v.Handover(ctx, conv, "bob"); err != nil {
		t.Fatal(err)
	}
	if others, err := v.Journalists(ctx); err != nil || len(others) == 0 {
		t.Fatalf("journalists %v: %v", others, err)
	}
	if got := m.p.total(); got != before {
		t.Fatalf("replying and handing over made %d request(s)", got-before)
	}
	v.Close()

	web := journalist.NewWeb(journalist.WebConfig{VaultPath: m.path, SyncEvery: time.Hour, SendEvery: time.Hour})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go web.Run(wctx)
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	keysBefore := m.p.count("/v1/public-keys")
	u := newUI(t, srv.URL)
	if code, page := u.unlock("pw"); code != 200 {
		t.Fatalf("unlock: %d %s", code, page)
	}
	// The unlock starts a sync at once, which fetches the keys.
	waitFor(t, "the sync at unlock", func() bool { return m.p.count("/v1/public-keys") > keysBefore })
	// The sync ends with CheckPublished's requests, after the vault is
	// free again; the list page names the last sync once it has ended.
	waitFor(t, "the sync at unlock to end", func() bool { return strings.Contains(u.get("/"), "Last sync ") })
	before = m.p.total()
	for _, step := range []func(){
		func() { u.get("/c/" + conv) },
		func() { u.post("/c/"+conv+"/reply", url.Values{"text": {"and who paid?"}}) },
		func() { u.post("/c/"+conv+"/handled", url.Values{"handled": {"true"}}) },
		func() { u.post("/c/"+conv+"/handover", url.Values{"to": {"bob"}}) },
		func() {
			u.post("/c/"+conv+"/about", url.Values{"alias": {"the clerk"}, "notes": {"met at the council"}})
		},
		func() { u.post("/c/"+conv+"/mute", url.Values{"muted": {"true"}}) },
		func() { u.post("/c/"+conv+"/expiry", url.Values{"index": {"0"}, "days": {"30"}}) },
		func() { u.get("/?q=clerk") },
		func() { u.get("/vault") },
		func() { u.get("/") },
	} {
		step()
	}
	if got := m.p.total(); got != before {
		t.Fatalf("using the web UI made %d request(s)", got-before)
	}
	if page := u.get("/"); !strings.Contains(page, "4 replies are waiting") {
		t.Fatalf("the queue: %s", page)
	}
}
