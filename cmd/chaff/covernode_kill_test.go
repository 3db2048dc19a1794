package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// TestCoverNodeSurvivesSIGKILL runs `chaff covernode` as a process under
// steady ingest traffic, kills it with SIGKILL at random moments many
// times, restarts it, and finally checks that every real message that got
// a 200 from the ingest is in exactly one published dead drop; in both
// protocol modes.
func TestCoverNodeSurvivesSIGKILL(t *testing.T) {
	for _, mode := range []string{keys.ModeCoverDrop, keys.ModePQ} {
		t.Run(mode, func(t *testing.T) { coverNodeSurvivesSIGKILL(t, mode) })
	}
}

// killReaders seals readers' messages, and opens what alice receives, in
// a protocol mode.
type killReaders struct {
	// seal is a real message to alice with text, or cover.
	seal func(real bool, text string) []byte
	// received gives the texts alice finds in every journalist dead drop.
	received func(t *testing.T) []string
}

// newKillReaders waits until the CoverNode's messaging key is published,
// and returns the readers of the mode.
func newKillReaders(t *testing.T, mode, url string, n *testnet.Newsroom, alice *testnet.Member) *killReaders {
	var v *keys.Verified
	waitUntil(t, "the CoverNode's messaging key", func() bool {
		h, err := apiclient.New(url).PublicKeys(context.Background())
		if err != nil {
			return false
		}
		if v, err = keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now()); err != nil {
			return false
		}
		return len(v.AllCoverNodeMessagingKeys())+len(v.AllCoverNodeKEMKeys()) > 0
	})
	if mode == keys.ModePQ {
		cnKeys, err := v.CoverNodeKEMWrappingKeys()
		if err != nil {
			t.Fatal(err)
		}
		jKey, _ := alice.Msg[0].KEMPrivateKey()
		reader, _ := pq.NewReaderID()
		return &killReaders{
			seal: func(real bool, text string) []byte {
				if real {
					msg, _, _ := pq.SealU2C(cnKeys, "alice", jKey.PublicKey(), reader, text)
					return msg
				}
				msg, _ := pq.SealCoverU2C(cnKeys)
				return msg
			},
			received: func(t *testing.T) (texts []string) {
				jo := pq.NewJournalistOpener([]*pq.PrivateKey{jKey})
				for _, d := range allPQJournalistDeadDrops(t, url) {
					got, err := jo.Open(d)
					if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
						t.Fatal(err)
					}
					for _, m := range got {
						texts = append(texts, m.Message.Text)
					}
				}
				return texts
			},
		}
	}
	cnKeys, err := v.CoverNodeKeys()
	if err != nil {
		t.Fatal(err)
	}
	jKey, _ := alice.Msg[0].PrivateKey()
	reader, _ := crypto.GenerateKey()
	return &killReaders{
		seal: func(real bool, text string) []byte {
			if real {
				msg, _ := protocol.SealU2C(cnKeys, "alice", jKey.PublicKey(), reader.PublicKey(), text)
				return msg
			}
			msg, _ := protocol.SealCoverU2C(cnKeys)
			return msg
		},
		received: func(t *testing.T) (texts []string) {
			jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{jKey}, cnKeysOf(t, url, n))
			for _, d := range allJournalistDeadDrops(t, url) {
				got, err := jo.Open(d)
				if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
					t.Fatal(err)
				}
				for _, m := range got {
					texts = append(texts, m.Message.Text)
				}
			}
			return texts
		},
	}
}

