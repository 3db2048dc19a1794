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
	"github.com/chaffhq/chaff/form"
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
	if err := apiclient.New(a.URL).QueueIdentityKey(t.Context(), alice.ID, &next.Public, form.DefaultTTL); err != nil {
		t.Fatalf("queueing: %v", err)
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
	_, err := apiclient.New(hs.URL).RotateCoverNodeIdentity(t.Context(), alice.ID, &n.Gen(keys.CoverNodeIdentity, n.CNProv).Public)
	if apiclient.StatusOf(err) != 404 {
		t.Fatalf("journalist key as CoverNode: %v", err)
	}
	res, _ := http.Post(hs.URL+"/v1/public-keys/covernode/me/rotate-id-key", "application/json", bytes.NewReader(make([]byte, 100<<10)))
	var e apiclient.ErrorBody
	if json.NewDecoder(res.Body).Decode(&e); res.StatusCode != 413 || !strings.Contains(e.Error, "bytes allowed") {
		t.Fatalf("a 100 KiB body: %d %q", res.StatusCode, e.Error)
	}
	res, _ = http.Get(hs.URL + "/v1/public-keys")
	var pk apiclient.IdentityAPIKeys
	json.NewDecoder(res.Body).Decode(&pk)
	if len(pk.AnchorOrgPKs) != 1 || !pk.AnchorOrgPKs[0].Equal(&n.Org.Public) || pk.CoverNodeProvisioningPK == nil || !pk.CoverNodeProvisioningPK.Equal(&n.CNProv.Public) {
		t.Fatalf("public keys %+v", pk)
	}
}

// TestPollQueueStopsWithContext: PollQueue certifies a queued rotation on
// its own and returns once its context ends (TestMain then checks that no
// goroutine outlives the tests).
func TestPollQueueStopsWithContext(t *testing.T) {
	n, a, alice, s := setup(t)
	next := n.Gen(keys.JournalistIdentity, n.JProv)
	if err := apiclient.New(a.URL).QueueIdentityKey(t.Context(), alice.ID, &next.Public, form.DefaultTTL); err != nil {
		t.Fatalf("queueing: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() { defer close(stopped); s.PollQueue(ctx, 20*time.Millisecond) }()
	deadline := time.Now().Add(time.Minute)
	for len(verified(t, a, n).Journalists["alice"]) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("PollQueue did not certify the queued key within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("PollQueue still running a minute after its context ended")
	}
}
