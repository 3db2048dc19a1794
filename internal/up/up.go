// Package up runs a whole Chaff deployment in one process, as chaff up
// does: an embedded JetStream, the API and ingest, the identity API, a
// CoverNode, demo journalists' web UIs and simulated readers' cover
// traffic. The first start runs the key ceremony (package newsroom) and
// creates the journalists' vaults; later starts reuse the data directory.
//
// It is a demo and a test bed: its CoverNode's state key sits beside its
// state, and the journalists' vault passphrases are kept in up.json.
package up

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/chaffhq/chaff/internal/filelock"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/canary"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/httpserver"
	"github.com/chaffhq/chaff/internal/identityapi"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/newsroom"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// State is up.json: what a first run set up, for later runs and scripts.
type State struct {
	API         string `json:"api"`
	IdentityAPI string `json:"identity_api"`
	Anchor      string `json:"anchor"`
	KeysDir     string `json:"keys_dir"`
	Mixing      string `json:"mixing"`
	// Protocol is the deployment's protocol mode, its anchor's: coverdrop
	// or pq.
	Protocol    string       `json:"protocol"`
	Metrics     string       `json:"metrics,omitempty"`
	Journalists []Journalist `json:"journalists"`
	Note        string       `json:"note"`
}

// Journalist is a demo journalist in up.json.
type Journalist struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	UI         string `json:"ui"`
	Vault      string `json:"vault"`
	Passphrase string `json:"passphrase"`
}

// DemoJournalists are the journalists a first start registers.
var DemoJournalists = []newsroom.Journalist{
	{ID: "alice", Name: "Alice Demo", Description: "Investigations reporter"},
	{ID: "newsdesk", Name: "News Desk", Description: "The newsroom's shared inbox, read by the duty editor", Desk: true},
	// bob and carol are alice's colleagues: with the news desk, the three
	// a backup of her vault can be shared among.
	{ID: "bob", Name: "Bob Demo", Description: "Courts reporter"},
	{ID: "carol", Name: "Carol Demo", Description: "Data journalist"},
}

// Options configure a deployment. Every address must be on loopback.
type Options struct {
	DataDir string
	// APIAddr serves the API and ingest, IdentityAddr the identity API;
	// the journalists' web UIs listen on JournalistAddr and the next ports
	// (all on port 0 when its port is 0).
	APIAddr, JournalistAddr, IdentityAddr string
	// AdminAddr serves the API's and the CoverNode's metrics (package
	// telemetry) at /metrics; empty: not served.
	AdminAddr string
	// Readers simulated readers send cover messages, each every
	// ReaderEvery on average; each journalist's cover (or reply) leaves
	// every JournalistEvery.
	Readers                      int
	ReaderEvery, JournalistEvery time.Duration
	// Mixing is "test" (rounds every few seconds) or "production".
	Mixing string
	// Protocol is the deployment's protocol mode (keys.ModeCoverDrop, the
	// default when empty, or keys.ModePQ): a first start makes the
	// organisation key in it (newsroom.InitIn); a later start refuses a
	// data directory whose anchor is of another mode.
	Protocol string
	// JournalistKDF stretches the demo vaults' passphrases (and the
	// canary journalist's), ReaderKDF the canary reader's.
	JournalistKDF journalist.KDFParams
	ReaderKDF     client.KDFParams
	// StateKeyEnv is the value of covernode.StateKeyEnv, if set.
	StateKeyEnv string
	// Timeouts of every listener (httpserver.DefaultTimeouts by default).
	Timeouts httpserver.Timeouts
	Logger   *slog.Logger
	// Progress, when set, is told each step of a first start, which makes
	// the newsroom (about 20 s, most of it stretching vault passphrases).
	Progress func(step string)
}

func (o *Options) protocol() string {
	if o.Protocol == "" {
		return keys.ModeCoverDrop
	}
	return o.Protocol
}

// CanaryDir, in the data directory, is the canary's directory (package
// canary): chaff canary --data-dir checks the deployment with it.
const CanaryDir = "canary"

// LockFile, in the data directory, is locked while a deployment runs on
// it (internal/filelock): a second one on the same directory is refused.
const LockFile = "up.lock"

// MixingParams returns the CoverNode thresholds of a mixing name.
func MixingParams(name string) (u2j, j2u mix.Params, err error) {
	switch name {
	case "test":
		return mix.TestU2J, mix.TestJ2U, nil
	case "production":
		return mix.ProductionU2J, mix.ProductionJ2U, nil
	}
	return u2j, j2u, fmt.Errorf("--mixing must be test or production, not %q", name)
}

// IsLoopback reports whether a host:port address is on this machine only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && (host == "127.0.0.1" || host == "::1" || host == "localhost")
}

