package covernode

import (
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// processingBatch is a node's U2J direction with a batch of 256 U2C
// messages for it, one in ten real, and the node's messaging key that
// opens them: what the throughput measurements run.
type processingBatch struct {
	node *Node
	dir  *direction
	msgs []inMsg
	now  time.Time
}

const processingBatchSize = 256

// newProcessingBatch makes a batch in the protocol mode of that name.
func newProcessingBatch(modeName string) (*processingBatch, error) {
	m, err := modeByName(modeName)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	seal, ks, err := processingKeys(m, now)
	if err != nil {
		return nil, err
	}
	node := &Node{cfg: Config{U2J: mix.TestU2J, J2U: mix.TestJ2U}, mode: m, keys: ks}
	msgs := make([]inMsg, processingBatchSize)
	for i := range msgs {
		m, err := seal(i%10 == 0)
		if err != nil {
			return nil, err
		}
		msgs[i] = inMsg{seq: uint64(i + 1), reply: "$JS.ACK.x", data: m}
	}
	return &processingBatch{node: node, dir: node.u2j(), msgs: msgs, now: now}, nil
}

// processingKeys makes a node's messaging key in mode m (in the node's
// key state, valid a day from now), another node's, a journalist's and a
// reader's, and returns what seals a real or cover U2C to the two nodes,
// and the node's key state.
func processingKeys(m protocolMode, now time.Time) (seal func(real bool) ([]byte, error), ks *keyState, err error) {
	until := now.Add(24 * time.Hour)
	if m.name() == pq.ModePQ {
		sk, err := pq.GenerateKey()
		if err != nil {
			return nil, nil, err
		}
		other, _ := pq.GenerateKey()
		jk, _ := pq.GenerateKey()
		reader, _ := pq.NewReaderID()
		recipients := []*pq.PublicKey{sk.PublicKey(), other.PublicKey()}
		return func(real bool) ([]byte, error) {
			if real {
				msg, _, err := pq.SealU2C(recipients, "alice", jk.PublicKey(), reader, "hello")
				return msg, err
			}
			return pq.SealCoverU2C(recipients)
		}, &keyState{Messaging: keys.Ring{kemOwnKey(sk, now, until)}}, nil
	}
	sk, err := crypto.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	other, _ := crypto.GenerateKey()
	jk, _ := crypto.GenerateKey()
	reply, _ := crypto.GenerateKey()
	recipients := []*crypto.PublicKey{sk.PublicKey(), other.PublicKey()}
	return func(real bool) ([]byte, error) {
		if real {
			return protocol.SealU2C(recipients, "alice", jk.PublicKey(), reply.PublicKey(), "hello")
		}
		return protocol.SealCoverU2C(recipients)
	}, &keyState{Messaging: keys.Ring{x25519OwnKey(sk, now, until)}}, nil
}

// x25519OwnKey and kemOwnKey wrap a messaging key of each mode as a
// node's key state holds it: made at created, published, valid until.
func x25519OwnKey(sk *crypto.PrivateKey, created, until time.Time) *keys.OwnKey {
	pub := &keys.SignedPublicKey{NotValidAfter: until}
	copy(pub.Key[:], sk.PublicKey().Bytes())
	return &keys.OwnKey{Pair: keys.NewEncryptionKeyPair(sk, pub), Epoch: 1, CreatedAt: created}
}

func kemOwnKey(sk *pq.PrivateKey, created, until time.Time) *keys.OwnKey {
	pub := keys.NewKEMKey(sk.PublicKey())
	pub.NotValidAfter = until
	return &keys.OwnKey{Pair: keys.NewKEMKeyPair(sk, &pub), Epoch: 1, CreatedAt: created}
}

// opener is the batch's opener, as the node makes one for every batch.
func (p *processingBatch) opener() batchOpener { return p.node.mode.opener(p.node.keys, p.now) }

// open processes the batch once with the given number of workers, as the
// node does: the mode's opener from the node's keys, then openAll.
func (p *processingBatch) open(workers int) []entry {
	p.node.cfg.Workers = workers
	return p.dir.openAll(p.msgs, p.opener(), nil, newSeenSet(new([crypto.SecretBoxKeySize]byte)))
}

// MeasureProcessing opens batches of U2C messages (one in ten real) as
// the CoverNode does in the protocol mode of that name (pq.ModeCoverDrop
// or pq.ModePQ), with the given number of workers, for about d, and
// returns messages processed per second. chaff bench reports it beside
// bare X25519, and pq mode's beside coverdrop mode's.
func MeasureProcessing(mode string, workers int, d time.Duration) (float64, error) {
	p, err := newProcessingBatch(mode)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		p.open(workers)
		n += processingBatchSize
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// MeasureModes measures MeasureProcessing's rate in both protocol modes
// with one worker, for about d each, interleaving one batch of each mode
// at a time so that both see the same load on the machine, and returns
// messages processed per second in coverdrop mode and in pq mode.
func MeasureModes(d time.Duration) (coverDrop, pqRate float64, err error) {
	cd, err := newProcessingBatch(pq.ModeCoverDrop)
	if err != nil {
		return 0, 0, err
	}
	pm, err := newProcessingBatch(pq.ModePQ)
	if err != nil {
		return 0, 0, err
	}
	var tc, tp time.Duration
	n := 0
	for tc+tp < 2*d {
		start := time.Now()
		cd.open(1)
		mid := time.Now()
		pm.open(1)
		tc, tp = tc+mid.Sub(start), tp+time.Since(mid)
		n += processingBatchSize
	}
	return float64(n) / tc.Seconds(), float64(n) / tp.Seconds(), nil
}
