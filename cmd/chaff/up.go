package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
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
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/identityapi"
	"github.com/chaffhq/chaff/internal/natsx"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/newsroom"
	"github.com/chaffhq/chaff/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// upState is up.json: what a first run set up, for later runs and scripts.
type upState struct {
	API         string         `json:"api"`
	IdentityAPI string         `json:"identity_api"`
	Anchor      string         `json:"anchor"`
	KeysDir     string         `json:"keys_dir"`
	Mixing      string         `json:"mixing"`
	Journalists []upJournalist `json:"journalists"`
	Note        string         `json:"note"`
}

type upJournalist struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	UI         string `json:"ui"`
	Vault      string `json:"vault"`
	Passphrase string `json:"passphrase"`
}

var demoJournalists = []struct {
	id, name, description string
	desk                  bool
}{
	{"alice", "Alice Demo", "Investigations reporter", false},
	{"newsdesk", "News Desk", "The newsroom's shared inbox, read by the duty editor", true},
}

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "chaff-data", "where everything is kept; a restart reuses it")
	apiAddr := fs.String("api-addr", "127.0.0.1:8080", "the API and ingest")
	jAddr := fs.String("journalist-addr", "127.0.0.1:8081", "the first journalist's web UI (the next ports for the others)")
	idAddr := fs.String("identity-addr", "127.0.0.1:3010", "the identity API (newsroom side)")
	readers := fs.Int("readers", 200, "simulated readers sending cover traffic")
	readerEvery := fs.Duration("reader-interval", 30*time.Second, "mean time between one simulated reader's messages")
	journalistEvery := fs.Duration("journalist-cover-interval", 2*time.Second, "time between each demo journalist's cover messages")
	mixing := fs.String("mixing", "test", "CoverNode thresholds: test (rounds every few seconds) or production")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if *readers < 0 || *readerEvery <= 0 || *journalistEvery <= 0 {
		fmt.Fprintln(stderr, "chaff up: --readers must not be negative, and the intervals must be positive")
		return errUsage
	}
	var u2j, j2u mix.Params
	switch *mixing {
	case "test":
		u2j, j2u = mix.TestU2J, mix.TestJ2U
	case "production":
		u2j, j2u = mix.ProductionU2J, mix.ProductionJ2U
	default:
		return fmt.Errorf("--mixing must be test or production, not %q", *mixing)
	}
	for _, a := range []string{*apiAddr, *jAddr, *idAddr} {
		if !isLoopback(a) {
			return fmt.Errorf("%s: chaff up listens on loopback addresses only", a)
		}
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	log, _, err := newLogger(io.Discard, "info")
	if err != nil {
		return err
	}
	statePath := filepath.Join(*dataDir, "up.json")
	keysDir := filepath.Join(*dataDir, "keys")
	var st upState
	first := false
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("%s: %w", statePath, err)
		}
	} else if errors.Is(err, os.ErrNotExist) {
		first = true
		if _, err := newsroom.Init(keysDir, time.Now()); err != nil {
			return err
		}
	} else {
		return err
	}
	anchor, anchorPath, err := newsroom.Anchor(keysDir)
	if err != nil {
		return err
	}

	// JetStream, the API and the ingest.
	srv, err := natsx.Start(natsx.Options{StoreDir: filepath.Join(*dataDir, "jetstream"), Name: "chaff-up"})
	if err != nil {
		return err
	}
	nc, err := natsx.ConnectInProcess(srv, "chaff-up")
	if err != nil {
		srv.Shutdown()
		return err
	}
	defer shutdownEmbedded(nc, srv)
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	s, err := store.Open(ctx, nc, store.Config{})
	if err != nil {
		return err
	}
	apiSrv, err := api.New(bg, s, api.Config{Anchors: []keys.SignedPublicKey{*anchor}, IngestRate: 1e6, IngestBurst: 1 << 20, Logger: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	var servers []*http.Server
	var wg sync.WaitGroup
	serve := func(addr string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		hs := newServer(h, log)
		servers = append(servers, hs)
		wg.Add(1)
		go func() { defer wg.Done(); hs.Serve(ln) }()
		return "http://" + ln.Addr().String(), nil
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, hs := range servers {
			hs.Shutdown(sctx)
		}
		stop()
		wg.Wait()
	}()
	apiURL, err := serve(*apiAddr, apiSrv.Handler(true))
	if err != nil {
		return fmt.Errorf("the API's address: %w", err)
	}
	apiC := apiclient.New(apiURL)

	// The identity API.
	ids := identityapi.New(identityapi.Config{
		API: apiC, Anchors: []keys.SignedPublicKey{*anchor}, Logger: log,
		CoverNodeProvisioning: func() (*keys.KeyPair, error) {
			return newsroom.LoadKeyPair(keysDir, keys.CoverNodeProvisioning, time.Now())
		},
		JournalistProvisioning: func() (*keys.KeyPair, error) {
			return newsroom.LoadKeyPair(keysDir, keys.JournalistProvisioning, time.Now())
		},
	})
	idURL, err := serve(*idAddr, ids.Handler())
	if err != nil {
		return fmt.Errorf("the identity API's address: %w", err)
	}
	go ids.PollQueue(bg, 15*time.Second)

	if first {
		fmt.Fprintln(stdout, "First run: creating a demo newsroom (this takes a few seconds)…")
		st, err = setUpNewsroom(ctx, *dataDir, &newsroom.Newsroom{KeysDir: keysDir, API: apiC})
		if err != nil {
			return err
		}
	}
	st.API, st.IdentityAPI, st.Anchor, st.KeysDir, st.Mixing = apiURL, idURL, anchorPath, keysDir, *mixing
	st.Note = "Demo only: the vault passphrases are kept here for scripts. A real newsroom never writes them down on the machine."

	// The CoverNode. Its state key sits beside its state here, which a
	// real deployment must not do (see chaff covernode -h).
	cnState := filepath.Join(*dataDir, "covernode")
	stateKey, err := loadStateKey(filepath.Join(*dataDir, "covernode.state-key"), cnState, io.Discard)
	if err != nil {
		return err
	}
	node, err := covernode.New(ctx, nc, covernode.Config{
		StateDir: cnState, StateKey: stateKey, BundlePath: filepath.Join(*dataDir, "covernode_001.setup-bundle.json"),
		API: apiC, IdentityAPI: apiclient.New(idURL), Anchors: []keys.SignedPublicKey{*anchor}, U2J: u2j, J2U: j2u, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("starting the CoverNode: %w", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); node.Run(bg) }()

	pk := &publishedKeys{api: apiC, anchor: *anchor}

	// The journalists' web UIs, and their cover traffic.
	host, portStr, _ := net.SplitHostPort(*jAddr)
	port, _ := strconv.Atoi(portStr)
	for i := range st.Journalists {
		j := &st.Journalists[i]
		addr := net.JoinHostPort(host, strconv.Itoa(port+i))
		if port == 0 {
			addr = net.JoinHostPort(host, "0")
		}
		w := journalist.NewWeb(journalist.WebConfig{VaultPath: j.Vault, SendEvery: *journalistEvery, BurstSize: j2u.ThresholdMin, Logger: log})
		if j.UI, err = serve(addr, w.Handler()); err != nil {
			return fmt.Errorf("%s's web UI: %w", j.ID, err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(bg) }()
		v, err := journalist.Open(j.Vault, j.Passphrase)
		if err != nil {
			return err
		}
		idKey := v.IdentityKey()
		v.Close()
		wg.Add(1)
		go func() { defer wg.Done(); journalistCover(bg, apiC, pk, idKey, *journalistEvery, w.Unlocked) }()
	}
	// Simulated readers: cover traffic, so that mix rounds fire.
	for range *readers {
		wg.Add(1)
		go func() { defer wg.Done(); simulatedReader(bg, apiC, pk, *readerEvery) }()
	}

	fmt.Fprintf(stdout, `Chaff is up (data in %s; state in %s).

  API and ingest   %s
  identity API     %s
  CoverNode        covernode_001, %s mixing: readers' rounds of %d-%d messages, replies' of %d-%d
  readers          %d simulated, one cover message each every %s on average
`, *dataDir, statePath, apiURL, idURL, *mixing, u2j.ThresholdMin, u2j.ThresholdMax, j2u.ThresholdMin, j2u.ThresholdMax, *readers, *readerEvery)
	for _, j := range st.Journalists {
		fmt.Fprintf(stdout, "  journalist       %-9s web UI %s\n", j.ID, j.UI)
	}
	if first {
		fmt.Fprintln(stdout, "\nVault passphrases (shown once; also in up.json for scripts, a demo convenience):")
		for _, j := range st.Journalists {
			fmt.Fprintf(stdout, "  %-9s %s\n", j.ID, j.Passphrase)
		}
	}
	src := "--state-dir reader --api " + apiURL + " --anchor " + anchorPath
	fmt.Fprintf(stdout, `
Try:
  1. go run ./cmd/chaff source init %s
  2. CHAFF_PASSPHRASE='<the passphrase init printed>' go run ./cmd/chaff source send --to alice "hello from a reader" %s
     then go run ./cmd/chaff source tick --min-interval 0 %s
  3. open %s, unlock with alice's passphrase, press "Sync now", read and reply;
     then tick again and read the reply: go run ./cmd/chaff source inbox %s

Ctrl-C stops everything cleanly.
`, src, src, src, st.Journalists[0].UI, src)
	// up.json last: scripts take it as the sign that everything is up.
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.Write(statePath, b, 0o600); err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "Stopping…")
	return nil
}

// setUpNewsroom runs the key ceremony against the running API, as an
// organisation would with chaff admin, and creates the demo journalists'
// vaults.
func setUpNewsroom(ctx context.Context, dataDir string, nr *newsroom.Newsroom) (upState, error) {
	var st upState
	if err := nr.Bootstrap(ctx, nil); err != nil {
		return st, err
	}
	if _, err := nr.SetStatus(ctx, "AVAILABLE", "Demo newsroom, up and running"); err != nil {
		return st, err
	}
	if _, err := nr.AddCoverNode(ctx, "covernode_001", dataDir, true); err != nil {
		return st, err
	}
	jdir := filepath.Join(dataDir, "journalists")
	if err := os.MkdirAll(jdir, 0o700); err != nil {
		return st, err
	}
	for _, dj := range demoJournalists {
		added, err := nr.AddJournalist(ctx, newsroom.Journalist{ID: dj.id, Name: dj.name, Description: dj.description, Desk: dj.desk}, jdir)
		if err != nil {
			return st, err
		}
		bundle := added.Path
		pass, err := client.NewPassphrase(client.PassphraseWords)
		if err != nil {
			return st, err
		}
		vault := filepath.Join(jdir, dj.id+".vault")
		v, err := journalist.Create(vault, pass, journalistKDF, bundle, nr.API.Base) // deletes the bundle
		if err != nil {
			return st, err
		}
		_, err = v.Sync(ctx) // publishes the first messaging key
		v.Close()
		if err != nil {
			return st, err
		}
		st.Journalists = append(st.Journalists, upJournalist{ID: dj.id, Name: dj.name, Vault: vault, Passphrase: pass})
	}
	return st, nil
}

// journalistCover sends a journalist's cover messages on a fixed cadence,
// as the journalist app does while it runs, so that replies' rounds fill
// in the demo. It stands aside while the journalist's web UI is unlocked
// (uiSends), which then sends on the same cadence itself: the journalist's
// rate of messages does not change with the UI's state.
func journalistCover(ctx context.Context, api *apiclient.Client, pk *publishedKeys, id *keys.KeyPair, every time.Duration, uiSends func() bool) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if uiSends() {
			continue
		}
		cks, err := pk.coverNodeKeys(ctx)
		if err != nil || id == nil {
			continue
		}
		c, err := protocol.SealCoverJ2C(cks)
		if err != nil {
			continue
		}
		api.SendJournalistMessage(ctx, id, c)
	}
}

