package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startAPI runs `chaff api` in-process until ctx ends and returns the
// addresses it printed and a channel with its exit code.
func startAPI(t *testing.T, ctx context.Context, args []string, stderr io.Writer) (map[string]string, chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"api"}, args...), pw, stderr)
		pw.Close()
	}()
	addrs := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(addrs) < 3 && sc.Scan() {
		var name, url string
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[1] == "listening" {
			name, url = f[0], f[3]
			addrs[name] = url
		}
	}
	if len(addrs) < 3 {
		t.Fatalf("chaff api printed %v; exit %v", addrs, <-done)
	}
	go io.Copy(io.Discard, pr)
	return addrs, done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAPICommand runs `chaff api` on an embedded JetStream, stops it while
// ingest requests are in flight, and checks that every message that got a
// 200 is in the stream exactly once.
func TestAPICommand(t *testing.T) {
	dir := t.TempDir()
	n := testnet.NewNewsroom(t, time.Now())
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	os.WriteFile(anchor, b, 0o644)
	args := []string{"--anchor", anchor, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0", "--ingest-listen", "127.0.0.1:0", "--ingest-rate", "100000", "--ingest-burst", "100000"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	addrs, done := startAPI(t, ctx, args, &logs)

	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(addrs["api"] + "/v1/public-keys"); code != 200 || !strings.Contains(body, n.Org.Public.Hex()) {
		t.Fatalf("public keys: %d %s", code, body)
	}
	if code, _ := get(addrs["ingest"] + "/healthcheck"); code != 200 {
		t.Fatalf("ingest healthcheck %d", code)
	}
	// With its own listener, the ingest is not on the API's.
	res, err := http.Post(addrs["api"]+"/user/messages", "application/json", bytes.NewReader(testnet.EncodeU2C(make([]byte, protocol.U2CMessageSize))))
	if err != nil || res.StatusCode != 404 {
		t.Fatalf("ingest on the API listener: %v %v", res.StatusCode, err)
	}

	// Metrics on the admin listener: counts per route, nothing per client.
	if code, body := get(addrs["admin"] + "/metrics"); code != 200 || !strings.Contains(body, `chaff_api_requests_total{code="404",route="POST /user/messages"}`) && !strings.Contains(body, `chaff_api_requests_total{code="200",route="GET /v1/public-keys"}`) || strings.Contains(body, "127.0.0.1") {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
	if code, _ := get(addrs["admin"] + "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	for name, addr := range addrs {
		slowClientCut(t, "chaff api's "+name+" listener", addr)
	}

	// Ingest traffic, stopped half-way.
	var mu sync.Mutex
	var acked [][]byte
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				msg := make([]byte, protocol.U2CMessageSize)
				rand.Read(msg)
				res, err := client.Post(addrs["ingest"]+"/user/messages", "application/json", bytes.NewReader(testnet.EncodeU2C(msg)))
				if err != nil {
					return // the server has stopped
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 200 {
					mu.Lock()
					acked = append(acked, msg)
					mu.Unlock()
				}
				if w == 0 && i == 50 {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if code := <-done; code != 0 {
		t.Fatalf("chaff api exited %d: %s", code, logs.String())
	}
	if len(acked) < 50 {
		t.Fatalf("only %d messages acknowledged", len(acked))
	}

	// Every acknowledged message is in the stream exactly once.
	srv, err := embeddednats.Start(embeddednats.Options{StoreDir: filepath.Join(dir, "data", "jetstream"), Name: "check"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := embeddednats.ConnectInProcess(srv, "check")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stored := readStream(t, nc, store.StreamU2C)
	for _, m := range acked {
		if c := stored[string(m)]; c != 1 {
			t.Fatalf("an acknowledged message is stored %d times", c)
		}
	}
	for _, c := range stored {
		if c != 1 {
			t.Fatalf("a message is stored %d times", c)
		}
	}
	t.Logf("%d acknowledged, %d stored", len(acked), len(stored))
	// Logs hold no client addresses.
	if strings.Contains(logs.String(), "127.0.0.1") {
		t.Fatalf("logs mention a client address:\n%s", logs.String())
	}
}

// readStream counts each distinct message in a stream.
func readStream(t *testing.T, nc *nats.Conn, name string) map[string]int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(t.Context())
	out := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			continue
		}
		out[string(m.Data)]++
	}
	return out
}
