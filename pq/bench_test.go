package pq

import (
	"crypto/hpke"
	"crypto/mlkem"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/protocol"
)

// Each benchmark here runs the pq operation, its coverdrop-mode
// equivalent and one bare X25519 operation in turn in every iteration
// (rotating the order), so that the three share whatever load the machine
// is under, and reports the median time of each ("pq-µs/op",
// "coverdrop-µs/op": a median ignores the iterations a busy machine
// preempts) and the ratios of the medians: "pq/coverdrop" (how many times
// longer pq takes; its inverse is the throughput ratio) and "pq-X25519/op"
// (the unit docs/PERFORMANCE.md uses). ns/op is the mean of the three
// together and means nothing on its own.

func compare(b *testing.B, pqOp, cdOp func() error) {
	b.Helper()
	sk, peer := cdKey(b), cdKey(b).PublicKey()
	bare := func() error { _, err := crypto.X25519(sk, peer); return err }
	med := medians(b, pqOp, cdOp, bare)
	b.ReportMetric(med[0]/1e3, "pq-µs/op")
	b.ReportMetric(med[1]/1e3, "coverdrop-µs/op")
	b.ReportMetric(med[0]/med[1], "pq/coverdrop")
	b.ReportMetric(med[0]/med[2], "pq-X25519/op")
}

// medians runs ops in turn in every iteration of b's loop (rotating the
// order) and returns the median time of each in nanoseconds.
func medians(b *testing.B, ops ...func() error) []float64 {
	b.Helper()
	times := make([][]time.Duration, len(ops))
	i := 0
	for b.Loop() {
		for j := range ops {
			k := (i + j) % len(ops)
			start := time.Now()
			if err := ops[k](); err != nil {
				b.Fatal(err)
			}
			times[k] = append(times[k], time.Since(start))
		}
		i++
	}
	med := make([]float64, len(ops))
	for k := range times {
		slices.Sort(times[k])
		med[k] = float64(times[k][len(times[k])/2])
	}
	return med
}