// Deployment is a running deployment.
type Deployment struct {
	State     State
	StatePath string
	// First is whether this start created the newsroom.
	First    bool
	U2J, J2U mix.Params

	opts    Options
	log     *slog.Logger
	nc      *nats.Conn
	srv     *server.Server
	bg      context.Context
	stop    context.CancelFunc
	stopCN  context.CancelFunc // stops the CoverNode alone
	cnDone  chan struct{}
	wg      sync.WaitGroup
	servers []*http.Server
	lock    *os.File // LockFile, held until Close
	reg     *prometheus.Registry
}

// Start starts a deployment over o.DataDir. Close stops it.
func Start(ctx context.Context, o Options) (d *Deployment, err error) {
	d = &Deployment{opts: o, log: o.Logger, StatePath: filepath.Join(o.DataDir, "up.json")}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.U2J, d.J2U, err = MixingParams(o.Mixing); err != nil {
		return nil, err
	}
	if err := keys.CheckMode(o.protocol()); err != nil {
		return nil, fmt.Errorf("--protocol: %w", err)
	}
	for _, a := range []string{o.APIAddr, o.JournalistAddr, o.IdentityAddr, o.AdminAddr} {
		if a != "" && !IsLoopback(a) {
			return nil, fmt.Errorf("%s: chaff up listens on loopback addresses only", a)
		}
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, err
	}
	if d.lock, err = filelock.Lock(filepath.Join(o.DataDir, LockFile)); err != nil {
		if errors.Is(err, filelock.ErrLocked) {
			return nil, fmt.Errorf("another chaff up holds %s: stop it first (Ctrl-C where it runs), or give this one another --data-dir", o.DataDir)
		}
		return nil, err
	}
	dep := d // d is nil once an error is returned
	defer func() {
		if err != nil && dep.stop == nil { // from here on Close releases it
			dep.lock.Close()
		}
	}()
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	keysDir := filepath.Join(o.DataDir, "keys")
	if b, err := os.ReadFile(d.StatePath); err == nil {
		if err := json.Unmarshal(b, &d.State); err != nil {
			return nil, fmt.Errorf("%s: %w", d.StatePath, err)
		}
	} else if errors.Is(err, os.ErrNotExist) {
		d.First = true
		progress("First start: creating a demo newsroom (about 20 seconds); the organisation's keys")
		if _, err := newsroom.InitIn(keysDir, o.protocol(), time.Now()); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	anchor, anchorPath, err := newsroom.Anchor(keysDir)
	if err != nil {
		return nil, err
	}
	if o.Protocol != "" && anchor.Mode() != o.Protocol {
		return nil, fmt.Errorf("%s holds a %s deployment (its organisation key signed that mode): give --protocol %s, or another --data-dir for a %s one", o.DataDir, anchor.Mode(), anchor.Mode(), o.Protocol)
	}
	if d.srv, err = embeddednats.Start(embeddednats.Options{StoreDir: filepath.Join(o.DataDir, "jetstream"), Name: "chaff-up"}); err != nil {
		return nil, err
	}
	if d.nc, err = embeddednats.ConnectInProcess(d.srv, "chaff-up"); err != nil {
		d.srv.Shutdown()
		return nil, err
	}
	d.bg, d.stop = context.WithCancel(context.Background())
	d.reg = prometheus.NewRegistry()
	defer func() {
		if err != nil {
			dep.Close()
		}
	}()
	apiC, idURL, err := d.startAPIs(ctx, anchor, keysDir)
	if err != nil {
		return nil, err
	}
	if d.First {
		if d.State, err = setUpNewsroom(ctx, o.DataDir, &newsroom.Newsroom{KeysDir: keysDir, API: apiC}, o.JournalistKDF, progress); err != nil {
			return nil, err
		}
	}
	d.State.API, d.State.IdentityAPI, d.State.Anchor, d.State.KeysDir, d.State.Mixing = apiC.Base, idURL, anchorPath, keysDir, o.Mixing
	d.State.Protocol = anchor.Mode()
	d.State.Note = "Demo only: the vault passphrases are kept here for scripts. A real newsroom never writes them down on the machine."
	if err := d.setUpCanary(ctx, &newsroom.Newsroom{KeysDir: keysDir, API: apiC}, anchorPath); err != nil {
		return nil, err
	}
	if err := d.startCoverNode(ctx, apiC, idURL, anchor); err != nil {
		return nil, err
	}
	if o.AdminAddr != "" {
		admin := http.NewServeMux()
		admin.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
		u, err := d.serve(o.AdminAddr, admin)
		if err != nil {
			return nil, fmt.Errorf("the metrics address: %w", err)
		}
		d.State.Metrics = u + "/metrics"
	}
	kc := &apiclient.KeyCache{API: apiC, Anchors: []keys.SignedPublicKey{*anchor}}
	if err := d.startJournalists(kc); err != nil {
		return nil, err
	}
	for range o.Readers {
		d.goRun(func() { client.SimulateReader(d.bg, apiC, kc, o.ReaderEvery) })
	}
	return d, nil
}

func (d *Deployment) goRun(f func()) {
	d.wg.Add(1)
	go func() { defer d.wg.Done(); f() }()
}

// serve serves h on addr until Close, and returns its URL.
func (d *Deployment) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	hs := httpserver.New(h, httpserver.Options{Timeouts: d.opts.Timeouts, Logger: d.log})
	d.servers = append(d.servers, hs)
	d.goRun(func() { hs.Serve(ln) })
	return "http://" + ln.Addr().String(), nil
}

