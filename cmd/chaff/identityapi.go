package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/identityapi"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/newsroom"
)

func runIdentityAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff identity-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keysDir := fs.String("keys", "chaff-keys", "directory of the provisioning key pairs (read again on each use)")
	apiURL := fs.String("api", "", "URL of the Chaff API (required)")
	var anchors multiFlag
	fs.Var(&anchors, "anchor", "organisation trust anchor (default: the one in --keys)")
	listen := fs.String("listen", "127.0.0.1:3010", "address for the CoverNodes (keep it inside the newsroom)")
	poll := fs.Duration("poll", 15*time.Second, "how often to look for journalists' queued rotations")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if *apiURL == "" {
		fmt.Fprintln(stderr, "chaff identity-api: --api URL is required")
		return errUsage
	}
	log, _, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	var anchorKeys []keys.SignedPublicKey
	if len(anchors) > 0 {
		anchorKeys, err = loadAnchors(anchors)
	} else {
		var k *keys.SignedPublicKey
		if k, _, err = newsroom.Anchor(*keysDir); err == nil {
			anchorKeys = []keys.SignedPublicKey{*k}
		}
	}
	if err != nil {
		return err
	}
	provisioning := func(role keys.Role) func() (*keys.KeyPair, error) {
		return func() (*keys.KeyPair, error) { return newsroom.LoadKeyPair(*keysDir, role, time.Now()) }
	}
	for _, role := range []keys.Role{keys.CoverNodeProvisioning, keys.JournalistProvisioning} {
		if _, err := provisioning(role)(); err != nil {
			return err
		}
	}
	s := identityapi.New(identityapi.Config{
		API: apiclient.New(*apiURL), Anchors: anchorKeys, Logger: log,
		CoverNodeProvisioning: provisioning(keys.CoverNodeProvisioning), JournalistProvisioning: provisioning(keys.JournalistProvisioning),
		CoverNodeRetired: func(id string) (bool, error) { return newsroom.CoverNodeRetired(*keysDir, id) },
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := newServer(s.Handler(), log)
	// The poller and the closer stop with ctx (or when Serve fails) and
	// are waited for, so that no goroutine outlives the command.
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, deferred below
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(2)
	go func() { defer wg.Done(); s.PollQueue(ctx, *poll) }()
	go func() { defer wg.Done(); <-ctx.Done(); hs.Close() }()
	fmt.Fprintf(stdout, "identity-api listening on http://%s\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
