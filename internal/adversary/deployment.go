package adversary

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options shape a Deployment.
type Options struct {
	// U2J and J2U are the CoverNode's mixing parameters (default: a user
	// dead drop for every journalist message, a journalist dead drop for
	// every two readers' messages, that is one background run).
	U2J, J2U mix.Params
	// NoCoverNode leaves the CoverNode out (tests of the API and clients
	// against hostile answers alone).
	NoCoverNode bool
	// API configures the API (default: an ingest rate no test reaches).
	API api.Config
	// Mode is the deployment's protocol mode, keys.ModeCoverDrop (the
	// default) or keys.ModePQ: the organisation key's, which every
	// component takes its mode from.
	Mode string
}

// InModes runs test as a subtest once per protocol mode, coverdrop then
// pq: the adversary tests that hold in both, each against a deployment of
// its mode (Options.Mode).
func InModes(t *testing.T, test func(t *testing.T, mode string)) {
	t.Helper()
	for _, mode := range []string{keys.ModeCoverDrop, keys.ModePQ} {
		t.Run(mode, func(t *testing.T) { test(t, mode) })
	}
}

// Test KDF parameters: the cheapest Argon2id, for installs and vaults
// whose passphrase strength is not what a test looks at.
var (
	ReaderKDF     = client.KDFParams{Time: 1, Memory: 64, Threads: 1}
	JournalistKDF = journalist.KDFParams{Time: 1, Memory: 64, Threads: 1}
)

// Deployment is a Chaff deployment in-process, with the adversary's hands
// on everything of it that runs in the cloud. Every client made through it
// talks to Proxy, never to the API directly.
type Deployment struct {
	T        testing.TB
	Newsroom *testnet.Newsroom
	NC       *nats.Conn
	// API is the genuine API; clients reach it through Proxy.
	API   *testnet.API
	Proxy *Proxy
	Tap   *Tap
	Cloud *Cloud
	// Alice is a journalist registered with a messaging key whose secret
	// the test holds (no vault): testnet.Bootstrap's.
	Alice *testnet.Member
	// CoverNodeKey is the CoverNode's identity key, taken from its setup
	// bundle: the adversary does not have it; a test that uses it plays a
	// CoverNode (or a stolen key) on purpose. The CoverNode registers it
	// when it starts: without one (Options.NoCoverNode) nothing verifies
	// under it.
	CoverNodeKey *keys.KeyPair

	cn     covernode.Config
	cnStop func() // nil when the CoverNode is not running

	journalistAhead atomic.Int64 // how far journalists' clocks run ahead
}

// AdvanceJournalistClocks moves the clock of every vault the deployment
// made by d: as if that much time had passed for the journalists.
func (d *Deployment) AdvanceJournalistClocks(by time.Duration) { d.journalistAhead.Add(int64(by)) }

func (d *Deployment) journalistNow() time.Time {
	return time.Now().Add(time.Duration(d.journalistAhead.Load()))
}

// Start brings up a deployment: an embedded JetStream with a tap on it, an
// API with the newsroom bootstrapped (provisioning keys, alice, status
// AVAILABLE), the recording proxy in front of it, and (unless
// opts.NoCoverNode) a CoverNode running until the test ends.
func Start(t testing.TB, opts Options) *Deployment {
	t.Helper()
	if opts.Mode == "" {
		opts.Mode = keys.ModeCoverDrop
	}
	n := testnet.NewNewsroomIn(t, opts.Mode, time.Now())
	_, nc := testnet.StartNATS(t)
	tap := StartTap(t, nc)
	cfg := opts.API
	if cfg.IngestRate == 0 {
		cfg.IngestRate, cfg.IngestBurst = 1e6, 1<<20
	}
	a := testnet.StartAPI(t, nc, n, cfg)
	alice, bundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployment{T: t, Newsroom: n, NC: nc, API: a, Proxy: NewProxy(t, a.URL), Tap: tap, Cloud: &Cloud{JS: js}, Alice: alice}
	d.Proxy.Mode = opts.Mode
	d.post(apiclient.PostAdminKey, n.Form(n.Org, n.Admin.Public))
	d.post(apiclient.PostStatus, n.Form(n.Admin, apiclient.StatusUpdate{Status: apiclient.SystemStatus{Status: "AVAILABLE", Description: "up", Timestamp: protocol.Time{Time: time.Now()}}}))
	var b struct {
		Key *keys.KeyPair `json:"identity_key_pair"`
	}
	raw, err := os.ReadFile(bundle)
	if err == nil {
		err = json.Unmarshal(raw, &b)
	}
	if err != nil {
		t.Fatal(err)
	}
	d.CoverNodeKey = b.Key
	if opts.U2J == (mix.Params{}) {
		opts.U2J = mix.Params{ThresholdMin: 2, ThresholdMax: 2, Timeout: time.Hour, OutputSize: 2}
	}
	if opts.J2U == (mix.Params{}) {
		opts.J2U = mix.Params{ThresholdMin: 1, ThresholdMax: 1, Timeout: time.Hour, OutputSize: 1}
	}
	d.cn = covernode.Config{
		StateDir: t.TempDir(), StateKey: testnet.StateKey(t), BundlePath: bundle, API: apiclient.New(a.URL),
		Anchors: d.Anchors(), U2J: opts.U2J, J2U: opts.J2U,
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	}
	t.Cleanup(d.StopCoverNode)
	if !opts.NoCoverNode {
		d.StartCoverNode()
	}
	return d
}

