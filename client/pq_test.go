package client

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
)

// TestPQReaderSendsOneSize: in a pq deployment a source and a reader who
// never wrote send the same number of messages per run, every one of them
// 4,037 bytes, one real among the source's; the queue file is the pq
// queue's size for both. The real one reaches alice with the reader id of
// the mailbox.
func TestPQReaderSendsOneSize(t *testing.T) {
	ctx := context.Background()
	f := StartFakePQ(t)
	source, err := Start(f.Config(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if source.Protocol() != ProtocolPQ {
		t.Fatalf("protocol %q", source.Protocol())
	}
	if err := source.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	js, err := source.Journalists()
	if err != nil || len(js) != 1 || js[0].ID != "alice" {
		t.Fatalf("journalists %+v %v", js, err)
	}
	_, s, err := source.CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	if s.mb.UserKey != nil || s.mb.ReaderID == nil {
		t.Fatal("a pq mailbox holds an X25519 reader key, or no reader id")
	}
	if err := s.Send("alice", "the contracts were signed on 3 May"); err != nil {
		t.Fatal(err)
	}
	if len(s.mb.ReplyKeys) != 1 || s.mb.ReplyKeys[0].JournalistID != "alice" {
		t.Fatalf("reply keys after a send: %+v", s.mb.ReplyKeys)
	}
	other, err := Start(f.Config(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var real []*pq.UserMessage
	for i, app := range []*App{source, other} {
		before := len(f.Posted())
		r, err := app.BackgroundRun(ctx)
		if err != nil || r.Sent != 2 {
			t.Fatalf("background run: %+v %v", r, err)
		}
		posted := f.Posted()[before:]
		if len(posted) != 2 {
			t.Fatalf("install %d posted %d messages", i, len(posted))
		}
		for _, m := range posted {
			if len(m) != pq.U2CMessageSize {
				t.Fatalf("a message of %d bytes", len(m))
			}
			if um, _ := f.Open(m); um != nil {
				if i != 0 {
					t.Fatal("the reader who never wrote sent a real message")
				}
				real = append(real, um)
			}
		}
		q, err := os.ReadFile(filepath.Join(app.cfg.StateDir, queueFile))
		if err != nil || len(q) != 8+QueueSlots*(pq.U2CMessageSize+hintSize) {
			t.Fatalf("queue file of %d bytes: %v", len(q), err)
		}
	}
	if len(real) != 1 || real[0].Text != "the contracts were signed on 3 May" || real[0].ReaderID != *s.mb.ReaderID {
		t.Fatalf("alice got %+v", real)
	}
	if real[0].ReplyKey != s.mb.ReplyKeys[0].Key {
		t.Fatal("alice's reply key is not the one the reader kept")
	}
}

// TestPQReply: alice answers under the reply key of the reader's message;
// the reader's next run brings the user dead drop and the unlock shows the
// reply once, however often the mailbox is opened; a dead drop not signed
// by the CoverNode shows nothing. After 28 days the reply key is gone from
// the mailbox.
func TestPQReply(t *testing.T) {
	ctx := context.Background()
	f := StartFakePQ(t)
	now := time.Now()
	cfg := f.Config(t.TempDir())
	cfg.Now = func() time.Time { return now }
	app, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	pass, s, err := app.CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send("alice", "can we meet?"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.BackgroundRun(ctx); err != nil {
		t.Fatal(err)
	}
	var m *pq.UserMessage
	for _, p := range f.Posted() {
		if um, _ := f.Open(p); um != nil {
			m = um
		}
	}
	if m == nil {
		t.Fatal("the message did not leave")
	}
	// A forged dead drop (signed by another key) holding a genuine reply
	// must not be read; then the CoverNode's dead drop is.
	forger, _ := crypto.GenerateSigningKey()
	now = now.Add(time.Minute)
	f.PublishReplies(forger, now, 20, testnet.PQReply(t, m, "forged"))
	f.PublishReplies(nil, now, 20, testnet.PQReply(t, m, "yes: Tuesday"))
	if _, err := app.BackgroundRun(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, err = app.Unlock(pass)
		if err != nil {
			t.Fatal(err)
		}
		th := s.Threads()["alice"]
		if len(th) != 2 || th[0].From != "me" || th[1].From != "alice" || th[1].Text != "yes: Tuesday" {
			t.Fatalf("thread %+v", th)
		}
	}
	// 28 days on, the key is deleted; the reader's own message and the
	// reply went 14 days after they were sent.
	now = now.Add(pq.ReplyKeyRetention + time.Hour)
	s, err = app.Unlock(pass)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.mb.ReplyKeys) != 0 || len(s.Threads()) != 0 {
		t.Fatalf("after 28 days: %d reply keys, threads %+v", len(s.mb.ReplyKeys), s.Threads())
	}
}

// TestPQNoDowngrade: an install speaks the mode of the anchors it was
// installed with and no other (docs/PQ.md §8). An installed pq install
// refuses coverdrop anchors, and a coverdrop one pq anchors; an anchor
// file whose "protocol" field was added or removed is refused; a pq
// install refuses a coverdrop hierarchy, even one under a coverdrop-form
// certificate of its own organisation key, and a coverdrop install the pq
// hierarchy, sending nothing and keeping its files. The control: each
// install starts, refreshes and sends in its own mode, so the refusals are
// the modes', not broken installs.
func TestPQNoDowngrade(t *testing.T) {
	ctx := context.Background()
	f := StartFakePQ(t)
	d := startDeployment(t) // a coverdrop deployment
	pqDir, cdDir := t.TempDir(), t.TempDir()

	// Controls: each in its own mode.
	pqApp, err := Start(f.Config(pqDir))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := pqApp.BackgroundRun(ctx); err != nil || r.Sent != 2 || pqApp.Protocol() != ProtocolPQ {
		t.Fatalf("pq control: %+v %v %s", r, err, pqApp.Protocol())
	}
	cdApp, err := Start(d.config(cdDir))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cdApp.BackgroundRun(ctx); err != nil || r.Sent != 2 || cdApp.Protocol() != ProtocolCoverDrop {
		t.Fatalf("coverdrop control: %+v %v %s", r, err, cdApp.Protocol())
	}

	refused := func(what string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want an error saying %q", what, err, want)
		}
	}
	// The other mode's anchors on an existing install.
	_, err = Start(d.config(pqDir))
	refused("the pq install started with coverdrop anchors", err, "speaks the pq protocol and is started with anchors of a coverdrop deployment")
	_, err = Start(f.Config(cdDir))
	refused("the coverdrop install started with pq anchors", err, "speaks the coverdrop protocol and is started with anchors of a pq deployment")
	// Anchor files edited to claim the other mode, for a new install.
	stripped := f.Config(t.TempDir())
	stripped.Anchors[0].Protocol = ""
	_, err = Start(stripped)
	refused("the pq anchor without its protocol field", err, "not an organisation key of a coverdrop deployment")
	claimed := d.config(t.TempDir())
	claimed.Anchors[0].Protocol = ProtocolPQ
	_, err = Start(claimed)
	refused("a coverdrop anchor claiming pq", err, "not an organisation key of a pq deployment")
	mixed := f.Config(t.TempDir())
	mixed.Anchors = append(mixed.Anchors, d.n.Org.Public)
	_, err = Start(mixed)
	refused("anchors of two modes", err, "two protocol modes")

	// Hierarchies of the other mode, served by a hostile API: nothing is
	// sent and nothing cached changes.
	pqKeys := f.Hierarchy()
	cdKeys, err := apiclient.New(d.api.URL).PublicKeysBody(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The pq organisation key's own coverdrop-form certificate (a pq
	// organisation never makes one) over the pq hierarchy's keys.
	h, err := keys.ParseHierarchy(pqKeys)
	if err != nil {
		t.Fatal(err)
	}
	orgSK, _ := f.N.Org.SigningKey()
	cdOrg, err := keys.CertifyOrganization(orgSK, keys.ModeCoverDrop, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.Keys[0].OrgPK = *cdOrg
	sameOrg, _ := json.Marshal(h)
	for _, hostile := range []struct{ what, body string }{
		{"another organisation's coverdrop hierarchy", string(cdKeys)},
		{"a coverdrop certificate of its own organisation key", string(sameOrg)},
	} {
		before := len(f.Posted())
		f.ServeHierarchy([]byte(hostile.body))
		pubBefore, _ := os.ReadFile(filepath.Join(pqDir, publicFile))
		_, err = pqApp.BackgroundRun(ctx)
		refused("a pq install served "+hostile.what, err, "do not verify")
		if len(f.Posted()) != before {
			t.Fatalf("the pq install sent after %s", hostile.what)
		}
		if pubAfter, _ := os.ReadFile(filepath.Join(pqDir, publicFile)); !bytes.Equal(pubBefore, pubAfter) {
			t.Fatalf("%s changed the install's files", hostile.what)
		}
	}
	// A coverdrop install served the pq hierarchy refuses it.
	before := len(f.Posted())
	f.ServeHierarchy(pqKeys)
	cdAtPQ := d.config(cdDir)
	cdAtPQ.API = apiclient.New(f.URL)
	if cdApp, err = Start(cdAtPQ); err != nil {
		t.Fatal(err)
	}
	_, err = cdApp.BackgroundRun(ctx)
	refused("a coverdrop install served a pq hierarchy", err, "do not verify")
	if len(f.Posted()) != before {
		t.Fatal("the coverdrop install sent to the pq deployment")
	}
}

// TestParseAnchors: anchor files are read with their mode; two modes at
// once, and an unknown mode, are refused.
func TestParseAnchors(t *testing.T) {
	sk, _ := crypto.GenerateSigningKey()
	now := time.Now()
	pqA, _ := pq.NewAnchor(sk, pq.ModePQ, now)
	cdA, _ := pq.NewAnchor(sk, pq.ModeCoverDrop, now)
	pb, _ := json.Marshal(pqA)
	cb, _ := json.Marshal(cdA)
	if as, err := ParseAnchors(pb); err != nil || as[0].Mode() != ProtocolPQ {
		t.Fatalf("pq anchor: %v", err)
	}
	if as, err := ParseAnchors(cb); err != nil || as[0].Mode() != ProtocolCoverDrop {
		t.Fatalf("coverdrop anchor: %v", err)
	}
	list := []byte("[" + string(pb) + "," + string(pb) + "]")
	if as, err := ParseAnchors(list); err != nil || len(as) != 2 || as[1].Mode() != ProtocolPQ {
		t.Fatalf("a list of pq anchors: %d %v", len(as), err)
	}
	if _, err := ParseAnchors(pb, cb); err == nil {
		t.Fatal("anchors of two modes accepted")
	}
	if _, err := ParseAnchors(bytes.Replace(pb, []byte(`"pq"`), []byte(`"pq2"`), 1)); err == nil {
		t.Fatal("an unknown mode accepted")
	}
}

// TestReplyKeyStore: the store keeps the newest pq.MaxReplyKeys keys, in
// order even when the clock goes back, drops and wipes the expired ones,
// and survives its encoding.
func TestReplyKeyStore(t *testing.T) {
	now := time.Now()
	var r replyKeys
	for i := range pq.MaxReplyKeys + 10 {
		var k replyKey
		k.Key[0], k.Key[1] = byte(i), byte(i>>8)
		k.JournalistID = "alice"
		k.SentAt = now.Add(time.Duration(i) * time.Minute)
		if i == 100 {
			k.SentAt = now.Add(-time.Hour) // the clock went back
		}
		r = r.add(k)
	}
	if len(r) != pq.MaxReplyKeys || r[0].Key[0] != 10 || r[len(r)-1].Key[0] != byte((pq.MaxReplyKeys+9)&0xff) {
		t.Fatalf("%d keys, first %d, last %d", len(r), r[0].Key[0], r[len(r)-1].Key[0])
	}
	back, err := parseReplyKeys(r.marshal())
	if err != nil || len(back) != len(r) || !bytes.Equal(back.marshal(), r.marshal()) {
		t.Fatalf("the store does not survive its encoding: %v", err)
	}
	if st := r.stored(); st[0].Key != r[len(r)-1].Key {
		t.Fatal("the opener does not try the newest key first")
	}
	old := r[0:1:1]
	r = r.expire(now.Add(pq.ReplyKeyRetention + 100*time.Minute))
	if len(r) != pq.MaxReplyKeys+10-101 {
		t.Fatalf("%d keys after expiry", len(r))
	}
	if old[0].Key != (pq.ReplyKey{}) {
		t.Fatal("an expired key was not wiped")
	}
}

// TestPQSimulateReader: the simulated readers of a pq deployment (chaff
// up's) send cover messages of the pq size, which open at the CoverNode as
// cover.
func TestPQSimulateReader(t *testing.T) {
	f := StartFakePQ(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		SimulateReader(ctx, apiclient.New(f.URL), &apiclient.KeyCache{API: apiclient.New(f.URL), Anchors: f.Anchors()}, time.Millisecond)
	}()
	deadline := time.Now().Add(time.Minute)
	for len(f.Posted()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	posted := f.Posted()
	if len(posted) < 3 {
		t.Fatalf("%d messages posted", len(posted))
	}
	for _, m := range posted {
		if um, _ := f.Open(m); um != nil { // Open checks the size too
			t.Fatal("a simulated reader sent a real message")
		}
	}
}
