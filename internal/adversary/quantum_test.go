package adversary_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/harvest"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// The system-level quantum-adversary tests (issue 16 item 4, docs/PQ.md
// §9): the protocol-level ones (pq/quantum_test.go) over a whole
// deployment. A deployment runs in-process (JetStream, the API, a
// CoverNode, readers' installs and journalists' vaults): four readers, of
// whom two are sources, one has a mailbox and sends nothing and one never
// made one; carol answers one source and hands the other over to dave, to
// whom that source then writes; carol's messaging key is rotated and the
// first source writes again under the new key and gets a second answer.
// The adversary records every request the readers make (the recording
// proxy) and every message on the bus (the NATS tap: what the cloud
// holds). Then it is handed one half of every private key of every party,
// CoverNode and journalists (readers have none in pq mode: their reply
// keys come out of their messages), and tries every key on every layer
// (package harvest, the protocol-level tests' attack).
//
// In pq mode it must open nothing and name no source, every message of a
// layer having one size. The controls run the same attack with both
// halves of every pq key, and with the X25519 keys of a coverdrop-mode run
// of the same exchange (TestQuantumAdversarySystemControl): both must open
// every layer and name exactly the sources.

const (
	qReaders = 4
	qSources = 2 // readers 0 and 1
)

// recorded is an exchange as the adversary recorded it, with every
// party's messaging private keys kept for the adversary to be given.
type recorded struct {
	mode   string
	tr     *harvest.Transcript
	x25519 []*crypto.PrivateKey
	kem    []*xwing.PrivateKey
	texts  []string // what the sources and the journalists wrote
}

// tagReader names the reader an HTTP request comes from, for the
// transcript: in the field it would be the reader's address.
type tagReader struct {
	id   string
	next http.RoundTripper
}

func (t tagReader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Reader", t.id)
	return t.next.RoundTrip(r)
}

