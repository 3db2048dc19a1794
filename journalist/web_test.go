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
