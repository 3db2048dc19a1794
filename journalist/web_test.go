package journalist_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/journalist"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// ui drives the web UI over HTTP as a browser would, with its own cookies.
type ui struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string // the last one a page carried
}

func newUI(t *testing.T, base string) *ui {
	jar, _ := cookiejar.New(nil)
	return &ui{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (u *ui) do(res *http.Response, err error) (int, string) {
	u.t.Helper()
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfField.FindStringSubmatch(string(b)); m != nil {
		u.csrf = m[1]
	}
	return res.StatusCode, string(b)
}

func (u *ui) get(path string) string {
	u.t.Helper()
	code, page := u.do(u.c.Get(u.base + path))
	if code != 200 {
		u.t.Fatalf("GET %s: %d %s", path, code, page)
	}
	return page
}

// post sends a form with the last CSRF token seen.
func (u *ui) post(path string, form url.Values) (int, string) {
	u.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", u.csrf)
	return u.do(u.c.PostForm(u.base+path, form))
}

// unlock loads the unlock page and posts the passphrase.
func (u *ui) unlock(pass string) (int, string) {
	u.t.Helper()
	if page := u.get("/"); !strings.Contains(page, `id="passphrase"`) {
		u.t.Fatalf("no unlock form: %s", page)
	}
	return u.post("/unlock", url.Values{"passphrase": {pass}})
}

// webVault makes a vault for carol whose API is never asked (no Run).
func webVault(t *testing.T) string {
	n := testnet.NewNewsroom(t, time.Now())
	n.AddJournalist("carol")
	path := filepath.Join(t.TempDir(), "carol.vault")
	v, err := journalist.Create(path, "pass", testKDF, n.JournalistBundle("carol", "http://127.0.0.1:1", t.TempDir()), "")
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	return path
}

// TestWebUnlockAgain: a wrong passphrase, from anyone on the machine, is
// answered 401 and leaves the journalist's session as it was.
func TestWebUnlockAgain(t *testing.T) {
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: webVault(t)})
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	// Locked: a wrong passphrase is 401.
	reporter := newUI(t, srv.URL)
	if code, page := reporter.unlock("wrong"); code != http.StatusUnauthorized || !strings.Contains(page, "does not open the vault") {
		t.Fatalf("wrong passphrase, locked: %d %s", code, page)
	}
	if code, page := reporter.unlock("pass"); code != 200 || !strings.Contains(page, "No messages yet") {
		t.Fatalf("unlock: %d %s", code, page)
	}
	// Another local process, without the session, tries its luck.
	other := newUI(t, srv.URL)
	for range 2 {
		if code, page := other.unlock("guess"); code != http.StatusUnauthorized || !strings.Contains(page, "does not open the vault") {
			t.Fatalf("wrong passphrase, unlocked: %d %s", code, page)
		}
	}
	if page := reporter.get("/"); !strings.Contains(page, "No messages yet") {
		t.Fatalf("the session ended after a wrong passphrase: %s", page)
	}
	if code, _ := reporter.post("/c/none/handled", url.Values{"handled": {"true"}}); code != 404 {
		t.Fatalf("a form in the session: %d", code)
	}
	// The right passphrase starts a new session on the open vault, which
	// ends the old one.
	if code, page := other.unlock("pass"); code != 200 || !strings.Contains(page, "No messages yet") {
		t.Fatalf("unlock again: %d %s", code, page)
	}
	if code, _ := reporter.post("/sync", nil); code != http.StatusForbidden {
		t.Fatalf("the old session after a new unlock: %d", code)
	}
}

// TestWebTwoUIsOneBrowser: two journalists' UIs on one machine (chaff
// up serves four on 127.0.0.1) used from one browser, whose cookies are
// kept by host and not by port: unlocking the second leaves the first's
// session as it was. With one cookie name for every port the second
// unlock replaces the first's session cookie and its next form is refused.
func TestWebTwoUIsOneBrowser(t *testing.T) {
	var uis []*ui
	var jar http.CookieJar
	for range 2 {
		web := journalist.NewWeb(journalist.WebConfig{VaultPath: webVault(t)})
		srv := httptest.NewServer(web.Handler())
		defer srv.Close()
		u := newUI(t, srv.URL)
		if jar == nil {
			jar = u.c.Jar
		}
		u.c.Jar = jar
		uis = append(uis, u)
	}
	for _, u := range uis {
		if code, page := u.unlock("pass"); code != 200 || !strings.Contains(page, "No messages yet") {
			t.Fatalf("unlock %s: %d %s", u.base, code, page)
		}
	}
	for _, u := range uis {
		if code, page := u.post("/sync", nil); code == http.StatusForbidden || strings.Contains(page, `id="passphrase"`) {
			t.Fatalf("%s's session ended when the other UI was unlocked: %d %s", u.base, code, page)
		}
	}
}