// runExchange runs the exchange in mode and records it.
func runExchange(t *testing.T, mode string) *recorded {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{Mode: mode})
	carol, carolVault := d.Journalist("carol")
	dave, daveVault := d.Journalist("dave")
	for _, v := range []*journalist.Vault{carol, dave} {
		if _, err := v.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	apps := make([]*client.App, qReaders)
	sessions := map[int]*client.Session{}
	passphrases := map[int]string{}
	for i := range apps {
		cfg := d.ReaderConfig(t.TempDir())
		cfg.API = apiclient.NewWith(d.Proxy.URL, &http.Client{Transport: tagReader{strconv.Itoa(i), http.DefaultTransport}})
		app, err := client.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		apps[i] = app
		if i <= qSources { // the sources, and one reader with a mailbox who sends nothing
			pass, s, err := app.CreateMailbox()
			if err != nil {
				t.Fatal(err)
			}
			sessions[i], passphrases[i] = s, pass
		}
	}
	run := &recorded{mode: mode}
	send := func(reader int, to, text string) {
		t.Helper()
		if err := sessions[reader].Send(to, text); err != nil {
			t.Fatal(err)
		}
		run.texts = append(run.texts, text)
	}
	// Every reader's background run: two messages each, real or cover.
	backgroundRuns := func() {
		t.Helper()
		for _, app := range apps {
			if _, err := app.BackgroundRun(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	receive := func(v *journalist.Vault, text string) {
		t.Helper()
		adversary.SyncUntil(t, v, v.ID()+" receives "+text, func() bool { return adversary.Received(v)[text] == 1 })
	}
	conversation := func(v *journalist.Vault, text string) string {
		t.Helper()
		for _, c := range v.Conversations() {
			for _, m := range c.Messages {
				if m.Text == text {
					return c.ID
				}
			}
		}
		t.Fatalf("%s has no conversation with %q", v.ID(), text)
		return ""
	}
	// Journalists send what they queued, each among cover of its own.
	journalistsSend := func() {
		t.Helper()
		for _, v := range []*journalist.Vault{carol, dave} {
			for {
				if _, err := v.SendOne(ctx); err != nil {
					t.Fatal(err)
				}
				if v.Queued() == 0 {
					break
				}
			}
			if _, err := v.SendOne(ctx); err != nil { // cover
				t.Fatal(err)
			}
		}
	}
	waitReply := func(reader int, from, text string) {
		t.Helper()
		adversary.WaitFor(t, adversary.LiveBound, "reader "+strconv.Itoa(reader)+" gets "+text, func() bool {
			if _, err := apps[reader].BackgroundRun(ctx); err != nil {
				t.Logf("background run: %v", err)
			}
			s, err := apps[reader].Unlock(passphrases[reader])
			if err != nil {
				t.Fatal(err)
			}
			sessions[reader] = s
			for _, m := range s.Threads()[from] {
				if m.From == from && (m.Text == text || m.HandoverTo == text) {
					return true
				}
			}
			return false
		})
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	answer := func(about, text string) {
		t.Helper()
		run.texts = append(run.texts, text)
		must(carol.Reply(ctx, conversation(carol, about), text))
	}

	// round: the sources queue their messages, every reader's background
	// run sends, the journalists receive.
	round := func(msgs ...message) {
		t.Helper()
		for _, m := range msgs {
			send(m.reader, m.to.ID(), m.text)
		}
		backgroundRuns()
		for _, m := range msgs {
			receive(m.to, m.text)
		}
	}

	round(message{0, carol, "the minister's accounts are in the basement"}, message{1, carol, "ask me about the harbour contracts"})
	answer(run.texts[0], "thank you, we will look into it")
	must(carol.Handover(ctx, conversation(carol, run.texts[1]), "dave"))
	journalistsSend()
	waitReply(0, "carol", run.texts[2])
	waitReply(1, "carol", "dave")

	// A journalist's key rotation: the first source writes again, sealed
	// to carol's new key, and the other to dave.
	carolKeys := seizeJournalist(t, carolVault)
	must(carol.RotateNow(ctx))
	for _, app := range apps {
		must(app.Refresh(ctx))
	}
	round(message{0, carol, "and the second ledger is at the printer's"}, message{1, dave, "carol said to write to you"})
	answer(run.texts[3], "we found it")
	journalistsSend()
	waitReply(0, "carol", run.texts[5])

	// What the adversary recorded.
	run.tr = harvest.NewTranscript()
	for _, ex := range d.Proxy.Matching(apiclient.PostUserMessage.Method, apiclient.PostUserMessage.Path) {
		r, err := strconv.Atoi(ex.ReqHeader.Get("X-Test-Reader"))
		if err != nil {
			t.Fatalf("a message from no reader: %v", err)
		}
		run.tr.U2C[r] = append(run.tr.U2C[r], decodeBody(t, ex.ReqBody))
	}
	for _, m := range d.Tap.Publishes(store.SubjectJ2C) {
		run.tr.J2C = append(run.tr.J2C, m.Data)
	}
	run.tr.JournalistDrop = chunks(t, d, mode, deaddrop.Journalist)
	run.tr.UserDrop = chunks(t, d, mode, deaddrop.User)
	if n := len(d.Tap.Publishes(store.SubjectU2C)); n != countAll(run.tr.U2C) {
		t.Fatalf("the bus carried %d U2C, the proxy saw %d", n, countAll(run.tr.U2C))
	}

	// Every party's messaging private keys (the CoverNode's from its
	// state, the journalists' from their vaults; carol's from before and
	// after her rotation).
	x, kem := d.SeizeCoverNodeKeys()
	run.x25519, run.kem = append(run.x25519, x...), append(run.kem, kem...)
	for _, k := range []journalistKeys{carolKeys, seizeJournalist(t, carolVault), seizeJournalist(t, daveVault)} {
		run.x25519, run.kem = append(run.x25519, k.x25519...), append(run.kem, k.kem...)
	}
	want := map[string]int{keys.ModeCoverDrop: len(run.x25519), keys.ModePQ: len(run.kem)}
	if len(run.x25519)+len(run.kem) != want[mode] || want[mode] < 4 {
		t.Fatalf("%s run: %d X25519 and %d X-Wing keys seized", mode, len(run.x25519), len(run.kem))
	}
	return run
}

// message is a source's message in a round.
type message struct {
	reader int
	to     *journalist.Vault
	text   string
}

type journalistKeys struct {
	x25519 []*crypto.PrivateKey
	kem    []*xwing.PrivateKey
}

func seizeJournalist(t *testing.T, path string) journalistKeys {
	t.Helper()
	x, kem, err := journalist.SeizedKeys(path, adversary.JournalistPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	return journalistKeys{x, kem}
}

func decodeBody(t *testing.T, body []byte) []byte {
	t.Helper()
	var b64 string
	if err := json.Unmarshal(body, &b64); err != nil {
		t.Fatal(err)
	}
	msg, err := protocol.DecodeBase64(b64)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// chunks returns the chunks of every dead drop of kind published on the
// bus, cut at the mode's chunk size.
func chunks(t *testing.T, d *adversary.Deployment, mode string, kind deaddrop.Kind) [][]byte {
	t.Helper()
	subject := map[deaddrop.Kind]string{deaddrop.User: store.SubjectUserDeadDrops, deaddrop.Journalist: store.SubjectJournalistDrops}[kind]
	size := kind.ChunkSize()
	if mode == keys.ModePQ {
		size = pq.ChunkSize(kind)
	}
	var out [][]byte
	for _, m := range d.Tap.Publishes(subject) {
		if len(m.Data)%size != 0 {
			t.Fatalf("a %s dead drop of %d bytes, not chunks of %d", kind, len(m.Data), size)
		}
		for i := 0; i < len(m.Data); i += size {
			out = append(out, m.Data[i:i+size])
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s dead drop recorded", kind)
	}
	return out
}

func countAll(m map[int][][]byte) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// everything is what an adversary holding every key must get out of a
// run: every U2C and J2C; the sources' four real messages (three to
// carol, one to dave), each read twice (inside its U2C and inside its
// C2J); their four C2J chunks (a coverdrop CoverNode's fillers are sealed
// to keys nobody keeps, a pq one's to a throwaway key it forgets); carol's
// three J2U (two replies and a handover).
func everything(run *recorded) map[string]int {
	return map[string]int{harvest.U2C: countAll(run.tr.U2C), harvest.U2J: 8, harvest.C2J: 4, harvest.J2C: len(run.tr.J2C), harvest.J2U: 3}
}

var sources = map[int]bool{0: true, 1: true}

func check(t *testing.T, what string, f *harvest.Findings, opened map[string]int, named map[int]bool) {
	t.Helper()
	if err := f.Check(opened, named); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestQuantumAdversarySystemControl: the attack of the quantum-adversary
// tests, given every X25519 private key of a coverdrop deployment's
// exchange, opens every layer, reads every message and names exactly the
// sources: the system-level tests can fail.
func TestQuantumAdversarySystemControl(t *testing.T) {
	cd := runExchange(t, keys.ModeCoverDrop)
	f := harvest.AttackCoverDrop(cd.tr, &harvest.CoverDropKeys{CoverNodes: cd.x25519, Journalists: cd.x25519})
	check(t, "control: X25519 keys, coverdrop", f, everything(cd), sources)
	for _, text := range cd.texts {
		if !f.Texts[text] {
			t.Fatalf("control: the adversary did not read %q", text)
		}
	}
}

// pqSizes is the one size of each layer of a pq deployment's transcript.
var pqSizes = map[string]int{harvest.U2C: pq.U2CMessageSize, harvest.J2C: pq.J2CMessageSize, harvest.C2J: pq.C2JMessageSize, harvest.J2U: pq.J2UMessageSize}

// TestQuantumAdversarySystem: one pq exchange of a whole deployment,
// recorded once and attacked three ways. With the X25519 half of every
// X-Wing private key (X25519 broken), or the ML-KEM half (ML-KEM broken:
// the hybrid holds if either does), the adversary opens no layer, reads
// nothing and names no source, and every message of a layer has that
// layer's one size, so sizes name no source either. The control hands the
// same attack both halves of the same keys: it opens every layer of the
// same transcript, reads every text and names exactly the sources, so the
// recording and the attack are able to fail the first two.
func TestQuantumAdversarySystem(t *testing.T) {
	run := runExchange(t, keys.ModePQ)
	attack := func(t *testing.T, h harvest.Half) *harvest.Findings {
		t.Helper()
		sk, err := harvest.Keys(run.kem, h)
		if err != nil {
			t.Fatal(err)
		}
		return harvest.AttackPQ(run.tr, sk)
	}
	t.Run("sizes", func(t *testing.T) {
		if err := run.tr.CheckSizes(pqSizes); err != nil {
			t.Fatal(err)
		}
	})
	for _, h := range []harvest.Half{harvest.X25519Half, harvest.MLKEMHalf} {
		t.Run(h.String(), func(t *testing.T) {
			check(t, h.String()+" halves, pq", attack(t, h), nil, nil)
		})
	}
	t.Run("control", func(t *testing.T) {
		f := attack(t, harvest.BothHalves)
		check(t, "control: both halves, pq", f, everything(run), sources)
		for _, text := range run.texts {
			if !f.Texts[text] {
				t.Fatalf("control: the adversary did not read %q", text)
			}
		}
	})
}
