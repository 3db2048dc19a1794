package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/httpserver"
	"github.com/chaffhq/chaff/internal/natsconn"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/mix"
)

const coverNodeUsage = `usage: chaff covernode --state DIR --state-key-file FILE --api URL --anchor ORG.pub.json [--bundle FILE] [flags]

Runs a CoverNode: pulls messages from NATS JetStream, strips the outer
layer, drops cover, mixes, and posts signed dead drops to the API. It
listens on nothing public; health is on --admin-listen (loopback), which
answers 503 while the node waits for NATS and for an API replica to
answer.

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

// useUnset takes p's values for the flags of dir that were not given.
func (m *mixFlags) useUnset(fs *flag.FlagSet, dir string, p mix.Params) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, f := range map[string]func(){
		"-threshold-min": func() { m.p.ThresholdMin = p.ThresholdMin },
		"-threshold-max": func() { m.p.ThresholdMax = p.ThresholdMax },
		"-timeout":       func() { m.p.Timeout = p.Timeout },
		"-output-size":   func() { m.p.OutputSize = p.OutputSize },
	} {
		if !set[dir+name] {
			f()
		}
	}
}

// coverNodeOptions are chaff covernode's flags.
type coverNodeOptions struct {
	nats                        natsconn.Config
	anchors                     multiFlag
	state, stateKeyFile, bundle string
	apiURL, identityURL         string
	adminListen, logLevel       string
	ackWait                     time.Duration
	u2j, j2u                    mixFlags
}

func runCoverNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff covernode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, coverNodeUsage); fs.PrintDefaults() }
	var o coverNodeOptions
	registerNATS(fs, &o.nats)
	fs.Var(&o.anchors, "anchor", "organisation trust anchor file (repeatable; required)")
	fs.StringVar(&o.state, "state", "", "the CoverNode's own directory: keys and round logs (required; keep it private)")
	fs.StringVar(&o.stateKeyFile, "state-key-file", "", "the key that seals --state (required, or $CHAFF_COVERNODE_STATE_KEY); not on --state's disk")
	fs.StringVar(&o.bundle, "bundle", "", "setup bundle from chaff admin covernode add (first start only)")
	fs.StringVar(&o.apiURL, "api", "", "URL of the Chaff API (required)")
	fs.StringVar(&o.identityURL, "identity-api", "", "URL of chaff identity-api, which certifies the node's rotated identity keys")
	params := fs.String("mixing", "production", "parameter set: production or test (upstream's); the flags below override it")
	fs.StringVar(&o.adminListen, "admin-listen", "127.0.0.1:9091", "health endpoint (loopback only)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.ackWait, "ack-wait", covernode.DefaultAckWait, "how long JetStream waits before offering again a message a node took but did not acknowledge (a node killed mid-batch); with several nodes, restart a node within this time")
	// Register with production defaults, then re-apply the chosen set to
	// the flags that were not given.
	o.u2j.register(fs, "u2j", mix.ProductionU2J)
	o.j2u.register(fs, "j2u", mix.ProductionJ2U)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if o.state == "" || o.apiURL == "" {
		fmt.Fprintln(stderr, "chaff covernode: --state and --api are required")
		return errUsage
	}
	switch *params {
	case "production":
	case "test":
		o.u2j.useUnset(fs, "u2j", mix.TestU2J)
		o.j2u.useUnset(fs, "j2u", mix.TestJ2U)
	default:
		return fmt.Errorf("--mixing must be production or test, not %q", *params)
	}
	if !up.IsLoopback(o.adminListen) {
		return fmt.Errorf("--admin-listen must be a loopback address: a CoverNode listens on nothing public")
	}
	return serveCoverNode(ctx, &o, stdout, stderr)
}

// serveCoverNode runs a CoverNode until ctx ends.
func serveCoverNode(ctx context.Context, o *coverNodeOptions, stdout, stderr io.Writer) error {
	log, _, err := newLogger(stderr, o.logLevel)
	if err != nil {
		return err
	}
	anchorKeys, err := loadAnchors(o.anchors)
	if err != nil {
		return err
	}
	stateKey, err := covernode.LoadStateKey(os.Getenv(covernode.StateKeyEnv), o.stateKeyFile, o.state, stdout)
	if err != nil {
		return err
	}
	reg := newRegistry()
	// The health endpoint first: while NATS and the API are waited for, it
	// says so (503, with the last failure).
	var ready httpserver.Readiness
	adminAddr, stopAdmin, err := startAdmin(o.adminListen, reg, &ready, log)
	if err != nil {
		return err
	}
	defer stopAdmin()
	fmt.Fprintf(stdout, "covernode starting; health and metrics on http://%s\n", adminAddr)
	nc, err := natsconn.Connect(ctx, o.nats, "chaff-covernode", log, waitFor("NATS at "+o.nats.URL, log, ready.Failed))
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg := covernode.Config{
		StateDir: o.state, StateKey: stateKey, BundlePath: o.bundle, API: apiclient.New(strings.TrimRight(o.apiURL, "/")),
		Anchors: anchorKeys, U2J: o.u2j.p, J2U: o.j2u.p, Logger: log, AckWait: o.ackWait, Registry: reg,
		// A node cannot process without the keys the API publishes, but
		// exiting while no API replica answers would only make a
		// supervisor start it again and again: it waits instead.
		Startup: new(waitFor("the API", log, ready.Failed)),
	}
	if o.identityURL != "" {
		cfg.IdentityAPI = apiclient.New(o.identityURL)
	} else {
		log.Warn("no --identity-api: the identity key will not be rotated and expires four weeks after it was made")
	}
	node, err := covernode.New(ctx, nc.Conn, cfg)
	if err != nil {
		return err
	}
	ready.Ready(nil)
	fmt.Fprintln(stdout, "covernode running")
	log.Info("covernode started", "protocol", node.Mode(), "u2j", fmt.Sprintf("%+v", o.u2j.p), "j2u", fmt.Sprintf("%+v", o.j2u.p))
	err = node.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
