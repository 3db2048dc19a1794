package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
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
	"github.com/chaffhq/chaff/protocol"
)

// TestUpEndToEnd runs chaff up and takes the README's tour against it with
// real HTTP and a real JetStream: a reader writes to alice, alice reads it
// in her web UI and replies, the reader reads the reply; then alice's
// messaging key is rotated and both directions work again.
// upRoundTrip bounds each leg of TestUpEndToEnd's round trips.
const upRoundTrip = 4 * time.Minute

func TestUpEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := startUp(t, ctx)
	dir, st, upOut := u.dir, u.st, &u.out
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
	chaff := u.chaff
	ui := newUIClient(t, alice.UI)
	ui.unlock(alice.Passphrase)
	roundTrip := func(text, reply string) { u.roundTrip(ui, text, reply) }
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
	out := chaff(alice.Passphrase, "journalist", "backup", "create", "--vault", alice.Vault, "--out", bk, "--contacts", "bob,carol,newsdesk", "--threshold", "2")
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

	// chaff up prints its components' warnings and errors: the tour
	// raised no error (warnings, say a sync the load delayed, are shown).
	for _, l := range strings.Split(upOut.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("chaff up logged an error during the tour: %s", l)
		} else if strings.Contains(l, "level=WARN") {
			t.Logf("chaff up warned: %s", l)
		}
	}

	u.stop(cancel)
	// It said what it was doing while it made the newsroom, and that it
	// stopped.
	for _, line := range []string{"  adding CoverNode covernode_001…", "  adding journalist alice and creating their vault", "go run ./cmd/chaff canary --once --data-dir " + dir, "Stopped. Everything is kept in " + dir} {
		if !strings.Contains(upOut.String(), line) {
			t.Errorf("chaff up did not print %q:\n%s", line, upOut.String())
		}
	}
}

// upRun is a chaff up running in the test process, with a reader's
// mailbox made by chaff source init, as the README's tour starts.
type upRun struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	st   up.State
	out  syncBuffer
	done chan int
	// src are chaff source's flags for the reader, pass its passphrase.
	src  []string
	pass string
}

