package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/loadgen"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a chaff process started from this test binary.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func startChaff(t *testing.T, args ...string) *proc {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CHAFF_RUN_MAIN=1")
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = &syncWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chaff %s:\n%s", args[0], p.stderr.String())
		}
	})
	return p
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// TestScaleOutUnderFailures: a 3-node NATS cluster, two `chaff api` and two
// `chaff covernode` processes; loadgen sends through both APIs with real
// messages among the cover; one NATS node, one API and one CoverNode are
// killed during the run (the CoverNode comes back later). At the end the
// journalist has every acknowledged real message exactly once.
// CHAFF_LONG_TESTS=1 runs the full size: 2,000 messages a second
// for 60 seconds.
func TestScaleOutUnderFailures(t *testing.T) {
	rate, dur, reals := 200.0, 8*time.Second, 20
	if os.Getenv("CHAFF_LONG_TESTS") == "1" {
		rate, dur, reals = 2100, 60*time.Second, 200
	}
	dir := t.TempDir()
	c := testnet.StartCluster(t, 3)
	n := testnet.NewNewsroom(t, time.Now())
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	os.WriteFile(anchor, b, 0o644)
	natsURLs := strings.Join(c.URLs, ",")

	apis := make([]string, 2)
	apiProcs := make([]*proc, 2)
	for i := range apis { // both at once, on a fresh cluster, as a deployment starts
		addr := freeAddr(t)
		apis[i] = "http://" + addr
		apiProcs[i] = startChaff(t, "api", "--anchor", anchor, "--nats", natsURLs, "--replicas", "3", "--listen", addr,
			"--admin-listen", "127.0.0.1:0", "--ingest-rate", "1000000", "--ingest-burst", "1000000", "--log-level", "warn")
	}
	for i := range apis {
		waitUntil(t, "the API", func() bool {
			res, err := http.Get(apis[i] + "/v1/healthcheck")
			if err != nil {
				return false
			}
			res.Body.Close()
			return true
		})
	}
	alice, bundle1 := testnet.Bootstrap(t, apis[0], n, dir)
	bundle2 := n.CoverNodeBundle("covernode_002", dir)
	coverNode := func(id, bundle string) *proc {
		return startChaff(t, "covernode", "--state", filepath.Join(dir, id), "--state-key-file", filepath.Join(dir, id+".key"), "--bundle", bundle, "--api", apis[0], "--anchor", anchor,
			"--nats", natsURLs, "--admin-listen", "127.0.0.1:0", "--mixing", "test", "--ack-wait", "3s", "--log-level", "warn")
	}
	cn1, cn2 := coverNode("covernode_001", bundle1), coverNode("covernode_002", bundle2)
	var cnKeys []*crypto.PublicKey
	waitUntil(t, "both CoverNodes' keys", func() bool {
		h, err := apiclient.New(apis[1]).PublicKeys(context.Background())
		if err != nil {
			return false
		}
		v, err := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
		if err != nil || !everyCoverNodeHasMessagingKey(v, 2) {
			return false
		}
		cnKeys, err = v.CoverNodeKeys()
		return err == nil
	})

	// Load through both APIs, half the rate and half the real messages each.
	ctx := context.Background()
	reports := make([]string, 2)
	var wg sync.WaitGroup
	for i, u := range apis {
		reports[i] = filepath.Join(dir, fmt.Sprintf("load-%d.json", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			runLoadgen(ctx, []string{"--api", u, "--anchor", anchor, "--readers", "200", "--rate", fmt.Sprint(rate / 2), "--duration", dur.String(),
				"--real", fmt.Sprint(reals / 2), "--to", "alice", "--json", reports[i]}, &out, io.Discard)
		}()
	}
	// Failures, a third, half and two thirds of the way through.
	time.Sleep(dur / 3)
	c.Servers[2].Shutdown()
	time.Sleep(dur / 6)
	apiProcs[1].cmd.Process.Signal(syscall.SIGKILL)
	time.Sleep(dur / 6)
	cn2.cmd.Process.Signal(syscall.SIGKILL)
	cn2.cmd.Wait()
	wg.Wait()
	// The killed CoverNode comes back: what it held is released.
	cn2 = coverNode("covernode_002", bundle2)
	_ = cn1

	var acked []string
	sent := 0
	for _, r := range reports {
		var rep loadgen.Report
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		sent += int(rep.Sent)
		for _, m := range rep.Real {
			if m.Acknowledged {
				acked = append(acked, m.Text)
			}
		}
	}
	if len(acked) < reals/3 {
		t.Fatalf("only %d real messages acknowledged", len(acked))
	}
	ask, _ := alice.Msg[0].PrivateKey()
	var found map[string]int
	waitUntil(t, "every acknowledged real message at the journalist", func() bool {
		for range 10 { // cover keeps the rounds going
			msg, _ := protocol.SealCoverU2C(cnKeys)
			body, _ := json.Marshal(protocol.EncodeBase64(msg))
			if res, err := http.Post(apis[0]+"/user/messages", "application/json", bytes.NewReader(body)); err == nil {
				res.Body.Close()
			}
		}
		h, err := apiclient.New(apis[0]).PublicKeys(ctx)
		if err != nil {
			return false
		}
		v, _ := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
		jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{ask}, v.AllCoverNodeMessagingKeys())
		found = map[string]int{}
		for _, d := range allJournalistDeadDrops(t, apis[0]) {
			got, err := jo.Open(d)
			if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
				t.Fatal(err)
			}
			for _, m := range got {
				found[m.Message.Text]++
			}
		}
		for _, text := range acked {
			if found[text] == 0 {
				return false
			}
		}
		return true
	})
	for text, k := range found {
		if k != 1 {
			t.Errorf("%q was delivered %d times", text, k)
		}
	}
	t.Logf("%d messages sent at %.0f/s for %s; %d real acknowledged, all delivered once, after losing a NATS node, an API and a CoverNode", sent, rate, dur, len(acked))
}

