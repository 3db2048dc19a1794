// Package store keeps all of Chaff's shared state in NATS JetStream, as
// ARCHITECTURE.md maps it: message and dead-drop streams, and key-value
// buckets for keys, profiles, status and the signed-form replay guard.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/chaffhq/chaff/pq"
	"strconv"
	"strings"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subjects and names of the streams and buckets.
const (
	SubjectU2C             = "chaff.u2c"
	SubjectJ2C             = "chaff.j2c"
	SubjectUserDeadDrops   = "chaff.deaddrops.user"
	SubjectJournalistDrops = "chaff.deaddrops.journalist"

	StreamU2C                 = "CHAFF_U2C"
	StreamJ2C                 = "CHAFF_J2C"
	StreamUserDeadDrops       = "CHAFF_USER_DEAD_DROPS"
	StreamJournalistDeadDrops = "CHAFF_JOURNALIST_DEAD_DROPS"

	BucketKeys      = "chaff_keys"
	BucketAdminKeys = "chaff_admin_keys"
	BucketProfiles  = "chaff_profiles"
	BucketStatus    = "chaff_status"
	BucketSeenForms = "chaff_seen_forms"
	BucketIDForms   = "chaff_id_key_forms"
)

// Headers of a dead-drop record; the data is the message bytes.
const (
	headerCreatedAt = "Chaff-Created-At"
	headerSignature = "Chaff-Signature"
	headerEpoch     = "Chaff-Epoch"
)

// Config sets replication and retention.
type Config struct {
	// Replicas of every stream and bucket: 1 on an embedded server, 3 on a
	// cluster.
	Replicas int
	// DeadDropRetention is how long dead drops are kept (14 days).
	DeadDropRetention time.Duration
}

// DefaultRetention is upstream's dead-drop retention.
const DefaultRetention = 14 * 24 * time.Hour

// Store is the JetStream-backed state.
//
// Handlers reach its streams and buckets only through its methods: none
// of its JetStream handles is exported.
type Store struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config

	deadDrops map[deaddrop.Kind]jetstream.Stream

	keys, adminKeys, profiles, status, seenForms, idForms jetstream.KeyValue
	// buckets are the ones handlers write by name (Put, Purge, Mirror,
	// MaxRevision); seenForms is not among them.
	buckets map[string]jetstream.KeyValue
}

