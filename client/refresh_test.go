package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// deployment is an in-process API (with its ingest) on an embedded
// JetStream, with journalist alice and a CoverNode whose keys the test
// holds, so that it can sign user dead drops as the CoverNode would. The
// apps reach it through a proxy that may tamper with dead-drop pages.
type deployment struct {
	t     *testing.T
	n     *testnet.Newsroom
	api   *testnet.API
	cn    *testnet.Member
	proxy *tamperProxy
}

func startDeployment(t *testing.T) *deployment {
	t.Helper()
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	testnet.Bootstrap(t, a.URL, n, t.TempDir())
	d := &deployment{t: t, n: n, api: a}
	d.post("/v1/status/public-key", n.Form(n.Org, n.Admin.Public))
	d.post("/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "AVAILABLE", "description": "up", "timestamp": protocol.FormatTime(time.Now())}}))
	d.cn = d.addCoverNode("covernode_001")
	upstream, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	d.proxy = &tamperProxy{upstream: a.URL, next: httputil.NewSingleHostReverseProxy(upstream)}
	srv := httptest.NewServer(d.proxy)
	t.Cleanup(srv.Close)
	d.proxy.url = srv.URL
	return d
}

func (d *deployment) post(path string, body []byte) {
	d.t.Helper()
	res, err := http.Post(d.api.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		d.t.Fatalf("POST %s: %d", path, res.StatusCode)
	}
}

// addCoverNode registers a CoverNode's identity and messaging keys, as the
// CoverNode does when it starts.
func (d *deployment) addCoverNode(id string) *testnet.Member {
	d.t.Helper()
	m := d.n.AddCoverNode(id)
	d.post("/v1/public-keys/covernode/identity-public-key", d.n.Form(d.n.CNProv, map[string]any{"covernode_id": id, "covernode_id_pk": m.ID.Public}))
	d.post("/v1/public-keys/covernode/messaging-public-key", d.n.Form(m.ID, m.Msg[0].Public))
	return m
}

// signed returns a user dead drop of one random message created at at,
// signed by the CoverNode m.
func (d *deployment) signed(m *testnet.Member, at time.Time) *deaddrop.DeadDrop {
	d.t.Helper()
	msg, err := protocol.RandomJ2U()
	if err != nil {
		d.t.Fatal(err)
	}
	sk, err := m.ID.SigningKey()
	if err != nil {
		d.t.Fatal(err)
	}
	dd := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: at.UTC().Truncate(time.Second), Data: msg}
	dd.Sign(sk)
	return dd
}

// publish has the CoverNode m publish a user dead drop created a minute
// ago, and returns it.
func (d *deployment) publish(m *testnet.Member) *deaddrop.DeadDrop {
	d.t.Helper()
	dd := d.signed(m, time.Now().Add(-time.Minute))
	b, err := json.Marshal(dd)
	if err != nil {
		d.t.Fatal(err)
	}
	d.post("/v1/user/dead-drops", b)
	return dd
}

func (d *deployment) config(dir string) Config {
	return Config{StateDir: dir, API: apiclient.New(d.proxy.url), Anchors: []keys.SignedPublicKey{d.n.Org.Public}, KDF: testKDF, MinRunInterval: -1}
}

// tamperProxy passes everything to the API, except that it hands the user
// dead-drop pages to tamper, when set, before the app sees them.
type tamperProxy struct {
	upstream, url string
	next          http.Handler

	mu     sync.Mutex
	tamper func(l *deaddrop.List)
}

func (p *tamperProxy) set(f func(l *deaddrop.List)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = f
}

