// Package benchsuite is chaff bench: every figure Chaff claims, measured
// in one process in one run, each beside the bound it is quoted against.
package benchsuite

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/httpserver"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Row is one figure and its bound.
type Row struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Bound  string  `json:"bound"`
	Ratio  float64 `json:"ratio"`
	Target string  `json:"target,omitempty"`
}

// Options size the run.
type Options struct {
	// Duration is roughly how long each throughput measurement runs.
	Duration time.Duration
	// Conns is the number of client connections for HTTP measurements.
	Conns int
}

func nsPerOp(f func(b *testing.B)) float64 {
	r := testing.Benchmark(f)
	return float64(r.T.Nanoseconds()) / float64(max(r.N, 1))
}

// Run measures everything and returns the rows.
func Run(ctx context.Context, o Options) ([]Row, error) {
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Conns <= 0 {
		o.Conns = 64
	}
	var rows []Row
	sk, _ := crypto.GenerateKey()
	peer, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	bare := nsPerOp(func(b *testing.B) {
		for b.Loop() {
			crypto.X25519(sk, peer.PublicKey())
		}
	})
	bareRate := 1e9 / bare
	rows = append(rows, Row{Name: "bare X25519", Value: bareRate, Unit: "ops/s", Bound: "-", Ratio: 1})
	cks := []*crypto.PublicKey{sk.PublicKey(), other.PublicKey()}
	cover, err := protocol.SealCoverU2C(cks)
	if err != nil {
		return nil, err
	}
	vk, _ := crypto.GenerateSigningKey()
	sig := vk.Sign([]byte("m"))
	for _, p := range []struct {
		name, target string
		f            func(b *testing.B)
	}{
		{"open one U2C (CoverNode)", "≤ 1.15", func(b *testing.B) {
			for b.Loop() {
				protocol.OpenU2C(sk, cover, 0)
			}
		}},
		{"build one cover U2C (client)", "≤ 5", func(b *testing.B) {
			for b.Loop() {
				protocol.SealCoverU2C(cks)
			}
		}},
		{"anonymous box open", "", func(b *testing.B) {
			box, _ := crypto.SealAnonymous(sk.PublicKey(), make([]byte, 545))
			for b.Loop() {
				crypto.OpenAnonymous(sk, box)
			}
		}},
		{"Ed25519 verify", "", func(b *testing.B) {
			for b.Loop() {
				vk.VerifyingKey().Verify([]byte("m"), sig)
			}
		}},
	} {
		ns := nsPerOp(p.f)
		rows = append(rows, Row{Name: p.name, Value: ns / 1000, Unit: "µs/op", Bound: "bare X25519", Ratio: ns / bare, Target: p.target})
	}
	one, err := covernode.MeasureProcessing(pq.ModeCoverDrop, 1, o.Duration)
	if err != nil {
		return nil, err
	}
	two, err := covernode.MeasureProcessing(pq.ModeCoverDrop, 2, o.Duration)
	if err != nil {
		return nil, err
	}
	// Both modes' pipelines, one batch of each in turn on one core: the
	// ratio the pq mode's target is set on (issue 16, docs/PQ.md §10.2).
	cdRate, pqRate, err := covernode.MeasureModes(o.Duration)
	if err != nil {
		return nil, err
	}
	rows = append(rows,
		Row{Name: "CoverNode U2C processing, 1 worker", Value: one, Unit: "msgs/s", Bound: "bare X25519", Ratio: one / bareRate, Target: "≥ 0.85"},
		Row{Name: "CoverNode U2C processing, 2 workers", Value: two, Unit: "msgs/s", Bound: "1 worker", Ratio: two / one, Target: "≥ 1.7"},
		Row{Name: "CoverNode U2C processing, coverdrop", Value: cdRate, Unit: "msgs/s", Bound: "bare X25519", Ratio: cdRate / bareRate},
		Row{Name: "CoverNode U2C processing, pq", Value: pqRate, Unit: "msgs/s", Bound: "coverdrop, same run", Ratio: pqRate / cdRate, Target: "≥ 0.4"})
	phone, err := measurePhone(o.Duration)
	if err != nil {
		return nil, err
	}
	journalists, err := journalistDownloads(1_000_000, 10_000_000)
	if err != nil {
		return nil, err
	}
	keyRows, err := keyDownloads()
	if err != nil {
		return nil, err
	}
	rows = append(append(append(rows, phone...), keyRows...), journalists...)
	net, err := measureNetwork(ctx, o)
	if err != nil {
		return nil, err
	}
	return append(rows, net...), nil
}

