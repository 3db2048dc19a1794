package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
)

// command is a chaff command run in-process by startCommand.
type command struct {
	lines chan string // its standard output, line by line; closed when it exits
	done  chan int    // its exit code
	logs  *syncBuffer // its standard error
	code  *int
}

// startCommand runs chaff with args in-process until ctx ends.
func startCommand(t *testing.T, ctx context.Context, args ...string) *command {
	t.Helper()
	c := &command{lines: make(chan string, 64), done: make(chan int, 1), logs: &syncBuffer{}}
	pr, pw := io.Pipe()
	go func() {
		code := run(ctx, args, pw, c.logs)
		pw.Close()
		c.done <- code
	}()
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chaff %s, standard error:\n%s", args[0], c.logs.String())
		}
	})
	return c
}

// await returns the rest of the first line of output that starts with
// prefix; it fails the test if the command exits first or limit passes.
func (c *command) await(t *testing.T, prefix string, limit time.Duration) string {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the command exited (%d) before printing %q", c.exit(t, time.Minute), prefix)
			}
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return rest
			}
		case <-deadline:
			t.Fatalf("no %q within %s", prefix, limit)
		}
	}
}

// exit waits at most limit for the command's exit code.
func (c *command) exit(t *testing.T, limit time.Duration) int {
	t.Helper()
	if c.code != nil {
		return *c.code
	}
	go func() {
		for range c.lines { // what is left
		}
	}()
	select {
	case code := <-c.done:
		c.code = &code
		return code
	case <-time.After(limit):
		t.Fatalf("the command did not exit within %s", limit)
		return 0
	}
}

// running fails the test if the command has exited.
func (c *command) running(t *testing.T) {
	t.Helper()
	select {
	case code := <-c.done:
		c.code = &code
		t.Fatalf("the command exited (%d)", code)
	default:
	}
}