func coverNodeSurvivesSIGKILL(t *testing.T, mode string) {
	dir := t.TempDir()
	srv, nc := startNATSListening(t, dir, "kill")
	n := testnet.NewNewsroomIn(t, mode, time.Now())
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	alice, bundle := testnet.Bootstrap(t, a.URL, n, dir)
	anchor := filepath.Join(dir, "org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	os.WriteFile(anchor, b, 0o644)
	state := filepath.Join(dir, "state")

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "covernode", "--state", state, "--state-key-file", filepath.Join(dir, "state.key"), "--bundle", bundle, "--api", a.URL, "--anchor", anchor,
			"--nats", srv.ClientURL(), "--admin-listen", "127.0.0.1:0", "--mixing", "test",
			"--u2j-threshold-min", "2", "--u2j-threshold-max", "7", "--u2j-output-size", "3", "--log-level", "warn", "--ack-wait", "2s")
		cmd.Env = append(os.Environ(), "CHAFF_RUN_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			if t.Failed() {
				t.Logf("covernode stderr:\n%s", stderr.String())
			}
		})
		return cmd
	}

	// The first start registers the node's keys; wait for its messaging key.
	node := start()
	readers := newKillReaders(t, mode, a.URL, n, alice)

	// Readers' traffic: real messages among cover, as fast as it goes.
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	send := func(real bool, i int) {
		text := fmt.Sprintf("message %d", i)
		msg := readers.seal(real, text)
		res, err := http.Post(a.URL+"/user/messages", "application/json", bytes.NewReader(testnet.EncodeU2C(msg)))
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode == 200 && real {
			mu.Lock()
			acked[text] = true
			mu.Unlock()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			send(rand.IntN(3) == 0, i)
			time.Sleep(time.Millisecond)
		}
	}()

	kills := 25
	if testing.Short() {
		kills = 4
	}
	for range kills {
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		node.Process.Signal(syscall.SIGKILL)
		node.Wait()
		node = start()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Drain: cover traffic makes the node release what it still holds.
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	if want < 20 {
		t.Fatalf("only %d real messages acknowledged", want)
	}
	var found map[string]int
	lastMissing := 0
	defer func() {
		if t.Failed() {
			t.Logf("%d of %d acknowledged messages missing", lastMissing, want)
		}
	}()
	waitUntil(t, "every acknowledged message in a dead drop", func() bool {
		for range 7 {
			send(false, 0)
		}
		found = map[string]int{}
		for _, text := range readers.received(t) {
			found[text]++
		}
		missing := 0
		for text := range acked {
			if found[text] == 0 {
				missing++
			}
		}
		lastMissing = missing
		return missing == 0
	})
	for text, c := range found {
		if c != 1 {
			t.Errorf("%q is in %d dead drops", text, c)
		}
	}
	t.Logf("%d kills; %d real messages acknowledged, %d found, each once", kills, want, len(found))
}

func cnKeysOf(t *testing.T, url string, n *testnet.Newsroom) []*crypto.PublicKey {
	h, err := apiclient.New(url).PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return v.AllCoverNodeMessagingKeys()
}

func allJournalistDeadDrops(t *testing.T, url string) []*deaddrop.DeadDrop {
	var out []*deaddrop.DeadDrop
	after := int64(0)
	for {
		res, err := http.Get(fmt.Sprintf("%s/v1/journalist/dead-drops?ids_greater_than=%d", url, after))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		l, err := deaddrop.ParseList(deaddrop.Journalist, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.DeadDrops) == 0 {
			return out
		}
		out = append(out, l.DeadDrops...)
		after = l.DeadDrops[len(l.DeadDrops)-1].ID
	}
}

// allPQJournalistDeadDrops reads every published pq journalist dead drop.
func allPQJournalistDeadDrops(t *testing.T, url string) []*pq.DeadDrop {
	var out []*pq.DeadDrop
	after := int64(0)
	for {
		res, err := http.Get(fmt.Sprintf("%s/v1/journalist/dead-drops?ids_greater_than=%d", url, after))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ds, err := pq.ParseList(deaddrop.Journalist, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return out
		}
		out = append(out, ds...)
		after = ds[len(ds)-1].ID
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilWithin(t, 60*time.Second, what, cond)
}

// waitUntilWithin is waitUntil with another limit.
func waitUntilWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
