package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chaffhq/chaff/internal/benchsuite"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.String("json", "", "also write the figures as JSON here")
	d := fs.Duration("duration", 3*time.Second, "how long each throughput measurement runs")
	conns := fs.Int("conns", 64, "client connections for the HTTP measurements")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	fmt.Fprintln(stdout, "Measuring (primitives, CoverNode, ingest, dead-drop serving), each beside its bound, in this one run…")
	rows, err := benchsuite.Run(ctx, benchsuite.Options{Duration: *d, Conns: *conns})
	if err != nil {
		return err
	}
	benchsuite.Print(stdout, rows)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		return os.WriteFile(*jsonOut, b, 0o644)
	}
	return nil
}
