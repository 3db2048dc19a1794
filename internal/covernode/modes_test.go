package covernode_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// modes are the protocol modes every mode-dependent test runs in.
var modes = []string{keys.ModeCoverDrop, keys.ModePQ}

// inModes runs test once per protocol mode, in a world of that mode.
func inModes(t *testing.T, test func(t *testing.T, mode string)) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { test(t, mode) })
	}
}

// newWorldIn is newWorld in a protocol mode: the newsroom's organisation
// key signs the mode, so the API and the CoverNode speak it.
func newWorldIn(t testing.TB, mode string) *world {
	n := testnet.NewNewsroomIn(t, mode, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	alice, bundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	return &world{n: n, nc: nc, a: a, bundle: bundle, alice: alice, stateKey: testnet.StateKey(t), mode: mode}
}

// parties is what readers and journalists do in a world's protocol mode:
// seal to the published keys, and read the published dead drops.
type parties interface {
	// u2c is a reader's message to a journalist (alice's key is used for
	// the inner layer whatever the id, so that an id naming no journalist
	// still makes a well-formed message).
	u2c(t testing.TB, journalistID, text string) []byte
	coverU2C(t testing.TB) []byte
	// reply is alice's reply to a reader, as a J2U, and its J2C.
	reply(t testing.TB, text string) (j2u, j2c []byte)
	coverJ2C(t testing.TB) []byte
	// aliceDeadDrops gives the texts alice finds in each journalist dead
	// drop, in order; each dead drop must verify.
	aliceDeadDrops(t testing.TB) [][]string
	// journalistDeadDrops counts the published journalist dead drops.
	journalistDeadDrops(t testing.TB) int
	// userChunks counts each chunk of every published user dead drop,
	// each of which must verify.
	userChunks(t testing.TB) (counts map[string]int, drops int)
}

func (w *world) parties(t testing.TB) parties {
	if w.mode == keys.ModePQ {
		reader, err := pq.NewReaderID()
		if err != nil {
			t.Fatal(err)
		}
		return &pqParties{w: w, reader: reader}
	}
	reader, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &coverDropParties{w: w, reader: reader}
}

// pages fetches every published dead drop of a kind, page by page (the
// API caps a page), parsing each page with parse, which returns the
// page's ids.
func pages(t testing.TB, url string, kind deaddrop.Kind, parse func(page []byte) []int64) {
	t.Helper()
	path := apiclient.DeadDrops(kind).Get.Path
	after := int64(0)
	for {
		res, err := http.Get(fmt.Sprintf("%s%s?ids_greater_than=%d", url, path, after))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, buf.String())
		}
		ids := parse(buf.Bytes())
		if len(ids) == 0 {
			return
		}
		after = ids[len(ids)-1]
	}
}

type coverDropParties struct {
	w      *world
	reader *crypto.PrivateKey
}

func (p *coverDropParties) keys(t testing.TB) ([]*crypto.PublicKey, *crypto.PublicKey) {
	v := p.w.verified(t)
	cn, err := v.CoverNodeKeys()
	if err != nil {
		t.Fatal(err)
	}
	jk, err := v.JournalistKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	return cn, jk
}