// measureNetwork runs an embedded JetStream and an API on loopback and
// measures the ingest and dead-drop serving, beside raw JetStream
// publishing and a bare HTTP handler, with the same light client.
func measureNetwork(ctx context.Context, o Options) ([]Row, error) {
	dir, err := os.MkdirTemp("", "chaff-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := embeddednats.Start(embeddednats.Options{StoreDir: dir, Name: "bench"})
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	nc, err := embeddednats.ConnectInProcess(srv, "bench")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	st, err := store.Open(ctx, nc, store.Config{})
	if err != nil {
		return nil, err
	}
	// An API of each mode (its organisation key's) on the same store.
	newAPI := func(mode string) (*api.Server, error) {
		org, err := keys.GenerateIn(mode, keys.Organization, nil, time.Now())
		if err != nil {
			return nil, err
		}
		return api.New(ctx, st, api.Config{Anchors: []keys.SignedPublicKey{org.Public}, IngestRate: 1e9, IngestBurst: 1 << 30,
			Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	}
	a, err := newAPI(keys.ModeCoverDrop)
	if err != nil {
		return nil, err
	}
	pqAPI, err := newAPI(keys.ModePQ)
	if err != nil {
		return nil, err
	}
	serve := func(h http.Handler) (string, func(), error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		hs := httpserver.New(h, httpserver.Options{})
		go hs.Serve(ln)
		return ln.Addr().String(), func() { hs.Close() }, nil
	}
	apiAddr, stopAPI, err := serve(a.Handler(true))
	if err != nil {
		return nil, err
	}
	defer stopAPI()
	pqAddr, stopPQ, err := serve(pqAPI.Handler(true))
	if err != nil {
		return nil, err
	}
	defer stopPQ()
	bareAddr, stopBare, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "0")
	}))
	if err != nil {
		return nil, err
	}
	defer stopBare()

	floorAddr, stopFloor, err := floorServer()
	if err != nil {
		return nil, err
	}
	defer stopFloor()

	msg := make([]byte, protocol.U2CMessageSize)
	body, _ := json.Marshal(protocol.EncodeBase64(msg))
	floor, err := Hammer(floorAddr, apiclient.PostUserMessage.Method, apiclient.PostUserMessage.Path, body, o.Conns, o.Duration, 0)
	if err != nil {
		return nil, err
	}
	ingest, err := HammerMessages(apiAddr, apiclient.PostUserMessage.Method, apiclient.PostUserMessage.Path, body, o.Conns, o.Duration, 0)
	if err != nil {
		return nil, err
	}
	pqBody, _ := json.Marshal(protocol.EncodeBase64(make([]byte, pq.U2CMessageSize)))
	pqIngest, err := HammerMessages(pqAddr, apiclient.PostUserMessage.Method, apiclient.PostUserMessage.Path, pqBody, o.Conns, o.Duration, 0)
	if err != nil {
		return nil, err
	}
	bareHTTP, err := Hammer(bareAddr, "POST", "/", body, o.Conns, o.Duration, 0)
	if err != nil {
		return nil, err
	}
	poll, err := Hammer(apiAddr, http.MethodGet, apiclient.DeadDrops(deaddrop.User).Get.Path+"?ids_greater_than=0", nil, o.Conns, o.Duration, 0)
	if err != nil {
		return nil, err
	}
	// Raw JetStream async publishing of U2C-sized messages: bare, and
	// with a de-duplication id as the ingest appends them.
	js, _ := jetstream.New(nc)
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{"bench.raw"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		return nil, err
	}
	publishRate := func(withID bool) (float64, error) {
		start := time.Now()
		n := 0
		var id [16]byte
		for time.Since(start) < o.Duration {
			for range 1000 {
				m := &nats.Msg{Subject: "bench.raw", Data: msg}
				if withID {
					rand.Read(id[:])
					m.Header = nats.Header{jetstream.MsgIDHeader: []string{hex.EncodeToString(id[:])}}
				}
				if _, err := js.PublishMsgAsync(m); err != nil {
					return 0, err
				}
			}
			n += 1000
			<-js.PublishAsyncComplete()
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	raw, err := publishRate(false)
	if err != nil {
		return nil, err
	}
	rawID, err := publishRate(true)
	if err != nil {
		return nil, err
	}
	return []Row{
		{Name: "raw JetStream async publish", Value: raw, Unit: "msgs/s", Bound: "-", Ratio: 1},
		{Name: "raw publish with de-dup id", Value: rawID, Unit: "msgs/s", Bound: "raw publish", Ratio: rawID / raw},
		{Name: "HTTP floor (framing only)", Value: floor, Unit: "req/s", Bound: "raw publish", Ratio: floor / raw},
		{Name: "bare HTTP handler", Value: bareHTTP, Unit: "req/s", Bound: "raw publish", Ratio: bareHTTP / raw},
		{Name: "ingest, durable append", Value: ingest, Unit: "req/s", Bound: "raw publish", Ratio: ingest / raw, Target: "≥ 0.5"},
		{Name: "ingest, durable append", Value: ingest, Unit: "req/s", Bound: "bare HTTP handler", Ratio: ingest / bareHTTP},
		{Name: "ingest, durable append", Value: ingest, Unit: "req/s", Bound: "raw publish with id", Ratio: ingest / rawID},
		{Name: "ingest, durable append, pq (4,037-byte U2C)", Value: pqIngest, Unit: "req/s", Bound: "coverdrop ingest", Ratio: pqIngest / ingest},
		{Name: "GET user dead drops (empty poll)", Value: poll, Unit: "req/s", Bound: "bare HTTP handler", Ratio: poll / bareHTTP},
	}, nil
}

// floorServer answers every request with a fixed empty 200 once it has
// read the request's head and Content-Length bytes of body, and does
// nothing else: no HTTP server can do less per request. Measured with the
// same client on the same cores, it shows how much of the machine the
// client and the kernel take before a server does any work. It is for
// this benchmark only (loopback, well-formed requests from Hammer).
func floorServer() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReaderSize(c, 64<<10)
				for {
					length := 0
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							return
						}
						line = bytes.TrimRight(line, "\r\n")
						if len(line) == 0 {
							break
						}
						if name, value, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(name), "Content-Length") {
							if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil || length < 0 {
								return
							}
						}
					}
					if _, err := r.Discard(length); err != nil {
						return
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close() }, nil
}

