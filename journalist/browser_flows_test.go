package journalist_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/journalist"
	"github.com/chromedp/chromedp"
)

// screenshotDir is where the browser test writes a screenshot of every
// page it visits: docs/ui (committed, and linked from the README), so
// that every test run renews them; CHAFF_UI_SCREENSHOTS=0 writes them to
// a temporary folder instead, leaving the work tree as it was.
func screenshotDir(t *testing.T) string {
	if os.Getenv("CHAFF_UI_SCREENSHOTS") == "0" {
		return t.TempDir()
	}
	return "../docs/ui"
}

// publishedVault makes a vault for the journalist id whose messaging
// key is published (by a first sync), closed, and returns its path.
func (d *deployment) publishedVault(t *testing.T, id, pass string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), id+".vault")
	v, err := journalist.Create(path, pass, testKDF, d.n.JournalistBundle(id, d.url, t.TempDir()), "")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path
}

// browser is a headless Chromium on one page of the UI.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string // where shot writes
}

func newBrowser(t *testing.T) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.Flag("headless", "new"), chromedp.WindowSize(1000, 800))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	bctx, cancel = context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel)
	return &browser{t: t, ctx: bctx, shots: screenshotDir(t)}
}

// open loads a page.
func (b *browser) open(url string) { b.t.Helper(); step(b.t, b.ctx, chromedp.Navigate(url)) }