// publishedKeys caches the published keys for the simulated apps, as a
// CDN would: fetched at most every 30 seconds.
type publishedKeys struct {
	api    *apiclient.Client
	anchor keys.SignedPublicKey
	mu     sync.Mutex
	body   []byte
	at     time.Time
}

// coverNodeKeys returns the CoverNode keys to wrap messages for.
func (p *publishedKeys) coverNodeKeys(ctx context.Context) (cks []*crypto.PublicKey, err error) {
	p.mu.Lock()
	b := p.body
	if time.Since(p.at) > 30*time.Second {
		b = nil
	}
	p.mu.Unlock()
	if b == nil {
		if b, err = p.api.PublicKeysBody(ctx); err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.body, p.at = b, time.Now()
		p.mu.Unlock()
	}
	h, err := keys.ParseHierarchy(b)
	if err != nil {
		return nil, err
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{p.anchor}, time.Now())
	if err != nil {
		return nil, err
	}
	return v.CoverNodeKeys()
}

// simulatedReader sends a cover message at exponentially distributed
// intervals, as an app install does.
func simulatedReader(ctx context.Context, api *apiclient.Client, pk *publishedKeys, mean time.Duration) {
	for {
		wait := time.Duration(rand.ExpFloat64() * float64(mean))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		cks, err := pk.coverNodeKeys(ctx)
		if err != nil {
			continue
		}
		c, err := protocol.SealCoverU2C(cks)
		if err != nil {
			continue
		}
		api.SendUserMessage(ctx, c)
	}
}
