package journalist_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// prose makes n words of English-like text that compresses as prose does.
func prose(n int, seed uint64) string {
	words := strings.Fields("the council minutes were rewritten after the meeting and the clerk kept a copy of the first version which names two members who voted against the contract that was later given to a company owned by a relative of the leader")
	r := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

func encodes(s string) bool {
	_, err := protocol.EncodeText(s)
	return !errors.Is(err, protocol.ErrTextTooLong)
}

// TestReplyOver: the count of characters over is exactly what must be
// cut from the end for the reply to fit.
func TestReplyOver(t *testing.T) {
	for _, s := range []string{"", "short", prose(100, 1), prose(400, 2), strings.Repeat("ü", 5000), prose(2000, 3)} {
		over := journalist.ReplyOver(s)
		r := []rune(s)
		if encodes(s) != (over == 0) {
			t.Fatalf("%d runes: over %d but encodes %v", len(r), over, encodes(s))
		}
		if over == 0 {
			continue
		}
		if !encodes(string(r[:len(r)-over])) || encodes(string(r[:len(r)-over+1])) {
			t.Fatalf("%d runes, over %d: cutting that many is not the least that fits", len(r), over)
		}
	}
}

// messagedWeb opens carol's vault (with one message from a source) in a
// web UI with no background work, and unlocks it.
func messagedWeb(t *testing.T) (*messaged, *ui, string) {
	m := newMessaged(t)
	u, conv := unlockedWeb(t, m, time.FixedZone("CET", 3600))
	return m, u, conv
}

// unlockedWeb closes m's vault, opens it in a web UI with no background
// work (times shown in loc), unlocks it and returns the UI and the id of
// its one conversation.
func unlockedWeb(t *testing.T, m *messaged, loc *time.Location) (*ui, string) {
	t.Helper()
	m.v.Close()
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: m.path, Location: loc})
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)
	u := newUI(t, srv.URL)
	if code, page := u.unlock("pw"); code != 200 {
		t.Fatalf("unlock: %d %s", code, page)
	}
	conv := regexp.MustCompile(`href="/c/([0-9a-f]{16})"`).FindStringSubmatch(u.get("/"))
	if conv == nil {
		t.Fatal("no conversation listed")
	}
	return u, conv[1]
}

