package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/chaffhq/chaff/internal/canary"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// runCanary is chaff canary: it parses the flags and runs package canary.
func runCanary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff canary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: chaff canary [--once] [--dir DIR | --data-dir UPDIR] [--deadline D] [--admin-listen ADDR]

A synthetic reader writes to the canary journalist (hidden from readers'
lists) through the production path, on the normal cadence: the message
leaves with the reader's background run in place of cover; the canary
journalist syncs and replies; the reader's refresh brings the reply. A
round fails when this takes longer than the deadline (by default derived
from the deployment's mix timeouts and the cadences).

`)
		fs.PrintDefaults()
	}
	dir := fs.String("dir", "canary", "the canary's directory (chaff admin canary add made it)")
	dataDir := fs.String("data-dir", "", "check a chaff up deployment: its data directory (the canary in its "+up.CanaryDir+"/)")
	once := fs.Bool("once", false, "one round; exit 1 with the reason when it fails (for cron)")
	deadline := fs.Duration("deadline", 0, "how long a round may take (0: from the mix timeouts and cadences)")
	adminListen := fs.String("admin-listen", "127.0.0.1:9093", "loopback address serving the canary's metrics at /metrics (without --once)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *deadline < 0 {
		return errUsage
	}
	if !*once && !up.IsLoopback(*adminListen) {
		return fmt.Errorf("--admin-listen %s: the canary's metrics are served on loopback only", *adminListen)
	}
	if *dataDir != "" {
		*dir = filepath.Join(*dataDir, up.CanaryDir)
	}
	cfg, err := canary.LoadConfig(*dir)
	if err != nil {
		return err
	}
	c, err := canary.Open(cfg, readerKDF, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if *deadline > 0 {
		c.Deadline = *deadline
	}
	if *once {
		res, err := c.Round(ctx)
		if err != nil {
			return exitError{1, "the canary failed: " + err.Error()}
		}
		fmt.Fprintf(stdout, "canary ok: to the journalist in %s, round trip in %s\n", res.ToJournalist.Round(time.Millisecond), res.RoundTrip.Round(time.Millisecond))
		return nil
	}
	ln, err := net.Listen("tcp", *adminListen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.Metrics().Registry, promhttp.HandlerOpts{}))
	hs := newServer(mux, nil)
	go hs.Serve(ln)
	defer hs.Close()
	fmt.Fprintf(stdout, "canary: metrics at http://%s/metrics; a round every time the last ends, deadline %s\n", ln.Addr(), c.Deadline)
	c.Run(ctx, func(res canary.Result, err error) {
		if err != nil {
			fmt.Fprintf(stderr, "canary failed: %v\n", err)
			return
		}
		fmt.Fprintf(stdout, "canary ok: to the journalist in %s, round trip in %s\n", res.ToJournalist.Round(time.Millisecond), res.RoundTrip.Round(time.Millisecond))
	})
	return nil
}
