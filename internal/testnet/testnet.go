// Package testnet runs pieces of a Chaff deployment in-process for tests:
// an embedded JetStream, API replicas, and a newsroom's keys.
package testnet

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/newsroom"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// TB is what the helpers need of a test: testing.TB has it, and so can a
// test script's command.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// Newsroom holds every key of a test organisation.
type Newsroom struct {
	t   TB
	Now time.Time
	// Mode is the protocol mode the keys are made in (keys.ModeCoverDrop
	// when empty): in keys.ModePQ the organisation key signs the pq form
	// and messaging keys are X-Wing keys.
	Mode        string
	Org         *keys.KeyPair
	CNProv      *keys.KeyPair
	JProv       *keys.KeyPair
	Admin       *keys.KeyPair
	CoverNodes  map[string]*Member
	Journalists map[string]*Member

	keysDir string // see WriteKeys
}

// Member is a CoverNode or journalist: an identity key and messaging keys.
type Member struct {
	ID  *keys.KeyPair
	Msg []*keys.KeyPair
}

// NewNewsroom generates a coverdrop organisation with provisioning and
// admin keys.
func NewNewsroom(t TB, now time.Time) *Newsroom { return NewNewsroomIn(t, keys.ModeCoverDrop, now) }

// NewNewsroomIn generates an organisation of a protocol mode with
// provisioning and admin keys.
func NewNewsroomIn(t TB, mode string, now time.Time) *Newsroom {
	n := &Newsroom{t: t, Now: now, Mode: mode, CoverNodes: map[string]*Member{}, Journalists: map[string]*Member{}}
	n.Org = n.Gen(keys.Organization, nil)
	n.CNProv = n.Gen(keys.CoverNodeProvisioning, n.Org)
	n.JProv = n.Gen(keys.JournalistProvisioning, n.Org)
	n.Admin = n.Gen(keys.Admin, n.Org)
	return n
}

// Gen generates a key pair of role certified by parent at n.Now, in the
// newsroom's mode.
func (n *Newsroom) Gen(role keys.Role, parent *keys.KeyPair) *keys.KeyPair {
	n.t.Helper()
	mode := n.Mode
	if mode == "" {
		mode = keys.ModeCoverDrop
	}
	kp, err := keys.GenerateIn(mode, role, parent, n.Now)
	if err != nil {
		n.t.Fatal(err)
	}
	return kp
}

// AddCoverNode generates a CoverNode's identity and one messaging key.
func (n *Newsroom) AddCoverNode(id string) *Member {
	m := &Member{ID: n.Gen(keys.CoverNodeIdentity, n.CNProv)}
	m.Msg = append(m.Msg, n.Gen(keys.CoverNodeMessaging, m.ID))
	n.CoverNodes[id] = m
	return m
}

// AddJournalist generates a journalist's identity and one messaging key.
func (n *Newsroom) AddJournalist(id string) *Member {
	m := &Member{ID: n.Gen(keys.JournalistIdentity, n.JProv)}
	m.Msg = append(m.Msg, n.Gen(keys.JournalistMessaging, m.ID))
	n.Journalists[id] = m
	return m
}

// Form returns the JSON of a form with body, signed by signer now (two
// forms with the same body differ, as real clients' do).
func (n *Newsroom) Form(signer *keys.KeyPair, body any) []byte {
	n.t.Helper()
	return n.FormAt(signer, body, time.Now(), form.DefaultTTL)
}

