package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
)

// TestUpEndToEnd runs chaff up and takes the README's tour against it with
// real HTTP and a real JetStream: a reader writes to alice, alice reads it
// in her web UI and replies, the reader reads the reply; then alice's
// messaging key is rotated and both directions work again.
// upRoundTrip bounds each leg of TestUpEndToEnd's round trips.
const upRoundTrip = 4 * time.Minute

func TestUpEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var upOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"up", "--data-dir", dir, "--api-addr", "127.0.0.1:0", "--journalist-addr", "127.0.0.1:0",
			"--identity-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--readers", "20", "--reader-interval", "300ms", "--journalist-cover-interval", "200ms"}, &upOut, &upOut)
	}()
	var st up.State
	waitUntil(t, "chaff up", func() bool {
		select {
		case code := <-done:
			t.Fatalf("chaff up exited %d:\n%s", code, upOut.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, "up.json"))
		return err == nil && json.Unmarshal(b, &st) == nil && len(st.Journalists) == len(up.DemoJournalists) && st.Journalists[0].UI != ""
	})
	if !strings.Contains(upOut.String(), "Vault passphrases (shown once") {
		t.Fatalf("chaff up printed:\n%s", upOut.String())
	}
	// The setup bundles (identity secret keys in plaintext) are gone once
	// the CoverNode and the vaults hold their keys.
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "bundle.json") {
			t.Errorf("chaff up left the setup bundle %s", path)
		}
		return nil
	})
	alice := st.Journalists[0]
	// Every listener of chaff up cuts off a slow client.
	slowClientCut(t, "chaff up's API", st.API)
	slowClientCut(t, "chaff up's identity API", st.IdentityAPI)
	for _, j := range st.Journalists {
		slowClientCut(t, "chaff up's UI for "+j.ID, j.UI)
	}
	reader := filepath.Join(dir, "reader")
	src := []string{"--state-dir", reader, "--api", st.API, "--anchor", st.Anchor}
	chaff := func(env string, args ...string) string {
		t.Helper()
		if env != "" {
			t.Setenv("CHAFF_PASSPHRASE", env)
		}
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 0 {
			t.Fatalf("chaff %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	out := chaff("", append([]string{"source", "init"}, src...)...)
	pass := strings.TrimSpace(strings.Split(out, "\n")[2])

	ui := newUIClient(t, alice.UI)
	ui.unlock(alice.Passphrase)

	roundTrip := func(text, reply string) {
		t.Helper()
		// A tick first, as the app's background job would have: the reader
		// writes to alice's newest key.
		chaff(pass, append([]string{"source", "tick", "--min-interval", "0"}, src...)...)
		chaff(pass, append([]string{"source", "send", "--to", "alice", text}, src...)...)
		chaff(pass, append([]string{"source", "tick", "--min-interval", "0"}, src...)...)
		var conv string
		// The whole newsroom runs in this test process, beside the other
		// packages' tests of ./scripts/test on two cores: a round through
		// both mixes can take minutes there (seconds alone), so these
		// waits are liveness bounds, not speed targets.
		waitUntilWithin(t, upRoundTrip, "the message in alice's web UI", func() bool {
			conv = ui.findMessage(text)
			return conv != ""
		})
		ui.post("/c/"+conv+"/reply", url.Values{"text": {reply}})
		waitUntilWithin(t, upRoundTrip, "the reply at the reader", func() bool {
			chaff(pass, append([]string{"source", "tick", "--min-interval", "0"}, src...)...)
			return strings.Contains(chaff(pass, append([]string{"source", "inbox"}, src...)...), "alice: "+reply)
		})
	}
	roundTrip("the planning office takes bribes", "who pays them?")

	// Rotate alice's messaging key (with her UI locked, as the CLI and the
	// UI must not hold the vault at once), then talk again.
	ui.post("/lock", nil)
	chaff(alice.Passphrase, "journalist", "rotate", "--vault", alice.Vault)
	h, err := apiclient.New(st.API).PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	anchor, _ := keys.ReadPublicKeyFile(st.Anchor)
	v, err := keys.Verify(h, []keys.SignedPublicKey{*anchor}, time.Now())
	if err != nil || len(v.JournalistMessagingKeys("alice")) != 2 {
		t.Fatalf("after rotating, alice has %d messaging keys: %v", len(v.JournalistMessagingKeys("alice")), err)
	}
	// Back alice's vault up to three colleagues, two of whom keep their
	// shares and release them; the backup admin restores it with the
	// newsroom's backup key, and it opens with alice's passphrase.
	journalists := map[string]up.Journalist{}
	for _, j := range st.Journalists {
		journalists[j.ID] = j
	}
	bk := filepath.Join(t.TempDir(), "bk")
	out = chaff(alice.Passphrase, "journalist", "backup", "create", "--vault", alice.Vault, "--out", bk, "--contacts", "bob,carol,newsdesk", "--threshold", "2")
	if !strings.Contains(out, "share-3-of-3.json  for newsdesk") {
		t.Fatalf("backup create printed %q", out)
	}
	var released []string
	for i, id := range []string{"bob", "carol"} {
		j := journalists[id]
		chaff(j.Passphrase, "journalist", "backup", "keep-share", "--vault", j.Vault, "--share", filepath.Join(bk, fmt.Sprintf("share-%d-of-3.json", i+1)))
		released = append(released, filepath.Join(t.TempDir(), id+".released.json"))
		chaff(j.Passphrase, "journalist", "backup", "release-share", "--vault", j.Vault, "--owner", "alice", "--out", released[i])
	}
	restored := filepath.Join(t.TempDir(), "restored.vault")
	var errb bytes.Buffer
	if code := run(ctx, []string{"journalist", "backup", "restore", "--backup", filepath.Join(bk, "backup.chaff"), "--share", released[0], "--admin-keys", st.KeysDir, "--vault", restored}, io.Discard, &errb); code != 1 ||
		!strings.Contains(errb.String(), "needs 2 shares and 1 was given") {
		t.Fatalf("a restore from one share: exit %d, %q", code, errb.String())
	}
	chaff("", "journalist", "backup", "restore", "--backup", filepath.Join(bk, "backup.chaff"), "--share", released[0], "--share", released[1], "--admin-keys", st.KeysDir, "--vault", restored)
	if out := chaff(alice.Passphrase, "journalist", "inbox", "--vault", restored); !strings.Contains(out, "the planning office takes bribes") {
		t.Fatalf("the restored vault's inbox: %q", out)
	}

	ui.unlock(alice.Passphrase)
	roundTrip("a developer, every month", "can we meet?")

	// chaff up exports every metric of the API and the CoverNode.
	res, err := http.Get(st.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range append(append([]telemetry.Metric{}, telemetry.API...), telemetry.CoverNode...) {
		if !bytes.Contains(metrics, []byte("# TYPE "+m.Name+" ")) {
			t.Errorf("chaff up's %s does not export %s", st.Metrics, m.Name)
		}
	}

	// A second chaff up on the same data directory says who holds it.
	var second bytes.Buffer
	if code := run(ctx, []string{"up", "--data-dir", dir, "--api-addr", "127.0.0.1:0", "--journalist-addr", "127.0.0.1:0", "--identity-addr", "127.0.0.1:0"}, &second, &second); code != 1 ||
		!strings.Contains(second.String(), "another chaff up holds "+dir) {
		t.Fatalf("a second chaff up on the same directory: exit %d, %q", code, second.String())
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("chaff up exited %d", code)
	}
	// It said what it was doing while it made the newsroom, and that it
	// stopped.
	for _, line := range []string{"  adding CoverNode covernode_001…", "  adding journalist alice and creating their vault", "Stopped. Everything is kept in " + dir} {
		if !strings.Contains(upOut.String(), line) {
			t.Errorf("chaff up did not print %q:\n%s", line, upOut.String())
		}
	}
	if out := upOut.String(); !strings.HasSuffix(strings.TrimSpace(out), "starts it again.") {
		t.Errorf("chaff up's last line is not the stop line:\n%s", out)
	}
}

// uiClient drives a journalist web UI over HTTP, as a browser would.
type uiClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func newUIClient(t *testing.T, base string) *uiClient {
	jar, _ := cookiejar.New(nil)
	return &uiClient{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (u *uiClient) get(path string) string {
	u.t.Helper()
	res, err := u.c.Get(u.base + path)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfRe.FindStringSubmatch(string(b)); m != nil {
		u.csrf = m[1]
	}
	return string(b)
}

func (u *uiClient) post(path string, v url.Values) string {
	u.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	v.Set("csrf", u.csrf)
	res, err := u.c.PostForm(u.base+path, v)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		u.t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
	}
	if m := csrfRe.FindStringSubmatch(string(b)); m != nil {
		u.csrf = m[1]
	}
	return string(b)
}

func (u *uiClient) unlock(passphrase string) {
	u.t.Helper()
	u.get("/")
	if page := u.post("/unlock", url.Values{"passphrase": {passphrase}}); !strings.Contains(page, "Sync now") {
		u.t.Fatalf("unlocking: %s", page)
	}
}

var convRe = regexp.MustCompile(`href="/c/([0-9a-f]+)"`)

// findMessage syncs and returns the conversation holding text, if any.
func (u *uiClient) findMessage(text string) string {
	u.t.Helper()
	page := u.post("/sync", nil)
	for _, m := range convRe.FindAllStringSubmatch(page, -1) {
		if strings.Contains(u.get("/c/"+m[1]), text) {
			return m[1]
		}
	}
	return ""
}

// TestJournalistCoverStandsAside: chaff up's stand-in sender of a
// journalist's cover sends on its cadence while the journalist's web UI
// is locked, and nothing while it is unlocked (the UI then sends itself),
// so the journalist's rate does not change with the UI's state.
func TestJournalistCoverStandsAside(t *testing.T) {
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{})
	testnet.Bootstrap(t, a.URL, n, t.TempDir())
	cn := n.AddCoverNode("covernode_001")
	c := apiclient.New(a.URL)
	for _, f := range []struct {
		route  apiclient.Route
		signer *keys.KeyPair
		body   any
	}{
		{apiclient.PostCoverNodeIdentityKey, n.CNProv, apiclient.CoverNodeIdentityKey{CoverNodeID: "covernode_001", Key: cn.ID.Public}},
		{apiclient.PostCoverNodeMessagingKey, cn.ID, cn.Msg[0].Public},
	} {
		if _, err := c.SendForm(t.Context(), f.route, f.signer, f.body, form.DefaultTTL); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	vault := filepath.Join(dir, "alice.vault")
	v, err := journalist.Create(vault, "pass", journalistKDF, n.JournalistBundle("alice", a.URL, dir), "")
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	standIn, err := journalist.NewStandIn(vault, "pass", &apiclient.KeyCache{API: c, Anchors: []keys.SignedPublicKey{n.Org.Public}})
	if err != nil {
		t.Fatal(err)
	}
	sent := func(unlocked bool) uint64 {
		before := a.StreamMsgs(t, store.StreamJ2C)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		standIn.Run(ctx, 20*time.Millisecond, func() bool { return unlocked })
		return a.StreamMsgs(t, store.StreamJ2C) - before
	}
	if got := sent(false); got == 0 {
		t.Fatal("nothing sent while the UI was locked")
	}
	if got := sent(true); got != 0 {
		t.Fatalf("%d cover messages sent while the UI was unlocked and sending itself", got)
	}
}
