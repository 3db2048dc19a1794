package journalist

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// pqNet is a pq deployment: a pq newsroom (testnet.NewNewsroomIn), the
// real API serving its keys, two CoverNodes with X-Wing keys whose identity
// keys sign dead drops, and journalists alice (the vault's), bob and carol.
// The vaults reach the API through a proxy that plays the CoverNodes'
// side of the dead drops: it serves the dead drops the test publishes and
// keeps the J2C messages the vaults send (checking their signed forms),
// so the test opens them as a CoverNode would.
type pqNet struct {
	t     *testing.T
	n     *testnet.Newsroom
	api   string // the real API
	proxy string
	cn    [2]*pq.PrivateKey
	cnID  *crypto.SigningKey
	dir   string
	mu    sync.Mutex
	sent  map[string][][]byte // J2C messages by sender
	drops map[deaddrop.Kind][]*pq.DeadDrop
}

func newPQNet(t *testing.T, mode string) *pqNet {
	n := &pqNet{t: t, n: testnet.NewNewsroomIn(t, mode, time.Now()), dir: t.TempDir(), sent: map[string][][]byte{}, drops: map[deaddrop.Kind][]*pq.DeadDrop{}}
	_, nc := testnet.StartNATS(t)
	n.api = testnet.StartAPI(t, nc, n.n, api.Config{}).URL
	testnet.Bootstrap(t, n.api, n.n, n.dir)
	for i, id := range []string{"covernode_001", "covernode_002"} {
		cn := n.n.AddCoverNode(id)
		n.post(apiclient.PostCoverNodeIdentityKey, n.n.CNProv, apiclient.CoverNodeIdentityKey{CoverNodeID: id, Key: cn.ID.Public})
		n.post(apiclient.PostCoverNodeMessagingKey, cn.ID, cn.Msg[0].Public)
		if mode == keys.ModePQ {
			sk, err := cn.Msg[0].KEMPrivateKey()
			if err != nil {
				t.Fatal(err)
			}
			n.cn[i] = sk
		}
		if i == 0 {
			sk, err := cn.ID.SigningKey()
			if err != nil {
				t.Fatal(err)
			}
			n.cnID = sk
		}
	}
	for _, id := range []string{"bob", "carol"} {
		m := n.n.AddJournalist(id)
		n.post(apiclient.PostJournalistProfile, n.n.JProv, testnet.Profile(id))
		n.post(apiclient.PostJournalistIdentityKey, n.n.JProv, apiclient.JournalistIdentityKey{JournalistID: id, Key: m.ID.Public})
	}
	target, err := url.Parse(n.api)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.serve(httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(srv.Close)
	n.proxy = srv.URL
	return n
}

func (n *pqNet) post(route apiclient.Route, signer *keys.KeyPair, body any) {
	n.t.Helper()
	if _, err := apiclient.New(n.api).SendForm(n.t.Context(), route, signer, body, form.DefaultTTL); err != nil {
		n.t.Fatalf("%s: %v", route, err)
	}
}

// vault makes journalist id's vault from a setup bundle, speaking to the
// API through the proxy, and syncs it once (which publishes its first
// messaging key).
func (n *pqNet) vault(id string, now func() time.Time) *Vault {
	n.t.Helper()
	v, err := CreateWith(filepath.Join(n.dir, id+".vault"), "pass", KDFParams{Time: 1, Memory: 64, Threads: 1},
		n.n.JournalistBundle(id, n.proxy, n.dir), "", Options{Now: now})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { v.Close() })
	if _, err := v.Sync(n.t.Context()); err != nil {
		n.t.Fatal(err)
	}
	return v
}

