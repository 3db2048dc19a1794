// Package covernode is the CoverNode (SPEC §7): it pulls readers' and
// journalists' messages from JetStream, strips the outer layer, drops
// cover, mixes, and publishes signed dead drops through the API. It
// listens on nothing public: it only connects out.
package covernode

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/retry"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// ConsumerName is the durable consumer all CoverNodes share, per stream:
// each message goes to one of them.
const ConsumerName = "covernodes"

// Config configures a CoverNode.
type Config struct {
	StateDir string
	// StateKey seals the node's keys in StateDir (and, through them, its
	// round logs). Keep it apart from StateDir: on another disk, in a
	// secrets store; with it, whoever has StateDir has every key.
	StateKey   *[crypto.SecretBoxKeySize]byte
	BundlePath string // setup bundle, needed on first start
	API        *apiclient.Client
	// IdentityAPI certifies the node's rotated identity keys; without it
	// the identity key is not rotated (and expires after 4 weeks).
	IdentityAPI *apiclient.Client
	Anchors     []keys.SignedPublicKey
	U2J, J2U    mix.Params
	// BatchSize is the most messages taken from a stream at once.
	BatchSize int
	// Workers open messages in parallel (default: one per CPU).
	Workers int
	// AckWait is how long a message taken but not acknowledged waits
	// before JetStream offers it again (default DefaultAckWait).
	AckWait time.Duration
	// RetryMin and RetryMax bound the back-off of dead-drop posts.
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
	Now                func() time.Time
	// Registry receives the node's metrics (see nodeMetrics). Nothing
	// says how many inputs were real: that is the secret the node keeps.
	Registry prometheus.Registerer
	// Startup, when set, makes New retry what needs the API while it does
	// not answer (no replica up yet, a balancer answering 502), and Run
	// the creation of its consumers while JetStream cannot serve it (a
	// cluster electing leaders), instead of failing at once: retry.Until
	// with these options (What is set by the node). An answer that
	// retrying cannot change (a refused key, keys that do not verify)
	// still fails.
	Startup *retry.Options
}

// DefaultAckWait is Config.AckWait's default.
const DefaultAckWait = 5 * time.Minute

// Node is a running CoverNode.
type Node struct {
	cfg  Config
	log  *slog.Logger
	keys *keyState
	js   jetstream.JetStream
	// mode is the deployment's protocol mode, chosen once at start.
	mode protocolMode

	hmu      sync.Mutex
	hier     *keys.Verified
	hierTime time.Time
	// hierFetched is when the fetch of hier began, by the wall clock, to
	// compare with the stream's timestamps.
	hierFetched time.Time

	m *nodeMetrics

	// acked are, per direction, the stream sequences of the batch logged
	// before a crash and acknowledged when the node started (settle).
	acked map[string]map[uint64]bool

	// The wrapping slot that last opened, tried first: senders put the
	// CoverNodes' keys in a stable order, so this one usually opens at
	// the cost of one key agreement (one X25519, or one X-Wing
	// decapsulation in pq mode).
	u2jSlot, j2uSlot atomic.Int32
}