// Hammer sends one request over and over on conns keep-alive HTTP/1.1
// connections, writing each as soon as the previous answer is read, for d
// (when d > 0) or n requests in all (when n > 0), and returns the rate of
// answers. Any answer other than 2xx is an error. It is a much lighter
// client than net/http's, so that on a small machine the figures measure
// the server rather than the client.
func Hammer(addr, method, path string, body []byte, conns int, d time.Duration, n int) (float64, error) {
	return hammer(addr, method, path, body, false, conns, d, n)
}

// HammerMessages is Hammer for POST /user/messages and the like: body is
// a JSON string holding a message's base64, and every request carries a
// different message, its first 12 base64 digits (9 bytes) replaced by a
// count. The ingest stores each one; one body sent over and over would
// be stored once and answered from JetStream's duplicate window after.
func HammerMessages(addr, method, path string, body []byte, conns int, d time.Duration, n int) (float64, error) {
	if len(body) < 14 || body[0] != '"' {
		return 0, errors.New("benchsuite: HammerMessages takes a JSON string of base64")
	}
	return hammer(addr, method, path, body, true, conns, d, n)
}

// base64Digits is the standard base64 alphabet, for HammerMessages'
// counts.
const base64Digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func hammer(addr, method, path string, body []byte, distinct bool, conns int, d time.Duration, n int) (float64, error) {
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", method, path, addr, len(body))
	var count atomic.Uint64
	var ok, bad, started atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	more := func() bool {
		if n > 0 {
			return started.Add(1) <= int64(n)
		}
		return time.Now().Before(deadline)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer c.Close()
			r := bufio.NewReaderSize(c, 64<<10)
			req := append([]byte(head), body...)
			var digits []byte // the count's place in a HammerMessages body
			if distinct {
				digits = req[len(head)+1 : len(head)+13]
			}
			for more() {
				if distinct {
					for i, k := 0, count.Add(1); i < len(digits); i, k = i+1, k>>6 {
						digits[i] = base64Digits[k&63]
					}
				}
				if _, err := c.Write(req); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				res, err := http.ReadResponse(r, nil)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode/100 == 2 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, e.(error)
	}
	if bad.Load() > 0 {
		return 0, fmt.Errorf("%d of %d requests to %s failed", bad.Load(), bad.Load()+ok.Load(), path)
	}
	return float64(ok.Load()) / time.Since(start).Seconds(), nil
}

// Print writes the rows as a table.
func Print(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "%-52s %14s %-8s  %-20s %8s  %s\n", "figure", "value", "unit", "against", "ratio", "target")
	for _, r := range rows {
		fmt.Fprintf(w, "%-52s %14.2f %-8s  %-20s %8.3f  %s\n", r.Name, r.Value, r.Unit, r.Bound, r.Ratio, r.Target)
	}
}
