package loadgen_test

import (
	"context"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/loadgen"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
)

// deployment starts an API of a protocol mode with alice and a CoverNode's
// messaging key published.
func deployment(t *testing.T, mode string) (*testnet.Newsroom, *testnet.API) {
	t.Helper()
	n := testnet.NewNewsroomIn(t, mode, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	testnet.Bootstrap(t, a.URL, n, t.TempDir())
	cn := n.AddCoverNode("covernode_001")
	c := apiclient.New(a.URL)
	for _, p := range []struct {
		route apiclient.Route
		body  []byte
	}{
		{apiclient.PostCoverNodeIdentityKey, n.Form(n.CNProv, apiclient.CoverNodeIdentityKey{CoverNodeID: "covernode_001", Key: cn.ID.Public})},
		{apiclient.PostCoverNodeMessagingKey, n.Form(cn.ID, cn.Msg[0].Public)},
	} {
		if _, err := c.Do(context.Background(), p.route, p.body); err != nil {
			t.Fatalf("%s: %v", p.route, err)
		}
	}
	return n, a
}

// TestLoadgenModes runs chaff loadgen's load against a deployment of each
// mode: every message, cover and real, is of the deployment's size (the
// API acknowledges all of them, refusing any other size with a 400), and
// a load pinned to the other mode's anchor refuses the deployment.
func TestLoadgenModes(t *testing.T) {
	for _, mode := range []string{keys.ModeCoverDrop, keys.ModePQ} {
		t.Run(mode, func(t *testing.T) {
			n, a := deployment(t, mode)
			rep, err := loadgen.Run(t.Context(), loadgen.Options{API: a.URL, Anchors: []keys.SignedPublicKey{n.Org.Public},
				Readers: 2, Rate: 40, Duration: time.Second, Real: 2, To: []string{"alice"}, DownloadEvery: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sent == 0 || rep.Acknowledged != rep.Sent || len(rep.Errors) != 0 {
				t.Fatalf("sent %d, acknowledged %d, errors %v", rep.Sent, rep.Acknowledged, rep.Errors)
			}
			if got := a.StreamMsgs(t, store.StreamU2C); got != uint64(rep.Sent) {
				t.Fatalf("%d U2C stored, %d sent", got, rep.Sent)
			}
			other := keys.ModePQ
			if mode == keys.ModePQ {
				other = keys.ModeCoverDrop
			}
			sk, _ := n.Org.SigningKey()
			wrong, err := keys.CertifyOrganization(sk, other, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := loadgen.Run(t.Context(), loadgen.Options{API: a.URL, Anchors: []keys.SignedPublicKey{*wrong}, Readers: 1, Rate: 1, Duration: time.Millisecond}); err == nil {
				t.Fatalf("a load pinned to %s ran against a %s deployment", other, mode)
			}
		})
	}
}
