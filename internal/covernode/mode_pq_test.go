package covernode

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// TestPQOpensReaderMessages: in pq mode the pipeline's U2J direction opens
// real pq U2C messages to tag ‖ U2J, sorts cover out by its tag, and leaves
// what no key of the node opens, a coverdrop-size message among them,
// unopened. The coverdrop pipeline opens none of the pq messages.
func TestPQOpensReaderMessages(t *testing.T) {
	p, err := newProcessingBatch(pq.ModePQ)
	if err != nil {
		t.Fatal(err)
	}
	es := p.open(2)
	reals := 0
	for i, e := range es {
		switch {
		case i%10 == 0 && e.kind == kindReal:
			reals++
			if len(e.payload) != pq.U2CPlaintextSize || protocol.RecipientTag(e.payload[:4]) != protocol.TagFor("alice") {
				t.Fatalf("input %d opened to %d bytes with tag %x", i, len(e.payload), e.payload[:4])
			}
		case i%10 != 0 && e.kind == kindCover && e.payload == nil:
		default:
			t.Fatalf("input %d: kind %d", i, e.kind)
		}
	}
	if reals != (processingBatchSize+9)/10 {
		t.Fatalf("%d real inputs opened", reals)
	}
	// The same real U2C opens to the same entry id for the replay guard
	// whichever slot is tried first.
	seen := newSeenSet(new([crypto.SecretBoxKeySize]byte))
	a := p.dir.openAll(p.msgs[:1], p.opener(), nil, seen)
	p.node.u2jSlot.Store(1)
	b := p.dir.openAll(p.msgs[:1], p.opener(), nil, seen)
	if a[0].kind != kindReal || a[0].id != b[0].id {
		t.Fatal("a real input does not name itself alike on every open")
	}

	cd, err := newProcessingBatch(pq.ModeCoverDrop)
	if err != nil {
		t.Fatal(err)
	}
	mixed := []inMsg{cd.msgs[0], p.msgs[0], {seq: 3, data: make([]byte, pq.U2CMessageSize)}}
	for i, e := range p.dir.openAll(mixed, p.opener(), nil, seen) {
		if i != 1 && e.kind != kindUnopened {
			t.Fatalf("pq mode took input %d (kind %d): it is not sealed to its key", i, e.kind)
		}
	}
	for _, e := range cd.dir.openAll(p.msgs, cd.opener(), nil, seen) {
		if e.kind != kindUnopened {
			t.Fatal("coverdrop mode opened a pq message")
		}
	}
}

// TestPQOpensJournalistMessages: a journalist's pq J2C opens to its J2U,
// a cover J2C is cover, and a coverdrop J2C is unopened.
func TestPQOpensJournalistMessages(t *testing.T) {
	sk, _ := pq.GenerateKey()
	other, _ := pq.GenerateKey()
	cns := []*pq.PublicKey{other.PublicKey(), sk.PublicKey()}
	rk := pq.ReplyKey{1, 2, 3}
	j2u, err := pq.SealJ2U(&rk, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "we are looking"})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := pq.SealJ2C(cns, j2u)
	cover, _ := pq.SealCoverJ2C(cns)
	x, _ := crypto.GenerateKey()
	cdCover, _ := protocol.SealCoverJ2C([]*crypto.PublicKey{x.PublicKey(), x.PublicKey()})
	n := &Node{mode: pqMode{}}
	es := n.j2u().openAll([]inMsg{{seq: 1, data: real}, {seq: 2, data: cover}, {seq: 3, data: cdCover}},
		pqOpener{sk}, nil, newSeenSet(new([crypto.SecretBoxKeySize]byte)))
	if es[0].kind != kindReal || !bytes.Equal(es[0].payload, j2u) || es[1].kind != kindCover || es[2].kind != kindUnopened {
		t.Fatalf("kinds %d %d %d", es[0].kind, es[1].kind, es[2].kind)
	}
	if n.j2uSlot.Load() != 1 {
		t.Fatal("the slot that opened is not tried first next time")
	}
}

