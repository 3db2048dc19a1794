package benchsuite

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// medians runs the ops in turn, rotating their order, for about d (at
// least 20 rounds), and returns each op's median time in nanoseconds: the
// ops share whatever load the machine is under, and a median ignores the
// rounds a busy machine preempts (package pq's benchmarks do the same).
func medians(d time.Duration, ops ...func() error) ([]float64, error) {
	times := make([][]time.Duration, len(ops))
	start := time.Now()
	for i := 0; i < 20 || time.Since(start) < d; i++ {
		for j := range ops {
			k := (i + j) % len(ops)
			t0 := time.Now()
			if err := ops[k](); err != nil {
				return nil, err
			}
			times[k] = append(times[k], time.Since(t0))
		}
	}
	out := make([]float64, len(ops))
	for k := range times {
		slices.Sort(times[k])
		out[k] = float64(times[k][len(times[k])/2])
	}
	return out, nil
}

// Per-day figures of a reader (docs/PQ.md §10.2): the app sends two
// messages a background run and runs at most once an hour; about five
// user dead drops of twenty chunks are published a day (upstream's cover
// service has each journalist send ten J2C an hour, SPEC §7.3).
const (
	u2cPerDay           = 48
	userDeadDropsPerDay = 5
	userDeadDropChunks  = 20
)

// measurePhone measures a phone's work in both modes, interleaved with a
// bare X25519 so that each mode is quoted against the other in the same
// run: one cover U2C, and one user dead drop (verify and trial-decrypt 20
// chunks: against 10 journalists with two messaging keys each in
// coverdrop mode, against 20 reply keys in pq mode). It adds the bytes a
// reader uploads and downloads a day, from the sizes the two modes
// actually produce.
func measurePhone(d time.Duration) ([]Row, error) {
	sk, _ := crypto.GenerateKey()
	peer, _ := crypto.GenerateKey()
	bare := func() error { _, err := crypto.X25519(sk, peer.PublicKey()); return err }
	var cdNodes []*crypto.PublicKey
	var pqNodes []*pq.PublicKey
	for range 2 {
		c, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		p, err := pq.GenerateKey()
		if err != nil {
			return nil, err
		}
		cdNodes, pqNodes = append(cdNodes, c.PublicKey()), append(pqNodes, p.PublicKey())
	}
	cover, err := medians(d,
		func() error { _, err := protocol.SealCoverU2C(cdNodes); return err },
		func() error { _, err := pq.SealCoverU2C(pqNodes); return err },
		bare)
	if err != nil {
		return nil, err
	}

	cn, err := crypto.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	vks := []*crypto.VerifyingKey{cn.VerifyingKey()}
	now := time.Now()
	cdDrop := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: now}
	pqDrop := &pq.DeadDrop{Kind: deaddrop.User, CreatedAt: now}
	for range userDeadDropChunks {
		c, err := protocol.RandomJ2U()
		if err != nil {
			return nil, err
		}
		p, err := pq.RandomJ2U()
		if err != nil {
			return nil, err
		}
		cdDrop.Data, pqDrop.Data = append(cdDrop.Data, c...), append(pqDrop.Data, p...)
	}
	cdDrop.Sign(cn)
	pqDrop.Sign(cn)
	reader, _ := crypto.GenerateKey()
	journalists := map[string][]*crypto.PublicKey{}
	stored := make([]pq.StoredReplyKey, 20)
	for i := range 10 {
		for range 2 {
			k, _ := crypto.GenerateKey()
			id := fmt.Sprint("j", i)
			journalists[id] = append(journalists[id], k.PublicKey())
		}
	}
	for i := range stored {
		stored[i].JournalistID = fmt.Sprint("j", i%10)
		stored[i].Key[0] = byte(i)
	}
	notForMe := func(err error) error {
		if errors.Is(err, deaddrop.ErrNotForMe) {
			return nil
		}
		return err
	}
	drop, err := medians(d,
		func() error {
			if err := cdDrop.Verify(vks); err != nil {
				return err
			}
			o, err := deaddrop.NewReaderOpener(reader, journalists)
			if err != nil {
				return err
			}
			_, err = o.Open(cdDrop)
			return notForMe(err)
		},
		func() error {
			if err := pqDrop.Verify(vks); err != nil {
				return err
			}
			o, err := pq.NewReaderOpener(stored)
			if err != nil {
				return err
			}
			_, err = o.Open(pqDrop)
			return notForMe(err)
		},
		bare)
	if err != nil {
		return nil, err
	}

	// Bytes a day: the U2C request bodies (a JSON string of base64) and
	// the user dead drops as the API serves them (JSON).
	cdMsg, err := protocol.SealCoverU2C(cdNodes)
	if err != nil {
		return nil, err
	}
	pqMsg, err := pq.SealCoverU2C(pqNodes)
	if err != nil {
		return nil, err
	}
	cdBody, _ := json.Marshal(protocol.EncodeBase64(cdMsg))
	pqBody, _ := json.Marshal(protocol.EncodeBase64(pqMsg))
	cdJSON, err := json.Marshal(cdDrop)
	if err != nil {
		return nil, err
	}
	pqJSON, err := json.Marshal(pqDrop)
	if err != nil {
		return nil, err
	}
	cdUp, pqUp := float64(u2cPerDay*len(cdBody)), float64(u2cPerDay*len(pqBody))
	cdDown, pqDown := float64(userDeadDropsPerDay*len(cdJSON)), float64(userDeadDropsPerDay*len(pqJSON))
	return []Row{
		{Name: "phone: cover U2C, coverdrop", Value: cover[0] / 1e3, Unit: "µs/op", Bound: "bare X25519", Ratio: cover[0] / cover[2]},
		{Name: "phone: cover U2C, pq", Value: cover[1] / 1e3, Unit: "µs/op", Bound: "coverdrop, same run", Ratio: cover[1] / cover[0]},
		{Name: "phone: user dead drop, coverdrop", Value: drop[0] / 1e3, Unit: "µs/op", Bound: "bare X25519", Ratio: drop[0] / drop[2]},
		{Name: "phone: user dead drop, pq", Value: drop[1] / 1e3, Unit: "µs/op", Bound: "coverdrop, same run", Ratio: drop[1] / drop[0]},
		{Name: "reader uploads a day, coverdrop", Value: cdUp / 1e3, Unit: "KB/day", Bound: "-", Ratio: 1},
		{Name: "reader uploads a day, pq", Value: pqUp / 1e3, Unit: "KB/day", Bound: "coverdrop", Ratio: pqUp / cdUp},
		{Name: "reader downloads a day, coverdrop", Value: cdDown / 1e3, Unit: "KB/day", Bound: "-", Ratio: 1},
		{Name: "reader downloads a day, pq", Value: pqDown / 1e3, Unit: "KB/day", Bound: "coverdrop", Ratio: pqDown / cdDown},
	}, nil
}

