package journalist_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/pq"
	"github.com/chromedp/chromedp"
)

// TestBrowserPQ: in headless Chromium, a journalist of a pq deployment
// unlocks the web UI, reads a reader's message from a pq journalist dead
// drop, and replies; the reply leaves among the UI's cover as a pq J2C,
// and the reader opens it with the reply key of its message.
func TestBrowserPQ(t *testing.T) {
	n := journalist.NewPQNet(t)
	path := n.VaultPath("alice")
	reader, err := pq.NewReaderID()
	if err != nil {
		t.Fatal(err)
	}
	rk := n.Write("alice", reader, "the council minutes were rewritten")
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: path, SyncEvery: time.Hour, SendEvery: 100 * time.Millisecond})
	wctx, stop := context.WithCancel(context.Background())
	defer stop()
	go web.Run(wctx)
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	b := newBrowser(t)
	b.open(srv.URL)
	step(t, b.ctx, chromedp.SendKeys("#passphrase", "pass"))
	b.submit("#unlock")
	step(t, b.ctx, chromedp.WaitVisible("#sync"))
	deadline := time.Now().Add(30 * time.Second)
	for step(t, b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("a.conversation").length`)) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the message never showed up in the UI")
		}
		b.submit("#sync")
	}
	b.wantIn("ul.conversations", "1 unread")
	b.submit("a.conversation")
	step(t, b.ctx, chromedp.WaitVisible("#reply"))
	if body := b.text(".msg .text"); body != "the council minutes were rewritten" {
		t.Fatalf("message reads %q", body)
	}
	b.wantIn("#limit", "bytes once compressed")
	step(t, b.ctx, chromedp.SendKeys("#reply", "which version do you have?"))
	b.submit("#send-reply")
	b.wantIn("#flash", "queued")
	var replies [][]byte
	for deadline := time.Now().Add(30 * time.Second); len(replies) == 0; replies = n.Replies("alice") {
		if time.Now().After(deadline) {
			t.Fatal("the reply never left")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(replies[0]) != pq.J2UMessageSize {
		t.Fatalf("a J2U of %d bytes", len(replies[0]))
	}
	m, err := pq.OpenJ2U(rk, replies[0])
	if err != nil || m.Text != "which version do you have?" {
		t.Fatalf("the reader opened %v, %v", m, err)
	}
	// The page shows the reply sent.
	page := step(t, b.ctx, chromedp.Evaluate[string](`location.href`))
	for deadline := time.Now().Add(30 * time.Second); !strings.HasPrefix(b.text(".state"), "sent"); {
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed the reply sent: %q", b.text(".state"))
		}
		time.Sleep(100 * time.Millisecond)
		b.open(page)
	}
	// The vault page says which protocol the vault speaks.
	b.open(srv.URL + "/vault")
	b.wantIn("#protocol", "pq: post-quantum")
	b.shot("15-vault-pq")
}
