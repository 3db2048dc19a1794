package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/keys"
)

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseUpFlags(args, stderr)
	if err != nil {
		return err
	}
	o.Progress = func(step string) { fmt.Fprintf(stdout, "%s…\n", step) }
	// Every component's warnings and errors (a failed sync, a round that
	// did not publish, a handler's panic) reach the terminal; their logs
	// carry no secrets, plaintext or client addresses.
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := up.Start(ctx, o)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			d.Close()
		}
	}()
	printUp(stdout, d, o)
	// up.json last: scripts take it as the sign that everything is up.
	if err := d.WriteState(); err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "Stopping…")
	d.Close()
	closed = true
	fmt.Fprintf(stdout, "Stopped. Everything is kept in %s: chaff up --data-dir %s starts it again.\n", o.DataDir, o.DataDir)
	return nil
}

func parseUpFlags(args []string, stderr io.Writer) (up.Options, error) {
	o := up.Options{JournalistKDF: journalistKDF, ReaderKDF: readerKDF, StateKeyEnv: os.Getenv(covernode.StateKeyEnv), Timeouts: listenerTimeouts}
	fs := flag.NewFlagSet("chaff up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.DataDir, "data-dir", "chaff-data", "where everything is kept; a restart reuses it")
	fs.StringVar(&o.APIAddr, "api-addr", "127.0.0.1:8080", "the API and ingest")
	fs.StringVar(&o.JournalistAddr, "journalist-addr", "127.0.0.1:8081", "the first journalist's web UI (the next ports for the others)")
	fs.StringVar(&o.IdentityAddr, "identity-addr", "127.0.0.1:3010", "the identity API (newsroom side)")
	fs.StringVar(&o.AdminAddr, "admin-addr", "127.0.0.1:9090", "the API's and the CoverNode's metrics at /metrics (empty: none)")
	fs.IntVar(&o.Readers, "readers", 200, "simulated readers sending cover traffic")
	fs.DurationVar(&o.ReaderEvery, "reader-interval", 30*time.Second, "mean time between one simulated reader's messages")
	fs.DurationVar(&o.JournalistEvery, "journalist-cover-interval", 2*time.Second, "time between each demo journalist's cover messages")
	fs.StringVar(&o.Mixing, "mixing", "test", "CoverNode thresholds: test (rounds every few seconds) or production")
	fs.StringVar(&o.Protocol, "protocol", "", "the protocol mode of a new deployment: coverdrop (the default) or pq (docs/PQ.md); a restart keeps the data directory's")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return o, errUsage
	}
	if o.Readers < 0 || o.ReaderEvery <= 0 || o.JournalistEvery <= 0 {
		fmt.Fprintln(stderr, "chaff up: --readers must not be negative, and the intervals must be positive")
		return o, errUsage
	}
	return o, nil
}

// protocolWords describe chaff up's protocol modes.
var protocolWords = map[string]string{
	keys.ModeCoverDrop: "coverdrop (CoverDrop's, byte-compatible with upstream)",
	keys.ModePQ:        "pq (post-quantum: every layer on X-Wing, docs/PQ.md)",
}

// printUp says what runs where, and the README's tour with the real paths.
func printUp(stdout io.Writer, d *up.Deployment, o up.Options) {
	st, u2j, j2u := d.State, d.U2J, d.J2U
	apiURL, idURL, anchorPath, first := st.API, st.IdentityAPI, st.Anchor, d.First
	fmt.Fprintf(stdout, `Chaff is up (data in %s; state in %s).

  protocol         %s
  API and ingest   %s
  identity API     %s
  CoverNode        covernode_001, %s mixing: readers' rounds of %d-%d messages, replies' of %d-%d
  readers          %d simulated, one cover message each every %s on average
`, o.DataDir, d.StatePath, protocolWords[st.Protocol], apiURL, idURL, o.Mixing, u2j.ThresholdMin, u2j.ThresholdMax, j2u.ThresholdMin, j2u.ThresholdMax, o.Readers, o.ReaderEvery)
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
  4. back alice's vault up from her Vault page, one share each for bob, carol and
     the news desk; each keeps theirs from their own Vault page and, for a
     restore, releases it; the backup admin's key folder is %s
  5. check the whole path end to end, as an operator's cron would:
     go run ./cmd/chaff canary --once --data-dir %s

Warnings and errors of every component are printed below. Ctrl-C stops
everything cleanly.
`, src, src, src, st.Journalists[0].UI, src, st.KeysDir, o.DataDir)
}