// TestWebTooLarge: a form over the body cap is answered 413 in plain
// words, not as a stale session, and the session carries on.
func TestWebTooLarge(t *testing.T) {
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: webVault(t)})
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	u := newUI(t, srv.URL)
	if code, page := u.unlock("pass"); code != 200 {
		t.Fatalf("unlock: %d %s", code, page)
	}
	huge := strings.Repeat("x", journalist.MaxFormBody+1)
	code, page := u.post("/c/0123456789abcdef/reply", url.Values{"text": {huge}})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "too long") || strings.Contains(page, "session") {
		t.Fatalf("a huge reply: %d %s", code, page)
	}
	if page := u.get("/"); !strings.Contains(page, "No messages yet") {
		t.Fatalf("after a huge reply: %s", page)
	}
	// The unlock form too.
	other := newUI(t, srv.URL)
	other.get("/")
	if code, _ := other.post("/unlock", url.Values{"passphrase": {huge}}); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a huge passphrase: %d", code)
	}
	// A stale form still says so, on a page.
	if code, page := u.do(u.c.PostForm(srv.URL+"/sync", url.Values{"csrf": {"00"}})); code != http.StatusForbidden || !strings.Contains(page, "Unlock again") {
		t.Fatalf("a stale form: %d %s", code, page)
	}
}

// TestWebBurstInBackground: a cover burst runs in the background: the
// request that starts it answers before the burst ends, on a slow API;
// a second burst is refused while one runs; the vault page says how far
// it got and when it ended, reloading itself only meanwhile; and locking
// the vault or "Stop the burst" stops a running burst at once, without
// waiting for the message in flight (the vault's log says so). No page
// waits for a message in flight.
func TestWebBurstInBackground(t *testing.T) {
	m := newMessaged(t)
	m.v.Close()
	slow := func(d time.Duration) { m.p.mu.Lock(); m.p.delay = d; m.p.mu.Unlock() }
	slow(400 * time.Millisecond)
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: m.path, SyncEvery: time.Hour, SendEvery: time.Hour, BurstSize: 3})
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	u := newUI(t, srv.URL)
	if code, page := u.unlock("pw"); code != 200 {
		t.Fatalf("unlock: %d %s", code, page)
	}
	u.get("/vault")
	if code, page := u.post("/vault/burst", nil); code != 200 || !strings.Contains(page, "Sending a burst:") || !strings.Contains(page, `http-equiv="refresh"`) {
		t.Fatalf("starting a burst: %d %s", code, page)
	}
	if _, page := u.post("/vault/burst", nil); !strings.Contains(page, "A cover burst is running already") {
		t.Fatalf("a second burst: %s", page)
	}
	waitFor(t, "the burst to end", func() bool {
		return strings.Contains(u.get("/vault"), "The last burst sent all 3 messages")
	})
	if page := u.get("/vault"); strings.Contains(page, `http-equiv="refresh"`) {
		t.Fatal("the vault page still reloads itself after the burst")
	}
	// On an API that holds each message for ten minutes, "Stop the
	// burst" abandons the message in flight and the burst ends at once;
	// so does locking the vault. (Waiting for the request would take ten
	// minutes; the bounds below are a small part of that.)
	slow(10 * time.Minute)
	if _, page := u.post("/vault/burst", nil); !strings.Contains(page, `id="burst-stop"`) {
		t.Fatalf("no stop button while a burst runs: %s", page)
	}
	if code, page := u.post("/vault/burst/stop", nil); code != 200 || !strings.Contains(page, "Stopping the burst") || strings.Contains(page, "Sending a burst:") {
		t.Fatalf("stopping the burst: %d %s", code, page)
	}
	waitFor(t, "the stopped burst to end", func() bool {
		return strings.Contains(u.get("/vault"), "The last burst was stopped after 0 of 3 messages")
	})
	if _, page := u.post("/vault/burst/stop", nil); !strings.Contains(page, "No cover burst is running") {
		t.Fatalf("stopping no burst: %s", page)
	}
	u.post("/vault/burst", nil)
	locked := make(chan string, 1)
	go func() { _, page := u.post("/lock", nil); locked <- page }()
	select {
	case page := <-locked:
		if !strings.Contains(page, `id="passphrase"`) {
			t.Fatalf("locking during a burst: %s", page)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("locking waited for the message in flight")
	}
	v, err := journalist.Open(m.path, "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if ev := v.Events(); len(ev) == 0 || ev[0].Event != "error" || !strings.Contains(ev[0].Detail, "cover burst stopped after") || strings.Contains(ev[0].Detail, "after 3 of 3") {
		t.Fatalf("the vault's log after a burst stopped by locking: %+v", ev)
	}
}