// health is GET /healthz at admin: its status and body (0 when it does
// not answer).
func health(admin string) (int, string) {
	res, err := http.Get(admin + "/healthz")
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// awaitNotReady waits until admin's /healthz answers 503, starting, with a
// body that contains why.
func awaitNotReady(t *testing.T, c *command, admin, why string) {
	t.Helper()
	waitUntil(t, "/healthz to answer 503 "+why, func() bool {
		c.running(t)
		code, body := health(admin)
		return code == http.StatusServiceUnavailable && strings.HasPrefix(body, "starting: ") && strings.Contains(body, why)
	})
}

// startWaiting starts a command whose admin listener it prints after
// adminPrefix, and returns once that listener's /healthz says it waits
// (503, why); cancel stops it.
func startWaiting(t *testing.T, adminPrefix, why string, args ...string) (c *command, admin string, cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	c = startCommand(t, ctx, args...)
	admin = c.await(t, adminPrefix, time.Minute)
	awaitNotReady(t, c, admin, why)
	return c, admin, cancel
}

// checkWaitLog checks that the log says once that what was not ready,
// then that it was after several attempts, with far fewer lines than
// attempts in between (one every 30 s at most).
func checkWaitLog(t *testing.T, logs, what string) {
	t.Helper()
	first := strings.Count(logs, `"msg":"`+what+` not ready; retrying until it is"`)
	again := strings.Count(logs, `"msg":"`+what+` still not ready; retrying"`)
	m := regexp.MustCompile(`"msg":"` + regexp.QuoteMeta(what) + ` ready","attempts":(\d+)`).FindStringSubmatch(logs)
	if first != 1 || m == nil {
		t.Fatalf("the log does not say once that %s was not ready, then that it was:\n%s", what, logs)
	}
	attempts, _ := strconv.Atoi(m[1])
	if attempts < 3 || 1+again >= attempts {
		t.Fatalf("%d attempts, %d log lines about them", attempts, 1+again)
	}
}

// writeAnchor writes the newsroom's trust anchor into dir.
func writeAnchor(t *testing.T, dir string, n *testnet.Newsroom) string {
	t.Helper()
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	if err := os.WriteFile(anchor, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return anchor
}

// giveUp sets testHookGiveUp for the rest of the test: the commands give
// up at the first failure to start, as they did before they waited.
func giveUp(t *testing.T) {
	testHookGiveUp = true
	t.Cleanup(func() { testHookGiveUp = false })
}

// TestAPIWaitsForNATS starts `chaff api` before its NATS server: it must
// keep waiting, its /healthz saying why (503), start serving once NATS is
// up, and stop at once, with an error, when interrupted while it waits.
// The control (testHookGiveUp: the first failure ends the start, as
// before) exits before NATS is up: what the first check catches.
func TestAPIWaitsForNATS(t *testing.T) {
	dir := t.TempDir()
	n := testnet.NewNewsroom(t, time.Now())
	anchor := writeAnchor(t, dir, n)
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", testnet.FreePorts(t, 1)[0])
	args := []string{"api", "--anchor", anchor, "--nats", natsURL, "--replicas", "1", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}
	const notReady = "connecting to NATS at "

	t.Run("control: giving up", func(t *testing.T) {
		giveUp(t)
		c := startCommand(t, t.Context(), args...)
		if code := c.exit(t, time.Minute); code != 1 || !strings.Contains(c.logs.String(), "chaff api: connecting to NATS at "+natsURL) {
			t.Fatalf("exit %d:\n%s", code, c.logs.String())
		}
	})

	t.Run("interrupted while waiting", func(t *testing.T) {
		c, _, cancel := startWaiting(t, "admin listening on ", notReady, args...)
		cancel()
		if code := c.exit(t, 30*time.Second); code != 1 || !strings.Contains(c.logs.String(), "chaff api: stopped before NATS at "+natsURL+" was ready") {
			t.Fatalf("exit %d:\n%s", code, c.logs.String())
		}
	})

	t.Run("ready once NATS is", func(t *testing.T) {
		c, admin, cancel := startWaiting(t, "admin listening on ", notReady, args...)
		time.Sleep(3 * time.Second) // a few attempts more, for the log's check
		c.running(t)
		port, _ := strconv.Atoi(natsURL[strings.LastIndex(natsURL, ":")+1:])
		srv, err := embeddednats.Start(embeddednats.Options{StoreDir: filepath.Join(dir, "nats"), Name: "late", Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		url := c.await(t, "api listening on ", 2*time.Minute)
		res, err := http.Get(url + "/v1/public-keys")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), n.Org.Public.Hex()) {
			t.Fatalf("public keys: %d %s", res.StatusCode, b)
		}
		if code, body := health(admin); code != 200 {
			t.Fatalf("healthz once ready: %d %s", code, body)
		}
		checkWaitLog(t, c.logs.String(), "NATS at "+natsURL)
		cancel()
		if code := c.exit(t, time.Minute); code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
}

// TestCoverNodeWaitsForAPI starts `chaff covernode` while no API replica
// answers (its load balancer answers 502): it must keep waiting, its
// /healthz saying why, then register its keys and process messages once a
// replica is up, and stop at once, with an error, when interrupted while
// it waits. The control (testHookGiveUp) exits at the first 502.
func TestCoverNodeWaitsForAPI(t *testing.T) {
	dir := t.TempDir()
	srv, nc := startNATSListening(t, dir, "wait")
	n := testnet.NewNewsroom(t, time.Now())
	// A replica for the set-up and the test's own requests...
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	alice, bundle := testnet.Bootstrap(t, a.URL, n, dir)
	anchor := writeAnchor(t, dir, n)
	// ... and the node's: a balancer whose one replica is not up yet.
	replica := fmt.Sprintf("127.0.0.1:%d", testnet.FreePorts(t, 1)[0])
	lb := testnet.StartBalancer(t, "http://"+replica)
	args := func(state string) []string {
		return []string{"covernode", "--state", filepath.Join(dir, state), "--state-key-file", filepath.Join(dir, state+".key"),
			"--bundle", bundle, "--api", lb.URL, "--anchor", anchor, "--nats", srv.ClientURL(), "--admin-listen", "127.0.0.1:0",
			"--mixing", "test", "--u2j-threshold-min", "1", "--u2j-threshold-max", "3", "--u2j-output-size", "3"}
	}
	const notReady = "the API answered 502"

	t.Run("control: giving up", func(t *testing.T) {
		giveUp(t)
		c := startCommand(t, t.Context(), args("control")...)
		if code := c.exit(t, time.Minute); code != 1 || !strings.Contains(c.logs.String(), "the API answered 502") {
			t.Fatalf("exit %d:\n%s", code, c.logs.String())
		}
	})

	t.Run("interrupted while waiting", func(t *testing.T) {
		c, _, cancel := startWaiting(t, "covernode starting; health and metrics on ", notReady, args("interrupted")...)
		cancel()
		if code := c.exit(t, 30*time.Second); code != 1 || !strings.Contains(c.logs.String(), "chaff covernode: stopped before the API was ready") {
			t.Fatalf("exit %d:\n%s", code, c.logs.String())
		}
	})

	t.Run("ready once the API is", func(t *testing.T) {
		c, admin, cancel := startWaiting(t, "covernode starting; health and metrics on ", notReady, args("node")...)
		time.Sleep(3 * time.Second) // a few attempts more, for the log's check
		c.running(t)
		var apiLogs syncBuffer
		apiCtx, stopAPI := context.WithCancel(t.Context())
		defer stopAPI()
		_, apiDone := startAPI(t, apiCtx, []string{"--anchor", anchor, "--nats", srv.ClientURL(), "--replicas", "1", "--listen", replica,
			"--admin-listen", "127.0.0.1:0", "--ingest-listen", "127.0.0.1:0"}, &apiLogs)
		c.await(t, "covernode running", 2*time.Minute)
		if code, body := health(admin); code != 200 {
			t.Fatalf("healthz once ready: %d %s", code, body)
		}
		checkWaitLog(t, c.logs.String(), "the API")

		// It works: a real message reaches alice.
		readers := newKillReaders(t, keys.ModeCoverDrop, a.URL, n, alice)
		post := func(msg []byte) {
			res, err := http.Post(a.URL+"/user/messages", "application/json", strings.NewReader(string(testnet.EncodeU2C(msg))))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("ingest: %d", res.StatusCode)
			}
		}
		post(readers.seal(true, "after the wait"))
		waitUntil(t, "the message at alice", func() bool {
			post(readers.seal(false, ""))
			for _, text := range readers.received(t) {
				if text == "after the wait" {
					return true
				}
			}
			return false
		})
		cancel()
		if code := c.exit(t, time.Minute); code != 0 {
			t.Fatalf("exit %d", code)
		}
		stopAPI()
		if code := <-apiDone; code != 0 {
			t.Fatalf("the replica exited %d:\n%s", code, apiLogs.String())
		}
	})
}