// New sets up a CoverNode: its keys (registering the identity key from
// the setup bundle on first start, publishing a messaging key) and its
// JetStream consumers.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Node, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, p := range []mix.Params{cfg.U2J, cfg.J2U} {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	mode, err := deploymentMode(cfg.Anchors)
	if err != nil {
		return nil, err
	}
	ks, migrated, err := loadKeyState(cfg.StateDir, cfg.StateKey)
	if err != nil {
		return nil, err
	}
	if migrated {
		cfg.Logger.Warn("the key state was plaintext: sealed it under the state key and removed the plaintext (" + plainKeysFile + "); its blocks may remain on the disk")
	}
	// Before anything that needs the API, which may be down with the node
	// (a key state of the other mode is refused by setup, below).
	var acked map[string]map[uint64]bool
	if len(ks.LogKey) == 0 || ks.mode() == mode.name() {
		if acked, err = settle(ctx, nc, cfg, ks.LogKey, mode.payloadSize()); err != nil {
			return nil, err
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, keys: ks, js: js, mode: mode, acked: acked}
	// What needs the API, retried while the API does not answer when
	// cfg.Startup says so. Each step may run again: registering an
	// identity key already registered is answered 409 and taken as done, a
	// messaging key made but not published is the candidate published
	// next. (settle, above, runs once: its acknowledged sequences live
	// only in memory.)
	withAPI := func(ctx context.Context) error {
		if err := ks.setup(ctx, cfg.API, cfg.BundlePath, mode.name()); err != nil {
			return err
		}
		if _, err := ks.rotateMessaging(ctx, cfg.API, cfg.Now()); err != nil {
			return err
		}
		_, err := n.hierarchy(ctx, true)
		return err
	}
	if err := n.starting(ctx, "the API", withAPI); err != nil {
		return nil, err
	}
	// Registered last, once nothing can fail but this.
	if n.m, err = newNodeMetrics(cfg.Registry, js, map[string]mix.Params{dirU2J: cfg.U2J, dirJ2U: cfg.J2U}); err != nil {
		return nil, err
	}
	return n, nil
}

// starting runs op, a step of the node's start that needs what, retried
// as cfg.Startup says when it is set.
func (n *Node) starting(ctx context.Context, what string, op func(context.Context) error) error {
	if n.cfg.Startup == nil {
		return op(ctx)
	}
	o := *n.cfg.Startup
	o.What = what
	return retry.Until(ctx, o, op)
}

// Mode is the node's protocol mode, the deployment's: keys.ModeCoverDrop
// or keys.ModePQ.
func (n *Node) Mode() string { return n.mode.name() }

// hierarchyMaxAge is how old the published keys a node acts on may be
// when nothing asks for newer ones.
const hierarchyMaxAge = time.Minute

// clockSkew is how far the node's clock and the NATS servers' may differ.
const clockSkew = 5 * time.Second

// hierarchy returns the verified published keys, fetched again when
// hierarchyMaxAge old, when forced, or when the last fetch began before
// since, give or take clockSkew.
func (n *Node) hierarchy(ctx context.Context, force bool, since ...time.Time) (*keys.Verified, error) {
	n.hmu.Lock()
	defer n.hmu.Unlock()
	now := n.cfg.Now()
	stale := n.hier == nil || now.Sub(n.hierTime) >= hierarchyMaxAge
	for _, t := range since {
		stale = stale || n.hierFetched.Before(t.Add(clockSkew))
	}
	if !force && !stale {
		return n.hier, nil
	}
	fetched := time.Now()
	h, err := n.cfg.API.PublicKeys(ctx)
	if err != nil {
		if n.hier != nil {
			if ctx.Err() == nil { // not the node stopping
				n.log.Warn("refreshing public keys", "err", err)
			}
			return n.hier, nil
		}
		return nil, err
	}
	v, err := keys.VerifyIn(n.mode.name(), h, n.cfg.Anchors, now)
	if err != nil {
		if n.hier != nil {
			// A bad answer (a hostile or half-updated API) leaves the node
			// on the keys it verified last.
			n.log.Warn("the published keys do not verify", "err", err)
			return n.hier, nil
		}
		return nil, err
	}
	n.hier, n.hierTime, n.hierFetched = v, now, fetched
	return v, nil
}

