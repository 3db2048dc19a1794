package pq

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
	"github.com/chaffhq/chaff/deaddrop"
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

// transcript is what the network and the cloud record.
type transcript struct {
	u2c            map[int][][]byte // by reader
	j2c            [][]byte
	journalistDrop [][]byte // C2J chunks
	userDrop       [][]byte // J2U chunks
}

// party keys of a pq run, kept to hand halves of them to the adversary.
type pqRun struct {
	t     transcript
	keys  []*PrivateKey // every X-Wing private key of every party
	texts []string      // what the sources wrote
}

func isSource(r int) bool { return r < qSources }

// runPQ runs the exchange in pq mode.
func runPQ(t *testing.T) *pqRun {
	run := &pqRun{t: transcript{u2c: map[int][][]byte{}}}
	cn0, cn1, alice, bob, throwaway := mustKey(t), mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	run.keys = []*PrivateKey{cn0, cn1, alice, bob, throwaway}
	cn := pubs(cn0, cn1)
	journalists := map[string]*PrivateKey{"alice": alice, "bob": bob}
	var readerKeys []map[ReplyKey]string
	for r := range qReaders {
		id := mustReaderID(t)
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
			run.t.u2c[r] = append(run.t.u2c[r], msg)
		}
	}
	// The CoverNode opens everything (with either key), keeps the real
	// messages and releases a journalist dead drop of 12 chunks.
	var real []*protocol.U2C
	for r := range qReaders {
		for i, msg := range run.t.u2c[r] {
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
		run.t.journalistDrop = append(run.t.journalistDrop, c2j)
	}
	for len(run.t.journalistDrop) < 12 {
		f, err := FillerC2J(throwaway.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		run.t.journalistDrop = append(run.t.journalistDrop, f)
	}
	// The journalists open the dead drop, answer every message, and each
	// sends two cover messages.
	for _, id := range []string{"alice", "bob"} {
		got, err := NewJournalistOpener([]*PrivateKey{journalists[id]}).Open(&DeadDrop{Kind: deaddrop.Journalist, Data: slices.Concat(run.t.journalistDrop...)})
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
			run.t.j2c = append(run.t.j2c, j2c)
		}
		for range 2 {
			c, err := SealCoverJ2C(cn)
			if err != nil {
				t.Fatal(err)
			}
			run.t.j2c = append(run.t.j2c, c)
		}
	}
	for _, msg := range run.t.j2c {
		m, _, err := OpenJ2C(cn1, msg, 1)
		if err != nil {
			t.Fatal(err)
		}
		if m.Real {
			run.t.userDrop = append(run.t.userDrop, m.J2U)
		}
	}
	for len(run.t.userDrop) < 6 {
		f, err := RandomJ2U()
		if err != nil {
			t.Fatal(err)
		}
		run.t.userDrop = append(run.t.userDrop, f)
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
		if got, err := o.Open(&DeadDrop{Kind: deaddrop.User, Data: slices.Concat(run.t.userDrop...)}); err != nil || len(got) != 1 {
			t.Fatalf("source %d got %d replies: %v", r, len(got), err)
		}
	}
	return run
}

// findings is what an adversary got out of a transcript.
type findings struct {
	opened  map[string]int // layers opened, by kind
	sources map[int]bool   // readers it names as sources
	texts   map[string]bool
}

func newFindings() *findings {
	return &findings{opened: map[string]int{}, sources: map[int]bool{}, texts: map[string]bool{}}
}

func (f *findings) total() int {
	n := 0
	for _, v := range f.opened {
		n += v
	}
	return n
}

// half selects which halves of every X-Wing key the adversary holds.
type half int

const (
	x25519Half half = iota + 1
	mlkemHalf
	bothHalves
)

// adversaryKeys rebuilds every party's key from the halves the adversary
// holds (docs/PQ.md §2.2): the half it does not hold is replaced by one of
// its own, which is the best it can do without breaking that half.
func adversaryKeys(t *testing.T, keys []*PrivateKey, h half) []*PrivateKey {
	var out []*PrivateKey
	for _, k := range keys {
		m, x, err := ExpandSeed(k.Seed())
		if err != nil {
			t.Fatal(err)
		}
		own, _, _ := ExpandSeed(mustKey(t).Seed())
		_, ownX, _ := ExpandSeed(mustKey(t).Seed())
		if h == x25519Half {
			m = own
		}
		if h == mlkemHalf {
			x = ownX
		}
		sk, err := xwing.FromComponents(m, x)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sk)
	}
	return out
}

