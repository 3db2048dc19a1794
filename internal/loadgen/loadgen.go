// Package loadgen simulates many app installs against an API: each sends
// fixed-size cover messages at exponentially distributed intervals (a few
// real ones with known content among them) and downloads the user dead
// drops now and then, as chaff loadgen runs it. It measures what the
// ingest acknowledged and how fast.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// Report is what a run measured.
type Report struct {
	Readers      int                `json:"readers"`
	Seconds      float64            `json:"seconds"`
	Sent         int64              `json:"sent"`
	Acknowledged int64              `json:"acknowledged"`
	Errors       map[string]int     `json:"errors"`
	LatencyMS    map[string]float64 `json:"latency_ms"`
	Downloads    int64              `json:"dead_drop_downloads"`
	Real         []Injected         `json:"real"`
}

// Injected is a real message put among the cover.
type Injected struct {
	To           string `json:"to"`
	Text         string `json:"text"`
	Acknowledged bool   `json:"acknowledged"`
}

// Options configure a run.
type Options struct {
	API, Ingest string // URLs; Ingest defaults to API
	Anchors     []keys.SignedPublicKey
	Readers     int
	Rate        float64       // messages per second, all readers together
	Duration    time.Duration // of the run
	Real        int           // real messages to put among the cover
	To          []string      // journalists the real messages go to, in turn
	// ReplyKeys are the reply keys the real messages carry, in turn: the
	// k-th carries ReplyKeys[k mod len], so that whoever holds their
	// private halves reads the replies. Without them each real message
	// carries a fresh key whose private half is dropped.
	ReplyKeys     []*crypto.PublicKey
	DownloadEvery time.Duration // each reader's user dead-drop downloads
}