func mustPQKey(t *testing.T) *pq.PrivateKey {
	k, err := pq.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (n *pqNet) serve(upstream http.Handler) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case apiclient.PostJournalistMessage.Path:
			body, _ := io.ReadAll(r.Body)
			f, err := form.Parse(body)
			var s string
			if err == nil {
				err = f.Decode(&s)
			}
			msg, derr := protocol.DecodeBase64(s)
			sender := n.signer(f)
			if err != nil || derr != nil || sender == "" {
				http.Error(rw, `{"error":"bad form"}`, http.StatusBadRequest)
				return
			}
			n.mu.Lock()
			n.sent[sender] = append(n.sent[sender], msg)
			n.mu.Unlock()
			rw.Write([]byte("{}"))
		case apiclient.DeadDrops(deaddrop.Journalist).Get.Path, apiclient.DeadDrops(deaddrop.User).Get.Path:
			kind := deaddrop.User
			if strings.Contains(r.URL.Path, "journalist") {
				kind = deaddrop.Journalist
			}
			after, _ := strconv.ParseInt(r.URL.Query().Get("ids_greater_than"), 10, 64)
			page := []*pq.DeadDrop{}
			n.mu.Lock()
			for _, d := range n.drops[kind] {
				if d.ID > after {
					page = append(page, d)
				}
			}
			n.mu.Unlock()
			json.NewEncoder(rw).Encode(map[string]any{"dead_drops": page})
		default:
			upstream.ServeHTTP(rw, r)
		}
	}
}

// signer names the journalist whose identity key signed a form that
// verifies ("" for none).
func (n *pqNet) signer(f *form.Form) string {
	if f == nil {
		return ""
	}
	ver := n.n.Verified(n.api)
	for id, fams := range ver.Journalists {
		for _, fam := range fams {
			if vk, err := fam.Identity.VerifyingKey(); err == nil && f.Verify(vk, time.Now()) == nil {
				return id
			}
		}
	}
	return ""
}

// key is journalist id's X-Wing messaging key that readers seal to now.
func (n *pqNet) key(id string) *pq.PublicKey {
	n.t.Helper()
	k, err := n.n.Verified(n.api).JournalistKEMKey(id)
	if err != nil {
		n.t.Fatal(err)
	}
	return k
}

// send is a reader's message through the CoverNode: sealed to the
// CoverNodes (pq.SealU2C), opened by the first (pq.OpenU2C), re-sealed to
// the journalist's key (pq.SealC2J). It returns the chunk and the reply
// key the reader keeps.
func (n *pqNet) send(to string, reader pq.ReaderID, text string) ([]byte, *pq.ReplyKey) {
	n.t.Helper()
	key := n.key(to)
	u2c, rk, err := pq.SealU2C([]*pq.PublicKey{n.cn[0].PublicKey(), n.cn[1].PublicKey()}, to, key, reader, text)
	if err != nil {
		n.t.Fatal(err)
	}
	in, _, err := pq.OpenU2C(n.cn[0], u2c, 0)
	if err != nil || in.Tag != protocol.TagFor(to) {
		n.t.Fatalf("the CoverNode opened %v, %v", in, err)
	}
	c2j, err := pq.SealC2J(key, in.U2J)
	if err != nil {
		n.t.Fatal(err)
	}
	return c2j, rk
}

// publish signs a dead drop of the chunks (and a filler) as the CoverNode.
func (n *pqNet) publish(kind deaddrop.Kind, at time.Time, chunks ...[]byte) *pq.DeadDrop {
	var filler []byte
	var err error
	if kind == deaddrop.User {
		filler, err = pq.RandomJ2U()
	} else {
		filler, err = pq.FillerC2J(mustPQKey(n.t).PublicKey())
	}
	if err != nil {
		n.t.Fatal(err)
	}
	d := &pq.DeadDrop{Kind: kind, CreatedAt: at.UTC().Truncate(time.Second), Data: bytes.Join(append(chunks, filler), nil)}
	if kind == deaddrop.Journalist {
		d.Epoch = 1
	}
	n.mu.Lock()
	d.ID = int64(len(n.drops[kind]) + 1)
	d.Sign(n.cnID)
	n.drops[kind] = append(n.drops[kind], d)
	n.mu.Unlock()
	return d
}

// count is how many J2C messages journalist id sent.
func (n *pqNet) count(id string) int { n.mu.Lock(); defer n.mu.Unlock(); return len(n.sent[id]) }