// Open creates or updates the streams and buckets and returns the store.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.DeadDropRetention <= 0 {
		cfg.DeadDropRetention = DefaultRetention
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(10*time.Second))
	if err != nil {
		return nil, err
	}
	s := &Store{nc: nc, js: js, cfg: cfg, deadDrops: map[deaddrop.Kind]jetstream.Stream{}}
	// Several replicas may start at once and create the same streams: on
	// a cluster that can time out while the meta group settles, so retry
	// for a while.
	retry := func(what string, op func(ctx context.Context) error) error {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			err := op(ctx)
			if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
				if err != nil {
					return fmt.Errorf("%s: %w", what, err)
				}
				return nil
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrJetStreamNotEnabled) && !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "already in use") {
				return fmt.Errorf("%s: %w", what, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for _, sc := range []jetstream.StreamConfig{
		// Messages wait for the CoverNodes' shared consumer, which removes
		// them once a round is acknowledged.
		{Name: StreamU2C, Subjects: []string{SubjectU2C}, Retention: jetstream.WorkQueuePolicy, Duplicates: 2 * time.Minute},
		{Name: StreamJ2C, Subjects: []string{SubjectJ2C}, Retention: jetstream.WorkQueuePolicy, Duplicates: 2 * time.Minute},
	} {
		sc.Storage, sc.Replicas = jetstream.FileStorage, cfg.Replicas
		if err := retry("stream "+sc.Name, func(ctx context.Context) error {
			_, err := ensure(ctx, js.CreateStream, js.UpdateStream, jetstream.ErrStreamNameAlreadyInUse, sc)
			return err
		}); err != nil {
			return nil, err
		}
	}
	for kind, sc := range map[deaddrop.Kind]jetstream.StreamConfig{
		deaddrop.User:       {Name: StreamUserDeadDrops, Subjects: []string{SubjectUserDeadDrops}},
		deaddrop.Journalist: {Name: StreamJournalistDeadDrops, Subjects: []string{SubjectJournalistDrops}},
	} {
		// The duplicate window spans the retention, so that a CoverNode
		// re-posting a dead drop gets the original back.
		sc.Storage, sc.Replicas = jetstream.FileStorage, cfg.Replicas
		sc.MaxAge, sc.Duplicates = cfg.DeadDropRetention, cfg.DeadDropRetention
		sc.AllowDirect = true
		var st jetstream.Stream
		if err := retry("stream "+sc.Name, func(ctx context.Context) (err error) {
			st, err = ensure(ctx, js.CreateStream, js.UpdateStream, jetstream.ErrStreamNameAlreadyInUse, sc)
			return err
		}); err != nil {
			return nil, err
		}
		s.deadDrops[kind] = st
	}
	for _, b := range []struct {
		dst *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&s.keys, jetstream.KeyValueConfig{Bucket: BucketKeys, Description: "key hierarchy; revision = epoch"}},
		{&s.adminKeys, jetstream.KeyValueConfig{Bucket: BucketAdminKeys, Description: "admin and backup keys"}},
		{&s.profiles, jetstream.KeyValueConfig{Bucket: BucketProfiles, Description: "journalist profiles"}},
		{&s.status, jetstream.KeyValueConfig{Bucket: BucketStatus, Description: "system status"}},
		{&s.idForms, jetstream.KeyValueConfig{Bucket: BucketIDForms, Description: "queued journalist identity-key rotation forms"}},
		{&s.seenForms, jetstream.KeyValueConfig{Bucket: BucketSeenForms, Description: "signed forms already used, until they expire", LimitMarkerTTL: time.Minute}},
	} {
		b.cfg.Storage, b.cfg.Replicas = jetstream.FileStorage, cfg.Replicas
		if err := retry("bucket "+b.cfg.Bucket, func(ctx context.Context) (err error) {
			*b.dst, err = ensure(ctx, js.CreateKeyValue, js.UpdateKeyValue, jetstream.ErrBucketExists, b.cfg)
			return err
		}); err != nil {
			return nil, err
		}
	}
	s.buckets = map[string]jetstream.KeyValue{
		BucketKeys: s.keys, BucketAdminKeys: s.adminKeys, BucketProfiles: s.profiles, BucketStatus: s.status, BucketIDForms: s.idForms,
	}
	return s, nil
}

// bucket returns the bucket named name (one of the Bucket constants but
// BucketSeenForms).
func (s *Store) bucket(name string) (jetstream.KeyValue, error) {
	kv := s.buckets[name]
	if kv == nil {
		return nil, fmt.Errorf("store: no bucket %q", name)
	}
	return kv, nil
}

// Put stores value under key in the bucket named name and returns the
// entry's revision.
func (s *Store) Put(ctx context.Context, name, key string, value []byte) (uint64, error) {
	kv, err := s.bucket(name)
	if err != nil {
		return 0, err
	}
	return kv.Put(ctx, key, value)
}

// Purge removes key, and its history, from the bucket named name.
func (s *Store) Purge(ctx context.Context, name, key string) error {
	kv, err := s.bucket(name)
	if err != nil {
		return err
	}
	return kv.Purge(ctx, key)
}

// Mirror starts an in-memory mirror of the bucket named name.
func (s *Store) Mirror(ctx context.Context, name string) (*Mirror, error) {
	kv, err := s.bucket(name)
	if err != nil {
		return nil, err
	}
	return NewMirror(ctx, kv)
}

// StreamMsgs returns how many messages the stream named name holds.
func (s *Store) StreamMsgs(ctx context.Context, name string) (uint64, error) {
	st, err := s.js.Stream(ctx, name)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// setupAttempt bounds one attempt at creating or updating a stream or a
// bucket. On a cluster, a request made while another replica creates the
// same stream can go unanswered (seen with nats-server 2.15: an update
// racing a create); a short attempt retries it soon.
const setupAttempt = 3 * time.Second

// ensure creates a stream or a bucket, or updates it when it exists with
// another configuration (create answers exists). It creates first because
// creating what exists with the same configuration is a no-op, so that
// replicas starting together do not race an update against a create.
func ensure[C, T any](ctx context.Context, create, update func(context.Context, C) (T, error), exists error, cfg C) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, setupAttempt)
	defer cancel()
	v, err := create(ctx, cfg)
	if errors.Is(err, exists) {
		return update(ctx, cfg)
	}
	return v, err
}

