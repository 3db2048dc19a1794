package client

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// The pq key hierarchy's published form is the keys package's to define
// (docs/PQ.md §12 item 1); until it lands, the client's pq tests verify a
// stand-in hierarchy served by FakePQ: the organisation key as a pq
// anchor, one CoverNode identity key, two CoverNode X-Wing keys and each
// journalist's X-Wing key. Everything the client does with a verified
// hierarchy (seal, verify dead drops, open replies) is the real code.
func init() { verifyPQHierarchy = verifyFakePQHierarchy }

type fakePQHierarchyJSON struct {
	OrgPK       json.RawMessage          `json:"org_pk"`
	CoverNodeID string                   `json:"covernode_id_pk"`
	CoverNodes  []string                 `json:"covernode_msg_pks"`
	Profiles    []keys.JournalistProfile `json:"journalist_profiles"`
	Journalists map[string]string        `json:"journalists"`
}

type fakePQHierarchy struct {
	profiles    []keys.JournalistProfile
	cnID        *crypto.VerifyingKey
	cnKeys      []*pq.PublicKey
	journalists map[string]*pq.PublicKey
}

func verifyFakePQHierarchy(body []byte, anchors []pq.Anchor, now time.Time) (pqHierarchy, error) {
	var j fakePQHierarchyJSON
	if err := protocol.DecodeJSON(body, &j, true); err != nil {
		return nil, fmt.Errorf("pq public keys: %w", err)
	}
	org, err := pq.ParseAnchor(j.OrgPK)
	if err != nil {
		return nil, err
	}
	if org.Mode != pq.ModePQ {
		return nil, errors.New("pq public keys: the organisation key is not a pq one")
	}
	trusted := false
	for i := range anchors {
		trusted = trusted || (anchors[i].Equal(&org.SignedPublicKey) && anchors[i].Verify(now) == nil && org.Verify(now) == nil)
	}
	if !trusted {
		return nil, keys.ErrNoTrustedKeys
	}
	h := &fakePQHierarchy{profiles: j.Profiles, journalists: map[string]*pq.PublicKey{}}
	idb, err := hex.DecodeString(j.CoverNodeID)
	if err != nil {
		return nil, err
	}
	if h.cnID, err = crypto.NewVerifyingKey(idb); err != nil {
		return nil, err
	}
	parse := func(s string) (*pq.PublicKey, error) {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, err
		}
		return pq.NewPublicKey(b)
	}
	for _, s := range j.CoverNodes {
		k, err := parse(s)
		if err != nil {
			return nil, err
		}
		h.cnKeys = append(h.cnKeys, k)
	}
	for id, s := range j.Journalists {
		if h.journalists[id], err = parse(s); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (h *fakePQHierarchy) Profiles() []keys.JournalistProfile { return h.profiles }
func (h *fakePQHierarchy) CoverNodeIdentityKeys() []*crypto.VerifyingKey {
	return []*crypto.VerifyingKey{h.cnID}
}
func (h *fakePQHierarchy) CoverNodeKeys() ([]*pq.PublicKey, error) {
	if len(h.cnKeys) != pq.CoverNodeWrappingKeyCount {
		return nil, errors.New("no CoverNode keys")
	}
	return h.cnKeys, nil
}
func (h *fakePQHierarchy) JournalistKey(id string) (*pq.PublicKey, error) {
	if k := h.journalists[id]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("no messaging key for %q", id)
}

// FakePQ is an in-process pq deployment as a reader's app sees it: status,
// keys, user dead drops and the ingest, on loopback. The test plays the
// CoverNode and the journalists with package pq.
type FakePQ struct {
	t           testing.TB
	Org         *crypto.SigningKey
	Anchor      *pq.Anchor
	cnID        *crypto.SigningKey
	cnKeys      []*pq.PrivateKey
	journalists map[string]*pq.PrivateKey
	URL         string

	mu        sync.Mutex
	hierarchy []byte
	posted    [][]byte
	drops     []*pq.DeadDrop
}

// StartFakePQ starts a pq deployment with journalist alice.
func StartFakePQ(t testing.TB) *FakePQ {
	t.Helper()
	f := &FakePQ{t: t, journalists: map[string]*pq.PrivateKey{}}
	var err error
	must := func(e error) {
		if e != nil {
			t.Fatal(e)
		}
	}
	f.Org, err = crypto.GenerateSigningKey()
	must(err)
	f.Anchor, err = pq.NewAnchor(f.Org, pq.ModePQ, time.Now())
	must(err)
	f.cnID, err = crypto.GenerateSigningKey()
	must(err)
	for range pq.CoverNodeWrappingKeyCount {
		k, err := pq.GenerateKey()
		must(err)
		f.cnKeys = append(f.cnKeys, k)
	}
	alice, err := pq.GenerateKey()
	must(err)
	f.journalists["alice"] = alice
	ab, err := json.Marshal(f.Anchor)
	must(err)
	j := fakePQHierarchyJSON{OrgPK: ab, CoverNodeID: f.cnID.VerifyingKey().Hex(), Journalists: map[string]string{},
		Profiles: []keys.JournalistProfile{{ID: "alice", DisplayName: "Alice", SortName: "alice", Tag: protocol.TagFor("alice").String(), Status: keys.StatusVisible}}}
	for _, k := range f.cnKeys {
		j.CoverNodes = append(j.CoverNodes, hex.EncodeToString(k.PublicKey().Bytes()))
	}
	j.Journalists["alice"] = hex.EncodeToString(alice.PublicKey().Bytes())
	f.hierarchy, err = json.Marshal(j)
	must(err)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Anchors are the organisation key an app of this deployment ships with.
func (f *FakePQ) Anchors() []keys.SignedPublicKey {
	return []keys.SignedPublicKey{f.Anchor.SignedPublicKey}
}

// Config is an install of this deployment in dir.
func (f *FakePQ) Config(dir string) Config {
	return Config{StateDir: dir, API: apiclient.New(f.URL), Anchors: f.Anchors(), Protocol: ProtocolPQ, KDF: testKDF, MinRunInterval: -1}
}

// ServeHierarchy replaces the published keys (a hostile API).
func (f *FakePQ) ServeHierarchy(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hierarchy = b
}

// Posted returns the messages the ingest took, in order.
func (f *FakePQ) Posted() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.posted...)
}

