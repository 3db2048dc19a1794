package journalist_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (./scripts/test installs it).
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHAFF_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: ./scripts/test installs it (apt-get install chromium), or set CHAFF_CHROMIUM")
	return ""
}

// TestBrowser: in headless Chromium, a journalist unlocks the web UI,
// reads a message that came through a real API and CoverNode, and replies;
// the reply reaches the reader's client.
func TestBrowser(t *testing.T) {
	d := deploy(t)
	path := d.publishedVault(t, "carol", "orbit fancy tulip acorn")
	ctx := context.Background()
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: path, SyncEvery: time.Hour, SendEvery: 100 * time.Millisecond})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go web.Run(wctx)
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	// A reader writes to carol; another install's traffic completes the round.
	src, other := d.reader(t), d.reader(t)
	src.Refresh(ctx)
	pass, s, err := src.CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send("carol", "the council minutes were rewritten"); err != nil {
		t.Fatal(err)
	}
	for _, app := range []*client.App{src, other} {
		if _, err := app.BackgroundRun(ctx); err != nil {
			t.Fatal(err)
		}
	}

	bctx := newBrowser(t).ctx

	// A wrong passphrase is refused in plain words.
	step(t, bctx, chromedp.Navigate(srv.URL))
	step(t, bctx, chromedp.SendKeys("#passphrase", "wrong words"))
	step(t, bctx, chromedp.Click("#unlock"))
	if errText := step(t, bctx, chromedp.Text("#error")); !strings.Contains(errText, "does not open the vault") {
		t.Fatalf("wrong passphrase page says %q", errText)
	}
	// Unlock, sync until the message is there, read it.
	step(t, bctx, chromedp.SendKeys("#passphrase", "orbit fancy tulip acorn"))
	step(t, bctx, chromedp.Click("#unlock"))
	step(t, bctx, chromedp.WaitVisible("#sync"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		step(t, bctx, chromedp.Click("#sync"))
		step(t, bctx, chromedp.WaitVisible("#flash"))
		if step(t, bctx, chromedp.Evaluate[int](`document.querySelectorAll("a.conversation").length`)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message never showed up in the UI")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if list := step(t, bctx, chromedp.Text("ul.conversations")); !strings.Contains(list, "1 unread") {
		t.Fatalf("conversation list: %q", list)
	}
	step(t, bctx, chromedp.Click("a.conversation"))
	step(t, bctx, chromedp.WaitVisible("#reply"))
	if body := step(t, bctx, chromedp.Text(".msg .text")); body != "the council minutes were rewritten" {
		t.Fatalf("message reads %q", body)
	}
	step(t, bctx, chromedp.SendKeys("#reply", "which version do you have?"))
	step(t, bctx, chromedp.Click("#send-reply"))
	if flash := step(t, bctx, chromedp.Text("#flash")); !strings.Contains(flash, "queued") {
		t.Fatalf("after replying: %q", flash)
	}
	// The UI sends one message every 100 ms (the reply, then cover), so
	// rounds fire; the reader's client finds the reply.
	waitFor(t, "the reply at the reader", func() bool {
		if _, err := src.BackgroundRun(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := src.Unlock(pass)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range s.Threads()["carol"] {
			if m.Text == "which version do you have?" {
				return true
			}
		}
		return false
	})
}

// TestWebSecurity checks the headers, the cookie and CSRF without a
// browser.
func TestWebSecurity(t *testing.T) {
	d := deploy(t)
	path := filepath.Join(t.TempDir(), "carol.vault")
	if v, err := journalist.Create(path, "pass", testKDF, d.n.JournalistBundle("carol", d.url, t.TempDir()), ""); err != nil {
		t.Fatal(err)
	} else {
		v.Close()
	}
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: path})
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("headers %v", res.Header)
	}
	// Unlocking without the login token is refused.
	res, _ = http.PostForm(srv.URL+"/unlock", url.Values{"passphrase": {"pass"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("unlock without a token: %d", res.StatusCode)
	}
	// Any Host but this machine is refused (DNS rebinding).
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "evil.example:80"
	res, _ = http.DefaultClient.Do(req)
	if res.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("foreign Host: %d", res.StatusCode)
	}
	// Mutations without a session are refused.
	res, _ = http.PostForm(srv.URL+"/sync", url.Values{})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sync without a session: %d", res.StatusCode)
	}
}

// step runs one browser action and fails the test on error.
func step[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWebIdleLock: after the idle time, the next request finds the vault
// locked; a form posted with the old session is refused.
func TestWebIdleLock(t *testing.T) {
	d := deploy(t)
	path := filepath.Join(t.TempDir(), "carol.vault")
	if v, err := journalist.Create(path, "pass", testKDF, d.n.JournalistBundle("carol", d.url, t.TempDir()), ""); err != nil {
		t.Fatal(err)
	} else {
		v.Close()
	}
	now := time.Now()
	clock := func() time.Time { return now }
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: path, IdleLock: time.Minute, Now: func() time.Time { return clock() }})
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func() string {
		res, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return string(b)
	}
	page := get()
	tok := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if tok == nil {
		t.Fatalf("no login token in %s", page)
	}
	res, err := c.PostForm(srv.URL+"/unlock", url.Values{"csrf": {tok[1]}, "passphrase": {"pass"}})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("unlock: %v %v", res.Status, err)
	}
	page = get()
	if !strings.Contains(page, "No messages yet") {
		t.Fatalf("after unlocking: %s", page)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)[1]
	// A form without the session's token is refused.
	res, _ = c.PostForm(srv.URL+"/sync", url.Values{"csrf": {"00"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sync with a wrong token: %d", res.StatusCode)
	}
	now = now.Add(2 * time.Minute)
	if page = get(); !strings.Contains(page, `id="passphrase"`) {
		t.Fatalf("not locked after the idle time: %s", page)
	}
	res, _ = c.PostForm(srv.URL+"/sync", url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sync after locking: %d", res.StatusCode)
	}
}