// journalistDownloads returns the bytes a journalist downloads a day at
// each number of readers in both modes: every journalist dead drop, as
// the API serves it (JSON), of upstream's production size
// (mix.ProductionU2J), released every hour or at ThresholdMax inputs,
// whichever gives more (SPEC §7.3; at 1M readers and more, the inputs).
func journalistDownloads(readers ...int) ([]Row, error) {
	p := mix.ProductionU2J
	cd := &deaddrop.DeadDrop{Kind: deaddrop.Journalist, CreatedAt: time.Now(), Data: make([]byte, p.OutputSize*deaddrop.Journalist.ChunkSize())}
	pqd := &pq.DeadDrop{Kind: deaddrop.Journalist, CreatedAt: time.Now(), Data: make([]byte, p.OutputSize*pq.ChunkSize(deaddrop.Journalist))}
	cdJSON, err := json.Marshal(cd)
	if err != nil {
		return nil, err
	}
	pqJSON, err := json.Marshal(pqd)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, n := range readers {
		perDay := max(float64(n)*u2cPerDay/float64(p.ThresholdMax), float64(24*time.Hour/p.Timeout))
		c, q := perDay*float64(len(cdJSON)), perDay*float64(len(pqJSON))
		who := fmt.Sprintf("journalist downloads a day, %gM readers", float64(n)/1e6)
		rows = append(rows,
			Row{Name: who + ", coverdrop", Value: c / 1e6, Unit: "MB/day", Bound: "-", Ratio: 1},
			Row{Name: who + ", pq", Value: q / 1e6, Unit: "MB/day", Bound: "coverdrop", Ratio: q / c})
	}
	return rows, nil
}