func cdKey(b *testing.B) *crypto.PrivateKey {
	k, err := crypto.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// BenchmarkOpenU2C is the CoverNode's work per incoming message: open the
// box in the slot it expects and read the tag. Target: pq/coverdrop at
// most 2.5 (at least 0.4 of coverdrop mode's messages per second per core).
func BenchmarkOpenU2C(b *testing.B) {
	cn, msg, cdCN, cdMsg := coverU2Cs(b)
	compare(b,
		func() error { _, _, err := OpenU2C(cn, msg, 0); return err },
		func() error { _, _, err := protocol.OpenU2C(cdCN, cdMsg, 0); return err })
}

// coverU2Cs returns a CoverNode key of each mode and a cover U2C to it, in
// the first slot.
func coverU2Cs(b *testing.B) (cn *PrivateKey, msg []byte, cdCN *crypto.PrivateKey, cdMsg []byte) {
	cn, cdCN = mustKey(b), cdKey(b)
	msg, err := SealCoverU2C(pubs(cn, mustKey(b)))
	if err != nil {
		b.Fatal(err)
	}
	cdMsg, err = protocol.SealCoverU2C([]*crypto.PublicKey{cdCN.PublicKey(), cdKey(b).PublicKey()})
	if err != nil {
		b.Fatal(err)
	}
	return cn, msg, cdCN, cdMsg
}

// BenchmarkOpenU2CBreakdown splits the CoverNode's open of one pq U2C into
// its parts, each timed in turn with the whole opens of both modes in the
// same loop (medians): the ML-KEM-768 decapsulation (crypto/mlkem) and the
// X25519 operation that X-Wing's decapsulation is made of, and HPKE's
// whole recipient set-up (X-Wing decapsulation and key schedule). "rest"
// is the pq open less the two decapsulations. "floor" is the most pq mode
// could reach as a fraction of coverdrop mode's opens per second if it did
// nothing but those two: coverdrop's whole open over ML-KEM + X25519.
// It also times what turns a stored seed into an X-Wing private key
// (NewPrivateKey: SHAKE256, ML-KEM key generation, an X25519 base-point
// multiplication), work to do once per key, never per message.
func BenchmarkOpenU2CBreakdown(b *testing.B) {
	cn, msg, cdCN, cdMsg := coverU2Cs(b)
	dk, err := mlkem.GenerateKey768()
	if err != nil {
		b.Fatal(err)
	}
	_, ct := dk.EncapsulationKey().Encapsulate()
	sk, peer := cdKey(b), cdKey(b).PublicKey()
	seed := cn.Seed()
	med := medians(b,
		func() error { _, _, err := OpenU2C(cn, msg, 0); return err },
		func() error { _, _, err := protocol.OpenU2C(cdCN, cdMsg, 0); return err },
		func() error { _, err := dk.Decapsulate(ct); return err },
		func() error { _, err := crypto.X25519(sk, peer); return err },
		func() error {
			_, err := hpke.NewRecipient(msg[:EncSize], cn.HPKE(), kdf, aead, []byte(LabelU2CSlot))
			return err
		},
		func() error { _, err := NewPrivateKey(seed); return err })
	pqOpen, cdOpen, mlkemDecap, x25519, recipient, expand := med[0], med[1], med[2], med[3], med[4], med[5]
	b.ReportMetric(pqOpen/1e3, "pq-µs/op")
	b.ReportMetric(cdOpen/1e3, "coverdrop-µs/op")
	b.ReportMetric(mlkemDecap/1e3, "mlkem-decap-µs")
	b.ReportMetric(x25519/1e3, "x25519-µs")
	b.ReportMetric((recipient-mlkemDecap-x25519)/1e3, "hpke-schedule-µs")
	b.ReportMetric((pqOpen-mlkemDecap-x25519)/1e3, "rest-µs")
	b.ReportMetric(cdOpen/pqOpen, "pq/coverdrop-rate")
	b.ReportMetric(cdOpen/(mlkemDecap+x25519), "floor-rate")
	b.ReportMetric(expand/1e3, "seed-expand-µs")
}

// BenchmarkOpenU2COlderKey is the CoverNode's open of a U2C sealed to the
// older of its two messaging keys (readers who have not yet seen the
// newer), in its known slot, the second: every key tried in that slot
// first (OpenU2CWith, 2 decapsulations), against each key tried in both
// slots in turn as the node did before (3), and coverdrop's node, which
// still tries each key in turn (3 X25519), all in the same loop.
func BenchmarkOpenU2COlderKey(b *testing.B) {
	older, newer, other := mustKey(b), mustKey(b), mustKey(b)
	msg, err := SealCoverU2C(pubs(other, older))
	if err != nil {
		b.Fatal(err)
	}
	cdOlder, cdNewer := cdKey(b), cdKey(b)
	cdMsg, err := protocol.SealCoverU2C([]*crypto.PublicKey{cdKey(b).PublicKey(), cdOlder.PublicKey()})
	if err != nil {
		b.Fatal(err)
	}
	eachKey := func(open func(k int) error, n int) error {
		for k := range n {
			if open(k) == nil {
				return nil
			}
		}
		return crypto.ErrDecrypt
	}
	node, cdNode := []*PrivateKey{newer, older}, []*crypto.PrivateKey{cdNewer, cdOlder}
	med := medians(b,
		func() error { _, _, err := OpenU2CWith(node, msg, 1); return err },
		func() error {
			return eachKey(func(k int) error { _, _, err := OpenU2C(node[k], msg, 1); return err }, len(node))
		},
		func() error {
			return eachKey(func(k int) error { _, _, err := protocol.OpenU2C(cdNode[k], cdMsg, 1); return err }, len(cdNode))
		})
	b.ReportMetric(med[0]/1e3, "pq-µs/op")
	b.ReportMetric(med[1]/1e3, "pq-each-key-µs/op")
	b.ReportMetric(med[2]/1e3, "coverdrop-each-key-µs/op")
	b.ReportMetric(med[1]/med[0], "speed-up")
}

// BenchmarkOpenJ2C is the CoverNode's work per journalist message.
func BenchmarkOpenJ2C(b *testing.B) {
	cn := mustKey(b)
	msg, err := SealCoverJ2C(pubs(cn, mustKey(b)))
	if err != nil {
		b.Fatal(err)
	}
	cdCN := cdKey(b)
	cdMsg, err := protocol.SealCoverJ2C([]*crypto.PublicKey{cdCN.PublicKey(), cdKey(b).PublicKey()})
	if err != nil {
		b.Fatal(err)
	}
	compare(b,
		func() error { _, _, err := OpenJ2C(cn, msg, 0); return err },
		func() error { _, _, err := protocol.OpenJ2C(cdCN, cdMsg, 0); return err })
}

// BenchmarkSealCoverU2C is a phone's work per cover message (a battery
// proxy).
func BenchmarkSealCoverU2C(b *testing.B) {
	keys := pubs(mustKey(b), mustKey(b))
	cdKeys := []*crypto.PublicKey{cdKey(b).PublicKey(), cdKey(b).PublicKey()}
	compare(b,
		func() error { _, err := SealCoverU2C(keys); return err },
		func() error { _, err := protocol.SealCoverU2C(cdKeys); return err })
}

// BenchmarkSealU2C is a phone's work per real message.
func BenchmarkSealU2C(b *testing.B) {
	keys, j := pubs(mustKey(b), mustKey(b)), mustKey(b).PublicKey()
	cdKeys := []*crypto.PublicKey{cdKey(b).PublicKey(), cdKey(b).PublicKey()}
	cdJ, cdReply := cdKey(b).PublicKey(), cdKey(b).PublicKey()
	const text = "meet me at the usual place"
	compare(b,
		func() error { _, _, err := SealU2C(keys, "alice", j, ReaderID{}, text); return err },
		func() error { _, err := protocol.SealU2C(cdKeys, "alice", cdJ, cdReply, text); return err })
}

// BenchmarkCoverNodeC2J is the CoverNode's work per journalist dead-drop
// chunk it releases (real or filler: the same work).
func BenchmarkCoverNodeC2J(b *testing.B) {
	throwaway := mustKey(b).PublicKey()
	cdCN := cdKey(b)
	compare(b,
		func() error { _, err := FillerC2J(throwaway); return err },
		func() error { _, err := protocol.RandomC2J(cdCN); return err })
}

// BenchmarkProcessUserDeadDrop is a phone's work per user dead drop, once
// unlocked: verify it and trial-decrypt its 20 messages (production
// size). Coverdrop mode: against 10 journalists with two messaging keys
// each (client.BenchmarkProcessUserDeadDrop); pq: against 20 reply keys.
func BenchmarkProcessUserDeadDrop(b *testing.B) {
	cn, err := crypto.GenerateSigningKey()
	if err != nil {
		b.Fatal(err)
	}
	vks := []*crypto.VerifyingKey{cn.VerifyingKey()}
	now := time.Now()
	d := &DeadDrop{Kind: deaddrop.User, CreatedAt: now}
	cd := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: now}
	for range 20 {
		m, _ := RandomJ2U()
		d.Data = append(d.Data, m...)
		c, _ := protocol.RandomJ2U()
		cd.Data = append(cd.Data, c...)
	}
	d.Sign(cn)
	cd.Sign(cn)
	stored := make([]StoredReplyKey, 20)
	for i := range stored {
		stored[i].JournalistID = fmt.Sprint("j", i)
		stored[i].Key[0] = byte(i)
	}
	reader := cdKey(b)
	journalists := map[string][]*crypto.PublicKey{}
	for i := range 10 {
		journalists[fmt.Sprint("j", i)] = []*crypto.PublicKey{cdKey(b).PublicKey(), cdKey(b).PublicKey()}
	}
	compare(b,
		func() error {
			if err := d.Verify(vks); err != nil {
				return err
			}
			o, err := NewReaderOpener(stored)
			if err != nil {
				return err
			}
			_, err = o.Open(d)
			return ignoreNotForMe(err)
		},
		func() error {
			if err := cd.Verify(vks); err != nil {
				return err
			}
			o, err := deaddrop.NewReaderOpener(reader, journalists)
			if err != nil {
				return err
			}
			_, err = o.Open(cd)
			return ignoreNotForMe(err)
		})
}

