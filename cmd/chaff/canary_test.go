package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/canary"
	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/keys"
	dto "github.com/prometheus/client_model/go"
)

// TestCanaryAgainstUp: chaff up sets up a canary, whose journalist readers'
// apps do not list; chaff canary --once completes a round trip through the
// running deployment and exits 0. Negative control: with the CoverNode
// stopped, the message never reaches the canary journalist and chaff
// canary --once exits 1 saying so.
func TestCanaryAgainstUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	d, err := up.Start(ctx, up.Options{
		DataDir: dir, APIAddr: "127.0.0.1:0", JournalistAddr: "127.0.0.1:0", IdentityAddr: "127.0.0.1:0",
		Readers: 20, ReaderEvery: 300 * time.Millisecond, JournalistEvery: 200 * time.Millisecond, Mixing: "test",
		JournalistKDF: journalistKDF, ReaderKDF: readerKDF, Timeouts: listenerTimeouts,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// The canary's secrets are the owner's alone.
	cfgPath := filepath.Join(dir, up.CanaryDir, canary.ConfigName)
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", cfgPath, fi, err)
	}
	var cfg canary.Config
	b, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.JournalistID != canary.JournalistID {
		t.Fatalf("canary.json: %v %+v", err, cfg)
	}
	// A reader's app does not list the canary journalist.
	anchor, err := keys.ReadPublicKeyFile(d.State.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	app, err := client.Start(client.Config{StateDir: t.TempDir(), API: apiclient.New(d.State.API), Anchors: []keys.SignedPublicKey{*anchor}, KDF: readerKDF, MinRunInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	listed, err := app.Journalists()
	if err != nil || len(listed) != len(d.State.Journalists) {
		t.Fatalf("the app lists %d journalists (%v), want the %d demo ones", len(listed), err, len(d.State.Journalists))
	}
	for _, p := range listed {
		if p.ID == cfg.JournalistID {
			t.Fatalf("the app lists the canary journalist")
		}
	}

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"canary", "--once", "--data-dir", dir, "--deadline", "4m"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "canary ok") {
		t.Fatalf("chaff canary --once against chaff up: exit %d\n%s%s", code, out.String(), errb.String())
	}

	// chaff admin canary add sets up another for a real deployment: a
	// hidden journalist registered with the API, its own directory.
	own := filepath.Join(t.TempDir(), "canary")
	out.Reset()
	if code := run(ctx, []string{"admin", "canary", "add", "--api", d.State.API, "--keys", d.State.KeysDir, "--dir", own, "--id", "canary2",
		"--reader-interval", "300ms", "--journalist-interval", "200ms", "--mixing", "test"}, &out, &errb); code != 0 {
		t.Fatalf("chaff admin canary add: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, f := range []string{canary.ConfigName, "canary2.vault"} {
		if fi, err := os.Stat(filepath.Join(own, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
	}
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if listed, _ := app.Journalists(); len(listed) != len(d.State.Journalists) {
		t.Fatalf("after chaff admin canary add the app lists %d journalists", len(listed))
	}
	out.Reset()
	if code := run(ctx, []string{"canary", "--once", "--dir", own, "--deadline", "4m"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "canary ok") {
		t.Fatalf("chaff canary --once --dir (admin canary add's): exit %d\n%s%s", code, out.String(), errb.String())
	}

	// Without --once it runs rounds back to back and serves its metrics
	// on loopback only.
	if code := run(ctx, []string{"canary", "--data-dir", dir, "--admin-listen", "0.0.0.0:0"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "loopback only") {
		t.Fatalf("chaff canary --admin-listen 0.0.0.0:0: exit %d\n%s", code, errb.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	cctx, stopCanary := context.WithCancel(ctx)
	var canaryOut syncBuffer
	canaryDone := make(chan int, 1)
	go func() {
		canaryDone <- run(cctx, []string{"canary", "--data-dir", dir, "--deadline", "4m", "--admin-listen", metricsAddr}, &canaryOut, &canaryOut)
	}()
	var fams map[string]*dto.MetricFamily
	// Up to 4 minutes, as the --once runs' deadlines: a loaded machine
	// (the whole suite on 2 cores) took more than a minute for two rounds
	// once; a working canary ends the wait as soon as they are in.
	waitUntilWithin(t, 4*time.Minute, "two canary round trips in its metrics", func() bool {
		res, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fams = parse(t, string(b))
		f := fams[telemetry.CanarySuccesses.Name]
		return f != nil && f.GetMetric()[0].GetCounter().GetValue() >= 2
	})
	if problems := checkMetrics(fams, telemetry.Canary, nil); len(problems) > 0 {
		t.Errorf("the canary's metrics: %v", problems)
	}
	if h := find(fams[telemetry.CanaryLatency.Name], telemetry.LabelLeg, "round_trip"); h.GetHistogram().GetSampleCount() < 2 {
		t.Errorf("round-trip latency samples: %v", h)
	}
	if ts := gauge(fams, telemetry.CanaryLastSuccess.Name); ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success at %v", ts)
	}
	stopCanary()
	if code := <-canaryDone; code != 0 {
		t.Fatalf("chaff canary exited %d:\n%s", code, canaryOut.String())
	}

	d.StopCoverNode()
	out.Reset()
	errb.Reset()
	code := run(ctx, []string{"canary", "--once", "--data-dir", dir, "--deadline", "4s"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "the canary failed: the canary message did not reach the canary journalist within") {
		t.Fatalf("chaff canary --once with the CoverNode stopped: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