// StartCoverNode starts the deployment's CoverNode (its state kept from
// any run before) until StopCoverNode or the end of the test. It is
// started by Start unless Options.NoCoverNode.
func (d *Deployment) StartCoverNode() {
	d.T.Helper()
	if d.cnStop != nil {
		d.T.Fatal("adversary: the CoverNode is already running")
	}
	ctx, cancel := context.WithCancel(context.Background())
	node, err := covernode.New(ctx, d.NC, d.cn)
	if err != nil {
		cancel()
		d.T.Fatal(err)
	}
	done := make(chan struct{})
	go func() { node.Run(ctx); close(done) }()
	d.cnStop = func() { cancel(); <-done }
}

// StopCoverNode stops the CoverNode cleanly and waits for it, so that
// the streams hold what arrives until StartCoverNode: what the cloud does
// with them meanwhile (reorder, delay, drop, inject) is what the CoverNode
// takes.
func (d *Deployment) StopCoverNode() {
	if d.cnStop != nil {
		d.cnStop()
		d.cnStop = nil
	}
}

// SeizeCoverNodeKeys returns the messaging private keys in the
// CoverNode's state directory, opened with its state key
// (covernode.SeizedKeys): X25519 keys in coverdrop mode, X-Wing keys in pq
// mode. The adversary does not have them: a test that takes them plays an
// adversary that has broken the keys' problem (the quantum-adversary
// tests) or seized the node.
func (d *Deployment) SeizeCoverNodeKeys() ([]*crypto.PrivateKey, []*xwing.PrivateKey) {
	d.T.Helper()
	x, kem, err := covernode.SeizedKeys(d.cn.StateDir, d.cn.StateKey)
	if err != nil {
		d.T.Fatal(err)
	}
	return x, kem
}

// JournalistPassphrase is the passphrase of every vault Journalist makes.
const JournalistPassphrase = "correct horse battery staple"

// post sends a signed form to the genuine API.
func (d *Deployment) post(route apiclient.Route, body []byte) {
	d.T.Helper()
	if _, err := apiclient.New(d.API.URL).Do(context.Background(), route, body); err != nil {
		d.T.Fatalf("%s: %v", route, err)
	}
}

// Anchors are the organisation keys the apps ship with.
func (d *Deployment) Anchors() []keys.SignedPublicKey {
	return []keys.SignedPublicKey{d.Newsroom.Org.Public}
}

// Mode is the deployment's protocol mode (Options.Mode).
func (d *Deployment) Mode() string { return d.Newsroom.Org.Public.Mode() }

// Client returns an API client that goes through the proxy.
func (d *Deployment) Client() *apiclient.Client { return apiclient.New(d.Proxy.URL) }

// CoverNodeSigner returns the CoverNode's identity signing key (see
// CoverNodeKey: the adversary does not have it).
func (d *Deployment) CoverNodeSigner() *crypto.SigningKey {
	d.T.Helper()
	sk, err := d.CoverNodeKey.SigningKey()
	if err != nil {
		d.T.Fatal(err)
	}
	return sk
}

// ReaderConfig is the configuration of a reader's install in dir,
// talking to the proxy, with the test KDF and no minimum interval between
// background runs.
func (d *Deployment) ReaderConfig(dir string) client.Config {
	return client.Config{StateDir: dir, API: d.Client(), Anchors: d.Anchors(), KDF: ReaderKDF, MinRunInterval: -1}
}

// StartReader is an app start of the install in dir (a new install if dir
// is empty or new).
func (d *Deployment) StartReader(dir string) *client.App {
	d.T.Helper()
	app, err := client.Start(d.ReaderConfig(dir))
	if err != nil {
		d.T.Fatal(err)
	}
	return app
}

// Journalist registers journalist id (profile and identity key, as chaff
// admin journalist add does) and creates its vault in a directory of its
// own, talking to the proxy. It returns the vault and the vault file's
// path; the first Sync publishes the journalist's messaging key.
func (d *Deployment) Journalist(id string) (*journalist.Vault, string) {
	d.T.Helper()
	n := d.Newsroom
	m := n.AddJournalist(id)
	d.post(apiclient.PostJournalistProfile, n.Form(n.JProv, testnet.Profile(id)))
	d.post(apiclient.PostJournalistIdentityKey, n.Form(n.JProv, apiclient.JournalistIdentityKey{JournalistID: id, Key: m.ID.Public}))
	path := filepath.Join(d.T.TempDir(), id+".vault")
	v, err := journalist.CreateWith(path, JournalistPassphrase, JournalistKDF, n.JournalistBundle(id, d.Proxy.URL, d.T.TempDir()), "", journalist.Options{Now: d.journalistNow})
	if err != nil {
		d.T.Fatal(err)
	}
	d.T.Cleanup(func() { v.Close() })
	return v, path
}

// WaitFor polls cond every 20 ms until it holds, failing the test after
// limit.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