// submit clicks a button and waits until the page it leads to has
// loaded (the old document is gone).
func (b *browser) submit(sel string) {
	b.t.Helper()
	step(b.t, b.ctx, chromedp.Evaluate[bool](`window.chaffOld = true`))
	step(b.t, b.ctx, chromedp.Click(sel))
	deadline := time.Now().Add(time.Minute)
	for !step(b.t, b.ctx, chromedp.Evaluate[bool](`window.chaffOld === undefined && document.readyState === "complete"`)) {
		if time.Now().After(deadline) {
			b.t.Fatalf("clicking %s led to no new page", sel)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// text is the text of the first element matching sel ("" if none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	return step(b.t, b.ctx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`) || {innerText: ""}).innerText`))
}

// openDetails opens every <details> on the page, as a click on each
// summary would.
func (b *browser) openDetails() {
	b.t.Helper()
	step(b.t, b.ctx, chromedp.Evaluate[bool](`document.querySelectorAll("details").forEach(d => d.open = true); true`))
}

// click clicks what does not lead to another page (a checkbox).
func (b *browser) click(sel string) { b.t.Helper(); step(b.t, b.ctx, chromedp.Click(sel)) }

func (b *browser) set(sel, value string) {
	b.t.Helper()
	step(b.t, b.ctx, chromedp.SetValue(sel, value))
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// shot writes a screenshot of the whole page to NAME.png (see
// screenshotDir).
func (b *browser) shot(name string) {
	b.t.Helper()
	png := step(b.t, b.ctx, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) wantIn(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s says %q, not %q", sel, got, want)
	}
}

// TestBrowserFlows: every flow of the web UI in headless Chromium, on a
// real deployment, with a screenshot of each page in docs/ui: unlock,
// the list, a conversation, a reply too long (kept), queued, sent in a
// cover burst; a name, notes and search; mute and handled; a handover
// with the colleague's name; the vault page with its digests, a forced
// rotation, the log; a backup for three colleagues, a colleague's share
// kept and released, and the backup restored from two of three shares
// with the backup admin's key.
func TestBrowserFlows(t *testing.T) {
	d := deploy(t)
	path := d.publishedVault(t, "carol", "orbit fancy tulip acorn")
	colleagues := map[string]*journalist.Vault{}
	for _, id := range []string{"dave", "erin", "frank"} {
		colleagues[id] = d.colleague(t, id)
	}
	v, err := journalist.Open(path, "orbit fancy tulip acorn")
	if err != nil {
		t.Fatal(err)
	}
	d.sourceWrites(t, v, "carol", "The council minutes of 3 March were rewritten after the vote. I have the first version.")
	v.Close()
	ctx := context.Background()
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: path, SyncEvery: time.Hour, SendEvery: time.Hour, BurstSize: 3, Location: time.FixedZone("CET", 3600)})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go web.Run(wctx)
	hs := httptest.NewServer(web.Handler())
	defer hs.Close()
	srv := hs.URL
	b := newBrowser(t)

	// Unlock: a wrong passphrase is refused in the error style.
	b.open(srv)
	b.shot("01-unlock")
	b.set("#passphrase", "wrong words")
	b.submit("#unlock")
	b.wantIn("#error", "does not open the vault")
	b.shot("02-unlock-wrong")
	b.set("#passphrase", "orbit fancy tulip acorn")
	b.submit("#unlock")
	b.wantIn("#status", "1 unread message in 1 conversation")
	b.wantIn("ul.conversations", "The council minutes")
	b.wantIn("#zone", "UTC+01:00")
	b.shot("03-conversations")

	// Sync now agrees with the unread count.
	b.submit("#sync")
	b.wantIn("#flash", "no new messages since the last sync. 1 message is unread in all.")

	// A conversation; a reply too long keeps its text and says by how much.
	b.submit("a.conversation")
	b.wantIn("#limit", "510 bytes once compressed")
	b.wantIn(".msg .meta", "arrived")
	b.shot("04-conversation")
	long := prose(400, 9)
	b.set("#reply", long)
	b.submit("#send-reply")
	b.wantIn("#draft-notice", "too long to fit in one message")
	if got := step(t, b.ctx, chromedp.Value("#reply")); got != long {
		t.Fatalf("the reply box holds %d characters, not the %d typed", len(got), len(long))
	}
	b.shot("05-reply-too-long")
	b.set("#reply", "Which version do you have, and who gave it to you?")
	b.submit("#check-reply")
	b.wantIn("#draft-notice", "It fits")
	b.submit("#send-reply")
	b.wantIn("#flash", "Your reply is queued")
	b.wantIn(".msg.me .state", "queued")
	if b.text("#handled") != "Mark handled" {
		t.Fatal("queuing a reply marked the conversation handled")
	}
	b.shot("06-reply-queued")

	// A name and notes; the id stays.
	b.openDetails()
	b.set("#alias", "Council clerk")
	b.set("#notes", "Works in the records office; prefers short replies.")
	b.submit("#save-about")
	b.wantIn("#name", "Council clerk")
	b.submit("#handled")
	b.wantIn("#flash", "Marked handled")
	b.submit("#nav-list")
	b.wantIn("ul.conversations", "Council clerk")
	b.wantIn("ul.conversations", "Notes: Works in the records office")
	b.wantIn("#status", "1 reply is waiting")
	b.shot("07-conversations-named")

	// Search, inside the vault.
	b.set("#q", "records office")
	b.submit("#search")
	b.wantIn("ul.conversations", "Council clerk")
	b.shot("08-search")
	b.set("#q", "nothing like this")
	b.submit("#search")
	b.wantIn("#empty", "No conversation matches")

	// The vault page: digests, a burst that takes the queued reply, a
	// forced rotation, the log.
	b.submit("#nav-vault")
	vk, _ := d.n.Org.Public.VerifyingKey()
	b.wantIn("#org-digest", vk.HumanDigest())
	b.submit("#burst")
	b.wantIn("#flash", "Sending a burst of 3 messages in the background")
	waitFor(t, "the burst to end", func() bool {
		b.open(srv + "/vault")
		return strings.Contains(b.text("#burst-state"), "The last burst sent all 3 messages")
	})
	b.submit("#rotate")
	b.wantIn("#flash", "A new messaging key is published")
	b.wantIn("#log", "rotation")
	b.wantIn("#log", "burst")
	b.wantIn("#log", "unlock")
	b.shot("09-vault")

	// The reply is sent now, with its time; the burst filled the
	// CoverNode's reply mix, and a sync finds the reply in the user dead
	// drop it published.
	b.submit("#nav-list")
	b.submit("a.conversation")
	b.wantIn(".msg.me .state", "sent at")
	b.wantIn(".msg.me .state", "CET")
	waitFor(t, "the reply published", func() bool {
		b.submit("#sync")
		b.submit("a.conversation")
		return strings.Contains(b.text(".msg.me .state"), "published in a dead drop at")
	})
	// Mute, and hand over to a colleague named as the keys name them.
	b.submit("#mute")
	b.wantIn("#flash", "Muted")
	b.set("#to", "bob")
	b.submit("#handover")
	b.wantIn("#flash", "write to bob from now on")
	b.shot("10-conversation-sent")

	// A message kept for one day only: its date turns to a warning, and
	// the list says so.
	step(t, b.ctx, chromedp.SetValue(".msg .expiry select", "1"))
	b.submit(".msg .expiry button")
	b.wantIn("#flash", "The message is now deleted on")
	b.wantIn(".msg .meta.warn", "Deleted")
	b.submit("#nav-list")
	b.wantIn("ul.conversations .tag.warn", "1 message expires within 2 days")
	b.shot("11-expiry-warning")

	// A backup through the UI, one share for each of three colleagues.
	dir := filepath.Join(t.TempDir(), "bk")
	b.submit("#nav-vault")
	for _, id := range []string{"dave", "erin", "frank"} {
		b.click(`input[name=contact][value="` + id + `"]`)
	}
	b.set("#bk-out", dir)
	b.submit("#backup-create")
	b.wantIn("#flash", "one for each of dave, erin, frank (any 2 restore it, with the backup admin)")
	b.shot("12-backup")
	// dave and erin keep theirs and, at the restore, release them.
	var released []string
	for i, id := range []string{"dave", "erin"} {
		share, err := journalist.ReadShareFile(filepath.Join(dir, fmt.Sprintf("share-%d-of-3.json", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		k, err := colleagues[id].KeepShare(share)
		if err != nil {
			t.Fatal(err)
		}
		r, err := colleagues[id].ReleaseShare(k.Backup, k.X)
		if err != nil {
			t.Fatal(err)
		}
		released = append(released, filepath.Join(t.TempDir(), id+".released.json"))
		if err := journalist.WriteNewFile(released[i], r); err != nil {
			t.Fatal(err)
		}
	}
	// carol keeps a share of dave's backup, and releases it.
	if _, err := colleagues["dave"].Sync(ctx); err != nil {
		t.Fatal(err)
	}
	daveDir := filepath.Join(t.TempDir(), "dave-bk")
	if _, err := journalist.CreateBackup(colleagues["dave"], daveDir, 1, 1, []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	b.set("#ks-share", filepath.Join(daveDir, "share-1-of-1.json"))
	b.submit("#keep-share")
	b.wantIn("#flash", "Kept share 1 of dave's backup")
	b.wantIn("#kept", "dave")
	b.set(".release-out", filepath.Join(t.TempDir(), "for-admin.json"))
	b.submit(".release")
	b.wantIn("#flash", "only the backup admin's key opens it")
	b.shot("13-share-kept")

	// The backup admin restores: one share is refused, two restore.
	restored := filepath.Join(t.TempDir(), "restored.vault")
	restore := func(shares ...string) {
		b.openDetails()
		b.set("#rs-backup", filepath.Join(dir, "backup.chaff"))
		b.set("#rs-shares", strings.Join(shares, "\n"))
		b.set("#rs-admin", d.backupKeys)
		b.set("#rs-vault", restored)
		b.submit("#restore")
	}
	restore(released[1])
	b.wantIn("#error", "needs 2 shares and 1 was given")
	// The form comes back open and filled in as it was sent.
	if got := step(t, b.ctx, chromedp.Value("#rs-vault")); got != restored || !step(t, b.ctx, chromedp.Evaluate[bool](`document.querySelector("#restore").closest("details").open`)) {
		t.Fatalf("after a failed restore the form says %q, not %q, or is closed", got, restored)
	}
	b.shot("14-restore-too-few")
	restore(filepath.Join(dir, "share-3-of-3.json"), released[0])
	b.wantIn("#error", "still sealed to frank")
	restore(released...)
	b.wantIn("#flash", "Restored the vault")
	rv, err := journalist.Open(restored, "orbit fancy tulip acorn")
	if err != nil {
		t.Fatal(err)
	}
	if cs := rv.Conversations(); len(cs) != 1 || cs[0].Alias != "Council clerk" {
		t.Fatalf("the restored vault holds %+v", cs)
	}
	rv.Close()

	// Lock.
	b.submit("#lock")
	if step(t, b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#passphrase").length`)) != 1 {
		t.Fatal("no unlock form after locking")
	}
}
