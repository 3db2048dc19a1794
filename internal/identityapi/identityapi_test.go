package identityapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/identityapi"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
)

func setup(t *testing.T) (*testnet.Newsroom, *testnet.API, *testnet.Member, *identityapi.Server) {
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{})
	alice, _ := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	s := identityapi.New(identityapi.Config{
		API: apiclient.New(a.URL), Anchors: []keys.SignedPublicKey{n.Org.Public},
		CoverNodeProvisioning:  func() (*keys.KeyPair, error) { return n.CNProv, nil },
		JournalistProvisioning: func() (*keys.KeyPair, error) { return n.JProv, nil },
	})
	return n, a, alice, s
}

func verified(t *testing.T, a *testnet.API, n *testnet.Newsroom) *keys.Verified {
	t.Helper()
	return n.Verified(a.URL)
}

// TestJournalistQueue: a journalist queues a rotation at the API; the
// identity API certifies it; the API publishes the new key and empties the
// queue.
func TestJournalistQueue(t *testing.T) {
	n, a, alice, s := setup(t)
	next := n.Gen(keys.JournalistIdentity, n.JProv) // only its public half is used
	inner := json.RawMessage(n.Form(alice.ID, map[string]any{"new_pk": map[string]string{"key": next.Public.Hex()}}))
	res, err := http.Post(a.URL+"/v1/public-keys/journalists/identity-public-key-form", "application/json", bytes.NewReader(n.Form(alice.ID, map[string]any{"form": inner})))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("queueing: %v %v", res.Status, err)
	}
	done, err := s.ProcessQueue(context.Background())
	if err != nil || done != 1 {
		t.Fatalf("processed %d: %v", done, err)
	}
	v := verified(t, a, n)
	if len(v.Journalists["alice"]) != 2 || v.Journalists["alice"][0].Identity.Key != next.Public.Key && v.Journalists["alice"][1].Identity.Key != next.Public.Key {
		t.Fatalf("alice's identity keys: %+v", v.Journalists["alice"])
	}
	if done, err := s.ProcessQueue(context.Background()); err != nil || done != 0 {
		t.Fatalf("second pass processed %d: %v", done, err)
	}
}

// TestRotateCoverNodeRefusals: a form signed by a key that is no
// CoverNode's is a 404; the public keys list anchors and provisioning keys.
func TestRotateCoverNodeRefusals(t *testing.T) {
	n, _, alice, s := setup(t)
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	body := map[string]any{"new_pk": map[string]string{"key": n.Gen(keys.CoverNodeIdentity, n.CNProv).Public.Hex()}}
	res, _ := http.Post(hs.URL+"/v1/public-keys/covernode/me/rotate-id-key", "application/json", bytes.NewReader(n.Form(alice.ID, body)))
	if res.StatusCode != 404 {
		t.Fatalf("journalist key as CoverNode: %d", res.StatusCode)
	}
	res, _ = http.Post(hs.URL+"/v1/public-keys/covernode/me/rotate-id-key", "application/json", bytes.NewReader(make([]byte, 100<<10)))
	var e struct {
		Error string `json:"error"`
	}
	if json.NewDecoder(res.Body).Decode(&e); res.StatusCode != 413 || !strings.Contains(e.Error, "bytes allowed") {
		t.Fatalf("a 100 KiB body: %d %q", res.StatusCode, e.Error)
	}
	res, _ = http.Get(hs.URL + "/v1/public-keys")
	var pk map[string]json.RawMessage
	json.NewDecoder(res.Body).Decode(&pk)
	if len(pk["anchor_org_pks"]) < 10 || string(pk["covernode_provisioning_pk"]) == "null" {
		t.Fatalf("public keys %v", pk)
	}
}