func (p *coverDropParties) u2c(t testing.TB, journalistID, text string) []byte {
	cn, jk := p.keys(t)
	m, err := protocol.SealU2C(cn, journalistID, jk, p.reader.PublicKey(), text)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (p *coverDropParties) coverU2C(t testing.TB) []byte {
	cn, _ := p.keys(t)
	m, err := protocol.SealCoverU2C(cn)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (p *coverDropParties) reply(t testing.TB, text string) ([]byte, []byte) {
	cn, _ := p.keys(t)
	sk, _ := p.w.alice.Msg[0].PrivateKey()
	j2u, err := protocol.SealJ2U(p.reader.PublicKey(), sk, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	j2c, err := protocol.SealJ2C(cn, j2u)
	if err != nil {
		t.Fatal(err)
	}
	return j2u, j2c
}

func (p *coverDropParties) coverJ2C(t testing.TB) []byte {
	cn, _ := p.keys(t)
	m, err := protocol.SealCoverJ2C(cn)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (p *coverDropParties) aliceDeadDrops(t testing.TB) [][]string {
	sk, _ := p.w.alice.Msg[0].PrivateKey()
	v := p.w.verified(t)
	jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{sk}, v.AllCoverNodeMessagingKeys())
	var out [][]string
	for _, d := range deadDrops(t, p.w.a.URL+"/v1/journalist/dead-drops", deaddrop.Journalist) {
		if err := d.Verify(v.CoverNodeIdentityKeys()); err != nil {
			t.Fatal(err)
		}
		got, err := jo.Open(d)
		if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range got {
			texts = append(texts, m.Message.Text)
		}
		out = append(out, texts)
	}
	return out
}

func (p *coverDropParties) journalistDeadDrops(t testing.TB) int {
	return len(deadDrops(t, p.w.a.URL+"/v1/journalist/dead-drops", deaddrop.Journalist))
}

func (p *coverDropParties) userChunks(t testing.TB) (map[string]int, int) {
	return chunkCounts(t, p.w.a.URL)
}

type pqParties struct {
	w      *world
	reader pq.ReaderID
}

func (p *pqParties) keys(t testing.TB) ([]*pq.PublicKey, *pq.PublicKey) {
	v := p.w.verified(t)
	cn, err := v.CoverNodeKEMWrappingKeys()
	if err != nil {
		t.Fatal(err)
	}
	jk, err := v.JournalistKEMKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	return cn, jk
}

func (p *pqParties) u2c(t testing.TB, journalistID, text string) []byte {
	cn, jk := p.keys(t)
	m, _, err := pq.SealU2C(cn, journalistID, jk, p.reader, text)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (p *pqParties) coverU2C(t testing.TB) []byte {
	cn, _ := p.keys(t)
	m, err := pq.SealCoverU2C(cn)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (p *pqParties) reply(t testing.TB, text string) ([]byte, []byte) {
	cn, _ := p.keys(t)
	// Any 32 bytes: the tests that send replies follow their J2U bytes
	// (TestPQRoundTrip uses a real message's reply key).
	rk := pq.ReplyKey{1, 2, 3}
	j2u, err := pq.SealJ2U(&rk, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	j2c, err := pq.SealJ2C(cn, j2u)
	if err != nil {
		t.Fatal(err)
	}
	return j2u, j2c
}

func (p *pqParties) coverJ2C(t testing.TB) []byte {
	cn, _ := p.keys(t)
	m, err := pq.SealCoverJ2C(cn)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pqDeadDrops reads every published pq dead drop of a kind, checking
// each one's signature.
func (p *pqParties) deadDrops(t testing.TB, kind deaddrop.Kind) []*pq.DeadDrop {
	v := p.w.verified(t)
	var out []*pq.DeadDrop
	pages(t, p.w.a.URL, kind, func(page []byte) []int64 {
		ds, err := pq.ParseList(kind, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if err := d.Verify(v.CoverNodeIdentityKeys()); err != nil {
				t.Fatalf("a published pq %s dead drop: %v", kind, err)
			}
		}
		out = append(out, ds...)
		return pq.IDs(ds)
	})
	return out
}

func (p *pqParties) aliceDeadDrops(t testing.TB) [][]string {
	sk, err := p.w.alice.Msg[0].KEMPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	jo := pq.NewJournalistOpener([]*pq.PrivateKey{sk})
	var out [][]string
	for _, d := range p.deadDrops(t, deaddrop.Journalist) {
		got, err := jo.Open(d)
		if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range got {
			texts = append(texts, m.Message.Text)
		}
		out = append(out, texts)
	}
	return out
}

// aliceReceived counts the texts alice finds in every journalist dead
// drop.
func (w *world) aliceReceived(t testing.TB) map[string]int { return aliceReceived(t, w.parties(t)) }

// aliceReceived counts the texts alice finds in every journalist dead
// drop of the parties' mode.
func aliceReceived(t testing.TB, p parties) map[string]int {
	found := map[string]int{}
	for _, texts := range p.aliceDeadDrops(t) {
		for _, text := range texts {
			found[text]++
		}
	}
	return found
}

func (p *pqParties) journalistDeadDrops(t testing.TB) int {
	return len(p.deadDrops(t, deaddrop.Journalist))
}

func (p *pqParties) userChunks(t testing.TB) (map[string]int, int) {
	counts := map[string]int{}
	dds := p.deadDrops(t, deaddrop.User)
	for _, d := range dds {
		for i := range d.Chunks() {
			counts[string(d.Chunk(i))]++
		}
	}
	return counts, len(dds)
}

// TestPQRoundTrip: in pq mode a reader's message goes through ingest and
// CoverNode to alice in a pq journalist dead drop, and alice's reply,
// under the reply key of that message, back to the reader in a pq user
// dead drop; the dead drops have the configured sizes, verify only as pq
// dead drops, and carry no epoch above the published keys'.
func TestPQRoundTrip(t *testing.T) {
	w := newWorldIn(t, keys.ModePQ)
	w.startNode(t, t.TempDir())
	v := w.verified(t)
	cn, err := v.CoverNodeKEMWrappingKeys()
	if err != nil {
		t.Fatal(err)
	}
	jk, _ := v.JournalistKEMKey("alice")
	reader, _ := pq.NewReaderID()
	real, rk, err := pq.SealU2C(cn, "alice", jk, reader, "the files are on the third floor")
	if err != nil {
		t.Fatal(err)
	}
	post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(real))
	p := w.parties(t).(*pqParties)
	for range 3 {
		post(t, w.a.URL+"/user/messages", testnet.EncodeU2C(p.coverU2C(t)))
	}
	waitFor(t, "a journalist dead drop", func() bool { return p.journalistDeadDrops(t) > 0 })
	dds := p.deadDrops(t, deaddrop.Journalist)
	aliceSK, _ := w.alice.Msg[0].KEMPrivateKey()
	var got []pq.Received
	for _, d := range dds {
		if d.Chunks() != 4 || int64(d.Epoch) > v.MaxEpoch {
			t.Fatalf("dead drop of %d messages, epoch %d (max_epoch %d)", d.Chunks(), d.Epoch, v.MaxEpoch)
		}
		cd := &deaddrop.DeadDrop{Kind: d.Kind, CreatedAt: d.CreatedAt, Data: d.Data, Signature: d.Signature, Epoch: d.Epoch}
		if cd.Verify(v.CoverNodeIdentityKeys()) == nil {
			t.Fatal("a pq dead drop verifies as a coverdrop one")
		}
		r, err := pq.NewJournalistOpener([]*pq.PrivateKey{aliceSK}).Open(d)
		if err != nil && !errors.Is(err, deaddrop.ErrNotForMe) {
			t.Fatal(err)
		}
		got = append(got, r...)
	}
	if len(got) != 1 || got[0].Message.Text != "the files are on the third floor" || got[0].Message.ReaderID != reader || got[0].Message.ReplyKey != *rk {
		t.Fatalf("alice received %+v", got)
	}

	// alice replies under the message's reply key; two cover messages
	// from journalists fill the round.
	j2u, err := pq.SealJ2U(&got[0].Message.ReplyKey, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you, we are looking"})
	if err != nil {
		t.Fatal(err)
	}
	j2c, _ := pq.SealJ2C(cn, j2u)
	post(t, w.a.URL+"/v1/journalist-messages", w.n.Form(w.alice.ID, protocol.EncodeBase64(j2c)))
	for range 2 {
		post(t, w.a.URL+"/v1/journalist-messages", w.n.Form(w.alice.ID, protocol.EncodeBase64(p.coverJ2C(t))))
	}
	waitFor(t, "a user dead drop", func() bool { _, n := p.userChunks(t); return n > 0 })
	ud := p.deadDrops(t, deaddrop.User)
	if ud[0].Chunks() != 3 {
		t.Fatalf("user dead drop of %d messages", ud[0].Chunks())
	}
	ro, _ := pq.NewReaderOpener([]pq.StoredReplyKey{{Key: *rk, JournalistID: "alice"}})
	replies, err := ro.Open(ud[0])
	if err != nil || len(replies) != 1 || replies[0].Message.Text != "thank you, we are looking" || replies[0].JournalistID != "alice" {
		t.Fatalf("reader got %+v, %v", replies, err)
	}
}

// TestNodeRefusesTheOtherMode: a CoverNode whose key state is of one
// mode does not start in a deployment of the other.
func TestNodeRefusesTheOtherMode(t *testing.T) {
	w := newWorldIn(t, keys.ModePQ)
	state := t.TempDir()
	stop := w.startNode(t, state)
	stop()
	cd := newWorld(t)
	cfg := cd.config(state)
	cfg.StateKey = w.stateKey
	if _, err := covernode.New(context.Background(), cd.nc, cfg); err == nil || !strings.Contains(err.Error(), "a pq CoverNode's") {
		t.Fatalf("a pq CoverNode's state started in a coverdrop deployment: %v", err)
	}
}