// TestWebReply: a reply that does not fit is not queued, keeps its text
// and says by how much it is over; the page states the limit before
// anything is sent; a reply that fits is queued, shows as queued, and
// does not mark the conversation handled; errors show in the error style.
func TestWebReply(t *testing.T) {
	_, u, conv := messagedWeb(t)
	page := u.get("/c/" + conv)
	if !strings.Contains(page, `id="limit"`) || !strings.Contains(page, fmt.Sprintf("%d bytes once compressed", journalist.MaxReplyBytes)) {
		t.Fatalf("the page does not state the limit: %s", page)
	}
	long := prose(400, 7) + " <b>&"
	over := journalist.ReplyOver(long)
	if over == 0 {
		t.Fatal("the long reply fits")
	}
	code, page := u.post("/c/"+conv+"/reply", url.Values{"text": {long}, "action": {"queue"}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("a reply too long: %d", code)
	}
	want := fmt.Sprintf("this reply is %d characters too long", over)
	if !strings.Contains(page, `class="error" id="draft-notice"`) || !strings.Contains(page, want) {
		t.Fatalf("a reply too long does not say %q in the error style: %s", want, page)
	}
	if !strings.Contains(page, ">"+html.EscapeString(long)+"</textarea>") {
		t.Fatalf("the text was lost: %s", page)
	}
	// Checking only: nothing queued, the page says it fits.
	short := "which version do you have?"
	if code, page = u.post("/c/"+conv+"/reply", url.Values{"text": {short}, "action": {"check"}}); code != 200 || !strings.Contains(page, "It fits: 26 characters") || !strings.Contains(page, short+"</textarea>") {
		t.Fatalf("check: %d %s", code, page)
	}
	if page = u.get("/"); strings.Contains(page, "waiting for the next send") {
		t.Fatalf("something was queued: %s", page)
	}
	// Queued: shows as queued, not handled.
	if code, page = u.post("/c/"+conv+"/reply", url.Values{"text": {short}, "action": {"queue"}}); code != 200 || !strings.Contains(page, `class="flash" id="flash">Your reply is queued`) {
		t.Fatalf("queue: %d %s", code, page)
	}
	if !strings.Contains(page, "queued: leaves with the next send") || strings.Contains(page, "Mark not handled") {
		t.Fatalf("after queuing: %s", page)
	}
	if page = u.get("/"); !strings.Contains(page, "1 reply is waiting") || strings.Contains(page, "message(s)") || strings.Contains(page, `<span class="tag">handled`) {
		t.Fatalf("list after queuing: %s", page)
	}
	// An error uses the error style.
	if code, page = u.post("/c/"+conv+"/about", url.Values{"alias": {strings.Repeat("x", journalist.MaxAliasRunes+1)}}); code != 200 || !strings.Contains(page, `class="error" id="flash"`) {
		t.Fatalf("an error: %d %s", code, page)
	}
	// Times state their zone.
	if page = html.UnescapeString(page); !strings.Contains(page, "CET") || !strings.Contains(page, "UTC+01:00") {
		t.Fatalf("times without a zone: %s", page)
	}
}

// TestWebConversations: a source gets a name and notes (the id stays
// visible), is found by name and by message text, is muted and marked
// handled; the vault page shows upstream's digests and the vault's log.
func TestWebConversations(t *testing.T) {
	m, u, conv := messagedWeb(t)
	u.post("/c/"+conv+"/about", url.Values{"alias": {"The  clerk"}, "notes": {"met at the council"}})
	page := u.get("/")
	if !strings.Contains(page, ">The clerk</a> <span class=\"meta id\">"+conv+"</span>") || !strings.Contains(page, "Notes: met at the council") || !strings.Contains(page, messageText[:20]) {
		t.Fatalf("list: %s", page)
	}
	for q, found := range map[string]bool{"clerk": true, "CLERK council": true, strings.Fields(messageText)[1]: true, "nowhere": false} {
		page := u.get("/?q=" + url.QueryEscape(q))
		if strings.Contains(page, "/c/"+conv) != found {
			t.Fatalf("search %q: found %v: %s", q, !found, page)
		}
	}
	u.post("/c/"+conv+"/mute", url.Values{"muted": {"true"}})
	if _, page = u.post("/c/"+conv+"/handled", url.Values{"handled": {"true"}}); !strings.Contains(page, "Mark not handled") || !strings.Contains(page, "Unmute") {
		t.Fatalf("conversation: %s", page)
	}
	if page = u.get("/"); !strings.Contains(page, `<span class="tag">handled</span><span class="tag">muted</span>`) {
		t.Fatalf("list: %s", page)
	}
	page = html.UnescapeString(u.get("/vault"))
	want := m.d.n.Org.Public
	vk, _ := want.VerifyingKey()
	if !strings.Contains(page, `id="org-digest">`+vk.HumanDigest()+"<") || !strings.Contains(page, "unlocked in the web UI") {
		t.Fatalf("vault page: %s", page)
	}
}

// TestExpiry: messages go DefaultExpiry after they arrived, a warning
// shows ExpiryWarning before, a custom expiry holds, and a queued reply
// stays until sent.
func TestExpiry(t *testing.T) {
	m := newMessaged(t)
	v := m.v
	now := time.Now()
	v.SetClock(func() time.Time { return now })
	c := v.Conversations()[0]
	if got := c.Messages[0].ExpiresAt().Sub(c.Messages[0].Time); got != journalist.DefaultExpiry {
		t.Fatalf("expires after %v", got)
	}
	if err := v.Reply(context.Background(), c.ID, "still there?"); err != nil {
		t.Fatal(err)
	}
	soon := c.Messages[0].Time.Add(journalist.DefaultExpiry - journalist.ExpiryWarning + time.Minute)
	if !c.Messages[0].ExpiresSoon(soon) || c.Messages[0].ExpiresSoon(soon.Add(-2*time.Minute)) {
		t.Fatal("the warning is not ExpiryWarning before")
	}
	// A custom expiry 20 days on keeps the source's message past the
	// default; one in the past is refused.
	if err := v.SetExpiry(c.ID, 0, now.Add(20*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := v.SetExpiry(c.ID, 0, now.Add(-time.Hour)); err == nil {
		t.Fatal("an expiry in the past was taken")
	}
	now = now.Add(journalist.DefaultExpiry + 24*time.Hour)
	if n, err := v.Expire(); err != nil || n != 0 {
		t.Fatalf("expired %d despite the custom expiry: %v", n, err)
	}
	// Past it, the source's message goes; the reply, still queued, stays.
	now = now.Add(6 * 24 * time.Hour)
	if n, err := v.Expire(); err != nil || n != 1 {
		t.Fatalf("expired %d: %v", n, err)
	}
	c = v.Conversations()[0]
	if len(c.Messages) != 1 || c.Messages[0].Text != "still there?" || v.Queued() != 1 {
		t.Fatalf("after expiry: %+v", c.Messages)
	}
	if ev := v.Events(); len(ev) == 0 || ev[0].Event != "expiry" {
		t.Fatalf("the log: %+v", ev)
	}
}

// heapAfter reports how much live heap grows over f.
func heapAfter(f func()) int64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.GC()
	runtime.ReadMemStats(&b)
	return int64(b.HeapAlloc) - int64(a.HeapAlloc)
}

// TestLoginTokensBounded: unauthenticated GETs of the unlock page (which
// any web page can make a browser send) cost the UI no memory, and a
// token still unlocks until it expires. The negative control keeps every
// token issued, as the UI once did, and the same measure catches it.
func TestLoginTokensBounded(t *testing.T) {
	now := time.Now()
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: webVault(t), Now: func() time.Time { return now }})
	h := web.Handler()
	const gets = 50_000
	const limit = 1 << 20
	flood := func() {
		for range gets {
			rw := httptest.NewRecorder()
			h.ServeHTTP(rw, httptest.NewRequest("GET", "http://127.0.0.1/", nil))
			if rw.Code != 200 {
				t.Fatalf("GET /: %d", rw.Code)
			}
		}
	}
	grew := heapAfter(flood)
	t.Logf("%d unauthenticated GETs: the live heap grew by %d bytes", gets, grew)
	if grew > limit {
		t.Fatalf("%d unauthenticated GETs kept %d bytes", gets, grew)
	}
	// Negative control: a store of every token, as before.
	kept := map[string]time.Time{}
	journalist.SetOnLoginToken(func(tok string) { kept[tok] = now.Add(journalist.LoginTokenTTL) })
	grew = heapAfter(flood)
	journalist.SetOnLoginToken(nil)
	t.Logf("negative control, every token kept: the live heap grew by %d bytes", grew)
	if grew <= limit || len(kept) != gets {
		t.Fatalf("negative control: keeping %d tokens grew the heap by %d bytes only", len(kept), grew)
	}
	// A token unlocks within its lifetime, and not after.
	srv := httptest.NewServer(h)
	defer srv.Close()
	u := newUI(t, srv.URL)
	u.get("/")
	now = now.Add(journalist.LoginTokenTTL + time.Second)
	if code, _ := u.post("/unlock", url.Values{"passphrase": {"pass"}}); code != http.StatusForbidden {
		t.Fatalf("an expired token: %d", code)
	}
	if code, page := u.unlock("pass"); code != 200 || !strings.Contains(page, "No messages yet") {
		t.Fatalf("unlock: %d", code)
	}
}

