package covernode

import (
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
)

// processingBatch is a node's U2J direction with a batch of 256 U2C
// messages for it, one in ten real, and the key that opens them: what the
// throughput measurements run.
type processingBatch struct {
	node *Node
	dir  *direction
	msgs []inMsg
	keys []*crypto.PrivateKey
}

const processingBatchSize = 256

func newProcessingBatch() (*processingBatch, error) {
	node := &Node{cfg: Config{U2J: mix.TestU2J, J2U: mix.TestJ2U}}
	sk, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	other, _ := crypto.GenerateKey()
	jk, _ := crypto.GenerateKey()
	reply, _ := crypto.GenerateKey()
	recipients := []*crypto.PublicKey{sk.PublicKey(), other.PublicKey()}
	msgs := make([]inMsg, processingBatchSize)
	for i := range msgs {
		var m []byte
		if i%10 == 0 {
			m, err = protocol.SealU2C(recipients, "alice", jk.PublicKey(), reply.PublicKey(), "hello")
		} else {
			m, err = protocol.SealCoverU2C(recipients)
		}
		if err != nil {
			return nil, err
		}
		msgs[i] = inMsg{seq: uint64(i + 1), reply: "$JS.ACK.x", data: m}
	}
	return &processingBatch{node: node, dir: node.u2j(), msgs: msgs, keys: []*crypto.PrivateKey{sk}}, nil
}

// open processes the batch once with the given number of workers.
func (p *processingBatch) open(workers int) []entry {
	p.node.cfg.Workers = workers
	return p.dir.openAll(p.msgs, p.keys, nil, newSeenSet(new([crypto.SecretBoxKeySize]byte)))
}

// MeasureProcessing opens batches of U2C messages (one in ten real) as
// the CoverNode does, with the given number of workers, for about d, and
// returns messages processed per second. chaff bench reports it beside
// bare X25519.
func MeasureProcessing(workers int, d time.Duration) (float64, error) {
	p, err := newProcessingBatch()
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
