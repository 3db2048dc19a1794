package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chaffhq/chaff/internal/loadgen"
)

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", "", "URL of the API (required)")
	ingestURL := fs.String("ingest", "", "URL of the ingest, if not the API's")
	var anchors multiFlag
	fs.Var(&anchors, "anchor", "organisation trust anchor (required)")
	readers := fs.Int("readers", 1000, "simulated app installs")
	rate := fs.Float64("rate", 100, "messages per second, all readers together")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	real := fs.Int("real", 0, "real messages with known content to put among the cover")
	to := fs.String("to", "", "journalists the real messages go to, comma-separated (in turn)")
	download := fs.Duration("download-every", time.Minute, "how often each reader downloads new user dead drops")
	jsonOut := fs.String("json", "", "also write the report (with the real messages) as JSON here")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if *apiURL == "" || len(anchors) == 0 || *readers < 1 || *rate <= 0 || *duration <= 0 || (*real > 0 && *to == "") {
		fmt.Fprintln(stderr, "chaff loadgen: --api and --anchor are required; --readers, --rate and --duration must be positive; --real needs --to")
		return errUsage
	}
	anchorKeys, err := loadAnchors(anchors)
	if err != nil {
		return err
	}
	rep, err := loadgen.Run(ctx, loadgen.Options{API: *apiURL, Ingest: *ingestURL, Anchors: anchorKeys, Readers: *readers, Rate: *rate,
		Duration: *duration, Real: *real, To: strings.Split(*to, ","), DownloadEvery: *download})
	if err != nil {
		return err
	}
	realAcked := 0
	for _, r := range rep.Real {
		if r.Acknowledged {
			realAcked++
		}
	}
	fmt.Fprintf(stdout, "%d readers for %.1fs: sent %d (%.0f/s), acknowledged %d, errors %v\nlatency ms: p50 %.2f, p90 %.2f, p99 %.2f, max %.2f; %d dead-drop downloads\n",
		rep.Readers, rep.Seconds, rep.Sent, float64(rep.Sent)/rep.Seconds, rep.Acknowledged, rep.Errors,
		rep.LatencyMS["p50"], rep.LatencyMS["p90"], rep.LatencyMS["p99"], rep.LatencyMS["max"], rep.Downloads)
	if *real > 0 {
		fmt.Fprintf(stdout, "real messages: %d of %d acknowledged (to %s)\n", realAcked, *real, *to)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