// everyCoverNodeHasMessagingKey reports whether the hierarchy names want
// CoverNodes and each has a messaging key. A node's identity key is
// published before its messaging key: a load started in between seals
// every message to the other node's key alone ([A, A]), and the node whose
// key came later opens nothing of its share and drops it as cover (the
// cause of this test's occasional lost messages).
func everyCoverNodeHasMessagingKey(v *keys.Verified, want int) bool {
	ids := v.CoverNodeIDs()
	for _, id := range ids {
		if len(v.CoverNodeMessagingKeys(id)) == 0 {
			return false
		}
	}
	return len(ids) == want
}

// TestCoverNodeKeysWaitSeesMissingMessagingKey reproduces, in process, the
// window TestScaleOutUnderFailures used to start its load in: both
// CoverNodes' identity keys published, one messaging key. The old wait
// (two CoverNode ids, CoverNodeKeys without error) passed there, and the
// keys it gave name one node twice; everyCoverNodeHasMessagingKey waits
// until the second node's key is published too.
func TestCoverNodeKeysWaitSeesMissingMessagingKey(t *testing.T) {
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{})
	dir := t.TempDir()
	_, bundle1 := testnet.Bootstrap(t, a.URL, n, dir)
	bundle2 := n.CoverNodeBundle("covernode_002", dir)
	c := apiclient.New(a.URL)
	ctx := context.Background()
	register := func(path string) *keys.KeyPair {
		b, err := keys.ReadCoverNodeBundle(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.RegisterCoverNodeIdentity(ctx, b.Form); err != nil {
			t.Fatal(err)
		}
		return b.IdentityKey
	}
	publish := func(id *keys.KeyPair) {
		if _, err := c.UploadMessagingKey(ctx, apiclient.PostCoverNodeMessagingKey, id, n.Gen(keys.CoverNodeMessaging, id).Public); err != nil {
			t.Fatal(err)
		}
	}
	id1, id2 := register(bundle1), register(bundle2)
	publish(id1)
	v := n.Verified(a.URL)
	cks, err := v.CoverNodeKeys()
	if err != nil || len(v.CoverNodeIDs()) != 2 {
		t.Fatalf("the old wait would not have passed: %v, %v", v.CoverNodeIDs(), err)
	}
	if !cks[0].Equal(cks[1]) {
		t.Fatal("with one messaging key published, a sender's two wrapping keys should both be covernode_001's")
	}
	if everyCoverNodeHasMessagingKey(v, 2) {
		t.Fatal("everyCoverNodeHasMessagingKey passed with covernode_002's messaging key unpublished")
	}
	publish(id2)
	v = n.Verified(a.URL)
	if !everyCoverNodeHasMessagingKey(v, 2) {
		t.Fatal("everyCoverNodeHasMessagingKey fails with both messaging keys published")
	}
	if cks, _ := v.CoverNodeKeys(); cks[0].Equal(cks[1]) {
		t.Fatal("both messaging keys published, yet a sender seals to one node twice")
	}
}