// attemptTimeout bounds one publish attempt.
const attemptTimeout = 2 * time.Second

// appendMessage appends a fixed-size message to a stream and returns once
// JetStream has acknowledged the durable append; retries continue until
// ctx ends. The message id is the message's SHA-256: a retry after a lost
// acknowledgement, and an app's or journalist's re-send of the same bytes
// after an answer lost on the way back (a request the API had carried
// out), fall in the stream's duplicate window and are stored once, not
// handed to two CoverNodes whose replay guards do not share what they
// took. Every message differs (fresh ephemeral keys), so only a copy
// shares an id.
func (s *Store) appendMessage(ctx context.Context, subject string, msg []byte) error {
	id := sha256.Sum256(msg)
	m := &nats.Msg{Subject: subject, Data: msg, Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, hex.EncodeToString(id[:16]))
	backoff := 20 * time.Millisecond
	for {
		// Each attempt waits for its acknowledgement a short while: an
		// acknowledgement lost with a failing node is not waited for until
		// the deadline, and the retry (same id) is de-duplicated.
		// Asynchronous publishing lets many requests' appends share the
		// connection's acknowledgement handling; each still waits for its
		// own acknowledgement.
		var err error
		fut, perr := s.js.PublishMsgAsync(m)
		if perr != nil {
			err = perr
		} else {
			t := time.NewTimer(attemptTimeout)
			select {
			case <-fut.Ok():
			case err = <-fut.Err():
			case <-t.C:
				err = context.DeadlineExceeded
			case <-ctx.Done():
				err = ctx.Err()
			}
			t.Stop()
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("append to %s: %w (last error: %v)", subject, ctx.Err(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("append to %s: %w (last error: %v)", subject, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// AppendU2C appends a reader's message for the CoverNodes. It takes a
// message of either protocol mode's size: the API, which knows the
// deployment's mode, refuses the other.
func (s *Store) AppendU2C(ctx context.Context, msg []byte) error {
	if len(msg) != protocol.U2CMessageSize && len(msg) != pq.U2CMessageSize {
		return fmt.Errorf("store: U2C message is %d bytes, want %d or (pq mode) %d", len(msg), protocol.U2CMessageSize, pq.U2CMessageSize)
	}
	return s.appendMessage(ctx, SubjectU2C, msg)
}

// AppendJ2C appends a journalist's message for the CoverNodes.
func (s *Store) AppendJ2C(ctx context.Context, msg []byte) error {
	if len(msg) != protocol.J2CMessageSize && len(msg) != pq.J2CMessageSize {
		return fmt.Errorf("store: J2C message is %d bytes, want %d or (pq mode) %d", len(msg), protocol.J2CMessageSize, pq.J2CMessageSize)
	}
	return s.appendMessage(ctx, SubjectJ2C, msg)
}

func deadDropSubject(kind deaddrop.Kind) string {
	if kind == deaddrop.User {
		return SubjectUserDeadDrops
	}
	return SubjectJournalistDrops
}

// PublishDeadDrop stores a verified dead drop and returns its id, the
// stream sequence. Re-publishing identical data within the retention
// returns the original id with duplicate set.
func (s *Store) PublishDeadDrop(ctx context.Context, d *deaddrop.DeadDrop) (id uint64, duplicate bool, err error) {
	ack, err := s.js.PublishMsg(ctx, deadDropMsg(d))
	if err != nil {
		return 0, false, err
	}
	return ack.Sequence, ack.Duplicate, nil
}

// DeadDropMsg is the stream message a dead drop is stored as, as
// PublishDeadDrop publishes it: what the adversary harness writes into a
// dead-drop stream directly, as whoever runs NATS can.
func DeadDropMsg(d *deaddrop.DeadDrop) *nats.Msg { return deadDropMsg(d) }

// deadDropMsg is the stream message of a dead drop: its data, and its
// date, signature and (journalist dead drops) epoch in headers, which
// decodeDeadDrop reads back.
func deadDropMsg(d *deaddrop.DeadDrop) *nats.Msg {
	sum := sha256.Sum256(d.Data)
	m := &nats.Msg{Subject: deadDropSubject(d.Kind), Data: d.Data, Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, hex.EncodeToString(sum[:]))
	m.Header.Set(headerCreatedAt, protocol.FormatTime(d.CreatedAt))
	m.Header.Set(headerSignature, hex.EncodeToString(d.Signature[:]))
	if d.Kind == deaddrop.Journalist {
		m.Header.Set(headerEpoch, strconv.FormatInt(int64(d.Epoch), 10))
	}
	return m
}

// ErrNotFound is returned for a dead drop that does not exist (any more).
var ErrNotFound = errors.New("store: not found")

// DeadDrop reads one dead drop by id.
func (s *Store) DeadDrop(ctx context.Context, kind deaddrop.Kind, id uint64) (*deaddrop.DeadDrop, error) {
	raw, err := s.deadDrops[kind].GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeDeadDrop(kind, raw.Sequence, raw.Data, raw.Header)
}

func decodeDeadDrop(kind deaddrop.Kind, seq uint64, data []byte, h nats.Header) (*deaddrop.DeadDrop, error) {
	d := &deaddrop.DeadDrop{Kind: kind, ID: int64(seq), Data: data}
	var err error
	if d.CreatedAt, err = protocol.ParseTime(h.Get(headerCreatedAt)); err != nil {
		return nil, fmt.Errorf("store: dead drop %d: %w", seq, err)
	}
	if sig, err := hex.DecodeString(h.Get(headerSignature)); err != nil || len(sig) != len(d.Signature) {
		return nil, fmt.Errorf("store: dead drop %d: bad signature header", seq)
	} else {
		copy(d.Signature[:], sig)
	}
	if kind == deaddrop.Journalist {
		e, err := strconv.ParseInt(h.Get(headerEpoch), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("store: dead drop %d: bad epoch header", seq)
		}
		d.Epoch = int32(e)
	}
	return d, nil
}

// DeadDropBounds returns the first and last id currently stored.
func (s *Store) DeadDropBounds(ctx context.Context, kind deaddrop.Kind) (first, last uint64, err error) {
	info, err := s.deadDrops[kind].Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.State.FirstSeq, info.State.LastSeq, nil
}

// WatchDeadDrops calls fn with the id of the newest dead drop of a kind
// whenever it grows, until ctx ends. A core subscription to the kind's
// subject says when one is published; the stream's state, read then (and
// again shortly after, in case the notice came before the stream stored
// it) and every few seconds in case a notice was missed, gives the id.
//
// It holds no JetStream consumer on purpose: stopping nats.go's ordered
// consumer blocks for up to 20 s while it re-creates itself after a
// missed heartbeat, so a replica stopped at that moment kept goroutines
// running after it returned.
func (s *Store) WatchDeadDrops(ctx context.Context, kind deaddrop.Kind, fn func(id uint64)) error {
	notice := make(chan struct{}, 1)
	sub, err := s.nc.Subscribe(deadDropSubject(kind), func(*nats.Msg) {
		select {
		case notice <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	_, last, err := s.DeadDropBounds(ctx, kind)
	if err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	if last > 0 {
		fn(last)
	}
	check := func() bool {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, l, err := s.DeadDropBounds(qctx, kind)
		if err != nil || l <= last {
			return false
		}
		last = l
		fn(l)
		return true
	}
	go func() {
		defer func() { _ = sub.Unsubscribe() }()
		poll := time.NewTicker(watchPoll)
		defer poll.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
				check()
			case <-notice:
				for wait := 20 * time.Millisecond; !check() && wait < time.Second && ctx.Err() == nil; wait *= 2 {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}
		}
	}()
	return nil
}

// watchPoll is how often WatchDeadDrops reads the stream's state without
// a notice.
const watchPoll = 2 * time.Second

// SeenForm records a used signed form until it expires; it reports false
// when the form was already recorded (a replay).
func (s *Store) SeenForm(ctx context.Context, signature []byte, notValidAfter, now time.Time) (bool, error) {
	sum := sha256.Sum256(signature)
	ttl := notValidAfter.Sub(now) + time.Minute // beyond the form's life, with margin for clock skew
	_, err := s.seenForms.Create(ctx, hex.EncodeToString(sum[:]), []byte{1}, jetstream.KeyTTL(max(ttl, time.Second)))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	return err == nil, err
}

// ForgetForm removes a form from the replay guard, when the request it
// carried failed and may be retried.
func (s *Store) ForgetForm(ctx context.Context, signature []byte) error {
	sum := sha256.Sum256(signature)
	return s.seenForms.Purge(ctx, hex.EncodeToString(sum[:]))
}