// attackPQ tries every key the adversary holds on every layer of a pq
// transcript, and every reply key it learns on every user dead-drop chunk.
func attackPQ(tr *transcript, keys []*PrivateKey) *findings {
	f := newFindings()
	var replyKeys []ReplyKey
	openU2J := func(u2j []byte) {
		for _, k := range keys {
			if m, err := OpenU2J(k, u2j); err == nil {
				f.opened["U2J"]++
				f.texts[m.Text] = true
				replyKeys = append(replyKeys, m.ReplyKey)
				return
			}
		}
	}
	for r, msgs := range tr.u2c {
		for _, msg := range msgs {
			for _, k := range keys {
				m, _, err := OpenU2C(k, msg, 0)
				if err != nil {
					continue
				}
				f.opened["U2C"]++
				if !m.IsCover() {
					f.sources[r] = true
					openU2J(m.U2J)
				}
				break
			}
		}
	}
	for _, chunk := range tr.journalistDrop {
		for _, k := range keys {
			if u2j, err := OpenC2J(k, chunk); err == nil {
				f.opened["C2J"]++
				openU2J(u2j)
				break
			}
		}
	}
	for _, msg := range tr.j2c {
		for _, k := range keys {
			if _, _, err := OpenJ2C(k, msg, 0); err == nil {
				f.opened["J2C"]++
				break
			}
		}
	}
	for _, chunk := range tr.userDrop {
		for i := range replyKeys {
			if _, err := OpenJ2U(&replyKeys[i], chunk); err == nil {
				f.opened["J2U"]++
				break
			}
		}
	}
	return f
}

// sizesUniform checks what an adversary that opens nothing has left: every
// message of a kind has one size, so real and cover look the same.
func sizesUniform(t *testing.T, tr *transcript, sizes map[string]int) {
	t.Helper()
	check := func(kind string, msgs [][]byte) {
		for _, m := range msgs {
			if len(m) != sizes[kind] {
				t.Fatalf("a %s of %d bytes, not %d", kind, len(m), sizes[kind])
			}
		}
	}
	for _, msgs := range tr.u2c {
		check("U2C", msgs)
	}
	check("J2C", tr.j2c)
	check("C2J", tr.journalistDrop)
	check("J2U", tr.userDrop)
}

var pqSizes = map[string]int{"U2C": U2CMessageSize, "J2C": J2CMessageSize, "C2J": C2JMessageSize, "J2U": J2UMessageSize}

// wantsEverything checks that an adversary opened every layer and named
// exactly the sources: the control that proves the attack works. c2j is
// how many journalist dead-drop chunks it can open: all 12 when it holds
// the pq CoverNode's throwaway key, the real ones in coverdrop mode, whose
// fillers are sealed to keys that are neither kept nor sent.
func wantsEverything(t *testing.T, f *findings, c2j int) {
	t.Helper()
	want := map[string]int{"U2C": qReaders * qPerReader, "U2J": 2 * qSources, "C2J": c2j, "J2C": qSources + 4, "J2U": qSources}
	if !maps.Equal(f.opened, want) {
		t.Fatalf("the control opened %v, want %v", f.opened, want)
	}
	for r := range qReaders {
		if f.sources[r] != isSource(r) {
			t.Fatalf("the control names reader %d a source: %v", r, f.sources[r])
		}
	}
}

func wantsNothing(t *testing.T, f *findings) {
	t.Helper()
	if f.total() != 0 || len(f.sources) != 0 || len(f.texts) != 0 {
		t.Fatalf("the adversary opened %v, named sources %v, read %v", f.opened, f.sources, f.texts)
	}
}

// TestQuantumAdversaryX25519: every X25519 private key of every party is
// not enough to open any pq layer or tell a source from a cover reader.
func TestQuantumAdversaryX25519(t *testing.T) {
	run := runPQ(t)
	sizesUniform(t, &run.t, pqSizes)
	wantsNothing(t, attackPQ(&run.t, adversaryKeys(t, run.keys, x25519Half)))

	// Controls: the same adversary code with both halves opens the pq
	// run, and with the X25519 keys alone opens a coverdrop-mode run.
	wantsEverything(t, attackPQ(&run.t, adversaryKeys(t, run.keys, bothHalves)), 12)
	cd := runCoverDrop(t)
	wantsEverything(t, attackCoverDrop(cd), qSources)
}

