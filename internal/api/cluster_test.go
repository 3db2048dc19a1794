package api_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterNodeLoss runs two API replicas on a 3-node NATS cluster with
// R3 streams, kills the U2C stream's leader node while ingest traffic
// flows through both replicas, and checks that every message that got a
// 200 is in the stream exactly once.
func TestClusterNodeLoss(t *testing.T) {
	c := testnet.StartCluster(t, 3)
	n := testnet.NewNewsroom(t, time.Now())
	cfg := api.Config{IngestRate: 1e6, IngestBurst: 1 << 20, AppendTimeout: 20 * time.Second}
	sc := store.Config{Replicas: 3}
	replicas := []*testnet.API{
		testnet.StartAPIReplica(t, c.Connect(t, "api-1"), n, cfg, sc),
		testnet.StartAPIReplica(t, c.Connect(t, "api-2"), n, cfg, sc),
	}
	js, err := jetstream.New(c.Connect(t, "check"))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(t.Context(), store.StreamU2C)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context())
	if err != nil || info.Cluster == nil || info.Config.Replicas != 3 {
		t.Fatalf("stream info %+v %v", info, err)
	}
	leader := info.Cluster.Leader

	var mu sync.Mutex
	var acked [][]byte
	var failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := replicas[w%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				msg := make([]byte, protocol.U2CMessageSize)
				rand.Read(msg)
				res, err := client.Post(a.URL+"/user/messages", "application/json", bytes.NewReader(testnet.EncodeU2C(msg)))
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					if failed.Add(1) <= 3 {
						t.Logf("ingest answered %d %s", res.StatusCode, body)
					}
					continue
				}
				mu.Lock()
				acked = append(acked, msg)
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d messages acknowledged", count())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(200)
	for _, s := range c.Servers {
		if s.Name() == leader {
			s.Shutdown()
			t.Logf("killed %s, the stream leader, after %d messages", leader, count())
		}
	}
	before := count()
	waitFor(before + 300) // traffic goes on without the node
	close(stop)
	wg.Wait()

	// Read the whole stream back from the surviving nodes.
	stored := map[string]int{}
	info, err = stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		stored[string(m.Data)]++
	}
	for _, m := range acked {
		if stored[string(m)] != 1 {
			t.Fatalf("an acknowledged message is stored %d times", stored[string(m)])
		}
	}
	for _, c := range stored {
		if c != 1 {
			t.Fatalf("a message is stored %d times", c)
		}
	}
	t.Logf("%d acknowledged, %d failed, %d stored", len(acked), failed.Load(), len(stored))
}
