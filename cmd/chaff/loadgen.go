package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// loadReport is what chaff loadgen measured.
type loadReport struct {
	Readers      int                `json:"readers"`
	Seconds      float64            `json:"seconds"`
	Sent         int64              `json:"sent"`
	Acknowledged int64              `json:"acknowledged"`
	Errors       map[string]int     `json:"errors"`
	LatencyMS    map[string]float64 `json:"latency_ms"`
	Downloads    int64              `json:"dead_drop_downloads"`
	Real         []injected         `json:"real"`
}

// injected is a real message loadgen put among the cover.
type injected struct {
	To           string `json:"to"`
	Text         string `json:"text"`
	Acknowledged bool   `json:"acknowledged"`
}

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", "", "URL of the API (required)")
	ingestURL := fs.String("ingest", "", "URL of the ingest, if not the API's")
	var anchors multiFlag
	fs.Var(&anchors, "anchor", "organisation trust anchor (required)")
	readers := fs.Int("readers", 1000, "simulated app installs")
	rate := fs.Float64("rate", 100, "messages per second, all readers together")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	real := fs.Int("real", 0, "real messages with known content to put among the cover")
	to := fs.String("to", "", "journalists the real messages go to, comma-separated (in turn)")
	download := fs.Duration("download-every", time.Minute, "how often each reader downloads new user dead drops")
	jsonOut := fs.String("json", "", "also write the report (with the real messages) as JSON here")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if *apiURL == "" || len(anchors) == 0 || *readers < 1 || *rate <= 0 || *duration <= 0 || (*real > 0 && *to == "") {
		fmt.Fprintln(stderr, "chaff loadgen: --api and --anchor are required; --readers, --rate and --duration must be positive; --real needs --to")
		return errUsage
	}
	if *ingestURL == "" {
		*ingestURL = *apiURL
	}
	anchorKeys, err := loadAnchors(anchors)
	if err != nil {
		return err
	}
	api := apiclient.New(*apiURL)
	h, err := api.PublicKeys(ctx)
	if err != nil {
		return err
	}
	v, err := keys.Verify(h, anchorKeys, time.Now())
	if err != nil {
		return err
	}
	cks, err := v.CoverNodeKeys()
	if err != nil {
		return err
	}
	var recipients []string
	jks := map[string]*crypto.PublicKey{}
	if *real > 0 {
		recipients = strings.Split(*to, ",")
		for _, id := range recipients {
			if jks[id], err = v.JournalistKey(id); err != nil {
				return err
			}
		}
	}
	ingest := apiclient.NewWith(*ingestURL, &http.Client{Timeout: apiclient.DefaultTimeout, Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}})
	runCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	// Real messages: each goes to a random reader, in place of one of its
	// cover messages.
	type pending struct {
		idx int
		msg []byte
	}
	queues := make([]chan pending, *readers)
	for i := range queues {
		queues[i] = make(chan pending, 4)
	}
	rep := &loadReport{Readers: *readers, Errors: map[string]int{}}
	for k := range *real {
		reply, _ := crypto.GenerateKey()
		text := fmt.Sprintf("loadgen real message %d of %d, %x", k+1, *real, rand.Uint64())
		id := recipients[k%len(recipients)]
		msg, err := protocol.SealU2C(cks, id, jks[id], reply.PublicKey(), text)
		if err != nil {
			return err
		}
		rep.Real = append(rep.Real, injected{To: id, Text: text})
		queues[rand.IntN(*readers)] <- pending{idx: k, msg: msg}
	}
	var sent, acked, downloads atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	perReader := time.Duration(float64(*readers) / *rate * float64(time.Second))
	start := time.Now()
	var wg sync.WaitGroup
	for i := range *readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))
			nextDL := time.Now().Add(time.Duration(r.Float64() * float64(*download)))
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
					c, err := protocol.SealCoverU2C(cks)
					if err != nil {
						continue
					}
					msg = c
				}
				t0 := time.Now()
				err := ingest.SendUserMessage(runCtx, msg)
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
					nextDL = time.Now().Add(*download)
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
	realAcked := 0
	for _, r := range rep.Real {
		if r.Acknowledged {
			realAcked++
		}
	}
	fmt.Fprintf(stdout, "%d readers for %.1fs: sent %d (%.0f/s), acknowledged %d, errors %v\nlatency ms: p50 %.2f, p90 %.2f, p99 %.2f, max %.2f; %d dead-drop downloads\n",
		rep.Readers, rep.Seconds, rep.Sent, float64(rep.Sent)/rep.Seconds, rep.Acknowledged, rep.Errors,
		rep.LatencyMS["p50"], rep.LatencyMS["p90"], rep.LatencyMS["p99"], rep.LatencyMS["max"], rep.Downloads)
	if *real > 0 {
		fmt.Fprintf(stdout, "real messages: %d of %d acknowledged (to %s)\n", realAcked, *real, *to)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
