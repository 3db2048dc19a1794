package trafficanalysis

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"bytes"
	"context"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
)

// observation is what the ingest's operator records of one request.
type observation struct {
	client  int
	at      time.Time
	size    int
	status  int
	latency time.Duration
}

// recorder wraps the ingest and records every POST /user/messages. The
// client is named by a header the test's apps set: in the field it would
// be the client's address.
type recorder struct {
	mu  sync.Mutex
	obs []observation
	h   http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/user/messages" {
		r.h.ServeHTTP(w, req)
		return
	}
	start := time.Now()
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w, code: 200}
	r.h.ServeHTTP(sw, req)
	id, _ := strconv.Atoi(req.Header.Get("X-Test-Client"))
	r.mu.Lock()
	r.obs = append(r.obs, observation{client: id, at: start, size: len(body), status: sw.code, latency: time.Since(start)})
	r.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(c int) { s.code = c; s.ResponseWriter.WriteHeader(c) }

type tagTransport struct{ id string }

func (t tagTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Client", t.id)
	return http.DefaultTransport.RoundTrip(r)
}

// population runs installs of the real client library, a few of them
// sources with real messages queued, through rounds of background runs in
// random order, and returns what the ingest saw and which clients were
// sources. With leaky set, sources also send at once when they compose,
// outside the schedule: the negative control.
func population(t *testing.T, mode string, installs, sources, rounds int, leaky bool) ([]observation, map[int]bool) {
	n := testnet.NewNewsroomIn(t, mode, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	_, bundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	for _, step := range []struct {
		path string
		body []byte
	}{
		{"/v1/status/public-key", n.Form(n.Org, n.Admin.Public)},
		{"/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "AVAILABLE", "description": "up", "timestamp": protocol.FormatTime(time.Now())}})},
	} {
		res, err := http.Post(a.URL+step.path, "application/json", bytes.NewReader(step.body))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v", step.path, err)
		}
	}
	// A CoverNode's keys must be published for the apps to wrap messages.
	if _, err := covernode.New(context.Background(), nc, covernode.Config{StateDir: t.TempDir(), StateKey: testnet.StateKey(t), BundlePath: bundle, API: apiclient.New(a.URL),
		Anchors: []keys.SignedPublicKey{n.Org.Public}, U2J: mix.TestU2J, J2U: mix.TestJ2U}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{h: a.Server.Handler(true)}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	ctx := context.Background()
	r := rand.New(rand.NewPCG(uint64(installs), uint64(rounds)))
	isSource := map[int]bool{}
	for _, i := range r.Perm(installs)[:sources] {
		isSource[i] = true
	}
	apps := make([]*client.App, installs)
	sessions := map[int]*client.Session{}
	for i := range apps {
		c := &apiclient.Client{Base: srv.URL, HTTP: &http.Client{Transport: tagTransport{strconv.Itoa(i)}}}
		app, err := client.Start(client.Config{StateDir: t.TempDir(), API: c, Anchors: []keys.SignedPublicKey{n.Org.Public},
			KDF: client.KDFParams{Time: 1, Memory: 64, Threads: 1}, MinRunInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		apps[i] = app
		if isSource[i] {
			_, s, err := app.CreateMailbox()
			if err != nil {
				t.Fatal(err)
			}
			sessions[i] = s
		}
	}
	for round := range rounds {
		// Sources write when they choose (here: at the start of the round);
		// their apps send on the same schedule as everyone's.
		for i, s := range sessions {
			if err := s.Send("alice", fmt.Sprintf("round %d", round)); err != nil {
				t.Fatal(err)
			}
			if leaky {
				if _, err := apps[i].BackgroundRun(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, i := range r.Perm(installs) {
			time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
			if _, err := apps[i].BackgroundRun(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	return rec.obs, isSource
}

// features turns observations into rows: size, status, response time,
// and the time since the same client's previous message.
func features(obs []observation) ([][]float64, []int) {
	byClient := map[int][]observation{}
	for _, o := range obs {
		byClient[o.client] = append(byClient[o.client], o)
	}
	var rows [][]float64
	var clients []int
	for c, os := range byClient {
		sort.Slice(os, func(i, j int) bool { return os[i].at.Before(os[j].at) })
		for k, o := range os {
			gap := -1.0
			if k > 0 {
				gap = o.at.Sub(os[k-1].at).Seconds()
			}
			if gap < 0 {
				continue // a client's first message has no gap
			}
			rows = append(rows, []float64{float64(o.size), float64(o.status), o.latency.Seconds(), gap})
			clients = append(clients, c)
		}
	}
	return rows, clients
}

var featureNames = []string{"size", "status", "response time", "inter-arrival"}

// distinguish runs the distinguishers over what the ingest saw, sources'
// messages against everyone else's, the classifier trained on half the
// clients and tested on the other half (a model never predicts a client
// it was trained on).
func distinguish(obs []observation, isSource map[int]bool) verdict {
	rows, clients := features(obs)
	labels := make([]bool, len(rows))
	for i := range rows {
		labels[i] = isSource[clients[i]]
	}
	return judge(rows, labels, featureNames, func(i int) bool { return clients[i]%2 == 0 })
}

// TestIngestTrafficIndistinguishable: sources and other readers look the
// same at the ingest.
func TestIngestTrafficIndistinguishable(t *testing.T) {
	adversary.InModes(t, testIngestTrafficIndistinguishable)
}

func testIngestTrafficIndistinguishable(t *testing.T, mode string) {
	obs, isSource := population(t, mode, 100, 25, 10, false)
	if len(obs) < 1900 {
		t.Fatalf("only %d observations", len(obs))
	}
	v := distinguish(obs, isSource)
	t.Logf("%d requests; %v", len(obs), v)
	v.wantIndistinguishable(t, "sources")
}

// TestIngestTrafficNegativeControl: sources that send at once when they
// compose, outside the schedule, are caught by the same distinguishers:
// the test above can fail.
func TestIngestTrafficNegativeControl(t *testing.T) {
	adversary.InModes(t, testIngestTrafficNegativeControl)
}

func testIngestTrafficNegativeControl(t *testing.T, mode string) {
	obs, isSource := population(t, mode, 100, 25, 10, true)
	v := distinguish(obs, isSource)
	t.Logf("leaky sources: %v", v)
	v.wantCaught(t, "leaky sources")
}