// lastSent is the J2C journalist id sent last, opened by a CoverNode.
func (n *pqNet) lastSent(id string) *protocol.J2C {
	n.t.Helper()
	n.mu.Lock()
	msgs := n.sent[id]
	n.mu.Unlock()
	if len(msgs) == 0 {
		n.t.Fatalf("%s sent nothing", id)
	}
	msg := msgs[len(msgs)-1]
	if len(msg) != pq.J2CMessageSize {
		n.t.Fatalf("a J2C of %d bytes, want %d", len(msg), pq.J2CMessageSize)
	}
	m, _, err := pq.OpenJ2C(n.cn[1], msg, 1)
	if err != nil {
		n.t.Fatal(err)
	}
	return m
}

// TestPQVault: a pq vault publishes an X-Wing messaging key, opens a
// journalist dead drop built with package pq's functions, threads the
// messages by reader id, and replies under the reply key of each reader's
// latest message in a J2C of the size of its cover, which a CoverNode
// opens and whose J2U the reader's pq.ReaderOpener opens; handover and
// the published-reply check work as in coverdrop mode.
func TestPQVault(t *testing.T) {
	ctx := context.Background()
	n := newPQNet(t, keys.ModePQ)
	v := n.vault("alice", time.Now)
	n.vault("bob", time.Now)
	if v.Protocol() != pq.ModePQ || len(v.d.Messaging) != 1 || v.d.Messaging[0].Pair.Public.KEM == nil || v.d.Messaging[0].Epoch == 0 {
		t.Fatalf("a %s vault with messaging keys %+v", v.Protocol(), v.d.Messaging)
	}
	if !n.key("alice").Equal(v.d.Messaging[0].Pair.Public.KEM) {
		t.Fatal("readers do not seal to the X-Wing key the vault published")
	}

	// Two readers; the first writes twice, and once to bob.
	r1, _ := pq.NewReaderID()
	r2, _ := pq.NewReaderID()
	m1, rk1 := n.send("alice", r1, "first from one")
	m2, _ := n.send("alice", r2, "from two")
	toBob, _ := n.send("bob", r1, "to bob")
	n.publish(deaddrop.Journalist, time.Now().Add(-2*time.Hour), m1, toBob, m2)
	m3, rk3 := n.send("alice", r1, "second from one")
	n.publish(deaddrop.Journalist, time.Now().Add(-time.Hour), m3)
	res, err := v.Sync(ctx)
	if err != nil || res.Messages != 3 || res.DeadDrops != 2 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	// A replayed dead drop (another id, the same signed bytes) adds nothing.
	n.mu.Lock()
	again := *n.drops[deaddrop.Journalist][1]
	again.ID = 3
	n.drops[deaddrop.Journalist] = append(n.drops[deaddrop.Journalist], &again)
	n.mu.Unlock()
	if res, err := v.Sync(ctx); err != nil || res.Messages != 0 || res.DeadDrops != 1 {
		t.Fatalf("sync of a replay: %+v %v", res, err)
	}

	cs := v.Conversations()
	if len(cs) != 2 {
		t.Fatalf("%d conversations, want one per reader", len(cs))
	}
	one := v.d.Conversations[hex.EncodeToString(r1[:])[:16]]
	if one == nil || len(one.Messages) != 2 || one.Messages[1].Text != "second from one" || one.ReaderID != hex.EncodeToString(r1[:]) {
		t.Fatalf("reader one's conversation: %+v", one)
	}
	if one.ReplyKey != hex.EncodeToString(rk3[:]) {
		t.Fatal("the conversation does not hold the reply key of the reader's latest message")
	}

	// The reply: a J2C the size of cover, its J2U opened by the latest reply key only.
	if err := v.Reply(ctx, one.ID, "the answer"); err != nil {
		t.Fatal(err)
	}
	if real, err := v.SendOne(ctx); err != nil || !real {
		t.Fatalf("send: %v %v", real, err)
	}
	reply := n.lastSent("alice")
	if !reply.Real || len(reply.J2U) != pq.J2UMessageSize {
		t.Fatalf("the reply's J2C holds real=%v and %d bytes", reply.Real, len(reply.J2U))
	}
	if real, err := v.SendOne(ctx); err != nil || real {
		t.Fatalf("cover send: %v %v", real, err)
	}
	if cover := n.lastSent("alice"); cover.Real || n.count("alice") != 2 {
		t.Fatal("a cover J2C marked real")
	}
	ud := n.publish(deaddrop.User, time.Now(), reply.J2U)
	reader := func(rks ...*pq.ReplyKey) ([]deaddrop.Reply, error) {
		var stored []pq.StoredReplyKey
		for _, rk := range rks {
			stored = append(stored, pq.StoredReplyKey{Key: *rk, JournalistID: "alice"})
		}
		o, err := pq.NewReaderOpener(stored)
		if err != nil {
			t.Fatal(err)
		}
		return o.Open(ud)
	}
	got, err := reader(rk1, rk3)
	if err != nil || len(got) != 1 || got[0].Message.Text != "the answer" || got[0].JournalistID != "alice" {
		t.Fatalf("the reader opened %+v, %v", got, err)
	}
	if _, err := reader(rk1); !errors.Is(err, deaddrop.ErrNotForMe) {
		t.Fatalf("the reply opened under an older reply key: %v", err)
	}
	if found, err := v.CheckPublished(ctx); err != nil || found != 1 {
		t.Fatalf("published replies found: %d %v", found, err)
	}

	// Handover, sealed the same way.
	if err := v.Handover(ctx, one.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SendOne(ctx); err != nil {
		t.Fatal(err)
	}
	j2u := n.lastSent("alice").J2U
	if m, err := pq.OpenJ2U(rk3, j2u); err != nil || m.Type != protocol.J2UTypeHandover || m.HandoverTo != "bob" {
		t.Fatalf("handover: %+v %v", m, err)
	}

	// The vault keeps its mode.
	v.Close()
	back, err := OpenWith(v.path, "pass", Options{Now: v.now})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.Protocol() != pq.ModePQ || back.d.Messaging[0].Pair.Public.KEM == nil || back.d.Conversations[one.ID].ReplyKey != one.ReplyKey {
		t.Fatalf("reopened as %s", back.Protocol())
	}
}

// TestPQVaultReplies: in pq mode the UI's reply limit (ReplyOver) is the
// J2U plaintext's, the longest reply it lets through opens for the reader
// and one character more is refused without queuing; a reader id that
// shares another's prefix (which the UI shows) starts its own
// conversation instead of taking the other's replies; a reply whose
// reader's latest message is older than the reader keeps reply keys is
// refused, saying why.
func TestPQVaultReplies(t *testing.T) {
	ctx := context.Background()
	n := newPQNet(t, keys.ModePQ)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := n.vault("alice", clock)
	r1, _ := pq.NewReaderID()
	r2 := r1
	r2[31] ^= 1
	m1, rk1 := n.send("alice", r1, "one")
	m2, rk2 := n.send("alice", r2, "impostor")
	n.publish(deaddrop.Journalist, now.Add(-time.Hour), m1)
	n.publish(deaddrop.Journalist, now.Add(-time.Minute), m2)
	if res, err := v.Sync(ctx); err != nil || res.Messages != 2 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	id1 := hex.EncodeToString(r1[:])[:16]
	if c := v.d.Conversations[id1]; len(v.d.Conversations) != 2 || c.ReplyKey != hex.EncodeToString(rk1[:]) {
		t.Fatalf("a reader id with another's prefix joined its conversation: %d conversations", len(v.d.Conversations))
	}
	if c := v.d.Conversations[hex.EncodeToString(r2[:])]; c == nil || c.ReplyKey != hex.EncodeToString(rk2[:]) {
		t.Fatal("the second reader has no conversation of its own")
	}

	rng := rand.New(rand.NewPCG(1, 2))
	letters := make([]byte, 1500)
	for i := range letters {
		letters[i] = byte('a' + rng.IntN(26))
	}
	long := string(letters)
	over := ReplyOver(long)
	if over == 0 {
		t.Fatal("the test's text fits")
	}
	fitting := long[:len(long)-over]
	if err := v.Reply(ctx, id1, fitting+"z"); !errors.Is(err, protocol.ErrTextTooLong) || v.Queued() != 0 {
		t.Fatalf("one character over the limit: %v, %d queued", err, v.Queued())
	}
	if err := v.Reply(ctx, id1, fitting); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SendOne(ctx); err != nil {
		t.Fatal(err)
	}
	if m, err := pq.OpenJ2U(rk1, n.lastSent("alice").J2U); err != nil || m.Text != fitting {
		t.Fatalf("the longest reply: %v", err)
	}

	mu.Lock()
	now = now.Add(pq.ReplyKeyRetention)
	mu.Unlock()
	if err := v.Reply(ctx, id1, "too late"); err == nil || !strings.Contains(err.Error(), "no longer holds") {
		t.Fatalf("a reply under a reply key the reader dropped: %v", err)
	}
}

// TestPQBackupShares: a pq vault's backup shares are sealed to the
// backup admin's X-Wing key and then to the colleagues' X-Wing messaging
// keys with HPKE (docs/PQ.md §5.8); each colleague's vault keeps its own
// share and no other (nor does the backup's owner's), and two released
// shares restore the vault with the admin's key, still in pq mode.
func TestPQBackupShares(t *testing.T) {
	defer SetBackupPadding(1 << 12)()
	n := newPQNet(t, keys.ModePQ)
	vaults := map[string]*Vault{}
	for _, id := range []string{"bob", "carol", "alice"} {
		vaults[id] = n.vault(id, time.Now) // alice's sync fetches bob's and carol's keys
	}
	// The backup admin's keys, X-Wing in pq mode, as chaff admin backup-key
	// publishes them.
	bid := n.n.Gen(keys.BackupIdentity, n.n.Org)
	bmsg := n.n.Gen(keys.BackupMessaging, bid)
	n.post(apiclient.PostBackupSigningKey, n.n.Org, bid.Public)
	n.post(apiclient.PostBackupEncryptionKey, bid, bmsg.Public)
	adminDir := t.TempDir()
	if _, err := keys.WriteKeyPairFile(adminDir, keys.BackupMessaging, bmsg); err != nil {
		t.Fatal(err)
	}
	alice := vaults["alice"]
	if _, err := alice.Sync(t.Context()); err != nil { // fetches the backup key
		t.Fatal(err)
	}
	res, err := CreateBackup(alice, filepath.Join(t.TempDir(), "bk"), 2, 2, []string{"bob", "carol"})
	if err != nil {
		t.Fatal(err)
	}
	backup, files, err := ReadBackupFiles(res.Backup, res.Shares)
	if err != nil {
		t.Fatal(err)
	}
	var released [][]byte
	for i, holder := range []string{"bob", "carol"} {
		s, err := ParseShare(files[i])
		if err != nil || s.For != holder || s.Layer != LayerColleague {
			t.Fatalf("share %d: %+v %v", i, s, err)
		}
		other := vaults[[]string{"carol", "bob"}[i]]
		for _, v := range []*Vault{other, alice} {
			sf := *s
			sf.For = v.ID()
			relabelled, _ := json.Marshal(sf)
			if _, err := v.KeepShare(relabelled); err == nil {
				t.Fatalf("share %d for %s kept in %s's vault", i, holder, v.ID())
			}
		}
		k, err := vaults[holder].KeepShare(files[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Sealed) != len(k.Admin)+pq.HPKEOverhead {
			t.Fatalf("a sealed share of %d bytes for %d inside", len(s.Sealed), len(k.Admin))
		}
		r, err := vaults[holder].ReleaseShare(k.Backup, k.X)
		if err != nil {
			t.Fatal(err)
		}
		released = append(released, r)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if err := RestoreBackup(backup, released, nil, restored); err == nil {
		t.Fatal("restored without the backup admin's key")
	}
	admin, err := BackupAdminKeys(adminDir) // the X-Wing key pair file
	if err != nil {
		t.Fatal(err)
	}
	if err := RestoreBackup(backup, released, admin, restored); err != nil {
		t.Fatal(err)
	}
	back, err := Open(restored, "pass")
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.Protocol() != pq.ModePQ || back.ID() != "alice" {
		t.Fatalf("restored %s's vault in %s mode", back.ID(), back.Protocol())
	}
}

// TestVaultModeIsTheDeployments: a vault takes its mode from its
// deployment's organisation key when it is made, and keeps it: a pq vault
// pointed at a coverdrop deployment's API (and a coverdrop vault at a pq
// one's) refuses its keys and sends nothing, while the same vault against
// its own deployment sends (the control).
func TestVaultModeIsTheDeployments(t *testing.T) {
	ctx := context.Background()
	nets := map[string]*pqNet{keys.ModePQ: newPQNet(t, keys.ModePQ), keys.ModeCoverDrop: newPQNet(t, keys.ModeCoverDrop)}
	for mode, own := range nets {
		other := nets[map[string]string{keys.ModePQ: keys.ModeCoverDrop, keys.ModeCoverDrop: keys.ModePQ}[mode]]
		t.Run(mode, func(t *testing.T) {
			v := own.vault("bob", time.Now)
			if v.Protocol() != mode {
				t.Fatalf("a vault of a %s deployment speaks %s", mode, v.Protocol())
			}
			if _, err := v.SendOne(ctx); err != nil {
				t.Fatalf("the control: %v", err)
			}
			if own.count("bob") == 0 {
				t.Fatal("the control sent nothing")
			}
			v.Close()
			back, err := OpenWith(v.path, "pass", Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			back.api = apiclient.New(other.proxy)
			before := other.count("bob")
			_, err = back.SendOne(ctx)
			if err == nil || back.Protocol() != mode {
				t.Fatalf("a %s vault sent through a %s deployment: %v", back.Protocol(), other.n.Mode, err)
			}
			if _, err := back.Sync(ctx); err == nil {
				t.Fatalf("a %s vault synced with a %s deployment", mode, other.n.Mode)
			}
			if other.count("bob") != before {
				t.Fatal("the vault sent to a deployment of the other mode")
			}
		})
	}
}

// TestPQStandIn: the stand-in that sends a journalist's cover while the
// app does not sends pq cover J2C (the size of a pq reply) in a pq
// deployment.
func TestPQStandIn(t *testing.T) {
	n := newPQNet(t, keys.ModePQ)
	v := n.vault("alice", time.Now)
	v.Close()
	s, err := NewStandIn(v.path, "pass", &apiclient.KeyCache{API: apiclient.New(n.proxy), Anchors: []keys.SignedPublicKey{n.n.Org.Public}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx, 10*time.Millisecond, func() bool { return false }) }()
	deadline := time.Now().Add(time.Minute)
	for n.count("alice") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if m := n.lastSent("alice"); m.Real {
		t.Fatal("the stand-in sent a real message")
	}
}

// TestVaultUnknownProtocol: a vault naming a protocol this version does
// not speak is refused, not opened in a default mode.
func TestVaultUnknownProtocol(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault")
	kdf := KDFParams{Time: 1, Memory: 64, Threads: 1}
	if err := sealVault(path, "pass", kdf, &data{Protocol: "pq2", JournalistID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if v, err := Open(path, "pass"); err == nil || !strings.Contains(err.Error(), `"pq2"`) {
		if v != nil {
			v.Close()
		}
		t.Fatalf("opened a vault of protocol pq2: %v", err)
	}
	if err := sealVault(path, "pass", kdf, &data{JournalistID: "alice"}); err != nil {
		t.Fatal(err)
	}
	v, err := Open(path, "pass")
	if err != nil || v.Protocol() != pq.ModeCoverDrop {
		t.Fatalf("a vault from before pq mode: %v", err)
	}
	v.Close()
}
