package api_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// setupPQ is setup for a pq deployment: its organisation key signs the pq
// form, and its CoverNode and journalist have X-Wing messaging keys.
func setupPQ(t *testing.T, cfg api.Config) (*testnet.Newsroom, *testnet.API) {
	t.Helper()
	n := testnet.NewNewsroomIn(t, keys.ModePQ, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, cfg)
	ceremony(t, n, a)
	return n, a
}

// pqDeadDrop is a pq dead drop of kind signed by covernode_001.
func pqDeadDrop(t *testing.T, n *testnet.Newsroom, kind deaddrop.Kind, chunks int, epoch int32) *pq.DeadDrop {
	t.Helper()
	sk, err := n.CoverNodes["covernode_001"].ID.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	d := &pq.DeadDrop{Kind: kind, CreatedAt: time.Now(), Data: randomMessage(t, chunks*pq.ChunkSize(kind)), Epoch: epoch}
	d.Sign(sk)
	return d
}

// wantJSONError checks a 4xx answer's body is {"error": "..."}.
func wantJSONError(t *testing.T, r resp, what string) {
	t.Helper()
	var e map[string]string
	if err := json.Unmarshal(r.body, &e); err != nil || e["error"] == "" || len(e) != 1 {
		t.Fatalf("%s: body %s is not a JSON error", what, r.body)
	}
}

