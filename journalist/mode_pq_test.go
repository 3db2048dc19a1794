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
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// pqFixedKeys is pq mode with the published keys given, in place of the
// key hierarchy's pq form: everything else (rotation, dead drops, replies,
// cover) is the vault's own.
type pqFixedKeys struct {
	pqMode
	keys pqKeys
}

func (m pqFixedKeys) fetch(context.Context, *Vault) (published, error) { return m.keys, nil }
func (m pqFixedKeys) cached(*Vault) (published, error)                 { return m.keys, nil }

// pqNet is a pq deployment around one vault: two CoverNodes with X-Wing
// keys and an identity key that signs dead drops, and a fake API that
// takes the vault's messaging keys and J2C messages and serves the dead
// drops the test publishes.
type pqNet struct {
	t        *testing.T
	now      time.Time
	id       *keys.KeyPair // alice's identity key
	cnID     *crypto.SigningKey
	cn       [2]*pq.PrivateKey
	bob      *pq.PrivateKey
	v        *Vault
	mu       sync.Mutex
	uploaded []*pq.SignedKEMKey
	sent     [][]byte
	drops    map[deaddrop.Kind][]*pq.DeadDrop
}

func newPQNet(t *testing.T) *pqNet {
	now := time.Now().UTC().Truncate(time.Second)
	org, err := keys.Generate(keys.Organization, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := keys.Generate(keys.JournalistProvisioning, org, now)
	if err != nil {
		t.Fatal(err)
	}
	n := &pqNet{t: t, now: now, drops: map[deaddrop.Kind][]*pq.DeadDrop{}}
	if n.id, err = keys.Generate(keys.JournalistIdentity, prov, now); err != nil {
		t.Fatal(err)
	}
	if n.cnID, err = crypto.GenerateSigningKey(); err != nil {
		t.Fatal(err)
	}
	for i := range n.cn {
		n.cn[i] = mustPQKey(t)
	}
	n.bob = mustPQKey(t)
	srv := httptest.NewServer(http.HandlerFunc(n.serve))
	t.Cleanup(srv.Close)
	n.v = &Vault{
		path: filepath.Join(t.TempDir(), "vault"), passphrase: "pass", kdf: KDFParams{Time: 1, Memory: 64, Threads: 1},
		api: apiclient.New(srv.URL), now: func() time.Time { return n.now },
		mode: pqFixedKeys{keys: pqKeys{
			identity:   []*crypto.VerifyingKey{n.cnID.VerifyingKey()},
			epoch:      9,
			profs:      []keys.JournalistProfile{{ID: "alice"}, {ID: "bob"}},
			coverNodes: []*pq.PublicKey{n.cn[0].PublicKey(), n.cn[1].PublicKey()},
		}},
		d: &data{Protocol: pq.ModePQ, JournalistID: "alice", Identity: keys.Ring{{Pair: n.id, Epoch: 1, CreatedAt: now}},
			Conversations: map[string]*Conversation{}, Seen: map[string]bool{}},
	}
	return n
}

func mustPQKey(t *testing.T) *pq.PrivateKey {
	k, err := pq.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (n *pqNet) serve(rw http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	fail := func(err error) { http.Error(rw, `{"error":"`+err.Error()+`"}`, http.StatusBadRequest) }
	form := func(v any) bool {
		f, err := form.Parse(body)
		if err == nil {
			err = f.Verify(n.vk(), time.Now())
		}
		if err == nil {
			err = f.Decode(v)
		}
		if err != nil {
			fail(err)
		}
		return err == nil
	}
	switch r.URL.Path {
	case apiclient.PostJournalistMessagingKey.Path:
		var k pq.SignedKEMKey
		if !form(&k) {
			return
		}
		if err := k.Verify(&n.id.Public, n.now); err != nil {
			fail(err)
			return
		}
		n.uploaded = append(n.uploaded, &k)
		rw.Write([]byte(strconv.Itoa(len(n.uploaded) + 6)))
	case apiclient.PostJournalistMessage.Path:
		var s string
		if !form(&s) {
			return
		}
		msg, err := protocol.DecodeBase64(s)
		if err != nil {
			fail(err)
			return
		}
		n.sent = append(n.sent, msg)
		rw.Write([]byte("{}"))
	case apiclient.DeadDrops(deaddrop.Journalist).Get.Path, apiclient.DeadDrops(deaddrop.User).Get.Path:
		kind := deaddrop.User
		if strings.Contains(r.URL.Path, "journalist") {
			kind = deaddrop.Journalist
		}
		after, _ := strconv.ParseInt(r.URL.Query().Get("ids_greater_than"), 10, 64)
		page := []*pq.DeadDrop{}
		for _, d := range n.drops[kind] {
			if d.ID > after {
				page = append(page, d)
			}
		}
		json.NewEncoder(rw).Encode(map[string]any{"dead_drops": page})
	default:
		http.Error(rw, `{"error":"not here"}`, http.StatusNotFound)
	}
}

func (n *pqNet) vk() *crypto.VerifyingKey {
	vk, err := n.id.Public.VerifyingKey()
	if err != nil {
		n.t.Fatal(err)
	}
	return vk
}

// aliceKey is the latest messaging key the vault published.
func (n *pqNet) aliceKey() *pq.PublicKey {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.uploaded) == 0 {
		n.t.Fatal("the vault published no messaging key")
	}
	return n.uploaded[len(n.uploaded)-1].Key
}

// send is a reader's message through the CoverNode: sealed to the
// CoverNodes (pq.SealU2C), opened by the first (pq.OpenU2C), re-sealed to
// the journalist's key (pq.SealC2J). It returns the chunk and the reply
// key the reader keeps.
func (n *pqNet) send(to string, key *pq.PublicKey, reader pq.ReaderID, text string) ([]byte, *pq.ReplyKey) {
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
	d := &pq.DeadDrop{Kind: kind, CreatedAt: at, Data: bytes.Join(append(chunks, filler), nil), Epoch: 9}
	if kind == deaddrop.User {
		d.Epoch = 0
	}
	n.mu.Lock()
	d.ID = int64(len(n.drops[kind]) + 1)
	d.Sign(n.cnID)
	n.drops[kind] = append(n.drops[kind], d)
	n.mu.Unlock()
	return d
}

// lastSent is the J2C the vault sent last, opened by a CoverNode.
func (n *pqNet) lastSent() *protocol.J2C {
	n.mu.Lock()
	msg := n.sent[len(n.sent)-1]
	n.mu.Unlock()
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
	n := newPQNet(t)
	v := n.v
	if _, err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(n.uploaded) != 1 || v.d.PQMessaging[0].Epoch != 7 || len(v.d.Messaging) != 0 {
		t.Fatalf("published %d X-Wing keys (epoch %d), %d X25519 ones", len(n.uploaded), v.d.PQMessaging[0].Epoch, len(v.d.Messaging))
	}
	alice := n.aliceKey()

	// Two readers; the first writes twice, and once to bob.
	r1, _ := pq.NewReaderID()
	r2, _ := pq.NewReaderID()
	m1, rk1 := n.send("alice", alice, r1, "first from one")
	m2, _ := n.send("alice", alice, r2, "from two")
	toBob, _ := n.send("bob", n.bob.PublicKey(), r1, "to bob")
	n.publish(deaddrop.Journalist, n.now.Add(-2*time.Hour), m1, toBob, m2)
	m3, rk3 := n.send("alice", alice, r1, "second from one")
	n.publish(deaddrop.Journalist, n.now.Add(-time.Hour), m3)
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
	reply := n.lastSent()
	if !reply.Real || len(reply.J2U) != pq.J2UMessageSize {
		t.Fatalf("the reply's J2C holds real=%v and %d bytes", reply.Real, len(reply.J2U))
	}
	if real, err := v.SendOne(ctx); err != nil || real {
		t.Fatalf("cover send: %v %v", real, err)
	}
	if cover := n.lastSent(); cover.Real {
		t.Fatal("a cover J2C marked real")
	}
	ud := n.publish(deaddrop.User, n.now, reply.J2U)
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
	j2u := n.lastSent().J2U
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
	if back.Protocol() != pq.ModePQ || len(back.d.PQMessaging) != 1 || back.d.Conversations[one.ID].ReplyKey != one.ReplyKey {
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
	n := newPQNet(t)
	v := n.v
	if _, err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	alice := n.aliceKey()
	r1, _ := pq.NewReaderID()
	r2 := r1
	r2[31] ^= 1
	m1, rk1 := n.send("alice", alice, r1, "one")
	m2, rk2 := n.send("alice", alice, r2, "impostor")
	n.publish(deaddrop.Journalist, n.now.Add(-time.Hour), m1)
	n.publish(deaddrop.Journalist, n.now.Add(-time.Minute), m2)
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
	if m, err := pq.OpenJ2U(rk1, n.lastSent().J2U); err != nil || m.Text != fitting {
		t.Fatalf("the longest reply: %v", err)
	}

	n.now = n.now.Add(pq.ReplyKeyRetention)
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
	ctx := context.Background()
	nets := map[string]*pqNet{}
	for _, id := range []string{"alice", "bob", "carol"} {
		nets[id] = newPQNet(t)
		nets[id].v.d.JournalistID = id
		if _, err := nets[id].v.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := pq.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	alice := nets["alice"]
	m := alice.v.mode.(pqFixedKeys)
	m.keys.journalists = map[string]*pq.PublicKey{"bob": nets["bob"].aliceKey(), "carol": nets["carol"].aliceKey()}
	m.keys.backup = admin.PublicKey()
	alice.v.mode = m
	res, err := CreateBackup(alice.v, filepath.Join(t.TempDir(), "bk"), 2, 2, []string{"bob", "carol"})
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
		nets[holder].v.d.JournalistID = holder
		other := nets[[]string{"carol", "bob"}[i]].v
		for _, v := range []*Vault{other, alice.v} {
			sf := *s
			sf.For = v.ID()
			relabelled, _ := json.Marshal(sf)
			if _, err := v.KeepShare(relabelled); err == nil {
				t.Fatalf("share %d for %s kept in %s's vault", i, holder, v.ID())
			}
		}
		k, err := nets[holder].v.KeepShare(files[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Sealed) != len(k.Admin)+pq.HPKEOverhead {
			t.Fatalf("a sealed share of %d bytes for %d inside", len(s.Sealed), len(k.Admin))
		}
		r, err := nets[holder].v.ReleaseShare(k.Backup, k.X)
		if err != nil {
			t.Fatal(err)
		}
		released = append(released, r)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	open := BackupOpener(func(b []byte) ([]byte, error) { return pq.OpenBackupShare(admin, b) })
	if err := RestoreBackup(backup, released, nil, restored); err == nil {
		t.Fatal("restored without the backup admin's key")
	}
	if err := RestoreBackup(backup, released, []BackupOpener{open}, restored); err != nil {
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