// FormAt returns the JSON of a form signed at a given instant.
func (n *Newsroom) FormAt(signer *keys.KeyPair, body any, at time.Time, ttl time.Duration) []byte {
	n.t.Helper()
	sk, err := signer.SigningKey()
	if err != nil {
		n.t.Fatal(err)
	}
	f, err := form.Sign(body, sk, at, ttl)
	if err != nil {
		n.t.Fatal(err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		n.t.Fatal(err)
	}
	return b
}

// Profile is a journalist registration body.
func Profile(id string) apiclient.NewJournalist {
	return apiclient.NewJournalist{ID: id, DisplayName: id, SortName: id, Description: "reporter", Status: keys.StatusVisible}
}

// StartNATS starts an embedded JetStream with its files in a test
// directory and returns an in-process connection to it.
func StartNATS(t testing.TB) (*server.Server, *nats.Conn) {
	t.Helper()
	s, err := embeddednats.Start(embeddednats.Options{StoreDir: t.TempDir(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	nc, err := embeddednats.ConnectInProcess(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return s, nc
}

// API is a running API replica.
type API struct {
	URL    string
	Server *api.Server
	Store  *store.Store
	Reg    *prometheus.Registry
}

// StartAPI starts an API replica on nc with the newsroom's anchor.
func StartAPI(t testing.TB, nc *nats.Conn, n *Newsroom, cfg api.Config) *API {
	return StartAPIReplica(t, nc, n, cfg, store.Config{})
}

// StartAPIReplica starts an API replica with a given store configuration.
func StartAPIReplica(t testing.TB, nc *nats.Conn, n *Newsroom, cfg api.Config, sc store.Config) *API {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := store.Open(ctx, nc, sc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Anchors == nil {
		cfg.Anchors = []keys.SignedPublicKey{n.Org.Public}
	}
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	srv, err := api.New(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler(true))
	t.Cleanup(hs.Close)
	return &API{URL: hs.URL, Server: srv, Store: st, Reg: reg}
}

// EncodeU2C encodes a U2C message as the apps post it.
func EncodeU2C(msg []byte) []byte {
	b, _ := json.Marshal(protocol.EncodeBase64(msg))
	return b
}

// Cluster is a NATS cluster of embedded servers on loopback.
type Cluster struct {
	Servers []*server.Server
	URLs    []string
}

// StartCluster starts n embedded servers with JetStream, routed to each
// other, and waits until JetStream has a meta leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := FreePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(p))
	}
	c := &Cluster{}
	for i := range n {
		s, err := embeddednats.Start(embeddednats.Options{
			StoreDir: t.TempDir(), Name: "n" + strconv.Itoa(i), Port: -1,
			ClusterName: "chaff-test", ClusterPort: ports[i], Routes: routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		c.Servers = append(c.Servers, s)
		c.URLs = append(c.URLs, s.ClientURL())
	}
	// Wait for the JetStream meta group.
	nc := c.Connect(t, "probe")
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream cluster not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Connect connects to the cluster, listing every server so that the
// client fails over.
func (c *Cluster) Connect(t testing.TB, name string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(strings.Join(c.URLs, ","), nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Bootstrap runs the ceremony's own code (package newsroom) against the
// API at url: newsroom.Bootstrap uploads the provisioning and admin keys,
// newsroom.AddJournalist registers journalist alice (her setup bundle is
// written into dir), and alice publishes a messaging key; it writes a setup
// bundle for covernode_001 into dir and returns alice and its path. The
// newsroom's key pairs are written into dir/newsroom-keys for it.
func Bootstrap(t TB, url string, n *Newsroom, dir string) (*Member, string) {
	t.Helper()
	ctx := context.Background()
	nr := &newsroom.Newsroom{KeysDir: n.WriteKeys(dir), API: apiclient.New(url), Now: func() time.Time { return n.Now }}
	if err := nr.Bootstrap(ctx, nil); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	added, err := nr.AddJournalist(ctx, newsroom.Journalist{ID: "alice", Name: "alice", Description: "reporter"}, dir)
	if err != nil {
		t.Fatalf("adding alice: %v", err)
	}
	alice := &Member{ID: added.Bundle.IdentityKey}
	alice.Msg = append(alice.Msg, n.Gen(keys.JournalistMessaging, alice.ID))
	n.Journalists["alice"] = alice
	if _, err := nr.API.UploadMessagingKey(ctx, apiclient.PostJournalistMessagingKey, alice.ID, alice.Msg[0].Public); err != nil {
		t.Fatalf("alice's messaging key: %v", err)
	}
	return alice, n.CoverNodeBundle("covernode_001", dir)
}

// WriteKeys writes the newsroom's organisation, provisioning and admin key
// pairs, as chaff admin init does, into dir/newsroom-keys (once: later
// calls return the directory written first) and returns that directory,
// for package newsroom to read.
func (n *Newsroom) WriteKeys(dir string) string {
	n.t.Helper()
	if n.keysDir != "" {
		return n.keysDir
	}
	kd := filepath.Join(dir, "newsroom-keys")
	if err := os.MkdirAll(kd, 0o700); err != nil {
		n.t.Fatal(err)
	}
	for role, kp := range map[keys.Role]*keys.KeyPair{keys.Organization: n.Org, keys.CoverNodeProvisioning: n.CNProv, keys.JournalistProvisioning: n.JProv, keys.Admin: n.Admin} {
		if _, err := keys.WriteKeyPairFile(kd, role, kp); err != nil {
			n.t.Fatal(err)
		}
		if _, err := keys.WritePublicKeyFile(kd, role, kp); err != nil {
			n.t.Fatal(err)
		}
	}
	n.keysDir = kd
	return kd
}

// CoverNodeBundle writes a setup bundle for a CoverNode into dir through
// the ceremony's own code (newsroom.CoverNodeBundle) and returns its path.
func (n *Newsroom) CoverNodeBundle(coverNodeID, dir string) string {
	n.t.Helper()
	os.Remove(filepath.Join(dir, keys.CoverNodeBundleName(coverNodeID))) // a test may write one again
	_, path, err := newsroom.CoverNodeBundle(dir, coverNodeID, n.CNProv, time.Now())
	if err != nil {
		n.t.Fatal(err)
	}
	return path
}

// JournalistBundle writes a setup bundle for a registered journalist
// through the ceremony's own code (newsroom.JournalistBundle) and returns
// its path.
func (n *Newsroom) JournalistBundle(id, api, dir string) string {
	n.t.Helper()
	m := n.Journalists[id]
	if m == nil {
		n.t.Fatalf("no journalist %q", id)
	}
	os.Remove(filepath.Join(dir, keys.JournalistBundleName(id))) // a test may write one again
	_, path, err := newsroom.JournalistBundle(dir, id, api, n.Org.Public, m.ID)
	if err != nil {
		n.t.Fatal(err)
	}
	return path
}

// StateKey returns a new CoverNode state key.
func StateKey(t testing.TB) *[crypto.SecretBoxKeySize]byte {
	t.Helper()
	k, err := crypto.NewSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// StreamMsgs returns how many messages a stream of the API's store holds.
func (a *API) StreamMsgs(t testing.TB, name string) uint64 {
	t.Helper()
	n, err := a.Store.StreamMsgs(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Verified fetches the published keys from the API at url and verifies
// them from the newsroom's organisation key, now.
func (n *Newsroom) Verified(url string) *keys.Verified {
	n.t.Helper()
	h, err := apiclient.New(url).PublicKeys(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
	if err != nil {
		n.t.Fatal(err)
	}
	return v
}