func (p *tamperProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	tamper := p.tamper
	p.mu.Unlock()
	if tamper == nil || r.Method != "GET" || r.URL.Path != "/v1/user/dead-drops" {
		p.next.ServeHTTP(w, r)
		return
	}
	res, err := http.Get(p.upstream + r.URL.RequestURI())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	l, err := deaddrop.ParseList(deaddrop.User, buf.Bytes())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	tamper(l)
	b, _ := json.Marshal(l)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// cachedIDs returns the ids of the dead drops the app keeps, and checks
// that each of them is one the CoverNode published.
func cachedIDs(t *testing.T, a *App, genuine map[string]bool) []int64 {
	t.Helper()
	var ids []int64
	for _, raw := range a.pub.DeadDrops {
		d, err := deaddrop.Parse(deaddrop.User, raw, false)
		if err != nil {
			t.Fatal(err)
		}
		if !genuine[string(d.Signature[:])] {
			t.Fatalf("the app keeps dead drop %d, which the CoverNode did not publish", d.ID)
		}
		ids = append(ids, d.ID)
	}
	return ids
}

// TestRefreshRefusesTamperedDeadDrops puts a proxy that tampers with
// dead-drop pages between the app and a real API. A page that breaks
// CheckPage (an id of 2^40, a falling id, a repeated id, an id not above
// the one asked for) fails the refresh and changes nothing; dead drops
// with a bad signature or dated in the future are ignored and hold the
// position; genuine dead drops are kept, including one signed by a
// CoverNode the app learns of in the same refresh; and once the proxy
// behaves, background runs work. The negative control keeps dead drops
// unchecked (testHookKeepUnchecked), and a bad signature is kept.
func TestRefreshRefusesTamperedDeadDrops(t *testing.T) {
	d := startDeployment(t)
	ctx := context.Background()
	genuine := map[string]bool{}
	publish := func(m *testnet.Member) {
		dd := d.publish(m)
		genuine[string(dd.Signature[:])] = true
	}
	for range 3 {
		publish(d.cn)
	}
	app, err := Start(d.config(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := cachedIDs(t, app, genuine); app.pub.MaxDeadDropID != 3 || !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Fatalf("after an honest refresh: position %d, cached %v", app.pub.MaxDeadDropID, ids)
	}
	publish(d.cn)
	publish(d.cn) // ids 4 and 5

	huge := d.signed(d.cn, time.Now())
	huge.ID = 1 << 40
	refused := map[string]func(l *deaddrop.List){
		"id of 2^40": func(l *deaddrop.List) { l.DeadDrops = append(l.DeadDrops, huge) },
		"falling id": func(l *deaddrop.List) { slices.Reverse(l.DeadDrops) },
		"repeated id": func(l *deaddrop.List) {
			c := *l.DeadDrops[0]
			l.DeadDrops = slices.Insert(l.DeadDrops, 0, &c)
		},
		"id not above the one asked for": func(l *deaddrop.List) {
			c := *l.DeadDrops[0]
			c.ID = 3
			l.DeadDrops = slices.Insert(l.DeadDrops, 0, &c)
		},
	}
	for name, tamper := range refused {
		before, err := os.ReadFile(filepath.Join(app.cfg.StateDir, publicFile))
		if err != nil {
			t.Fatal(err)
		}
		d.proxy.set(tamper)
		if err := app.Refresh(ctx); err == nil {
			t.Errorf("%s: the refresh succeeded", name)
		}
		if _, err := app.BackgroundRun(ctx); err == nil {
			t.Errorf("%s: the background run succeeded", name)
		}
		after, _ := os.ReadFile(filepath.Join(app.cfg.StateDir, publicFile))
		if !bytes.Equal(before, after) {
			t.Errorf("%s: the refused page changed the saved state", name)
		}
		if ids := cachedIDs(t, app, genuine); app.pub.MaxDeadDropID != 3 || !slices.Equal(ids, []int64{1, 2, 3}) {
			t.Errorf("%s: position %d, cached %v", name, app.pub.MaxDeadDropID, ids)
		}
	}

	// A bad signature on the last dead drop of the page: it is skipped,
	// and asked for again by the next refresh.
	d.proxy.set(func(l *deaddrop.List) { l.DeadDrops[len(l.DeadDrops)-1].Signature[0] ^= 1 })
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := cachedIDs(t, app, genuine); app.pub.MaxDeadDropID != 4 || !slices.Equal(ids, []int64{1, 2, 3, 4}) {
		t.Fatalf("after a bad signature: position %d, cached %v", app.pub.MaxDeadDropID, ids)
	}
	d.proxy.set(nil)
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := cachedIDs(t, app, genuine); app.pub.MaxDeadDropID != 5 || !slices.Equal(ids, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("after the proxy behaved: position %d, cached %v", app.pub.MaxDeadDropID, ids)
	}

	// Year 9999: on a genuine dead drop (the signature no longer
	// verifies), and on one the CoverNode's key signed, as a CoverNode
	// with a broken clock would. Neither is kept, neither moves the
	// position, and the trim keeps every genuine dead drop.
	publish(d.cn) // id 6
	future := d.signed(d.cn, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	d.proxy.set(func(l *deaddrop.List) {
		l.DeadDrops[0].CreatedAt = future.CreatedAt
		f := *future
		f.ID = l.DeadDrops[len(l.DeadDrops)-1].ID + 1
		l.DeadDrops = append(l.DeadDrops, &f)
	})
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := cachedIDs(t, app, genuine); app.pub.MaxDeadDropID != 5 || !slices.Equal(ids, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("after year 9999: position %d, cached %v", app.pub.MaxDeadDropID, ids)
	}

	// A bad signature before a genuine dead drop: the genuine one moves
	// the position past it.
	publish(d.cn) // id 7
	d.proxy.set(func(l *deaddrop.List) { l.DeadDrops[0].Signature[0] ^= 1 })
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := cachedIDs(t, app, genuine); app.pub.MaxDeadDropID != 7 || !slices.Equal(ids, []int64{1, 2, 3, 4, 5, 7}) {
		t.Fatalf("after a bad signature before a good one: position %d, cached %v", app.pub.MaxDeadDropID, ids)
	}

	// A CoverNode the app has not heard of yet: its key comes with the
	// same refresh as its dead drop.
	d.proxy.set(nil)
	publish(d.addCoverNode("covernode_002")) // id 8
	r, err := app.BackgroundRun(ctx)
	if err != nil || r.Sent != 2 {
		t.Fatalf("background run once the proxy behaved: %+v %v", r, err)
	}
	if ids := cachedIDs(t, app, genuine); app.pub.MaxDeadDropID != 8 || !slices.Equal(ids, []int64{1, 2, 3, 4, 5, 7, 8}) {
		t.Fatalf("after a new CoverNode's dead drop: position %d, cached %v", app.pub.MaxDeadDropID, ids)
	}

	// Negative control: with dead drops kept unchecked (the protection
	// off), a bad signature is kept, and cachedIDs' check would see it.
	testHookKeepUnchecked = true
	defer func() { testHookKeepUnchecked = false }()
	publish(d.cn) // id 9
	d.proxy.set(func(l *deaddrop.List) { l.DeadDrops[len(l.DeadDrops)-1].Signature[0] ^= 1 })
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	forged := false
	for _, raw := range app.pub.DeadDrops {
		if dd, err := deaddrop.Parse(deaddrop.User, raw, false); err == nil && !genuine[string(dd.Signature[:])] {
			forged = true
		}
	}
	if !forged {
		t.Fatal("with dead drops kept unchecked, the app keeps no forged one: the test cannot catch it")
	}
}

// TestRefreshRepairsPushedPosition: an install whose state an older
// version filled from a tampered page (a position of 2^40 and dead drops
// dated 9999) refreshes again, drops the tampered dead drop, keeps the
// genuine one, and goes on from a 32-bit position.
func TestRefreshRepairsPushedPosition(t *testing.T) {
	d := startDeployment(t)
	ctx := context.Background()
	d.publish(d.cn)
	d.publish(d.cn)
	app, err := Start(d.config(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// Age the first dead drop to just under 14 days by the app's clock,
	// so that it is only kept if the trim goes by that clock.
	app.cfg.Now = func() time.Time { return time.Now().Add(protocol.MessageValidFor - time.Hour) }
	bad := d.signed(d.cn, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	bad.ID = 1 << 40
	b, _ := json.Marshal(bad)
	app.pub.DeadDrops = append(app.pub.DeadDrops, b)
	bad.ID = 2
	b, _ = json.Marshal(bad)
	app.pub.DeadDrops = append(app.pub.DeadDrops, b)
	app.pub.MaxDeadDropID = bad.ID
	d.publish(d.cn) // id 3
	if _, err := app.BackgroundRun(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, raw := range app.pub.DeadDrops {
		dd, _ := deaddrop.Parse(deaddrop.User, raw, false)
		ids = append(ids, dd.ID)
	}
	if app.pub.MaxDeadDropID != 3 || !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Fatalf("position %d, cached %v", app.pub.MaxDeadDropID, ids)
	}
	if app.pub.MaxDeadDropID > math.MaxInt32 {
		t.Fatal("position beyond 32 bits")
	}
}

// TestFileTimesSayNothing runs two installs side by side against a
// deployment: a source's, which sets up a mailbox and sends a message, and
// another reader's, which never does. After every step the two have the
// same files, and in each all files were written by the last call made on
// that install, so that the files' times say nothing about a mailbox. It
// runs in both protocol modes.
func TestFileTimesSayNothing(t *testing.T) {
	t.Run(ProtocolCoverDrop, func(t *testing.T) { fileTimesSayNothing(t, startDeployment(t).config) })
	t.Run(ProtocolPQ, func(t *testing.T) { fileTimesSayNothing(t, StartFakePQ(t).Config) })
}

func fileTimesSayNothing(t *testing.T, config func(dir string) Config) {
	ctx := context.Background()
	dirs := [2]string{t.TempDir(), t.TempDir()}
	marks := t.TempDir()
	var apps [2]*App
	var last [2]time.Time // the file system's time before each install's last call
	var pass string
	var session *Session
	mark := func() time.Time {
		// The file system's clock, which may lag time.Now a little.
		time.Sleep(20 * time.Millisecond)
		p := filepath.Join(marks, "mark")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	start := func(i int) error {
		a, err := Start(config(dirs[i]))
		apps[i] = a
		return err
	}
	run := func(i int) error {
		r, err := apps[i].BackgroundRun(ctx)
		if err == nil && r.Sent != 2 {
			err = errors.New("the run sent " + strconv.Itoa(r.Sent))
		}
		return err
	}
	type step struct {
		name           string
		source, reader func(i int) error // nil: nothing happens on that install
	}
	steps := []step{
		{"first start", start, start},
		{"background run", run, run},
		{"start", start, start},
		{"refresh", func(i int) error { return apps[i].Refresh(ctx) }, func(i int) error { return apps[i].Refresh(ctx) }},
		{"create mailbox", func(i int) (err error) {
			pass, session, err = apps[i].CreateMailbox()
			return err
		}, nil},
		{"unlock", func(i int) (err error) {
			session, err = apps[i].Unlock(pass)
			return err
		}, func(i int) error {
			if _, err := apps[i].Unlock(pass); !errors.Is(err, ErrNoMailbox) {
				return errors.New("unlock of an unused storage: " + err.Error())
			}
			return nil
		}},
		{"send", func(i int) error { return session.Send("alice", "hello") }, nil},
		{"queued", func(i int) error {
			if n, err := session.Queued(); err != nil || n != 1 {
				return errors.New("not queued")
			}
			return nil
		}, nil},
		{"background run", run, run},
		{"start", start, start},
	}
	for _, s := range steps {
		for i, op := range []func(int) error{s.source, s.reader} {
			if op == nil {
				continue
			}
			before := mark()
			if err := op(i); err != nil {
				t.Fatalf("%s, install %d: %v", s.name, i, err)
			}
			if s.name != "queued" { // Queued writes nothing
				last[i] = before
			}
		}
		var names [2][]string
		for i, dir := range dirs {
			es, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				names[i] = append(names[i], e.Name())
				fi, err := e.Info()
				if err != nil {
					t.Fatal(err)
				}
				if fi.ModTime().Before(last[i]) {
					t.Errorf("%s, install %d: %s was not written by the last call", s.name, i, e.Name())
				}
			}
		}
		if !slices.Equal(names[0], names[1]) {
			t.Errorf("%s: the source has %v, the other reader %v", s.name, names[0], names[1])
		}
		if s.name == "background run" && !slices.Contains(names[0], queueFile) {
			t.Errorf("%s: no %s", s.name, queueFile)
		}
	}
}