// startUp runs chaff up (with extra flags) on loopback port 0 with fast
// demo cadences, waits for its up.json, and sets up the tour's reader.
func startUp(t *testing.T, ctx context.Context, extra ...string) *upRun {
	t.Helper()
	u := &upRun{t: t, ctx: ctx, dir: t.TempDir(), done: make(chan int, 1)}
	args := append([]string{"up", "--data-dir", u.dir, "--api-addr", "127.0.0.1:0", "--journalist-addr", "127.0.0.1:0",
		"--identity-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--readers", "20", "--reader-interval", "300ms", "--journalist-cover-interval", "200ms"}, extra...)
	go func() { u.done <- run(ctx, args, &u.out, &u.out) }()
	waitUntil(t, "chaff up", func() bool {
		select {
		case code := <-u.done:
			t.Fatalf("chaff up exited %d:\n%s", code, u.out.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(u.dir, "up.json"))
		return err == nil && json.Unmarshal(b, &u.st) == nil && len(u.st.Journalists) == len(up.DemoJournalists) && u.st.Journalists[0].UI != ""
	})
	if !strings.Contains(u.out.String(), "Vault passphrases (shown once") {
		t.Fatalf("chaff up printed:\n%s", u.out.String())
	}
	u.src = []string{"--state-dir", filepath.Join(u.dir, "reader"), "--api", u.st.API, "--anchor", u.st.Anchor}
	out := u.chaff("", append([]string{"source", "init"}, u.src...)...)
	u.pass = strings.TrimSpace(strings.Split(out, "\n")[2])
	return u
}

// chaff runs a chaff command in the test process, with CHAFF_PASSPHRASE
// set to pass unless it is empty, and returns its output; it fails the
// test unless the command exits 0.
func (u *upRun) chaff(pass string, args ...string) string {
	u.t.Helper()
	if pass != "" {
		u.t.Setenv("CHAFF_PASSPHRASE", pass)
	}
	var out, errb bytes.Buffer
	if code := run(u.ctx, args, &out, &errb); code != 0 {
		u.t.Fatalf("chaff %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

// source runs chaff source CMD ARGS… as the tour's reader.
func (u *upRun) source(cmd string, args ...string) string {
	u.t.Helper()
	return u.chaff(u.pass, append(append([]string{"source", cmd}, args...), u.src...)...)
}

// roundTrip is the README's tour: the reader writes text to alice, she
// finds it in her web UI (ui, unlocked) and replies, the reader's next
// runs bring the reply to their inbox.
func (u *upRun) roundTrip(ui *uiClient, text, reply string) {
	u.t.Helper()
	// A tick first, as the app's background job would have: the reader
	// writes to alice's newest key.
	u.source("tick", "--min-interval", "0")
	u.source("send", "--to", "alice", text)
	u.source("tick", "--min-interval", "0")
	var conv string
	// The whole newsroom runs in this test process, beside the other
	// packages' tests of ./scripts/test on two cores: a round through
	// both mixes can take minutes there (seconds alone), so these
	// waits are liveness bounds, not speed targets.
	waitUntilWithin(u.t, upRoundTrip, "the message in alice's web UI", func() bool {
		conv = ui.findMessage(text)
		return conv != ""
	})
	ui.post("/c/"+conv+"/reply", url.Values{"text": {reply}})
	waitUntilWithin(u.t, upRoundTrip, "the reply at the reader", func() bool {
		u.source("tick", "--min-interval", "0")
		return strings.Contains(u.source("inbox"), "alice: "+reply)
	})
}

// stop stops chaff up as Ctrl-C does and checks that it said so.
func (u *upRun) stop(cancel context.CancelFunc) {
	u.t.Helper()
	cancel()
	if code := <-u.done; code != 0 {
		u.t.Fatalf("chaff up exited %d", code)
	}
	if out := u.out.String(); !strings.HasSuffix(strings.TrimSpace(out), "starts it again.") {
		u.t.Errorf("chaff up's last line is not the stop line:\n%s", out)
	}
}

// TestUpEndToEndPQ runs chaff up --protocol pq and takes the README's
// tour in it: the deployment is a pq one (its anchor and the published
// keys verify only in pq mode, the ingest refuses a coverdrop-size
// message), a reader writes to alice, she reads it in her web UI and
// replies, the reader reads the reply; chaff canary --once passes, and
// chaff inspect keys lists the X-Wing keys.
func TestUpEndToEndPQ(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	// Fewer simulated readers and journalists' cover than the coverdrop
	// tour's: every pq message costs several times the CPU (docs/PQ.md
	// §10.2), and under the race detector on a loaded machine the
	// coverdrop tour's traffic would outrun the CoverNode and the vaults.
	// The mixes still fill in seconds (10 U2C, 40 J2C a round).
	u := startUp(t, ctx, "--protocol", "pq", "--readers", "5", "--reader-interval", "1s", "--journalist-cover-interval", "500ms")
	t.Logf("chaff up --protocol pq and a reader: %s", time.Since(start).Round(time.Second))
	if !strings.Contains(u.out.String(), "  protocol         pq (post-quantum") || u.st.Protocol != keys.ModePQ {
		t.Fatalf("chaff up --protocol pq says its protocol is %q:\n%s", u.st.Protocol, u.out.String())
	}
	anchor, err := keys.ReadPublicKeyFile(u.st.Anchor)
	if err != nil || anchor.Protocol != keys.ModePQ {
		t.Fatalf("chaff up --protocol pq made the anchor %+v (%v)", anchor, err)
	}
	h, err := apiclient.New(u.st.API).PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.VerifyIn(keys.ModePQ, h, []keys.SignedPublicKey{*anchor}, time.Now())
	if err != nil || len(v.JournalistKEMKeys("alice")) != 1 || len(v.CoverNodeKEMKeys("covernode_001")) != 1 {
		t.Fatalf("the published keys in pq mode: %v", err)
	}
	if _, err := keys.VerifyIn(keys.ModeCoverDrop, h, []keys.SignedPublicKey{*anchor}, time.Now()); err == nil {
		t.Fatal("a pq deployment's keys verify in coverdrop mode")
	}
	if err := apiclient.New(u.st.API).SendUserMessage(ctx, make([]byte, protocol.U2CMessageSize)); apiclient.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("a coverdrop-size U2C to the pq ingest: %v", err)
	}

	alice := u.st.Journalists[0]
	ui := newUIClient(t, alice.UI)
	ui.unlock(alice.Passphrase)
	start = time.Now()
	u.roundTrip(ui, "the planning office takes bribes", "who pays them?")
	t.Logf("the tour's round trip: %s", time.Since(start).Round(time.Second))

	start = time.Now()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"canary", "--once", "--data-dir", u.dir, "--deadline", upRoundTrip.String()}, &out, &errb); code != 0 || !strings.Contains(out.String(), "canary ok") {
		t.Fatalf("chaff canary --once against chaff up --protocol pq: exit %d\n%s%s", code, out.String(), errb.String())
	}
	t.Logf("chaff canary --once: %s", time.Since(start).Round(time.Second))

	keysFile := filepath.Join(t.TempDir(), "keys.json")
	b, _ := json.Marshal(h)
	if err := os.WriteFile(keysFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	listed := u.chaff("", "inspect", "keys", "--anchor", u.st.Anchor, keysFile)
	if !regexp.MustCompile(`(?m)^journalist_msg +alice +[0-9a-f]{8} +X-Wing +\S+ +\S{6} \S{6} \S{6} \S{4}$`).MatchString(listed) {
		t.Fatalf("chaff inspect keys of the pq deployment:\n%s", listed)
	}
	// Its digests of the organisation key and alice's identity key are
	// the ones her vault page shows as trusted.
	vault := ui.get("/vault")
	for role, id := range map[string]string{"organization +-": "org-digest", "journalist_id +alice": "id-digest"} {
		m := regexp.MustCompile(`(?m)^` + role + ` .* (\S{6} \S{6} \S{6} \S{4})$`).FindStringSubmatch(listed)
		shown := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(vault)
		if m == nil || shown == nil || html.UnescapeString(shown[1]) != m[1] {
			t.Errorf("%s: inspect's digest %q, alice's vault page %q", role, m, shown)
		}
	}
	u.stop(cancel)
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