// TestPQDeployment checks the API of a pq deployment (docs/PQ.md §8, §12
// item 2): it publishes org_pk with "protocol": "pq" and X-Wing messaging
// keys that verify from the pq anchor; it accepts U2C of 4,037 bytes and
// J2C of 2,906 only (a 773-byte U2C and a 730-byte J2C are a 400 with a
// JSON error), pq dead drops with 553- and 2,817-byte chunks and the pq
// signed digest only, and messaging keys of its own mode only. The
// coverdrop deployment beside it is the control: it takes the coverdrop
// sizes and refuses the pq ones.
func TestPQDeployment(t *testing.T) {
	n, a := setupPQ(t, api.Config{IngestRate: 1000, IngestBurst: 1000})
	r := do(t, "GET", a.URL+"/v1/public-keys", nil).want(t, 200, "public keys")
	if !strings.Contains(string(r.body), `"protocol":"pq"`) {
		t.Fatalf("org_pk without its mode: %.300s", r.body)
	}
	h, err := keys.ParseHierarchy(r.body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.VerifyIn(keys.ModePQ, h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
	if err != nil || len(v.Dropped) > 0 {
		t.Fatalf("pq hierarchy: %v %v", err, v.Dropped)
	}
	if _, err := v.JournalistKEMKey("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CoverNodeKEMWrappingKeys(); err != nil {
		t.Fatal(err)
	}

	// Ingest: only the pq size.
	do(t, "POST", a.URL+"/user/messages", testnet.EncodeU2C(randomMessage(t, pq.U2CMessageSize))).want(t, 200, "a pq U2C")
	if got := a.StreamMsgs(t, store.StreamU2C); got != 1 {
		t.Fatalf("%d U2C stored", got)
	}
	for _, size := range []int{protocol.U2CMessageSize, pq.U2CMessageSize - 1, pq.U2CMessageSize + 1} {
		r := do(t, "POST", a.URL+"/user/messages", testnet.EncodeU2C(randomMessage(t, size))).want(t, 400, "a U2C of the wrong size")
		wantJSONError(t, r, "U2C")
	}
	if got := a.StreamMsgs(t, store.StreamU2C); got != 1 {
		t.Fatalf("%d U2C stored after the refusals", got)
	}
	j := n.Journalists["alice"]
	u := a.URL + "/v1/journalist-messages"
	do(t, "POST", u, n.Form(j.ID, protocol.EncodeBase64(randomMessage(t, pq.J2CMessageSize)))).want(t, 200, "a pq J2C")
	wantJSONError(t, do(t, "POST", u, n.Form(j.ID, protocol.EncodeBase64(randomMessage(t, protocol.J2CMessageSize)))).want(t, 400, "a coverdrop J2C"), "J2C")

	// Dead drops: pq chunks and signatures.
	for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
		epoch := int32(0)
		if kind == deaddrop.Journalist {
			epoch = int32(v.MaxEpoch)
		}
		path := a.URL + "/v1/" + kind.String() + "/dead-drops"
		b, _ := json.Marshal(pqDeadDrop(t, n, kind, 3, epoch))
		do(t, "POST", path, b).want(t, 200, "a pq "+kind.String()+" dead drop")
		page := do(t, "GET", path+"?ids_greater_than=0", nil).want(t, 200, "page")
		ds, err := pq.ParseList(kind, page.body)
		if err != nil || len(ds) != 1 || ds[0].Verify(v.CoverNodeIdentityKeys()) != nil || ds[0].Chunks() != 3 {
			t.Fatalf("published pq %s dead drop: %v", kind, err)
		}
		// The same chunks signed in the coverdrop form: refused.
		cd := signedDeadDrop(t, n, kind, 1, epoch)
		if kind == deaddrop.User {
			b, _ = json.Marshal(cd)
			wantJSONError(t, do(t, "POST", path, b).want(t, 401, "a coverdrop-signed user dead drop"), "dead drop")
		} else {
			b, _ = json.Marshal(cd) // 633-byte chunks
			wantJSONError(t, do(t, "POST", path, b).want(t, 400, "coverdrop journalist chunks"), "dead drop")
		}
	}

	// Keys of the other mode are refused at upload.
	x25519, err := keys.Generate(keys.JournalistMessaging, j.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantJSONError(t, do(t, "POST", a.URL+"/v1/public-keys/journalists/messaging-public-key", n.Form(j.ID, x25519.Public)).want(t, 400, "an X25519 key in pq"), "key")

	// The control: a coverdrop deployment takes its own sizes and refuses pq's.
	cn, ca := setup(t, api.Config{IngestRate: 1000, IngestBurst: 1000})
	do(t, "POST", ca.URL+"/user/messages", testnet.EncodeU2C(randomMessage(t, protocol.U2CMessageSize))).want(t, 200, "a coverdrop U2C")
	do(t, "POST", ca.URL+"/user/messages", testnet.EncodeU2C(randomMessage(t, pq.U2CMessageSize))).want(t, 413, "a pq U2C to coverdrop")
	wantJSONError(t, do(t, "POST", ca.URL+"/v1/journalist-messages", cn.Form(cn.Journalists["alice"].ID, protocol.EncodeBase64(randomMessage(t, pq.J2CMessageSize)))).want(t, 400, "a pq J2C to coverdrop"), "J2C")
	xw, err := keys.GenerateIn(keys.ModePQ, keys.JournalistMessaging, cn.Journalists["alice"].ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do(t, "POST", ca.URL+"/v1/public-keys/journalists/messaging-public-key", cn.Form(cn.Journalists["alice"].ID, xw.Public)).want(t, 400, "an X-Wing key in coverdrop")
	b, _ := json.Marshal(pqDeadDrop(t, cn, deaddrop.User, 2, 0))
	do(t, "POST", ca.URL+"/v1/user/dead-drops", b).want(t, 401, "a pq-signed dead drop to coverdrop")
}

// TestAnchorsOfTwoModes: an API is one deployment, in one mode.
func TestAnchorsOfTwoModes(t *testing.T) {
	cd, p := testnet.NewNewsroom(t, time.Now()), testnet.NewNewsroomIn(t, keys.ModePQ, time.Now())
	_, nc := testnet.StartNATS(t)
	st, err := store.Open(t.Context(), nc, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.New(t.Context(), st, api.Config{Anchors: []keys.SignedPublicKey{cd.Org.Public, p.Org.Public}}); err == nil {
		t.Fatal("an API with anchors of two modes")
	}
}

// TestReadersView: a pq deployment serves readers the keys they use
// (GET /v1/public-keys/readers, docs/PQ.md §10.2): it verifies from the
// anchor, keeps one messaging key per identity, and every choice a reader
// makes from it (the key to seal to for each journalist, the CoverNode
// wrapping keys, the identity keys dead drops verify under, the profiles)
// is the choice it would make from the whole hierarchy, which it is a
// fraction of. A coverdrop deployment, whose readers need the whole
// hierarchy, has no such route (404).
func TestReadersView(t *testing.T) {
	n, a := setupPQ(t, api.Config{})
	u := a.URL + "/v1/public-keys/"
	j, cn := n.Journalists["alice"], n.CoverNodes["covernode_001"]
	// alice's keys made over a fortnight of daily rotation, and a second
	// CoverNode key, so that each identity has several messaging keys.
	for d := 1; d <= 13; d++ {
		k, err := keys.GenerateIn(keys.ModePQ, keys.JournalistMessaging, j.ID, time.Now().Add(-time.Duration(d)*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		do(t, "POST", u+"journalists/messaging-public-key", n.Form(j.ID, k.Public)).want(t, 200, "an older alice key")
	}
	k, err := keys.GenerateIn(keys.ModePQ, keys.CoverNodeMessaging, cn.ID, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	do(t, "POST", u+"covernode/messaging-public-key", n.Form(cn.ID, k.Public)).want(t, 200, "a newer CoverNode key")

	verify := func(path string) (*keys.Verified, int) {
		r := do(t, "GET", a.URL+path, nil).want(t, 200, path)
		h, err := keys.ParseHierarchy(r.body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		v, err := keys.VerifyIn(keys.ModePQ, h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
		if err != nil || len(v.Dropped) > 0 {
			t.Fatalf("%s does not verify: %v %v", path, err, v.Dropped)
		}
		return v, len(r.body)
	}
	whole, wholeSize := verify("/v1/public-keys")
	view, viewSize := verify("/v1/public-keys/readers")
	if got := len(whole.JournalistKEMKeys("alice")); got != 14 {
		t.Fatalf("the whole hierarchy has %d alice keys, want 14", got)
	}
	if got := len(view.JournalistKEMKeys("alice")); got != 1 {
		t.Fatalf("the readers' view has %d alice keys, want 1", got)
	}
	if got := len(view.CoverNodeKEMKeys("covernode_001")); got != 1 {
		t.Fatalf("the readers' view has %d CoverNode keys, want 1", got)
	}
	wj, _ := whole.JournalistKEMKey("alice")
	vj, _ := view.JournalistKEMKey("alice")
	wc, _ := whole.CoverNodeKEMWrappingKeys()
	vc, _ := view.CoverNodeKEMWrappingKeys()
	if !bytes.Equal(wj.Bytes(), vj.Bytes()) || len(wc) != len(vc) || !bytes.Equal(wc[0].Bytes(), vc[0].Bytes()) || !bytes.Equal(wc[0].Bytes(), k.Public.KEM.Bytes()) {
		t.Fatal("a reader would seal to other keys from the readers' view")
	}
	wi, vi := whole.CoverNodeIdentityKeys(), view.CoverNodeIdentityKeys()
	if len(wi) != len(vi) || len(vi) == 0 || !bytes.Equal(wi[0].Bytes(), vi[0].Bytes()) {
		t.Fatalf("CoverNode identity keys: %d in the view, %d in the whole", len(vi), len(wi))
	}
	if len(view.Profiles) != len(whole.Profiles) || len(view.Profiles) == 0 {
		t.Fatal("the readers' view lost journalist profiles")
	}
	t.Logf("GET /v1/public-keys %d bytes, /readers %d bytes (%.1f times smaller)", wholeSize, viewSize, float64(wholeSize)/float64(viewSize))
	if viewSize*5 > wholeSize {
		t.Fatalf("the readers' view is %d bytes against %d", viewSize, wholeSize)
	}

	// The control: a coverdrop deployment has no readers' view.
	_, ca := setup(t, api.Config{})
	wantJSONError(t, do(t, "GET", ca.URL+"/v1/public-keys/readers", nil).want(t, 404, "a readers' view in coverdrop"), "readers' view")
}