func ignoreNotForMe(err error) error {
	if errors.Is(err, deaddrop.ErrNotForMe) {
		return nil
	}
	return err
}

// BenchmarkJournalistChunk is a journalist's work per journalist dead-drop
// chunk that is not its own (nearly all of them), with one and with two
// own messaging keys tried. Coverdrop mode: one CoverNode key and the same
// number of own keys, precomputed.
func BenchmarkJournalistChunk(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprint(n, "keys"), func(b *testing.B) {
			own := make([]*PrivateKey, n)
			cdOwn := make([]*crypto.PrivateKey, n)
			for i := range own {
				own[i], cdOwn[i] = mustKey(b), cdKey(b)
			}
			chunk, err := FillerC2J(mustKey(b).PublicKey())
			if err != nil {
				b.Fatal(err)
			}
			cdCN := cdKey(b)
			cdChunk, err := protocol.RandomC2J(cdCN)
			if err != nil {
				b.Fatal(err)
			}
			d := &DeadDrop{Kind: deaddrop.Journalist, Data: chunk}
			cdD := &deaddrop.DeadDrop{Kind: deaddrop.Journalist, Data: cdChunk}
			o := NewJournalistOpener(own)
			cdO, err := deaddrop.NewJournalistOpener(cdOwn, []*crypto.PublicKey{cdCN.PublicKey()})
			if err != nil {
				b.Fatal(err)
			}
			compare(b,
				func() error { _, err := o.Open(d); return ignoreNotForMe(err) },
				func() error { _, err := cdO.Open(cdD); return ignoreNotForMe(err) })
		})
	}
}
