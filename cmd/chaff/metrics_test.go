package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/telemetry"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// readerToken stands for anything specific to a reader (an address, a
// device, a path or header they sent): the metrics test sends it in every
// way a reader could and checks that no scrape shows it.
const readerToken = "reader7f3a9c"

// TestMetricsListeners runs `chaff api` and `chaff covernode` with their
// admin listeners, drives readers' and journalists' cover traffic through
// both mix directions until each publishes a dead drop, scrapes both
// listeners and checks that each serves exactly its metrics of package
// telemetry, and that every label takes a value from a closed set that
// cannot name a reader.
func TestMetricsListeners(t *testing.T) {
	dir := t.TempDir()
	srv, err := embeddednats.Start(embeddednats.Options{StoreDir: filepath.Join(dir, "nats"), Name: "metrics", Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	n := testnet.NewNewsroom(t, time.Now())
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	os.WriteFile(anchor, b, 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	addrs, apiDone := startAPI(t, ctx, []string{"--anchor", anchor, "--nats", srv.ClientURL(), "--replicas", "1", "--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0", "--ingest-listen", "127.0.0.1:0", "--ingest-rate", "100000", "--ingest-burst", "100000",
		"--client-ip-header", "X-Forwarded-For"}, &logs)
	alice, bundle := testnet.Bootstrap(t, addrs["api"], n, dir)

	// The CoverNode, in-process; it prints its admin address.
	pr, pw := io.Pipe()
	cnDone := make(chan int, 1)
	go func() {
		cnDone <- run(ctx, []string{"covernode", "--state", filepath.Join(dir, "state"), "--state-key-file", filepath.Join(dir, "state.key"),
			"--bundle", bundle, "--api", addrs["api"], "--anchor", anchor, "--nats", srv.ClientURL(), "--admin-listen", "127.0.0.1:0",
			"--mixing", "test", "--u2j-threshold-min", "1", "--u2j-threshold-max", "3", "--u2j-output-size", "3",
			"--j2u-threshold-min", "1", "--j2u-threshold-max", "2", "--j2u-output-size", "2", "--log-level", "warn"}, pw, &logs)
		pw.Close()
	}()
	var cnAdmin string
	sc := bufio.NewScanner(pr)
	for cnAdmin == "" && sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "health and metrics on "); ok {
			cnAdmin = strings.TrimSpace(after)
		}
	}
	if cnAdmin == "" {
		t.Fatalf("chaff covernode printed no admin address (exit %v):\n%s", <-cnDone, logs.String())
	}
	go io.Copy(io.Discard, pr)

	api := apiclient.New(addrs["api"])
	var v *keys.Verified
	waitUntil(t, "the CoverNode's messaging key", func() bool {
		h, err := api.PublicKeys(ctx)
		if err != nil {
			return false
		}
		v, err = keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
		if err != nil {
			return false
		}
		_, err = v.CoverNodeKeys()
		return err == nil
	})
	cks, _ := v.CoverNodeKeys()

	// Readers' cover, carrying the reader token in every place a reader
	// controls: client address header, user agent, query, a path parameter.
	client := &http.Client{Timeout: 20 * time.Second}
	do := func(method, url string, body []byte) {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("X-Forwarded-For", "203.0.113.77, "+readerToken)
		req.Header.Set("User-Agent", readerToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	for range 3 {
		c, _ := protocol.SealCoverU2C(cks)
		do("POST", addrs["ingest"]+"/user/messages?"+readerToken+"=1", testnet.EncodeU2C(c))
	}
	do("GET", addrs["api"]+"/v1/journalist/"+readerToken+"/identity-key", nil)
	do("GET", addrs["api"]+"/v1/user/dead-drops?ids_greater_than=0&"+readerToken, nil)
	do("GET", addrs["api"]+"/v1/"+readerToken, nil)
	// Journalists' cover, enough for a J2U release.
	for range 2 {
		c, _ := protocol.SealCoverJ2C(cks)
		if err := api.SendJournalistMessage(ctx, alice.ID, c); err != nil {
			t.Fatal(err)
		}
	}

	// Both directions publish a dead drop. The CoverNode records a
	// round's duration once the API has accepted its dead drop, so the
	// API can serve it a moment before the CoverNode's histogram has it.
	var apiFams, cnFams map[string]*dto.MetricFamily
	waitUntil(t, "a dead drop of each kind, and the u2j round recorded", func() bool {
		apiFams = scrape(t, addrs["admin"]+"/metrics")
		cnFams = scrape(t, cnAdmin+"/metrics")
		return len(apiFams[telemetry.DeadDropAge.Name].GetMetric()) == 2 &&
			find(cnFams[telemetry.RoundLatency.Name], "direction", "u2j").GetHistogram().GetSampleCount() >= 1
	})

	owners := map[string]bool{"": true}
	for _, id := range append(v.JournalistIDs(), v.CoverNodeIDs()...) {
		owners[id] = true
	}
	for _, l := range []struct {
		name string
		fams map[string]*dto.MetricFamily
		want []telemetry.Metric
	}{{"api", apiFams, telemetry.API}, {"covernode", cnFams, telemetry.CoverNode}} {
		for _, p := range checkMetrics(l.fams, l.want, owners) {
			t.Errorf("%s listener: %s", l.name, p)
		}
	}

	// Values that say the metrics work: the thresholds as configured, a
	// dead drop of each kind a moment old, alice's key expiring in weeks.
	if got := gauge(cnFams, telemetry.MixThreshold.Name, "direction", "u2j", "bound", "max"); got != 3 {
		t.Errorf("u2j threshold max = %v, want 3", got)
	}
	if got := gauge(cnFams, telemetry.MixTimeout.Name, "direction", "j2u"); got != (15 * time.Minute).Seconds() {
		t.Errorf("j2u timeout = %v", got)
	}
	if age := gauge(apiFams, telemetry.DeadDropAge.Name, "kind", "journalist"); age < 0 || age > 120 {
		t.Errorf("journalist dead drop age = %v s", age)
	}
	if left := gauge(apiFams, telemetry.KeyExpiry.Name, "role", "journalist_msg", "owner", "alice"); left < float64(keys.Week/time.Second) {
		t.Errorf("alice's messaging key expires in %v s", left)
	}
	if got := gauge(cnFams, telemetry.StreamDepth.Name, "stream", store.StreamU2C); got != 0 {
		t.Errorf("U2C stream holds %v messages after the CoverNode took them all", got)
	}
	if h := find(cnFams[telemetry.RoundLatency.Name], "direction", "u2j"); h.GetHistogram().GetSampleCount() < 1 {
		t.Errorf("no u2j round duration recorded")
	}
	if h := find(apiFams[telemetry.IngestLatency.Name], "direction", "u2c"); h.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("u2c ingest latency has %d samples, want 3", h.GetHistogram().GetSampleCount())
	}
	cancel()
	<-apiDone
	<-cnDone
}

// TestCheckMetricsCatchesReaderLabels is the negative control of
// checkMetrics: an exposition with a label that could carry a reader's
// value, a reader's value in a closed label, or a metric outside the list
// is flagged.
func TestCheckMetricsCatchesReaderLabels(t *testing.T) {
	want := []telemetry.Metric{telemetry.Appended, telemetry.KeyExpiry}
	good := `chaff_api_messages_appended_total{direction="u2c"} 1
chaff_key_expiry_seconds{role="journalist_msg",owner="alice"} 100
go_goroutines 5
`
	owners := map[string]bool{"": true, "alice": true}
	if p := checkMetrics(parse(t, good), want, owners); len(p) != 0 {
		t.Fatalf("a clean exposition is flagged: %v", p)
	}
	for name, bad := range map[string]string{
		"unknown label":        good + `chaff_api_messages_appended_total{direction="u2c",client="203.0.113.7"} 1` + "\n",
		"reader as owner":      strings.Replace(good, `owner="alice"`, `owner="`+readerToken+`"`, 1),
		"reader in direction":  strings.Replace(good, `direction="u2c"`, `direction="`+readerToken+`"`, 1),
		"metric not listed":    good + `chaff_reader_sessions_total 3` + "\n",
		"metric missing":       strings.SplitN(good, "\n", 2)[1],
		"runtime metric label": good + `go_threads{peer="203.0.113.7"} 1` + "\n",
	} {
		if p := checkMetrics(parse(t, bad), want, owners); len(p) == 0 {
			t.Errorf("%s: not flagged", name)
		}
	}
}

var routeLabel = regexp.MustCompile(`^(GET|POST|PATCH|DELETE|PUT) (/([a-z0-9._-]+|\{[a-z_]+\}))+$`)

// checkMetrics returns what is wrong with a listener's scrape: a chaff_
// metric missing from want or not in it, a label not of the metric's
// definition, or a label value outside the label's closed set. owners are
// the published journalist and CoverNode ids.
func checkMetrics(fams map[string]*dto.MetricFamily, want []telemetry.Metric, owners map[string]bool) []string {
	oneOf := func(vs ...string) func(string) bool { return func(v string) bool { return slices.Contains(vs, v) } }
	rules := map[string]func(string) bool{
		telemetry.LabelRoute:     func(v string) bool { return routeLabel.MatchString(v) && !strings.Contains(v, readerToken) },
		telemetry.LabelCode:      func(v string) bool { c, err := strconv.Atoi(v); return err == nil && c >= 100 && c < 600 },
		telemetry.LabelDirection: oneOf("u2c", "j2c", "u2j", "j2u"),
		telemetry.LabelKind:      oneOf("user", "journalist"),
		telemetry.LabelRole:      func(v string) bool { _, ok := keys.RoleByEntity(v); return ok },
		telemetry.LabelOwner:     func(v string) bool { return owners[v] },
		telemetry.LabelStream:    oneOf(store.StreamU2C, store.StreamJ2C),
		telemetry.LabelConsumer:  oneOf(covernode.ConsumerName),
		telemetry.LabelBound:     oneOf("min", "max"),
		telemetry.LabelLeg:       oneOf("to_journalist", "round_trip"),
	}
	var problems []string
	defs := map[string]telemetry.Metric{}
	for _, m := range want {
		defs[m.Name] = m
		if _, ok := fams[m.Name]; !ok {
			problems = append(problems, "missing "+m.Name)
		}
	}
	for name, f := range fams {
		var allowed []string
		switch {
		case strings.HasPrefix(name, "go_"), strings.HasPrefix(name, "process_"):
			// The runtime's and the process's: only the Go version.
			allowed = []string{"version"}
			rules["version"] = oneOf(runtime.Version())
		default:
			def, ok := defs[name]
			if !ok {
				problems = append(problems, "unlisted metric "+name)
				continue
			}
			allowed = def.Labels
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				switch {
				case !slices.Contains(allowed, lp.GetName()):
					problems = append(problems, fmt.Sprintf("%s has label %s", name, lp.GetName()))
				case !rules[lp.GetName()](lp.GetValue()):
					problems = append(problems, fmt.Sprintf("%s{%s=%q}: not a value of that label", name, lp.GetName(), lp.GetValue()))
				}
			}
		}
	}
	return problems
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, res.StatusCode, body)
	}
	if bytes.Contains(body, []byte(readerToken)) || bytes.Contains(body, []byte("203.0.113")) || bytes.Contains(body, []byte("127.0.0.1")) {
		t.Fatalf("%s shows a reader's value or an address:\n%s", url, body)
	}
	return parse(t, string(body))
}

func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, text)
	}
	return fams
}

// find returns the series of f whose labels include the given name, value
// pairs.
func find(f *dto.MetricFamily, pairs ...string) *dto.Metric {
	for _, m := range f.GetMetric() {
		ok := true
		for i := 0; i+1 < len(pairs); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(lp *dto.LabelPair) bool { return lp.GetName() == pairs[i] && lp.GetValue() == pairs[i+1] }) {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

func gauge(fams map[string]*dto.MetricFamily, name string, pairs ...string) float64 {
	m := find(fams[name], pairs...)
	if m == nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
