package testnet

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// FakePQ is an in-process pq deployment as a reader's app sees it: status,
// keys (a real pq hierarchy), user dead drops and the ingest, on loopback.
// The test plays the CoverNode and journalist alice with package pq. It
// stands in for a whole pq deployment in the reader's tests (client,
// chaff source) while the API and CoverNode learn the mode.
type FakePQ struct {
	t      TB
	N      *Newsroom // a pq newsroom: X-Wing messaging keys
	cnID   *crypto.SigningKey
	cnKeys []*pq.PrivateKey
	alice  *pq.PrivateKey
	URL    string
	srv    *httptest.Server

	mu        sync.Mutex
	hierarchy []byte
	posted    [][]byte
	drops     []*pq.DeadDrop
}

// StartFakePQ starts a pq deployment with two CoverNodes and journalist
// alice, its keys made and published as the pq ceremony does
// (testnet.NewNewsroomIn).
func StartFakePQ(t TB) *FakePQ {
	t.Helper()
	n := NewNewsroomIn(t, keys.ModePQ, time.Now())
	f := &FakePQ{t: t, N: n}
	must := func(e error) {
		if e != nil {
			t.Fatal(e)
		}
	}
	cns := map[string][]keys.IdentityFamily{}
	for i, id := range []string{"covernode_001", "covernode_002"} {
		m := n.AddCoverNode(id)
		if i == 0 {
			var err error
			f.cnID, err = m.ID.SigningKey()
			must(err)
		}
		sk, err := m.Msg[0].KEMPrivateKey()
		must(err)
		f.cnKeys = append(f.cnKeys, sk)
		cns[id] = []keys.IdentityFamily{{IDPK: m.ID.Public, MsgPKs: []keys.SignedPublicKey{m.Msg[0].Public}}}
	}
	alice := n.AddJournalist("alice")
	var err error
	f.alice, err = alice.Msg[0].KEMPrivateKey()
	must(err)
	h := keys.Hierarchy{
		JournalistProfiles: []keys.JournalistProfile{{ID: "alice", DisplayName: "Alice", SortName: "alice", Tag: protocol.TagFor("alice").String(), Status: keys.StatusVisible}},
		Keys: []keys.OrganizationFamily{{
			OrgPK:      n.Org.Public,
			CoverNodes: []keys.CoverNodeProvisioningFamily{{ProvisioningPK: n.CNProv.Public, CoverNodes: cns}},
			Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: n.JProv.Public, Journalists: map[string][]keys.IdentityFamily{
				"alice": {{IDPK: alice.ID.Public, MsgPKs: []keys.SignedPublicKey{alice.Msg[0].Public}}},
			}}},
		}},
	}
	f.hierarchy, err = json.Marshal(h)
	must(err)
	f.srv = httptest.NewServer(f)
	f.URL = f.srv.URL
	return f
}

// Close stops the deployment's server.
func (f *FakePQ) Close() { f.srv.Close() }

// Hierarchy is the published keys' body.
func (f *FakePQ) Hierarchy() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hierarchy
}

// Anchors are the organisation key an app of this deployment ships with.
func (f *FakePQ) Anchors() []keys.SignedPublicKey {
	return []keys.SignedPublicKey{f.N.Org.Public}
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
		reply(200, apiclient.StatusEvent{Status: "AVAILABLE", IsAvailable: true, Description: "up", Timestamp: protocol.Time{Time: time.Now()}})
	case apiclient.GetPublicKeys.Pattern(), apiclient.GetReaderPublicKeys.Pattern():
		// One messaging key per identity: the hierarchy is its own
		// readers' view (keys.Hierarchy.ReadersView).
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
		reply(200, pq.List{DeadDrops: out})
	case apiclient.PostUserMessage.Pattern():
		var s string
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &s) != nil {
			reply(400, apiclient.ErrorBody{Error: "not a base64 string"})
			return
		}
		m, err := protocol.DecodeBase64(s)
		if err != nil || len(m) != pq.U2CMessageSize {
			reply(400, apiclient.ErrorBody{Error: "wrong message size"})
			return
		}
		f.posted = append(f.posted, m)
		reply(200, map[string]any{})
	default:
		reply(404, apiclient.ErrorBody{Error: "not found"})
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
	if u2c.Tag != protocol.TagFor("alice") {
		f.t.Fatal("a message for nobody")
	}
	m, err := pq.OpenU2J(f.alice, u2c.U2J)
	if err != nil {
		f.t.Fatalf("a real message does not open for alice: %v", err)
	}
	return m, "alice"
}

// PublishReplies publishes a user dead drop, signed by the CoverNode's
// identity key (signer, when not nil, forges it), holding j2us and random
// filler chunks up to size chunks.
func (f *FakePQ) PublishReplies(signer *crypto.SigningKey, at time.Time, size int, j2us ...[]byte) {
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
	if signer == nil {
		signer = f.cnID
	}
	d.Sign(signer)
	f.drops = append(f.drops, d)
}

// PQReply seals a journalist's reply under a reader message's reply key.
func PQReply(t TB, m *pq.UserMessage, text string) []byte {
	t.Helper()
	j2u, err := pq.SealJ2U(&m.ReplyKey, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return j2u
}