// startAPIs starts the API with the ingest, and the identity API.
func (d *Deployment) startAPIs(ctx context.Context, anchor *keys.SignedPublicKey, keysDir string) (*apiclient.Client, string, error) {
	s, err := store.Open(ctx, d.nc, store.Config{})
	if err != nil {
		return nil, "", err
	}
	apiSrv, err := api.New(d.bg, s, api.Config{Anchors: []keys.SignedPublicKey{*anchor}, IngestRate: 1e6, IngestBurst: 1 << 20, Logger: d.log, Registry: d.reg})
	if err != nil {
		return nil, "", err
	}
	apiURL, err := d.serve(d.opts.APIAddr, apiSrv.Handler(true))
	if err != nil {
		return nil, "", fmt.Errorf("the API's address: %w", err)
	}
	apiC := apiclient.New(apiURL)
	provisioning := func(role keys.Role) func() (*keys.KeyPair, error) {
		return func() (*keys.KeyPair, error) { return newsroom.LoadKeyPair(keysDir, role, time.Now()) }
	}
	ids := identityapi.New(identityapi.Config{
		API: apiC, Anchors: []keys.SignedPublicKey{*anchor}, Logger: d.log,
		CoverNodeProvisioning:  provisioning(keys.CoverNodeProvisioning),
		JournalistProvisioning: provisioning(keys.JournalistProvisioning),
		CoverNodeRetired:       func(id string) (bool, error) { return newsroom.CoverNodeRetired(keysDir, id) },
	})
	idURL, err := d.serve(d.opts.IdentityAddr, ids.Handler())
	if err != nil {
		return nil, "", fmt.Errorf("the identity API's address: %w", err)
	}
	d.goRun(func() { ids.PollQueue(d.bg, 15*time.Second) })
	return apiC, idURL, nil
}

// startCoverNode starts covernode_001. Its state key sits beside its state
// here, which a real deployment must not do (see chaff covernode -h).
func (d *Deployment) startCoverNode(ctx context.Context, apiC *apiclient.Client, idURL string, anchor *keys.SignedPublicKey) error {
	cnState := filepath.Join(d.opts.DataDir, "covernode")
	stateKey, err := covernode.LoadStateKey(d.opts.StateKeyEnv, filepath.Join(d.opts.DataDir, "covernode.state-key"), cnState, io.Discard)
	if err != nil {
		return err
	}
	node, err := covernode.New(ctx, d.nc, covernode.Config{
		StateDir: cnState, StateKey: stateKey, BundlePath: filepath.Join(d.opts.DataDir, keys.CoverNodeBundleName("covernode_001")),
		API: apiC, IdentityAPI: apiC.At(idURL), Anchors: []keys.SignedPublicKey{*anchor}, U2J: d.U2J, J2U: d.J2U, Logger: d.log, Registry: d.reg,
	})
	if err != nil {
		return fmt.Errorf("starting the CoverNode: %w", err)
	}
	cnCtx, stopCN := context.WithCancel(d.bg)
	d.stopCN, d.cnDone = stopCN, make(chan struct{})
	d.goRun(func() { defer close(d.cnDone); node.Run(cnCtx) })
	return nil
}

// StopCoverNode stops the CoverNode and waits until it has: messages
// are still taken in, but no dead drop is published (the canary's
// negative control).
func (d *Deployment) StopCoverNode() {
	d.stopCN()
	<-d.cnDone
}