// Run runs a load until o.Duration has passed or ctx ends.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Ingest == "" {
		o.Ingest = o.API
	}
	api := apiclient.New(o.API)
	mode, err := keys.AnchorsMode(o.Anchors)
	if err != nil {
		return nil, err
	}
	h, err := api.ReaderKeys(ctx, mode)
	if err != nil {
		return nil, err
	}
	v, err := keys.Verify(h, o.Anchors, time.Now())
	if err != nil {
		return nil, err
	}
	s, err := newSealer(v, o)
	if err != nil {
		return nil, err
	}
	var recipients []string
	if o.Real > 0 {
		recipients = o.To
	}
	ingest := apiclient.NewWith(o.Ingest, &http.Client{Timeout: apiclient.DefaultTimeout, Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}})

	// Real messages: the k-th is handed at k/Real of the run to a random
	// reader, which sends it in place of its next cover message, so that
	// real messages flow through the whole run.
	type pending struct {
		idx int
		msg []byte
	}
	queues := make([]chan pending, o.Readers)
	for i := range queues {
		queues[i] = make(chan pending, 4)
	}
	rep := &Report{Readers: o.Readers, Errors: map[string]int{}}
	reals := make([]pending, o.Real)
	for k := range o.Real {
		text := fmt.Sprintf("loadgen real message %d of %d, %x", k+1, o.Real, rand.Uint64())
		id := recipients[k%len(recipients)]
		msg, err := s.real(k, id, text)
		if err != nil {
			return nil, err
		}
		rep.Real = append(rep.Real, Injected{To: id, Text: text})
		reals[k] = pending{idx: k, msg: msg}
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	// Every goroutine of the run ends with runCtx and is waited for: Run
	// leaves none behind.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		handOut(runCtx, start, o.Duration, reals, func(p pending) bool {
			select {
			case queues[rand.IntN(o.Readers)] <- p:
				return true
			default:
				return false
			}
		})
	}()
	var sent, acked, downloads atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	perReader := time.Duration(float64(o.Readers) / o.Rate * float64(time.Second))
	for i := range o.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))
			nextDL := time.Now().Add(time.Duration(r.Float64() * float64(o.DownloadEvery)))
			lastID := int64(0)
			for {
				wait := time.Duration(r.ExpFloat64() * float64(perReader))
				select {
				case <-runCtx.Done():
					return
				case <-time.After(wait):
				}
				var msg []byte
				realIdx := -1
				select {
				case p := <-queues[i]:
					msg, realIdx = p.msg, p.idx
				default:
					c, err := s.cover()
					if err != nil {
						continue
					}
					msg = c
				}
				t0 := time.Now()
				// A send begun before the run's end is let finish (it
				// carries the caller's ctx, not runCtx): cut off, it
				// would count as a network error while the API may
				// still have taken it.
				err := ingest.SendUserMessage(ctx, msg)
				d := time.Since(t0)
				sent.Add(1)
				mu.Lock()
				lat = append(lat, d)
				switch status := apiclient.StatusOf(err); {
				case err == nil:
					acked.Add(1)
					if realIdx >= 0 {
						rep.Real[realIdx].Acknowledged = true
					}
				case status == 0:
					rep.Errors["network"]++
				default:
					rep.Errors[fmt.Sprintf("HTTP %d", status)]++
				}
				mu.Unlock()
				if apiclient.StatusOf(err) == 0 && err != nil && realIdx >= 0 {
					select {
					case queues[i] <- pending{idx: realIdx, msg: msg}: // try again next time
					default:
					}
				}
				if time.Now().After(nextDL) {
					nextDL = time.Now().Add(o.DownloadEvery)
					if b, err := api.DeadDropsAfter(runCtx, deaddrop.User, lastID); err == nil {
						downloads.Add(1)
						var l struct {
							DeadDrops []struct {
								ID int64 `json:"id"`
							} `json:"dead_drops"`
						}
						if json.Unmarshal(b, &l) == nil && len(l.DeadDrops) > 0 {
							lastID = l.DeadDrops[len(l.DeadDrops)-1].ID
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	rep.Sent, rep.Acknowledged, rep.Downloads = sent.Load(), acked.Load(), downloads.Load()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rep.LatencyMS = map[string]float64{}
	if len(lat) > 0 {
		for name, q := range map[string]float64{"p50": 0.5, "p90": 0.9, "p99": 0.99, "max": 1} {
			rep.LatencyMS[name] = float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
		}
	}
	return rep, nil
}

// handOut hands each item to give at its share of the run (the k-th of n
// at k/n of d from start), trying again every millisecond while give
// refuses, until ctx ends.
func handOut[T any](ctx context.Context, start time.Time, d time.Duration, items []T, give func(T) bool) {
	for k, it := range items {
		if !sleepUntil(ctx, start.Add(time.Duration(float64(d)*float64(k)/float64(len(items))))) {
			return
		}
		for !give(it) {
			if !sleepUntil(ctx, time.Now().Add(time.Millisecond)) {
				return
			}
		}
	}
}

// sleepUntil waits until t and reports whether ctx is still live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// sealer seals the messages of a run in the protocol mode of the anchors
// (docs/PQ.md §8): 773-byte U2C in coverdrop mode, 4,037-byte in pq.
type sealer struct {
	cover func() ([]byte, error)
	// real seals the k-th real message to a journalist.
	real func(k int, journalistID, text string) ([]byte, error)
}

func newSealer(v *keys.Verified, o Options) (*sealer, error) {
	if v.Mode == keys.ModePQ {
		return newPQSealer(v, o)
	}
	cks, err := v.CoverNodeKeys()
	if err != nil {
		return nil, err
	}
	jks := map[string]*crypto.PublicKey{}
	for _, id := range o.To {
		if jks[id], err = v.JournalistKey(id); err != nil && o.Real > 0 {
			return nil, err
		}
	}
	return &sealer{
		cover: func() ([]byte, error) { return protocol.SealCoverU2C(cks) },
		real: func(k int, id, text string) ([]byte, error) {
			var reply *crypto.PublicKey
			if len(o.ReplyKeys) > 0 {
				reply = o.ReplyKeys[k%len(o.ReplyKeys)]
			} else {
				sk, err := crypto.GenerateKey()
				if err != nil {
					return nil, err
				}
				reply = sk.PublicKey()
			}
			return protocol.SealU2C(cks, id, jks[id], reply, text)
		},
	}, nil
}

// newPQSealer seals pq messages: each real message comes from a fresh
// reader id, and its reply key is dropped (Options.ReplyKeys are X25519
// keys, a coverdrop notion).
func newPQSealer(v *keys.Verified, o Options) (*sealer, error) {
	if len(o.ReplyKeys) > 0 {
		return nil, errors.New("loadgen: reply keys are X25519 keys of coverdrop mode; a pq deployment's readers have none")
	}
	cks, err := v.CoverNodeKEMWrappingKeys()
	if err != nil {
		return nil, err
	}
	jks := map[string]*pq.PublicKey{}
	for _, id := range o.To {
		if jks[id], err = v.JournalistKEMKey(id); err != nil && o.Real > 0 {
			return nil, err
		}
	}
	return &sealer{
		cover: func() ([]byte, error) { return pq.SealCoverU2C(cks) },
		real: func(_ int, id, text string) ([]byte, error) {
			reader, err := pq.NewReaderID()
			if err != nil {
				return nil, err
			}
			msg, _, err := pq.SealU2C(cks, id, jks[id], reader, text)
			return msg, err
		},
	}, nil
}
