package newsroom_test

import (
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/identityapi"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/newsroom"
)

// TestCoverNodeUpdateRemove: UpdateCoverNode gives a published CoverNode a
// new identity key and bundle; RemoveCoverNode retires it, after which the
// identity API refuses to certify its next identity key (as it did before
// the retirement: the control) and the id is not provisioned again.
func TestCoverNodeUpdateRemove(t *testing.T) {
	dir := t.TempDir()
	c, err := newsroom.Init(filepath.Join(dir, "keys"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, &testnet.Newsroom{Org: c.Org}, api.Config{})
	n := &newsroom.Newsroom{KeysDir: c.Dir, API: apiclient.New(a.URL)}
	if err := n.Bootstrap(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddCoverNode(t.Context(), "covernode_001", dir, true); err != nil {
		t.Fatal(err)
	}
	if _, err := n.UpdateCoverNode(t.Context(), "covernode_002", t.TempDir(), true); !errors.Is(err, newsroom.ErrNoCoverNode) {
		t.Fatalf("updating an unknown CoverNode: %v", err)
	}
	if _, err := n.RemoveCoverNode(t.Context(), "covernode_002"); !errors.Is(err, newsroom.ErrNoCoverNode) {
		t.Fatalf("removing an unknown CoverNode: %v", err)
	}
	up, err := n.UpdateCoverNode(t.Context(), "covernode_001", t.TempDir(), true)
	if err != nil || up.Epoch == 0 {
		t.Fatalf("update: %v", err)
	}
	v := verify(t, n, c)
	if len(v.CoverNodes["covernode_001"]) != 2 {
		t.Fatalf("covernode_001 has %d identity keys published, want 2", len(v.CoverNodes["covernode_001"]))
	}

	ids := identityapi.New(identityapi.Config{
		API: n.API, Anchors: []keys.SignedPublicKey{c.Org.Public},
		CoverNodeProvisioning: func() (*keys.KeyPair, error) {
			return newsroom.LoadKeyPair(c.Dir, keys.CoverNodeProvisioning, time.Now())
		},
		JournalistProvisioning: func() (*keys.KeyPair, error) {
			return newsroom.LoadKeyPair(c.Dir, keys.JournalistProvisioning, time.Now())
		},
		CoverNodeRetired: func(id string) (bool, error) { return newsroom.CoverNodeRetired(c.Dir, id) },
	})
	hs := httptest.NewServer(ids.Handler())
	defer hs.Close()
	rotate := func() error {
		next, err := keys.Generate(keys.UnsignedCoverNodeIdentity, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = apiclient.New(hs.URL).RotateCoverNodeIdentity(t.Context(), up.Bundle.IdentityKey, &next.Public)
		return err
	}
	// Control: before the retirement the identity API certifies.
	if err := rotate(); err != nil {
		t.Fatalf("rotation before the retirement: %v", err)
	}

	r, err := n.RemoveCoverNode(t.Context(), "covernode_001")
	if err != nil || !r.LastValid.After(time.Now()) {
		t.Fatalf("remove: %+v %v", r, err)
	}
	if retired, err := newsroom.CoverNodeRetired(c.Dir, "covernode_001"); !retired || err != nil {
		t.Fatalf("not retired: %v", err)
	}
	if err := rotate(); apiclient.StatusOf(err) != 403 {
		t.Fatalf("a retired CoverNode's rotation: %v", err)
	}
	if _, err := n.RemoveCoverNode(t.Context(), "covernode_001"); !errors.Is(err, newsroom.ErrCoverNodeRetired) {
		t.Fatalf("a second removal: %v", err)
	}
	if _, err := n.UpdateCoverNode(t.Context(), "covernode_001", t.TempDir(), true); !errors.Is(err, newsroom.ErrCoverNodeRetired) {
		t.Fatalf("updating a retired CoverNode: %v", err)
	}
	if _, err := n.AddCoverNode(t.Context(), "covernode_001", t.TempDir(), false); !errors.Is(err, newsroom.ErrCoverNodeRetired) {
		t.Fatalf("adding a retired id: %v", err)
	}
}

func verify(t *testing.T, n *newsroom.Newsroom, c *newsroom.Created) *keys.Verified {
	t.Helper()
	h, err := n.API.PublicKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{c.Org.Public}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return v
}