// TestPQJournalistDeadDrop: a pq release seals the real U2J to its
// journalist's key, and a message to a tag that names no journalist and
// the padding as fillers of the same size; the dead drop verifies as a pq
// dead drop (and not as a coverdrop one), and the journalist's opener
// finds exactly the real message.
func TestPQJournalistDeadDrop(t *testing.T) {
	jk, _ := pq.GenerateKey()
	cn, _ := pq.GenerateKey()
	reader, _ := pq.NewReaderID()
	u2c, _, err := pq.SealU2C([]*pq.PublicKey{cn.PublicKey(), cn.PublicKey()}, "alice", jk.PublicKey(), reader, "the minutes were shredded")
	if err != nil {
		t.Fatal(err)
	}
	toNoOne, _, _ := pq.SealU2C([]*pq.PublicKey{cn.PublicKey(), cn.PublicKey()}, "nobody", jk.PublicKey(), reader, "flood")
	var payloads [][]byte
	for _, m := range [][]byte{u2c, toNoOne} {
		pt, _, ok := pqOpener{cn}.openU2C(m, 0)
		if !ok {
			t.Fatal("a U2C did not open")
		}
		payloads = append(payloads, pt)
	}
	s, err := newPQC2J(map[protocol.RecipientTag]*pq.PublicKey{protocol.TagFor("alice"): jk.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for _, p := range append(payloads, nil, nil) {
		c, err := s.seal(p)
		if err != nil || len(c) != pq.C2JMessageSize {
			t.Fatalf("sealed %d bytes: %v", len(c), err)
		}
		data = append(data, c...)
	}
	s.close()
	if _, err := s.seal(nil); err == nil {
		t.Fatal("a closed release still seals fillers")
	}
	id, _ := crypto.GenerateSigningKey()
	body, err := pqMode{}.deadDrop(deaddrop.Journalist, time.Now().UTC().Truncate(time.Microsecond), data, 7, id)
	if err != nil {
		t.Fatal(err)
	}
	d, err := pq.ParseDeadDrop(deaddrop.Journalist, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify([]*crypto.VerifyingKey{id.VerifyingKey()}); err != nil || d.Epoch != 7 || d.Chunks() != 4 {
		t.Fatalf("dead drop: %v, epoch %d, %d chunks", err, d.Epoch, d.Chunks())
	}
	if cd, err := deaddrop.Parse(deaddrop.Journalist, body, false); err == nil && cd.Verify([]*crypto.VerifyingKey{id.VerifyingKey()}) == nil {
		t.Fatal("a pq dead drop verifies as a coverdrop one")
	}
	got, err := pq.NewJournalistOpener([]*pq.PrivateKey{jk}).Open(d)
	if err != nil || len(got) != 1 || got[0].Message.Text != "the minutes were shredded" || got[0].Message.ReaderID != reader {
		t.Fatalf("alice received %+v, %v", got, err)
	}
}

// TestPQUserDeadDrop: a pq user dead drop passes the journalist's J2U
// through among RandomJ2U fillers; the reader's reply key opens exactly
// the reply, and the dead drop verifies as a pq dead drop.
func TestPQUserDeadDrop(t *testing.T) {
	n := &Node{mode: pqMode{}}
	rk := pq.ReplyKey{9, 9, 9}
	j2u, _ := pq.SealJ2U(&rk, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you"})
	msgs, err := n.buildJ2U(nil, []entry{{kind: kindReal, payload: j2u}}, 2)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("%d messages: %v", len(msgs), err)
	}
	var data []byte
	for _, m := range msgs {
		if len(m) != pq.J2UMessageSize {
			t.Fatalf("a chunk of %d bytes", len(m))
		}
		data = append(data, m...)
	}
	id, _ := crypto.GenerateSigningKey()
	body, err := n.mode.deadDrop(deaddrop.User, time.Now().UTC().Truncate(time.Microsecond), data, 0, id)
	if err != nil {
		t.Fatal(err)
	}
	d, err := pq.ParseDeadDrop(deaddrop.User, body)
	if err != nil || d.Verify([]*crypto.VerifyingKey{id.VerifyingKey()}) != nil {
		t.Fatalf("user dead drop: %v", err)
	}
	o, _ := pq.NewReaderOpener([]pq.StoredReplyKey{{Key: rk, JournalistID: "alice"}})
	replies, err := o.Open(d)
	if err != nil || len(replies) != 1 || replies[0].Message.Text != "thank you" {
		t.Fatalf("the reader got %+v, %v", replies, err)
	}
	other, _ := pq.NewReaderOpener([]pq.StoredReplyKey{{Key: pq.ReplyKey{1}, JournalistID: "alice"}})
	if _, err := other.Open(d); !errors.Is(err, deaddrop.ErrNotForMe) {
		t.Fatalf("another reader's key opened something: %v", err)
	}
}

// TestPQRoundLog: pq entries (1,685-byte payloads) survive the round log
// across a reopen, as the node replays it after a crash.
func TestPQRoundLog(t *testing.T) {
	path := t.TempDir() + "/u2j.log"
	key := [crypto.SecretBoxKeySize]byte{7}
	now := time.Now()
	l, _, err := openRoundLog(path, key, pq.U2CPlaintextSize, now)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte{0xab}, pq.U2CPlaintextSize)
	if err := l.appendBatch(now, []entry{{seq: 1, kind: kindReal, payload: payload, reply: "r1"}, {seq: 2, kind: kindCover, reply: "r2"}}); err != nil {
		t.Fatal(err)
	}
	l.close()
	l2, st, err := openRoundLog(path, key, pq.U2CPlaintextSize, now)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.close()
	if st.seen != 2 || len(st.buffer) != 1 || !bytes.Equal(st.buffer[0].payload, payload) || len(st.unacked) != 2 {
		t.Fatalf("replayed %d seen, %d waiting, %d unacknowledged", st.seen, len(st.buffer), len(st.unacked))
	}
	if l2.seen.take(l2.seen.id(payload), now) {
		t.Fatal("the replay guard forgot a real pq input across a reopen")
	}
}