// TestQuantumAdversaryMLKEM: every ML-KEM private key is not enough either.
func TestQuantumAdversaryMLKEM(t *testing.T) {
	run := runPQ(t)
	wantsNothing(t, attackPQ(&run.t, adversaryKeys(t, run.keys, mlkemHalf)))
	wantsEverything(t, attackPQ(&run.t, adversaryKeys(t, run.keys, bothHalves)), 12)
}

// cdRun is the same exchange in coverdrop mode, with every X25519 private
// key of every party (readers' included) kept for the adversary.
type cdRun struct {
	t           transcript
	coverNodes  []*crypto.PrivateKey
	journalists []*crypto.PrivateKey
	readers     []*crypto.PrivateKey
}

func cdMustKey(t *testing.T) *crypto.PrivateKey {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func runCoverDrop(t *testing.T) *cdRun {
	run := &cdRun{t: transcript{u2c: map[int][][]byte{}}}
	cn0, cn1, alice, bob := cdMustKey(t), cdMustKey(t), cdMustKey(t), cdMustKey(t)
	run.coverNodes, run.journalists = []*crypto.PrivateKey{cn0, cn1}, []*crypto.PrivateKey{alice, bob}
	cn := []*crypto.PublicKey{cn0.PublicKey(), cn1.PublicKey()}
	journalists := map[string]*crypto.PrivateKey{"alice": alice, "bob": bob}
	for r := range qReaders {
		reader := cdMustKey(t)
		run.readers = append(run.readers, reader)
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
			run.t.u2c[r] = append(run.t.u2c[r], msg)
		}
	}
	for r := range qReaders {
		for _, msg := range run.t.u2c[r] {
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
			run.t.journalistDrop = append(run.t.journalistDrop, c2j)
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
			run.t.j2c = append(run.t.j2c, j2c)
			run.t.userDrop = append(run.t.userDrop, j2u)
		}
	}
	for len(run.t.journalistDrop) < 12 {
		f, err := protocol.RandomC2J(cn0)
		if err != nil {
			t.Fatal(err)
		}
		run.t.journalistDrop = append(run.t.journalistDrop, f)
	}
	for range 4 {
		c, err := protocol.SealCoverJ2C(cn)
		if err != nil {
			t.Fatal(err)
		}
		run.t.j2c = append(run.t.j2c, c)
	}
	for len(run.t.userDrop) < 6 {
		f, err := protocol.RandomJ2U()
		if err != nil {
			t.Fatal(err)
		}
		run.t.userDrop = append(run.t.userDrop, f)
	}
	return run
}

// attackCoverDrop is attackPQ's coverdrop-mode counterpart, with every
// X25519 private key.
func attackCoverDrop(run *cdRun) *findings {
	f := newFindings()
	tr := &run.t
	openU2J := func(u2j []byte) {
		for _, j := range run.journalists {
			if m, err := protocol.OpenU2J(j, u2j); err == nil {
				f.opened["U2J"]++
				f.texts[m.Text] = true
				return
			}
		}
	}
	for r, msgs := range tr.u2c {
		for _, msg := range msgs {
			if m, _, err := protocol.OpenU2C(run.coverNodes[0], msg, 0); err == nil {
				f.opened["U2C"]++
				if !m.IsCover() {
					f.sources[r] = true
					openU2J(m.U2J)
				}
			}
		}
	}
	for _, chunk := range tr.journalistDrop {
		for _, j := range run.journalists {
			key, _ := crypto.Precompute(j, run.coverNodes[0].PublicKey())
			if u2j, err := protocol.OpenC2J(key, chunk); err == nil {
				f.opened["C2J"]++
				openU2J(u2j)
				break
			}
		}
	}
	for _, msg := range tr.j2c {
		if _, _, err := protocol.OpenJ2C(run.coverNodes[1], msg, 1); err == nil {
			f.opened["J2C"]++
		}
	}
	for _, chunk := range tr.userDrop {
	readers:
		for _, r := range run.readers {
			for _, j := range run.journalists {
				key, _ := crypto.Precompute(r, j.PublicKey())
				if _, err := protocol.OpenJ2U(key, chunk); err == nil {
					f.opened["J2U"]++
					break readers
				}
			}
		}
	}
	return f
}