// TestWebColleaguesListed: a handover and a backup share are offered to
// the colleagues readers' apps list (bob), never to a journalist hidden
// from them (a canary, HIDDEN_FROM_UI), whose keys are published all the
// same.
func TestWebColleaguesListed(t *testing.T) {
	m := newMessaged(t)
	d := m.d
	hidden := d.n.AddJournalist("canary")
	p := testnet.Profile("canary")
	p.Status = keys.StatusHiddenFromUI
	d.post(t, "/v1/public-keys/journalists", d.n.Form(d.n.JProv, p))
	d.post(t, "/v1/public-keys/journalists/identity-public-key", d.n.Form(d.n.JProv, map[string]any{"journalist_id": "canary", "journalist_id_pk": hidden.ID.Public, "from_queue": false}))
	d.post(t, "/v1/public-keys/journalists/messaging-public-key", d.n.Form(hidden.ID, hidden.Msg[0].Public))
	if _, err := m.v.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, _ := m.v.Journalists(context.Background())
	if !slices.ContainsFunc(all, func(p keys.JournalistProfile) bool { return p.ID == "canary" }) {
		t.Fatalf("the hidden journalist's keys are not in the vault: %+v", all)
	}
	u, conv := unlockedWeb(t, m, nil)
	for path, form := range map[string]string{"/c/" + conv: `<option value="%s"`, "/vault": `name="contact" value="%s"`} {
		page := u.get(path)
		if !strings.Contains(page, fmt.Sprintf(form, "bob")) || strings.Contains(page, fmt.Sprintf(form, "canary")) {
			t.Fatalf("%s offers the hidden journalist, or not bob: %s", path, page)
		}
	}
}
