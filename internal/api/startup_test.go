package api_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/prometheus/client_golang/prometheus"
)

// TestNewAgainAfterFailure: a New that failed (its context ended while it
// followed the buckets, as when JetStream does not answer in time)
// registered no metrics, so that chaff api can call New again with the
// same registry, and the second serves.
func TestNewAgainAfterFailure(t *testing.T) {
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	st, err := store.Open(t.Context(), nc, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := api.Config{Anchors: []keys.SignedPublicKey{n.Org.Public}, Registry: reg}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := api.New(ended, st, cfg); err == nil {
		t.Fatal("New succeeded with its context ended")
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Fatalf("a failed New registered %d metrics (%v)", len(mfs), err)
	}
	s, err := api.New(t.Context(), st, cfg)
	if err != nil {
		t.Fatalf("New again: %v", err)
	}
	rec := httptest.NewRecorder()
	s.Handler(true).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/public-keys", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), n.Org.Public.Hex()) {
		t.Fatalf("public keys: %d %s", rec.Code, rec.Body.String())
	}
}
