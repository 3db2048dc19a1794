package pq_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/harvest"
	. "github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// The quantum-adversary tests (docs/PQ.md §9). A whole exchange runs at the
// protocol level: eight readers, three of them sources, each sending four
// messages (the sources' real ones in place of cover); two CoverNode keys;
// two journalists who answer every message and send cover; journalist and
// user dead drops with filler. Everything the network and the cloud see is
// recorded. Then an adversary gets one half of every private key of every
// party (as if that half's problem were broken) and tries every key on
// every layer. In pq mode it must open nothing and name no source; the
// controls show the same adversary opening everything of a coverdrop-mode
// run, and of a pq run when it holds both halves, so the tests can fail.

const (
	qReaders   = 8
	qSources   = 3
	qPerReader = 4
)

// party keys of a pq run, kept to hand halves of them to the adversary.
type pqRun struct {
	t     *harvest.Transcript
	keys  []*PrivateKey // every X-Wing private key of every party
	texts []string      // what the sources wrote
}

func isSource(r int) bool { return r < qSources }

// runPQ runs the exchange in pq mode.
func runPQ(t *testing.T) *pqRun {
	run := &pqRun{t: harvest.NewTranscript()}
	cn0, cn1, alice, bob, throwaway := qKey(t), qKey(t), qKey(t), qKey(t), qKey(t)
	run.keys = []*PrivateKey{cn0, cn1, alice, bob, throwaway}
	cn := []*PublicKey{cn0.PublicKey(), cn1.PublicKey()}
	journalists := map[string]*PrivateKey{"alice": alice, "bob": bob}
	var readerKeys []map[ReplyKey]string
	for r := range qReaders {
		id := qReaderID(t)
		readerKeys = append(readerKeys, map[ReplyKey]string{})
		for i := range qPerReader {
			var msg []byte
			var err error
			if isSource(r) && i == 1 {
				to := []string{"alice", "bob"}[r%2]
				text := fmt.Sprintf("source %d: the minister's accounts", r)
				var rk *ReplyKey
				msg, rk, err = SealU2C(cn, to, journalists[to].PublicKey(), id, text)
				readerKeys[r][*rk] = to
				run.texts = append(run.texts, text)
			} else {
				msg, err = SealCoverU2C(cn)
			}
			if err != nil {
				t.Fatal(err)
			}
			run.t.U2C[r] = append(run.t.U2C[r], msg)
		}
	}
	// The CoverNode opens everything (with either key), keeps the real
	// messages and releases a journalist dead drop of 12 chunks.
	var real []*protocol.U2C
	for r := range qReaders {
		for i, msg := range run.t.U2C[r] {
			m, _, err := OpenU2C([]*PrivateKey{cn0, cn1}[i%2], msg, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !m.IsCover() {
				real = append(real, m)
			}
		}
	}
	if len(real) != qSources {
		t.Fatalf("the CoverNode found %d real messages", len(real))
	}
	for _, m := range real {
		to := "bob"
		if m.Tag == protocol.TagFor("alice") {
			to = "alice"
		}
		c2j, err := SealC2J(journalists[to].PublicKey(), m.U2J)
		if err != nil {
			t.Fatal(err)
		}
		run.t.JournalistDrop = append(run.t.JournalistDrop, c2j)
	}
	for len(run.t.JournalistDrop) < 12 {
		f, err := FillerC2J(throwaway.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		run.t.JournalistDrop = append(run.t.JournalistDrop, f)
	}
	// The journalists open the dead drop, answer every message, and each
	// sends two cover messages.
	for _, id := range []string{"alice", "bob"} {
		got, err := NewJournalistOpener([]*PrivateKey{journalists[id]}).Open(&DeadDrop{Kind: deaddrop.Journalist, Data: slices.Concat(run.t.JournalistDrop...)})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			j2u, err := SealJ2U(&m.Message.ReplyKey, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you, we will look into it"})
			if err != nil {
				t.Fatal(err)
			}
			j2c, err := SealJ2C(cn, j2u)
			if err != nil {
				t.Fatal(err)
			}
			run.t.J2C = append(run.t.J2C, j2c)
		}
		for range 2 {
			c, err := SealCoverJ2C(cn)
			if err != nil {
				t.Fatal(err)
			}
			run.t.J2C = append(run.t.J2C, c)
		}
	}
	for _, msg := range run.t.J2C {
		m, _, err := OpenJ2C(cn1, msg, 1)
		if err != nil {
			t.Fatal(err)
		}
		if m.Real {
			run.t.UserDrop = append(run.t.UserDrop, m.J2U)
		}
	}
	for len(run.t.UserDrop) < 6 {
		f, err := RandomJ2U()
		if err != nil {
			t.Fatal(err)
		}
		run.t.UserDrop = append(run.t.UserDrop, f)
	}
	// Every source gets its reply.
	for r := range qSources {
		var stored []StoredReplyKey
		for k, j := range readerKeys[r] {
			stored = append(stored, StoredReplyKey{k, j})
		}
		o, err := NewReaderOpener(stored)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := o.Open(&DeadDrop{Kind: deaddrop.User, Data: slices.Concat(run.t.UserDrop...)}); err != nil || len(got) != 1 {
			t.Fatalf("source %d got %d replies: %v", r, len(got), err)
		}
	}
	return run
}

// pqSizes is the one size of each layer in pq mode.
var pqSizes = map[string]int{harvest.U2C: U2CMessageSize, harvest.J2C: J2CMessageSize, harvest.C2J: C2JMessageSize, harvest.J2U: J2UMessageSize}

// everything is what an adversary holding every key opens of a run: c2j
// is how many journalist dead-drop chunks it can open: all 12 when it
// holds the pq CoverNode's throwaway key, the real ones in coverdrop mode,
// whose fillers are sealed to keys that are neither kept nor sent.
func everything(c2j int) map[string]int {
	return map[string]int{harvest.U2C: qReaders * qPerReader, harvest.U2J: 2 * qSources, harvest.C2J: c2j, harvest.J2C: qSources + 4, harvest.J2U: qSources}
}

var sources = func() map[int]bool {
	m := map[int]bool{}
	for r := range qSources {
		m[r] = true
	}
	return m
}()

func adversaryKeys(t *testing.T, keys []*PrivateKey, h harvest.Half) []*PrivateKey {
	t.Helper()
	out, err := harvest.Keys(keys, h)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wants(t *testing.T, f *harvest.Findings, opened map[string]int, sources map[int]bool) {
	t.Helper()
	if err := f.Check(opened, sources); err != nil {
		t.Fatal(err)
	}
}

// TestQuantumAdversaryX25519: every X25519 private key of every party is
// not enough to open any pq layer or tell a source from a cover reader.
func TestQuantumAdversaryX25519(t *testing.T) {
	run := runPQ(t)
	if err := run.t.CheckSizes(pqSizes); err != nil {
		t.Fatal(err)
	}
	wants(t, harvest.AttackPQ(run.t, adversaryKeys(t, run.keys, harvest.X25519Half)), nil, nil)

	// Controls: the same adversary code with both halves opens the pq
	// run, and with the X25519 keys alone opens a coverdrop-mode run.
	wants(t, harvest.AttackPQ(run.t, adversaryKeys(t, run.keys, harvest.BothHalves)), everything(12), sources)
	cd := runCoverDrop(t)
	wants(t, harvest.AttackCoverDrop(cd.t, &cd.keys), everything(qSources), sources)
}

// TestQuantumAdversaryMLKEM: every ML-KEM private key is not enough either.
func TestQuantumAdversaryMLKEM(t *testing.T) {
	run := runPQ(t)
	wants(t, harvest.AttackPQ(run.t, adversaryKeys(t, run.keys, harvest.MLKEMHalf)), nil, nil)
	wants(t, harvest.AttackPQ(run.t, adversaryKeys(t, run.keys, harvest.BothHalves)), everything(12), sources)
}

func qKey(t *testing.T) *PrivateKey {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func qReaderID(t *testing.T) ReaderID {
	id, err := NewReaderID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// cdRun is the same exchange in coverdrop mode, with every X25519 private
// key of every party (readers' included) kept for the adversary.
type cdRun struct {
	t    *harvest.Transcript
	keys harvest.CoverDropKeys
}

func cdMustKey(t *testing.T) *crypto.PrivateKey {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func runCoverDrop(t *testing.T) *cdRun {
	run := &cdRun{t: harvest.NewTranscript()}
	cn0, cn1, alice, bob := cdMustKey(t), cdMustKey(t), cdMustKey(t), cdMustKey(t)
	run.keys.CoverNodes, run.keys.Journalists = []*crypto.PrivateKey{cn0, cn1}, []*crypto.PrivateKey{alice, bob}
	cn := []*crypto.PublicKey{cn0.PublicKey(), cn1.PublicKey()}
	journalists := map[string]*crypto.PrivateKey{"alice": alice, "bob": bob}
	for r := range qReaders {
		reader := cdMustKey(t)
		run.keys.Readers = append(run.keys.Readers, reader)
		for i := range qPerReader {
			var msg []byte
			var err error
			if isSource(r) && i == 1 {
				to := []string{"alice", "bob"}[r%2]
				msg, err = protocol.SealU2C(cn, to, journalists[to].PublicKey(), reader.PublicKey(), fmt.Sprintf("source %d", r))
			} else {
				msg, err = protocol.SealCoverU2C(cn)
			}
			if err != nil {
				t.Fatal(err)
			}
			run.t.U2C[r] = append(run.t.U2C[r], msg)
		}
	}
	for r := range qReaders {
		for _, msg := range run.t.U2C[r] {
			m, _, err := protocol.OpenU2C(cn0, msg, 0)
			if err != nil {
				t.Fatal(err)
			}
			if m.IsCover() {
				continue
			}
			j := bob
			if m.Tag == protocol.TagFor("alice") {
				j = alice
			}
			c2j, err := protocol.SealC2J(j.PublicKey(), cn0, m.U2J)
			if err != nil {
				t.Fatal(err)
			}
			run.t.JournalistDrop = append(run.t.JournalistDrop, c2j)
			um, err := protocol.OpenU2J(j, m.U2J)
			if err != nil {
				t.Fatal(err)
			}
			j2u, err := protocol.SealJ2U(um.ReplyKey, j, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thanks"})
			if err != nil {
				t.Fatal(err)
			}
			j2c, err := protocol.SealJ2C(cn, j2u)
			if err != nil {
				t.Fatal(err)
			}
			run.t.J2C = append(run.t.J2C, j2c)
			run.t.UserDrop = append(run.t.UserDrop, j2u)
		}
	}
	for len(run.t.JournalistDrop) < 12 {
		f, err := protocol.RandomC2J(cn0)
		if err != nil {
			t.Fatal(err)
		}
		run.t.JournalistDrop = append(run.t.JournalistDrop, f)
	}
	for range 4 {
		c, err := protocol.SealCoverJ2C(cn)
		if err != nil {
			t.Fatal(err)
		}
		run.t.J2C = append(run.t.J2C, c)
	}
	for len(run.t.UserDrop) < 6 {
		f, err := protocol.RandomJ2U()
		if err != nil {
			t.Fatal(err)
		}
		run.t.UserDrop = append(run.t.UserDrop, f)
	}
	return run
}
