package covernode_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
)

// world is an API on an embedded JetStream with a newsroom bootstrapped:
// provisioning keys, journalist alice with a messaging key, and a setup
// bundle for covernode_001.
type world struct {
	n      *testnet.Newsroom
	nc     *nats.Conn
	a      *testnet.API
	bundle string
	alice  *testnet.Member
	// stateKey seals every node's state in this world.
	stateKey *[crypto.SecretBoxKeySize]byte
	// mode is the deployment's protocol mode.
	mode string
}

func post(t testing.TB, url string, body []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST %s: %d", url, res.StatusCode)
	}
}

func newWorld(t testing.TB) *world { return newWorldIn(t, keys.ModeCoverDrop) }

func (w *world) config(stateDir string) covernode.Config {
	return covernode.Config{
		StateDir: stateDir, StateKey: w.stateKey, BundlePath: w.bundle, API: apiclient.New(w.a.URL),
		Anchors:  []keys.SignedPublicKey{w.n.Org.Public},
		U2J:      mix.Params{ThresholdMin: 2, ThresholdMax: 4, Timeout: time.Hour, OutputSize: 4},
		J2U:      mix.Params{ThresholdMin: 2, ThresholdMax: 3, Timeout: time.Hour, OutputSize: 3},
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	}
}

