package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/mix"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const coverNodeUsage = `usage: chaff covernode --state DIR --state-key-file FILE --api URL --anchor ORG.pub.json [--bundle FILE] [flags]

Runs a CoverNode: pulls messages from NATS JetStream, strips the outer
layer, drops cover, mixes, and posts signed dead drops to the API. It
listens on nothing public; health is on --admin-listen (loopback).

The node's keys (and through them its round logs) are sealed in --state
under the state key, which must live elsewhere: another disk, a secrets
store mounted at start. On a first start a missing --state-key-file is
created. $CHAFF_COVERNODE_STATE_KEY (64 hex digits) may stand in for it.

flags:
`

// mixFlags select the mixing parameters of one direction.
type mixFlags struct {
	p mix.Params
}

func (m *mixFlags) register(fs *flag.FlagSet, dir string, def mix.Params) {
	m.p = def
	fs.IntVar(&m.p.ThresholdMin, dir+"-threshold-min", def.ThresholdMin, "inputs before a release once the timeout has passed")
	fs.IntVar(&m.p.ThresholdMax, dir+"-threshold-max", def.ThresholdMax, "inputs that force a release")
	fs.DurationVar(&m.p.Timeout, dir+"-timeout", def.Timeout, "time after which threshold-min inputs release")
	fs.IntVar(&m.p.OutputSize, dir+"-output-size", def.OutputSize, "messages per dead drop")
}

func runCoverNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff covernode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, coverNodeUsage); fs.PrintDefaults() }
	var nf natsFlags
	nf.register(fs)
	var anchors multiFlag
	fs.Var(&anchors, "anchor", "organisation trust anchor file (repeatable; required)")
	state := fs.String("state", "", "the CoverNode's own directory: keys and round logs (required; keep it private)")
	stateKeyFile := fs.String("state-key-file", "", "the key that seals --state (required, or $CHAFF_COVERNODE_STATE_KEY); not on --state's disk")
	bundle := fs.String("bundle", "", "setup bundle from chaff admin covernode add (first start only)")
	apiURL := fs.String("api", "", "URL of the Chaff API (required)")
	identityURL := fs.String("identity-api", "", "URL of chaff identity-api, which certifies the node's rotated identity keys")
	params := fs.String("mixing", "production", "parameter set: production or test (upstream's); the flags below override it")
	adminListen := fs.String("admin-listen", "127.0.0.1:9091", "health endpoint (loopback only)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	ackWait := fs.Duration("ack-wait", covernode.DefaultAckWait, "how long JetStream waits before offering again a message a node took but did not acknowledge (a node killed mid-batch); with several nodes, restart a node within this time")
	var u2j, j2u mixFlags
	// Register with production defaults, then re-apply the chosen set to
	// the flags that were not given.
	u2j.register(fs, "u2j", mix.ProductionU2J)
	j2u.register(fs, "j2u", mix.ProductionJ2U)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *state == "" || *apiURL == "" {
		fmt.Fprintln(stderr, "chaff covernode: --state and --api are required")
		return errUsage
	}
	switch *params {
	case "production":
	case "test":
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		apply := func(m *mixFlags, dir string, p mix.Params) {
			if !set[dir+"-threshold-min"] {
				m.p.ThresholdMin = p.ThresholdMin
			}
			if !set[dir+"-threshold-max"] {
				m.p.ThresholdMax = p.ThresholdMax
			}
			if !set[dir+"-timeout"] {
				m.p.Timeout = p.Timeout
			}
			if !set[dir+"-output-size"] {
				m.p.OutputSize = p.OutputSize
			}
		}
		apply(&u2j, "u2j", mix.TestU2J)
		apply(&j2u, "j2u", mix.TestJ2U)
	default:
		return fmt.Errorf("--mixing must be production or test, not %q", *params)
	}
	if !isLoopback(*adminListen) {
		return fmt.Errorf("--admin-listen must be a loopback address: a CoverNode listens on nothing public")
	}
	log, _, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	anchorKeys, err := loadAnchors(anchors)
	if err != nil {
		return err
	}
	stateKey, err := loadStateKey(*stateKeyFile, *state, stdout)
	if err != nil {
		return err
	}
	nc, _, closeNATS, err := nf.connect("chaff-covernode", log)
	if err != nil {
		return err
	}
	defer closeNATS()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := covernode.Config{
		StateDir: *state, StateKey: stateKey, BundlePath: *bundle, API: apiclient.New(strings.TrimRight(*apiURL, "/")),
		Anchors: anchorKeys, U2J: u2j.p, J2U: j2u.p, Logger: log, AckWait: *ackWait, Registry: reg,
	}
	if *identityURL != "" {
		cfg.IdentityAPI = apiclient.New(*identityURL)
	} else {
		log.Warn("no --identity-api: the identity key will not be rotated and expires four weeks after it was made")
	}
	node, err := covernode.New(ctx, nc, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *adminListen)
	if err != nil {
		return err
	}
	adminMux := http.NewServeMux()
	adminMux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	adminMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := newServer(adminMux, log)
	go hs.Serve(ln)
	defer hs.Close()
	fmt.Fprintf(stdout, "covernode running; health and metrics on http://%s\n", ln.Addr())
	log.Info("covernode started", "u2j", fmt.Sprintf("%+v", u2j.p), "j2u", fmt.Sprintf("%+v", j2u.p))
	err = node.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// loadStateKey reads the key that seals a CoverNode's state, from
// $CHAFF_COVERNODE_STATE_KEY or from path (64 hex digits). The file must be
// readable by its owner only, and outside the state directory: the point
// of the key is that the state alone gives nothing away. On a first start
// (no sealed state yet) a missing file is created.
func loadStateKey(path, stateDir string, stdout io.Writer) (*[crypto.SecretBoxKeySize]byte, error) {
	if env := os.Getenv("CHAFF_COVERNODE_STATE_KEY"); env != "" {
		if path != "" {
			return nil, errors.New("give the state key either in --state-key-file or in $CHAFF_COVERNODE_STATE_KEY, not both")
		}
		return parseStateKey(env, "$CHAFF_COVERNODE_STATE_KEY")
	}
	if path == "" {
		return nil, errors.New("--state-key-file is required (or $CHAFF_COVERNODE_STATE_KEY): it seals the node's keys in --state")
	}
	absKey, err1 := filepath.Abs(path)
	absState, err2 := filepath.Abs(stateDir)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(absState, absKey); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("the state key %s is inside --state %s: keep it apart, or it protects nothing", path, stateDir)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(stateDir, covernode.SealedKeysFile)); err == nil {
			return nil, fmt.Errorf("%s does not exist, but %s holds a sealed key state: give this node's state key", path, stateDir)
		}
		k, err := crypto.NewSecretKey()
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = f.WriteString(hex.EncodeToString(k[:]) + "\n")
		if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "Created a new state key in %s. Keep it apart from %s (another disk, a secrets store) and back it up: without it the node's keys cannot be read.\n", path, stateDir)
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the state key %s can be read by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseStateKey(string(b), path)
}

func parseStateKey(s, where string) (*[crypto.SecretBoxKeySize]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != crypto.SecretBoxKeySize {
		return nil, fmt.Errorf("%s must hold a state key: %d hex digits", where, 2*crypto.SecretBoxKeySize)
	}
	var k [crypto.SecretBoxKeySize]byte
	copy(k[:], b)
	return &k, nil
}
