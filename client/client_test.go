package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
)

// testKDF keeps tests fast; DefaultKDF is what installs use.
var testKDF = KDFParams{Time: 1, Memory: 64, Threads: 1}

func fakeU2C() ([]byte, error) {
	b := make([]byte, protocol.U2CMessageSize)
	_, err := rand.Read(b)
	return b, err
}

// TestQueueInvariants drives the queue with random operations against a
// model: it always holds QueueSlots messages; real messages come first, in
// the order they were queued; each send takes exactly the front one; the
// secret alone tells how many are real.
func TestQueueInvariants(t *testing.T) {
	for seed := range uint64(200) {
		r := mrand.New(mrand.NewPCG(seed, 1))
		secret := make([]byte, 16)
		rand.Read(secret)
		q, err := newQueue(protocol.U2CMessageSize, fakeU2C)
		if err != nil {
			t.Fatal(err)
		}
		var model [][]byte // real messages, in order
		for range 60 {
			if r.IntN(2) == 0 {
				m, _ := fakeU2C()
				err := q.enqueue(secret, m)
				if len(model) == QueueSlots {
					if !errors.Is(err, ErrQueueFull) {
						t.Fatalf("seed %d: enqueue into a full queue: %v", seed, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				model = append(model, m)
			} else {
				front := q.front()
				if len(model) > 0 {
					if !bytes.Equal(front, model[0]) {
						t.Fatalf("seed %d: the front is not the oldest real message", seed)
					}
					model = model[1:]
				}
				c, _ := fakeU2C()
				if err := q.dequeue(c); err != nil {
					t.Fatal(err)
				}
			}
			for i, it := range q.items {
				if len(it) != protocol.U2CMessageSize {
					t.Fatalf("seed %d: slot %d holds %d bytes", seed, i, len(it))
				}
			}
			if got := q.realCount(secret); got != len(model) {
				t.Fatalf("seed %d: realCount %d, model %d", seed, got, len(model))
			}
			other := make([]byte, 16)
			rand.Read(other)
			if q.realCount(other) != 0 {
				t.Fatalf("seed %d: another secret sees real messages", seed)
			}
			back, err := unmarshalQueue(q.marshal(), protocol.U2CMessageSize)
			if err != nil || back.realCount(secret) != len(model) {
				t.Fatalf("seed %d: queue does not survive its file: %v", seed, err)
			}
		}
	}
}

// TestStorageIndistinguishable: an install whose reader set up a mailbox
// and one whose reader never did have storage files of the same size that
// both change on every start; a wrong passphrase gets the same answer as
// the unused install.
func TestStorageIndistinguishable(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	apps := make([]*App, 2)
	for i, d := range dirs {
		a, err := Start(Config{StateDir: d, KDF: testKDF})
		if err != nil {
			t.Fatal(err)
		}
		apps[i] = a
	}
	pass, s, err := apps[0].CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(pass)); n != PassphraseWords {
		t.Fatalf("passphrase of %d words", n)
	}
	s.mb.Threads["alice"] = []Message{{From: "me", Text: "hello", Time: time.Now()}}
	if err := s.save(nil); err != nil {
		t.Fatal(err)
	}
	prev := [2][]byte{}
	for start := range 20 {
		for i, d := range dirs {
			if _, err := Start(Config{StateDir: d, KDF: testKDF}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(d, "storage.bin"))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != StorageSize {
				t.Fatalf("install %d: storage of %d bytes", i, len(b))
			}
			if start > 0 && bytes.Equal(b, prev[i]) {
				t.Fatalf("install %d: storage unchanged by a start", i)
			}
			prev[i] = b
		}
	}
	used, _ := Start(Config{StateDir: dirs[0], KDF: testKDF})
	unused, _ := Start(Config{StateDir: dirs[1], KDF: testKDF})
	s, err = used.Unlock(pass)
	if err != nil || len(s.Threads()["alice"]) != 1 {
		t.Fatalf("unlock: %v %+v", err, s)
	}
	// Threads is a copy: changing it leaves the mailbox as it was.
	th := s.Threads()
	th["alice"][0].Text = "changed"
	th["bob"] = nil
	if got := s.Threads(); len(got) != 1 || got["alice"][0].Text != "hello" {
		t.Fatalf("changing Threads' answer changed the mailbox: %+v", got)
	}
	wrong, _ := NewPassphrase(PassphraseWords)
	_, errWrong := used.Unlock(wrong)
	_, errUnused := unused.Unlock(pass)
	if !errors.Is(errWrong, ErrNoMailbox) || !errors.Is(errUnused, ErrNoMailbox) || errWrong.Error() != errUnused.Error() {
		t.Fatalf("wrong passphrase: %v; unused storage: %v", errWrong, errUnused)
	}
	// Passphrases are typed by people: case and spacing do not matter.
	if _, err := used.Unlock("  " + strings.ToUpper(pass) + " "); err != nil {
		t.Fatalf("unlock with different case and spacing: %v", err)
	}
}

// TestSendAndReply runs a reader's install against an in-process
// deployment: API, ingest and a CoverNode on an embedded JetStream. The
// reader writes to alice; alice reads it and replies; the reader reads the
// reply. The installs see the ingest on its own host, as the README
// recommends, and an API without /user/messages.
func TestSendAndReply(t *testing.T) {
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	alice, bundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	res, err := http.Post(a.URL+"/v1/status/public-key", "application/json", bytes.NewReader(n.Form(n.Org, n.Admin.Public)))
	if err != nil || res.StatusCode != 200 {
		t.Fatal("admin key")
	}
	res, err = http.Post(a.URL+"/v1/status", "application/json", bytes.NewReader(n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "AVAILABLE", "description": "up", "timestamp": protocol.FormatTime(time.Now())}})))
	if err != nil || res.StatusCode != 200 {
		t.Fatal("status")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := covernode.New(ctx, nc, covernode.Config{
		StateDir: t.TempDir(), StateKey: testnet.StateKey(t), BundlePath: bundle, API: apiclient.New(a.URL), Anchors: []keys.SignedPublicKey{n.Org.Public},
		U2J: mix.Params{ThresholdMin: 4, ThresholdMax: 4, Timeout: time.Hour, OutputSize: 3},
		J2U: mix.Params{ThresholdMin: 3, ThresholdMax: 3, Timeout: time.Hour, OutputSize: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	go node.Run(ctx)

	apiOnly := httptest.NewServer(a.Server.Handler(false))
	defer apiOnly.Close()
	ingest := httptest.NewServer(a.Server.IngestHandler())
	defer ingest.Close()
	cfg := func(dir string) Config {
		return Config{StateDir: dir, API: apiclient.New(apiOnly.URL), IngestURL: ingest.URL + "/",
			Anchors: []keys.SignedPublicKey{n.Org.Public}, KDF: testKDF, MinRunInterval: -1}
	}
	source, err := Start(cfg(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := source.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	pass, s, err := source.CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send("nobody", "x"); err == nil {
		t.Fatal("sent to an unknown journalist")
	}
	if err := s.Send("alice", " \n"); err == nil {
		t.Fatal("queued an empty message")
	}
	if err := s.Send("alice", "the contracts were signed on 3 May"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Queued(); n != 1 {
		t.Fatalf("%d queued", n)
	}
	// The source's run and another reader's: four messages, one real, make
	// a round.
	other, _ := Start(cfg(t.TempDir()))
	for _, app := range []*App{source, other} {
		r, err := app.BackgroundRun(ctx)
		if err != nil || r.Sent != 2 {
			t.Fatalf("background run: %+v %v", r, err)
		}
	}
	s, _ = source.Unlock(pass)
	if n, _ := s.Queued(); n != 0 {
		t.Fatalf("%d still queued after the run", n)
	}

	// alice reads the journalist dead drops.
	ask, _ := alice.Msg[0].PrivateKey()
	var got []deaddrop.Received
	waitFor(t, func() bool {
		v, _ := source.Verified()
		jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{ask}, v.AllCoverNodeMessagingKeys())
		b, err := apiclient.New(a.URL).DeadDropsAfter(ctx, deaddrop.Journalist, 0)
		if err != nil {
			return false
		}
		l, _ := deaddrop.ParseList(deaddrop.Journalist, b)
		got = nil
		for _, d := range l.DeadDrops {
			r, _ := jo.Open(d)
			got = append(got, r...)
		}
		return len(got) == 1
	})
	if got[0].Message.Text != "the contracts were signed on 3 May" {
		t.Fatalf("alice read %q", got[0].Message.Text)
	}
	// alice replies; two cover messages complete the round.
	v, _ := source.Verified()
	cks, _ := v.CoverNodeKeys()
	j2u, _ := protocol.SealJ2U(got[0].Message.ReplyKey, ask, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you: can we talk?"})
	j2c, _ := protocol.SealJ2C(cks, j2u)
	msgs := [][]byte{j2c}
	for range 2 {
		c, _ := protocol.SealCoverJ2C(cks)
		msgs = append(msgs, c)
	}
	for _, m := range msgs {
		res, err := http.Post(a.URL+"/v1/journalist-messages", "application/json", bytes.NewReader(n.Form(alice.ID, protocol.EncodeBase64(m))))
		if err != nil || res.StatusCode != 200 {
			t.Fatal("journalist message")
		}
	}
	waitFor(t, func() bool {
		if _, err := source.BackgroundRun(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := source.Unlock(pass)
		if err != nil {
			t.Fatal(err)
		}
		th := s.Threads()["alice"]
		return len(th) == 2 && th[1].From == "alice" && th[1].Text == "thank you: can we talk?"
	})
	// Unlocking again does not duplicate the reply.
	s, _ = source.Unlock(pass)
	if th := s.Threads()["alice"]; len(th) != 2 {
		t.Fatalf("thread after a second unlock: %+v", th)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