// setUpCanary sets up the canary's journalist and reader in CanaryDir
// (package canary) unless they are there already, with the deployment's
// cadences and mix timeouts.
func (d *Deployment) setUpCanary(ctx context.Context, nr *newsroom.Newsroom, anchorPath string) error {
	dir := filepath.Join(d.opts.DataDir, CanaryDir)
	if _, err := os.Stat(filepath.Join(dir, canary.ConfigName)); err == nil {
		return nil
	}
	readerEvery, journalistEvery := d.opts.ReaderEvery, d.opts.JournalistEvery
	if readerEvery <= 0 {
		readerEvery = canary.DefaultReaderEvery
	}
	if journalistEvery <= 0 {
		journalistEvery = canary.DefaultJournalistEvery
	}
	_, err := canary.Setup(ctx, nr, canary.SetupOptions{
		Dir: dir, AnchorPath: anchorPath, ReaderEvery: readerEvery, JournalistEvery: journalistEvery,
		U2J: d.U2J, J2U: d.J2U, ReaderKDF: d.opts.ReaderKDF, JournalistKDF: d.opts.JournalistKDF,
	})
	if err != nil {
		return fmt.Errorf("setting up the canary: %w", err)
	}
	return nil
}

// startJournalists serves each journalist's web UI, with a stand-in that
// sends their cover while the UI is locked.
func (d *Deployment) startJournalists(kc *apiclient.KeyCache) error {
	host, portStr, _ := net.SplitHostPort(d.opts.JournalistAddr)
	port, _ := strconv.Atoi(portStr)
	for i := range d.State.Journalists {
		j := &d.State.Journalists[i]
		addr := net.JoinHostPort(host, strconv.Itoa(port+i))
		if port == 0 {
			addr = net.JoinHostPort(host, "0")
		}
		w := journalist.NewWeb(journalist.WebConfig{VaultPath: j.Vault, SendEvery: d.opts.JournalistEvery, BurstSize: d.J2U.ThresholdMin, Logger: d.log})
		var err error
		if j.UI, err = d.serve(addr, w.Handler()); err != nil {
			return fmt.Errorf("%s's web UI: %w", j.ID, err)
		}
		d.goRun(func() { w.Run(d.bg) })
		standIn, err := journalist.NewStandIn(j.Vault, j.Passphrase, kc)
		if err != nil {
			return err
		}
		d.goRun(func() { standIn.Run(d.bg, d.opts.JournalistEvery, w.Unlocked) })
	}
	return nil
}

// WriteState writes up.json; scripts take it as the sign that everything
// is up.
func (d *Deployment) WriteState() error {
	b, _ := json.MarshalIndent(d.State, "", "  ")
	return atomicfile.Write(d.StatePath, b, 0o600)
}

// Close stops everything cleanly: the listeners, then the components, then
// JetStream; nothing acknowledged is lost.
func (d *Deployment) Close() {
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, hs := range d.servers {
		hs.Shutdown(sctx)
	}
	if d.stop != nil {
		d.stop()
	}
	d.wg.Wait()
	embeddednats.Shutdown(d.nc, d.srv)
	d.lock.Close()
}

// setUpNewsroom runs the key ceremony against the running API, as an
// organisation would with chaff admin, and creates the demo journalists'
// vaults.
func setUpNewsroom(ctx context.Context, dataDir string, nr *newsroom.Newsroom, kdf journalist.KDFParams, progress func(string)) (State, error) {
	var st State
	progress("  publishing the key hierarchy and the system status")
	if err := nr.Bootstrap(ctx, nil); err != nil {
		return st, err
	}
	if _, err := nr.CreateBackupKeys(ctx); err != nil {
		return st, err
	}
	if _, err := nr.SetStatus(ctx, "AVAILABLE", "Demo newsroom, up and running"); err != nil {
		return st, err
	}
	progress("  adding CoverNode covernode_001")
	if _, err := nr.AddCoverNode(ctx, "covernode_001", dataDir, true); err != nil {
		return st, err
	}
	jdir := filepath.Join(dataDir, "journalists")
	if err := os.MkdirAll(jdir, 0o700); err != nil {
		return st, err
	}
	for _, dj := range DemoJournalists {
		progress(fmt.Sprintf("  adding journalist %s and creating their vault (stretching its passphrase)", dj.ID))
		added, err := nr.AddJournalist(ctx, dj, jdir)
		if err != nil {
			return st, err
		}
		pass, err := client.NewPassphrase(client.PassphraseWords)
		if err != nil {
			return st, err
		}
		vault := filepath.Join(jdir, dj.ID+".vault")
		v, err := journalist.Create(vault, pass, kdf, added.Path, nr.API.Base) // deletes the bundle
		if err != nil {
			return st, err
		}
		_, err = v.Sync(ctx) // publishes the first messaging key
		v.Close()
		if err != nil {
			return st, err
		}
		st.Journalists = append(st.Journalists, Journalist{ID: dj.ID, Name: dj.Name, Vault: vault, Passphrase: pass})
	}
	return st, nil
}
