package covernode

import (
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
)

// MeasureProcessing opens batches of U2C messages (one in ten real) as
// the CoverNode does, with the given number of workers, for about d, and
// returns messages processed per second. chaff bench reports it beside
// bare X25519.
func MeasureProcessing(workers int, d time.Duration) (float64, error) {
	node := &Node{cfg: Config{U2J: mix.TestU2J, J2U: mix.TestJ2U, Workers: workers}}
	dir := node.u2j()
	sk, err := crypto.GenerateKey()
	if err != nil {
		return 0, err
	}
	other, _ := crypto.GenerateKey()
	jk, _ := crypto.GenerateKey()
	reply, _ := crypto.GenerateKey()
	recipients := []*crypto.PublicKey{sk.PublicKey(), other.PublicKey()}
	const batch = 256
	msgs := make([]inMsg, batch)
	for i := range msgs {
		var m []byte
		if i%10 == 0 {
			m, err = protocol.SealU2C(recipients, "alice", jk.PublicKey(), reply.PublicKey(), "hello")
		} else {
			m, err = protocol.SealCoverU2C(recipients)
		}
		if err != nil {
			return 0, err
		}
		msgs[i] = inMsg{seq: uint64(i + 1), data: m}
	}
	ks := []*crypto.PrivateKey{sk}
	skip := map[uint64]bool{}
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		dir.openAll(msgs, ks, skip)
		n += batch
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