func (f *FakePQ) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(code int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(body)
	}
	switch r.Method + " " + r.URL.Path {
	case apiclient.GetStatus.Pattern():
		reply(200, map[string]any{"status": "AVAILABLE", "is_available": true, "description": "up", "updated_at": protocol.FormatTime(time.Now())})
	case apiclient.GetPublicKeys.Pattern():
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.hierarchy)
	case apiclient.DeadDrops(deaddrop.User).Get.Pattern():
		after, _ := strconv.ParseInt(r.URL.Query().Get("ids_greater_than"), 10, 64)
		out := []*pq.DeadDrop{}
		for _, d := range f.drops {
			if d.ID > after {
				out = append(out, d)
			}
		}
		reply(200, map[string]any{"dead_drops": out})
	case apiclient.PostUserMessage.Pattern():
		var s string
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &s) != nil {
			reply(400, map[string]string{"error": "not a base64 string"})
			return
		}
		m, err := protocol.DecodeBase64(s)
		if err != nil || len(m) != pq.U2CMessageSize {
			reply(400, map[string]string{"error": "wrong message size"})
			return
		}
		f.posted = append(f.posted, m)
		reply(200, map[string]any{})
	default:
		reply(404, map[string]string{"error": "not found"})
	}
}

// Open opens a posted message as a CoverNode would: nil for cover, else
// the message to the journalist it is tagged for, opened with that
// journalist's key.
func (f *FakePQ) Open(msg []byte) (*pq.UserMessage, string) {
	f.t.Helper()
	u2c, _, err := pq.OpenU2C(f.cnKeys[0], msg, 0)
	if err != nil {
		f.t.Fatalf("a posted message does not open at the CoverNode: %v", err)
	}
	if u2c.Tag.IsCover() {
		return nil, ""
	}
	for id, sk := range f.journalists {
		if u2c.Tag == protocol.TagFor(id) {
			m, err := pq.OpenU2J(sk, u2c.U2J)
			if err != nil {
				f.t.Fatalf("a real message does not open for %s: %v", id, err)
			}
			return m, id
		}
	}
	f.t.Fatal("a message for nobody")
	return nil, ""
}

// PublishReplies publishes a user dead drop, signed by the CoverNode,
// holding j2us and random filler chunks up to size chunks, shuffled.
func (f *FakePQ) PublishReplies(at time.Time, size int, j2us ...[]byte) {
	f.t.Helper()
	var data []byte
	for _, c := range j2us {
		data = append(data, c...)
	}
	for range size - len(j2us) {
		c, err := pq.RandomJ2U()
		if err != nil {
			f.t.Fatal(err)
		}
		data = append(data, c...)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d := &pq.DeadDrop{Kind: deaddrop.User, ID: int64(len(f.drops) + 1), CreatedAt: at.UTC().Truncate(time.Second), Data: data}
	d.Sign(f.cnID)
	f.drops = append(f.drops, d)
}

// Reply seals a journalist's reply under a reader message's reply key.
func Reply(t testing.TB, m *pq.UserMessage, text string) []byte {
	t.Helper()
	j2u, err := pq.SealJ2U(&m.ReplyKey, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return j2u
}