// Run processes both directions until ctx ends or one fails.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	for _, d := range []*direction{n.u2j(), n.j2u()} {
		go func() { errc <- d.run(ctx) }()
	}
	go func() { errc <- n.rotateKeys(ctx) }()
	err := <-errc
	cancel()
	// Wait for the others: a direction still fetching would otherwise take
	// and log messages after Run returned, perhaps while a new node opens
	// the same round log.
	for range 2 {
		if e := <-errc; errors.Is(err, context.Canceled) && e != nil {
			err = e // the first error that is not the cancellation
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// rotateKeys checks every minute whether a new messaging key is due.
func (n *Node) rotateKeys(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		n.rotateOnce(ctx)
	}
}

// rotateOnce rotates the identity key (through the identity API) and the
// messaging key when they are due.
func (n *Node) rotateOnce(ctx context.Context) {
	if n.cfg.IdentityAPI != nil {
		if made, err := n.keys.rotateIdentity(ctx, n.cfg.IdentityAPI, n.cfg.Now()); err != nil {
			n.log.Error("identity key rotation", "err", err)
		} else if made {
			n.log.Info("rotated the identity key")
		}
	}
	if made, err := n.keys.rotateMessaging(ctx, n.cfg.API, n.cfg.Now()); err != nil {
		n.log.Error("messaging key rotation", "err", err)
	} else if made {
		n.log.Info("published a new messaging key")
	}
}

// direction is one of the two flows through the node.
type direction struct {
	n      *Node
	name   string
	stream string
	kind   deaddrop.Kind
	params mix.Params
	open   func(o batchOpener, msg []byte) entry
	build  func(ctx context.Context, reals []entry, padding int) ([][]byte, error)
	// warnedUnopened is when the node last warned that a whole batch
	// opened under none of its keys.
	warnedUnopened time.Time
}

func (n *Node) u2j() *direction {
	return &direction{n: n, name: dirU2J, stream: store.StreamU2C, kind: deaddrop.Journalist, params: n.cfg.U2J,
		open: func(o batchOpener, msg []byte) entry {
			pt, slot, ok := o.openU2C(msg, int(n.u2jSlot.Load()))
			if !ok {
				return entry{kind: kindUnopened}
			}
			if int32(slot) != n.u2jSlot.Load() {
				n.u2jSlot.Store(int32(slot))
			}
			if protocol.RecipientTag(pt[:protocol.RecipientTagSize]).IsCover() {
				return entry{kind: kindCover}
			}
			return entry{kind: kindReal, payload: pt}
		},
		build: n.buildC2J,
	}
}

func (n *Node) j2u() *direction {
	return &direction{n: n, name: dirJ2U, stream: store.StreamJ2C, kind: deaddrop.User, params: n.cfg.J2U,
		open: func(o batchOpener, msg []byte) entry {
			m, slot, ok := o.openJ2C(msg, int(n.j2uSlot.Load()))
			if !ok {
				return entry{kind: kindUnopened}
			}
			if int32(slot) != n.j2uSlot.Load() {
				n.j2uSlot.Store(int32(slot))
			}
			if !m.Real {
				return entry{kind: kindCover}
			}
			return entry{kind: kindReal, payload: m.J2U}
		},
		build: n.buildJ2U,
	}
}

// buildC2J turns released U2J messages into C2J messages for the
// journalists their tags name; unknown tags and padding become fillers
// (SPEC §7.4, docs/PQ.md §5.3).
func (n *Node) buildC2J(ctx context.Context, reals []entry, padding int) ([][]byte, error) {
	// Look at the published keys afresh at every release, so that a
	// journalist whose first key was just published gets their messages.
	// Every release does it, whatever it holds: a fetch only when a message
	// named an unknown journalist would tell the API that a real message
	// was in the round.
	v, err := n.hierarchy(ctx, true)
	if err != nil {
		return nil, err
	}
	s, err := n.mode.c2jSealer(n.keys, v, n.cfg.Now())
	if err != nil {
		return nil, err
	}
	defer s.close()
	// Every slot does the same work, real or filler, so that how long a
	// release takes (which the API sees, after the acknowledgements) does
	// not tell how many real messages it holds. A message for an unknown
	// journalist becomes filler, as upstream's does.
	out := make([][]byte, 0, len(reals)+padding)
	for i := range len(reals) + padding {
		var payload []byte
		if i < len(reals) {
			payload = reals[i].payload
		}
		c, err := s.seal(payload)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// buildJ2U passes journalists' J2U messages through and pads with random
// ones. A filler is made for every slot, real or not, so that the time a
// release takes does not tell how many real messages it holds.
func (n *Node) buildJ2U(_ context.Context, reals []entry, padding int) ([][]byte, error) {
	out := make([][]byte, 0, len(reals)+padding)
	for i := range len(reals) + padding {
		c, err := n.mode.randomJ2U()
		if err != nil {
			return nil, err
		}
		if i < len(reals) {
			c = reals[i].payload
		}
		out = append(out, c)
	}
	return out, nil
}

func (d *direction) run(ctx context.Context) error {
	n := d.n
	// While a cluster elects the stream's leader, creating the consumer
	// times out: retried then, as cfg.Startup says.
	var cons jetstream.Consumer
	err := n.starting(ctx, "JetStream's "+d.name+" consumer", func(ctx context.Context) (err error) {
		cons, err = n.js.CreateOrUpdateConsumer(ctx, d.stream, jetstream.ConsumerConfig{
			Durable: ConsumerName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: n.cfg.AckWait,
			MaxAckPending: -1, DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("%s consumer: %w", d.name, err)
	}
	var logKey [crypto.SecretBoxKeySize]byte
	copy(logKey[:], n.keys.LogKey)
	log, st, err := openRoundLog(filepath.Join(n.cfg.StateDir, d.name+".log"), logKey, n.mode.payloadSize(), n.cfg.Now())
	if err != nil {
		return err
	}
	defer log.close()
	mixer := mix.New[entry](d.params, st.lastRelease)
	mixer.Restore(st.seen, st.lastRelease, st.buffer)
	// The batch logged before a crash was acknowledged when the node
	// started (settle); a copy of its messages may still be on its way:
	// skip is their sequences. An input that was being handed on to
	// another node was handed on again (passon.go), and is not skipped
	// should it come back.
	skip := n.acked[d.name]
	if skip == nil {
		skip = map[uint64]bool{}
	}
	if len(st.unacked) > 0 { // logged since, by an earlier Run of this node
		more, err := ackLogged(ctx, n.js.Conn(), log, st, n.cfg.AckWait)
		if err != nil {
			return fmt.Errorf("%s: acknowledging: %w", d.name, err)
		}
		maps.Copy(skip, more)
	}
	if st.pending != nil {
		// A dead drop written before a crash: post the very same bytes.
		if err := d.publish(ctx, log, mixer, st.pending); err != nil {
			return err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := max(1, min(n.cfg.BatchSize, d.params.ThresholdMax-mixer.Seen()))
		batch, err := cons.Fetch(want, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			n.log.Warn("fetching messages", "direction", d.name, "err", err)
			time.Sleep(time.Second)
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if len(msgs) == 0 {
			continue
		}
		now := n.cfg.Now()
		entries := d.openAll(toInMsgs(msgs), n.mode.opener(n.keys, now), skip, log.seen)
		known, err := d.recipients(ctx, newest(msgs))
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		others, err := d.othersOpen(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		handOn(entries, others)
		room := mixer.Room()
		for i := range entries {
			if e := &entries[i]; e.kind == kindReal && !d.admit(e, known, log.seen, &room, now) {
				e.kind, e.payload = kindCover, nil
			}
		}
		// Durable first, then acknowledge every message of the batch, and
		// wait until JetStream confirms each acknowledgement (ackConfirmed):
		// what is acknowledged, and when, depends on the batch alone, never
		// on which messages were real. An input no key of the node opened
		// may be handed on instead (passon.go).
		if err := log.appendBatch(now, entries); err != nil {
			return fmt.Errorf("%s round log: %w", d.name, err)
		}
		if crashAfterLogging.Load() {
			return errCrashed
		}
		passed := map[uint64][]byte{}
		for _, e := range entries {
			if e.kind == kindPassed {
				passed[e.seq] = passOn.nak(e.delivered)
			}
		}
		acks := make([]ack, 0, len(msgs))
		for _, m := range msgs {
			a := ack{reply: m.Reply(), body: ackBody}
			if md, err := m.Metadata(); err == nil {
				if nak, ok := passed[md.Sequence.Stream]; ok {
					a.body = nak
				}
			}
			acks = append(acks, a)
		}
		if err := ackConfirmed(ctx, n.js.Conn(), acks, n.cfg.AckWait, n.log); err != nil {
			return fmt.Errorf("%s: acknowledging: %w", d.name, err)
		}
		if err := log.appendAcked(); err != nil {
			return err
		}
		n.m.inputs.WithLabelValues(d.name).Add(float64(len(msgs)))
		d.countUnopened(entries, now)
		for _, e := range entries {
			if e.kind == kindReal || e.kind == kindCover {
				mixer.Add(e, e.kind == kindReal, now)
			}
		}
		n.m.waiting.WithLabelValues(d.name).Set(float64(mixer.Seen()))
		if mixer.Due(now) {
			if err := d.release(ctx, log, mixer); err != nil {
				return err
			}
		} else if log.compactDue(now) {
			if err := log.compact(now, mixer.Seen(), mixer.LastRelease(), mixer.Buffered()); err != nil {
				return fmt.Errorf("%s round log: %w", d.name, err)
			}
		}
	}
}

// unopenedWarnEvery bounds how often a node warns that whole batches
// open under none of its keys.
const unopenedWarnEvery = time.Minute

// countUnopened counts the inputs of a batch that no key of the node
// opened (handed on to another node or given up), and those given up
// (taken as cover, lost if they were real), and warns when none of the
// batch opened. Senders seal cover to the same keys as real messages, so
// an unopened input may have been either: the counts and the warning say
// nothing of which inputs were real. A whole batch unopened means the
// senders do not seal to this node's published key (their view of the
// published keys predates it): the node does no work for them, which
// operators must see.
func (d *direction) countUnopened(entries []entry, now time.Time) {
	unopened, dropped := 0, 0
	for _, e := range entries {
		switch e.kind {
		case kindUnopened:
			unopened++
			dropped++
		case kindPassed:
			unopened++
		}
	}
	d.n.m.unopened.WithLabelValues(d.name).Add(float64(unopened))
	d.n.m.dropped.WithLabelValues(d.name).Add(float64(dropped))
	if unopened > 0 && unopened == len(entries) && now.Sub(d.warnedUnopened) >= unopenedWarnEvery {
		d.warnedUnopened = now
		d.n.log.Warn("no input of the batch opened under this node's messaging keys: senders seal to keys it does not hold (is its messaging key published, and do senders fetch the published keys afresh?); inputs are handed on to other CoverNodes, and taken as cover when none opens them",
			"direction", d.name, "inputs", len(entries), "given_up", dropped)
	}
}

// othersOpen reports whether the published keys name another CoverNode
// with a messaging key (passon.go). Every batch asks alike, whatever it
// holds; the keys are those recipients fetched, or at most
// hierarchyMaxAge old.
func (d *direction) othersOpen(ctx context.Context) (bool, error) {
	v, err := d.n.hierarchy(ctx, false)
	if err != nil {
		return false, err
	}
	return othersOpen(v, d.n.keys.id()), nil
}

// admit decides whether a real input is kept as real. It is not, and is
// taken as cover (counted and acknowledged like every input, nothing of
// it published), when it is a copy of a real input already taken (the
// replay guard, seen.go); when its recipient tag names no journalist of
// the current hierarchy (known, U2J only; nil for J2U), so that messages
// sealed to no one cannot queue ahead of genuine ones; or when the mixer
// holds as many real messages as it may (mix.Params.MaxWaiting), which
// bounds how long a genuine message can wait behind a flood. room counts
// down what the mixer can still take in this batch.
func (d *direction) admit(e *entry, known tagSet, seen *seenSet, room *int, now time.Time) bool {
	if known != nil && !tagCheckDisabled && !known[protocol.RecipientTag(e.payload[:protocol.RecipientTagSize])] {
		return false
	}
	if *room <= 0 {
		return false
	}
	if !seen.take(e.id, now) {
		return false
	}
	*room--
	return true
}

// recipients gives the journalists a U2J input may name (nil for J2U).
// The published keys are fetched again unless the last fetch began after
// the newest message of the batch was appended: a reader can only name a
// journalist whose key was published before it sent, so a journalist
// whose first key was just published is known. Every batch asks alike,
// whatever it holds.
func (d *direction) recipients(ctx context.Context, newest time.Time) (tagSet, error) {
	if d.kind != deaddrop.Journalist {
		return nil, nil
	}
	v, err := d.n.hierarchy(ctx, false, newest)
	if err != nil {
		return nil, err
	}
	return d.n.mode.tags(v), nil
}

// newest is when the newest message of a batch was appended to its stream.
func newest(msgs []jetstream.Msg) time.Time {
	var t time.Time
	for _, m := range msgs {
		if md, err := m.Metadata(); err == nil && md.Timestamp.After(t) {
			t = md.Timestamp
		}
	}
	return t
}

// inMsg is a message taken from a stream.
type inMsg struct {
	seq       uint64
	reply     string
	data      []byte
	delivered uint64 // deliveries so far, this one included
}

func toInMsgs(msgs []jetstream.Msg) []inMsg {
	out := make([]inMsg, 0, len(msgs))
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			continue // not a JetStream message; it is acknowledged with the rest
		}
		out = append(out, inMsg{seq: md.Sequence.Stream, reply: m.Reply(), data: m.Data(), delivered: md.NumDelivered})
	}
	return out
}

// openAll opens a batch's messages, in parallel, in stream order, and
// names each for the replay guard (every input alike, so that how long it
// takes does not depend on which were real). Messages seen before a crash
// (their sequence is in skip) are kept out.
func (d *direction) openAll(msgs []inMsg, o batchOpener, skip map[uint64]bool, seen *seenSet) []entry {
	out := make([]entry, len(msgs))
	keep := make([]bool, len(msgs))
	workers := d.n.cfg.Workers
	if workers <= 0 {
		workers = defaultWorkers()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(msgs); i += workers {
				if skip[msgs[i].seq] {
					continue
				}
				e := d.open(o, msgs[i].data)
				e.seq, e.reply, e.id, e.delivered = msgs[i].seq, msgs[i].reply, seen.id(e.payload), msgs[i].delivered
				out[i], keep[i] = e, true
			}
		}()
	}
	wg.Wait()
	var es []entry
	for i := range out {
		if keep[i] {
			es = append(es, out[i])
		}
	}
	return es
}

// release builds, signs, logs and posts one dead drop.
func (d *direction) release(ctx context.Context, log *roundLog, mixer *mix.Mixer[entry]) error {
	n := d.n
	now := n.cfg.Now()
	start := time.Now()
	reals, padding := mixer.Release(now)
	n.m.waiting.WithLabelValues(d.name).Set(0)
	msgs, err := d.build(ctx, reals, padding)
	if err != nil {
		return fmt.Errorf("%s: building a dead drop: %w", d.name, err)
	}
	if err := mix.Shuffle(msgs, rand.Reader); err != nil {
		return err
	}
	sk, epoch, err := n.keys.signer(now)
	if err != nil {
		return err
	}
	var data []byte
	for _, m := range msgs {
		data = append(data, m...)
	}
	if d.kind != deaddrop.Journalist {
		epoch = 0 // only journalist dead drops carry one
	}
	body, err := n.mode.deadDrop(d.kind, now.UTC().Truncate(time.Microsecond), data, int32(epoch), sk)
	if err != nil {
		return err
	}
	if err := log.appendRelease(now, len(reals), body); err != nil {
		return fmt.Errorf("%s round log: %w", d.name, err)
	}
	if err := d.publish(ctx, log, mixer, body); err != nil {
		return err
	}
	n.m.rounds.WithLabelValues(d.name).Observe(time.Since(start).Seconds())
	return nil
}

// publish posts a logged dead drop until the API accepts it, then records
// that and compacts the log.
func (d *direction) publish(ctx context.Context, log *roundLog, mixer *mix.Mixer[entry], body []byte) error {
	n := d.n
	wait := n.cfg.RetryMin
	for {
		err := n.cfg.API.PostDeadDrop(ctx, d.kind, body)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n.m.retries.WithLabelValues(d.name).Inc()
		n.log.Warn("posting a dead drop", "direction", d.name, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, n.cfg.RetryMax)
	}
	n.m.published.WithLabelValues(d.name).Inc()
	n.log.Info("dead drop published", "direction", d.name)
	if err := log.appendPublished(); err != nil {
		return err
	}
	return log.compact(n.cfg.Now(), mixer.Seen(), mixer.LastRelease(), mixer.Buffered())
}

func defaultWorkers() int { return runtime.GOMAXPROCS(0) }