func (w *world) verified(t testing.TB) *keys.Verified {
	t.Helper()
	h, err := apiclient.New(w.a.URL).PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{w.n.Org.Public}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// deadDrops reads every published dead drop of a kind, page by page (the
// API caps a page at 24 journalist dead drops), as a journalist does.
func deadDrops(t testing.TB, url string, kind deaddrop.Kind) []*deaddrop.DeadDrop {
	t.Helper()
	var out []*deaddrop.DeadDrop
	for {
		after := int64(0)
		if len(out) > 0 {
			after = out[len(out)-1].ID
		}
		res, err := http.Get(fmt.Sprintf("%s?ids_greater_than=%d", url, after))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		res.Body.Close()
		l, err := deaddrop.ParseList(kind, buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if len(l.DeadDrops) == 0 {
			return out
		}
		out = append(out, l.DeadDrops...)
	}
}

// waitFor polls until cond holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRoundTrip sends a reader's message through ingest and CoverNode to
// alice, and alice's reply back through the CoverNode to the reader.
func TestRoundTrip(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := covernode.New(ctx, w.nc, w.config(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()

	v := w.verified(t)
	cnKeys, err := v.CoverNodeKeys()
	if err != nil {
		t.Fatal(err)
	}
	reader, _ := crypto.GenerateKey()
	jk, _ := v.JournalistKey("alice")
	real, err := protocol.SealU2C(cnKeys, "alice", jk, reader.PublicKey(), "the files are on the third floor")
	if err != nil {
		t.Fatal(err)
	}
	post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(real))
	for range 3 {
		c, _ := protocol.SealCoverU2C(cnKeys)
		post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(c))
	}
	var got []deaddrop.Received
	waitFor(t, "a journalist dead drop", func() bool { return len(deadDrops(t, w.a.URL+"/v1/journalist/dead-drops", deaddrop.Journalist)) > 0 })
	dds := deadDrops(t, w.a.URL+"/v1/journalist/dead-drops", deaddrop.Journalist)
	aliceSK, _ := w.alice.Msg[0].PrivateKey()
	v = w.verified(t)
	jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{aliceSK}, v.AllCoverNodeMessagingKeys())
	for _, d := range dds {
		if err := d.Verify(v.CoverNodeIdentityKeys()); err != nil {
			t.Fatal(err)
		}
		if d.Chunks() != 4 || int64(d.Epoch) > v.MaxEpoch {
			t.Fatalf("dead drop of %d messages, epoch %d (max_epoch %d)", d.Chunks(), d.Epoch, v.MaxEpoch)
		}
		r, err := jo.Open(d)
		if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
			t.Fatal(err)
		}
		got = append(got, r...)
	}
	if len(got) != 1 || got[0].Message.Text != "the files are on the third floor" || !got[0].Message.ReplyKey.Equal(reader.PublicKey()) {
		t.Fatalf("alice received %+v", got)
	}

	// alice replies; two cover messages from journalists fill the round.
	j2u, err := protocol.SealJ2U(got[0].Message.ReplyKey, aliceSK, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you, we are looking"})
	if err != nil {
		t.Fatal(err)
	}
	j2c, _ := protocol.SealJ2C(cnKeys, j2u)
	post(t, w.a.URL+"/v1/journalist-messages", w.n.Form(w.alice.ID, protocol.EncodeBase64(j2c)))
	for range 2 {
		c, _ := protocol.SealCoverJ2C(cnKeys)
		post(t, w.a.URL+"/v1/journalist-messages", w.n.Form(w.alice.ID, protocol.EncodeBase64(c)))
	}
	waitFor(t, "a user dead drop", func() bool { return len(deadDrops(t, w.a.URL+"/v1/user/dead-drops", deaddrop.User)) > 0 })
	ro, _ := deaddrop.NewReaderOpener(reader, map[string][]*crypto.PublicKey{"alice": v.JournalistMessagingKeys("alice")})
	ud := deadDrops(t, w.a.URL+"/v1/user/dead-drops", deaddrop.User)
	if err := ud[0].Verify(v.CoverNodeIdentityKeys()); err != nil || ud[0].Chunks() != 3 {
		t.Fatalf("user dead drop: %v, %d messages", err, ud[0].Chunks())
	}
	replies, err := ro.Open(ud[0])
	if err != nil || len(replies) != 1 || replies[0].Message.Text != "thank you, we are looking" {
		t.Fatalf("reader got %+v, %v", replies, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTwoCoverNodesShareTheLoad runs two CoverNodes on the same streams:
// both publish, and every real message is in exactly one dead drop.
func TestTwoCoverNodesShareTheLoad(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second := w.n.CoverNodeBundle("covernode_002", t.TempDir())
	done := make(chan error, 2)
	for _, bundle := range []string{w.bundle, second} {
		cfg := w.config(t.TempDir())
		cfg.BundlePath = bundle
		cfg.Workers = 1
		node, err := covernode.New(ctx, w.nc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- node.Run(ctx) }()
	}
	v := w.verified(t)
	cnKeys, err := v.CoverNodeKeys()
	if err != nil || cnKeys[0].Equal(cnKeys[1]) {
		t.Fatalf("wrapping keys %v %v: want one per CoverNode", cnKeys, err)
	}
	jk, _ := v.JournalistKey("alice")
	reader, _ := crypto.GenerateKey()
	const reals = 20 // one in five of 100 messages
	for i := range 100 {
		var msg []byte
		if i%5 == 0 {
			msg, err = protocol.SealU2C(cnKeys, "alice", jk, reader.PublicKey(), "message "+string(rune('A'+i/5)))
		} else {
			msg, err = protocol.SealCoverU2C(cnKeys)
		}
		if err != nil {
			t.Fatal(err)
		}
		post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(msg))
	}
	aliceSK, _ := w.alice.Msg[0].PrivateKey()
	v = w.verified(t)
	jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{aliceSK}, v.AllCoverNodeMessagingKeys())
	signers := map[string]int{}
	var found map[string]int
	waitFor(t, "every message in a dead drop", func() bool {
		for range 6 {
			c, _ := protocol.SealCoverU2C(cnKeys)
			post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(c))
		}
		found, signers = map[string]int{}, map[string]int{}
		for _, d := range deadDrops(t, w.a.URL+"/v1/journalist/dead-drops", deaddrop.Journalist) {
			for _, id := range v.CoverNodeIDs() {
				if d.Verify([]*crypto.VerifyingKey{mustVK(t, v.CoverNodes[id][0].Identity)}) == nil {
					signers[id]++
				}
			}
			got, _ := jo.Open(d)
			for _, m := range got {
				found[m.Message.Text]++
			}
		}
		return len(found) == reals
	})
	for text, c := range found {
		if c != 1 {
			t.Errorf("%q is in %d dead drops", text, c)
		}
	}
	if signers["covernode_001"] == 0 || signers["covernode_002"] == 0 {
		t.Fatalf("dead drops by node: %v", signers)
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func mustVK(t testing.TB, k keys.VerifiedKey) *crypto.VerifyingKey {
	vk, err := k.VerifyingKey()
	if err != nil {
		t.Fatal(err)
	}
	return vk
}
