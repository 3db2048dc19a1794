package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// Config configures an install.
type Config struct {
	StateDir string
	// API is the API; IngestURL the host readers' messages go to (default:
	// the API's).
	API       *apiclient.Client
	IngestURL string
	// Anchors are the organisation keys the app ships with (ParseAnchors
	// reads their files). Their protocol mode (keys.SignedPublicKey.Mode)
	// is the install's: a new install keeps it for good (no downgrade); a
	// later start with anchors of the other mode, or with an anchor not
	// self-signed in its mode's form, is refused.
	Anchors []keys.SignedPublicKey
	KDF     KDFParams
	// MessagesPerRun and MinRunInterval shape the cover traffic: upstream
	// sends 2 messages per background run, at most one run an hour.
	MessagesPerRun int
	MinRunInterval time.Duration
	Now            func() time.Time
}

// App is one install of the app, started.
type App struct {
	cfg    Config
	ingest *apiclient.Client // where messages go: the ingest's host, or the API
	store  *storage
	pub    *publicState
	mode   protocolMode // chosen once, by Start
}

// publicState is what an install keeps outside the encrypted storage: all
// of it public data, the same for every reader.
type publicState struct {
	DeviceKey      string            `json:"device_key"` // stands in for the platform keystore
	LastRun        time.Time         `json:"last_run"`
	Keys           json.RawMessage   `json:"keys,omitempty"`
	Status         json.RawMessage   `json:"status,omitempty"`
	DeadDrops      []json.RawMessage `json:"dead_drops"`
	MaxDeadDropID  int64             `json:"max_dead_drop_id"`
	KeysDownloaded time.Time         `json:"keys_downloaded"`
	// Protocol is the mode the install was created in (docs/PQ.md §8);
	// empty in an install made before modes existed: coverdrop. Every
	// install of a deployment has the same.
	Protocol string `json:"protocol,omitempty"`
}

// deviceKey decodes the install's device key.
func (p *publicState) deviceKey() ([crypto.SecretBoxKeySize]byte, error) {
	var k [crypto.SecretBoxKeySize]byte
	dk, err := hex.DecodeString(p.DeviceKey)
	if err != nil || len(dk) != len(k) {
		return k, errors.New("the install's device key is damaged")
	}
	copy(k[:], dk)
	return k, nil
}

// Start is an app start: on the first it creates the install's state and
// its storage (random bytes: no mailbox); on every start it rewrites all of
// the install's files (see writeAll), the storage with fresh randomness.
func Start(cfg Config) (*App, error) {
	if cfg.KDF.Time == 0 {
		cfg.KDF = DefaultKDF
	}
	if cfg.MessagesPerRun <= 0 {
		cfg.MessagesPerRun = 2
	}
	if cfg.MinRunInterval == 0 {
		cfg.MinRunInterval = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, pub: &publicState{}, ingest: cfg.API}
	if cfg.IngestURL != "" && cfg.API != nil {
		a.ingest = cfg.API.At(cfg.IngestURL)
	}
	b, err := os.ReadFile(a.path(publicFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		var dk [crypto.SecretBoxKeySize]byte
		if _, err := rand.Read(dk[:]); err != nil {
			return nil, err
		}
		a.pub.DeviceKey = hex.EncodeToString(dk[:])
		if a.pub.Protocol, err = anchorsMode(cfg.Anchors); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, a.pub); err != nil {
			return nil, fmt.Errorf("%s: %w", a.path(publicFile), err)
		}
	}
	if a.mode, err = pinnedMode(a.pub.Protocol, cfg); err != nil {
		return nil, err
	}
	a.pub.Protocol = a.mode.name()
	dk, err := a.pub.deviceKey()
	if err != nil {
		return nil, err
	}
	a.store = &storage{path: a.path(storageFile), kdf: cfg.KDF, deviceKey: dk}
	storageBytes := a.store.resealed
	if _, err := os.Stat(a.store.path); errors.Is(err, os.ErrNotExist) {
		storageBytes = a.store.created
	}
	if err := a.writeAll(nil, storageBytes); err != nil {
		return nil, err
	}
	return a, nil
}

// pinnedMode is the install's mode: pinned, the one it was created in;
// the anchors it is started with must be of that mode.
func pinnedMode(pinned string, cfg Config) (protocolMode, error) {
	m, err := modeFor(pinned)
	if err != nil {
		return nil, err
	}
	given, err := anchorsMode(cfg.Anchors)
	if err != nil {
		return nil, err
	}
	if given != "" && given != m.name() {
		return nil, fmt.Errorf("this install speaks the %s protocol and is started with anchors of a %s deployment: an install never changes protocol", m.name(), given)
	}
	return m, nil
}

// The install's files. Every call that writes one of them writes all
// three (writeAll), so that their modification times move together and say
// nothing about whether a mailbox exists or was used.
const (
	publicFile  = "public.json"
	queueFile   = "queue.bin"
	storageFile = "storage.bin"
)

func (a *App) path(name string) string { return filepath.Join(a.cfg.StateDir, name) }

// writeAll replaces the install's three files, each atomically: public.json
// with the public state, queue.bin with q (nil: the queue as it is on disk,
// or a new queue of cover messages once there are keys to build them), and
// storage.bin with what storageBytes returns (nil: the storage re-sealed
// with fresh randomness).
//
// Every call that writes any of the files writes all of them, whoever the
// reader is, so that someone who seizes the device learns from the files'
// times only when the app last did anything: not that a message was queued
// (queue.bin newer than the last run) nor that a mailbox was opened
// (storage.bin newer than the last start). public.json and queue.bin hold
// the same bytes when rewritten: the first holds public data only and the
// second is random-looking without the queue secret.
//
// Every file's bytes are computed before the first write, so that the
// writes follow each other in the same order and with the same gaps
// whatever the call: the passphrase stretch of sealing a mailbox (seconds
// on a phone) never sits between two writes, where a seized device would
// show it as a storage.bin seconds newer than public.json, that is, a
// mailbox just used. public.json is written first: it holds the device key
// storage.bin is sealed under.
func (a *App) writeAll(q *queue, storageBytes func() ([]byte, error)) error {
	if storageBytes == nil {
		storageBytes = a.store.resealed
	}
	pb, err := json.Marshal(a.pub)
	if err != nil {
		return err
	}
	qb, err := a.queueBytes(q)
	if err != nil {
		return err
	}
	if testHookStretchBetweenWrites {
		if err := a.writeFiles(pb, qb, nil); err != nil {
			return err
		}
		pb, qb = nil, nil
	}
	sb, err := storageBytes()
	if err != nil {
		return err
	}
	return a.writeFiles(pb, qb, sb)
}

// writeFiles writes the install's files in their one order, back to back;
// a nil one is not written (there is no queue before the first refresh).
func (a *App) writeFiles(public, queue, storage []byte) error {
	if public != nil {
		if err := atomicfile.Write(a.path(publicFile), public, 0o600); err != nil {
			return err
		}
	}
	if queue != nil {
		if err := atomicfile.Write(a.path(queueFile), queue, 0o600); err != nil {
			return err
		}
	}
	if storage != nil {
		return atomicfile.Write(a.path(storageFile), storage, 0o600)
	}
	return nil
}

// testHookStretchBetweenWrites brings back, for the negative control of
// the seized-device tests, the old writeAll that computed storage.bin's
// bytes (stretching the passphrase when sealing) after writing the other
// two files.
var testHookStretchBetweenWrites bool

// queueBytes returns queue.bin's next bytes: q's, or the file's as it is,
// or a new queue of cover messages once there are keys to build them
// (nil before: no queue yet).
func (a *App) queueBytes(q *queue) ([]byte, error) {
	if q != nil {
		return q.marshal(), nil
	}
	b, err := os.ReadFile(a.path(queueFile))
	switch {
	case err == nil:
		return b, nil // rewritten as it is: a damaged queue is reported where it is read
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	case a.hasKeys():
		nq, err := newQueue(a.mode.messageSize(), a.coverMessage)
		if err != nil {
			return nil, err
		}
		return nq.marshal(), nil
	}
	return nil, nil
}

// hasKeys reports whether the cached keys verify, so that cover messages
// can be built.
func (a *App) hasKeys() bool {
	return a.CheckKeys() == nil
}

// CheckKeys reports whether the install holds keys that verify now, in
// its protocol mode, from its anchors.
func (a *App) CheckKeys() error {
	_, err := a.verified()
	return err
}

// Protocol is the install's protocol mode, ProtocolCoverDrop or
// ProtocolPQ.
func (a *App) Protocol() string { return a.mode.name() }

// verified returns the cached keys, verified in the install's mode from
// the anchors now.
func (a *App) verified() (verifiedKeys, error) {
	if len(a.pub.Keys) == 0 {
		return nil, errors.New("no keys downloaded yet: run a background refresh first")
	}
	return a.mode.verify(a.pub.Keys, a.cfg.Anchors, a.cfg.Now())
}

// Verified returns the cached keys of a coverdrop install, verified from
// the anchors now.
func (a *App) Verified() (*keys.Verified, error) {
	v, err := a.verified()
	if err != nil {
		return nil, err
	}
	cd, ok := v.(coverDropKeys)
	if !ok {
		return nil, fmt.Errorf("this install speaks the %s protocol, whose keys are not a CoverDrop hierarchy", a.mode.name())
	}
	return cd.v, nil
}

// Available reports whether the organisation says the system is up.
func (a *App) Available() bool {
	var st struct {
		IsAvailable bool `json:"is_available"`
	}
	return len(a.pub.Status) > 0 && json.Unmarshal(a.pub.Status, &st) == nil && st.IsAvailable
}

// MaxClockSkew is how far past the app's clock a dead drop's created_at
// may be and still be kept (deaddrop.MaxClockSkew).
const MaxClockSkew = deaddrop.MaxClockSkew

// Refresh downloads the status, the keys and new user dead drops, as every
// app does whether or not its reader is a source, and on success rewrites
// the install's files (writeAll). On failure nothing changes, in memory or
// on disk.
func (a *App) Refresh(ctx context.Context) error {
	next, err := a.refresh(ctx)
	if err != nil {
		return err
	}
	a.pub = next
	return a.writeAll(nil, nil)
}

// refresh returns the public state after a refresh, without changing the
// App's. Nothing that reaches the app from the network moves its dead-drop
// position unchecked: the page must pass CheckPage, and only dead drops
// signed by a CoverNode identity key of the freshly verified hierarchy and
// not dated in the future are kept or move MaxDeadDropID. The work is the
// same for every install: it does not depend on a mailbox.
func (a *App) refresh(ctx context.Context) (*publicState, error) {
	next := *a.pub
	next.DeadDrops = append([]json.RawMessage(nil), a.pub.DeadDrops...)
	now := a.cfg.Now()
	st, err := a.cfg.API.StatusBody(ctx)
	if err != nil {
		return nil, err
	}
	next.Status = st
	// The keys come first, so that a dead drop signed by a CoverNode
	// identity key published since the last refresh verifies below.
	kb, err := a.mode.publicKeys(ctx, a.cfg.API)
	if err != nil {
		return nil, err
	}
	v, err := a.mode.verify(kb, a.cfg.Anchors, now)
	if err != nil {
		if testHookWriteRefusedKeys {
			a.pub.Keys = kb
			a.writeAll(nil, nil)
		}
		return nil, fmt.Errorf("the published keys do not verify: %w", err)
	}
	next.Keys, next.KeysDownloaded = kb, now
	trimDeadDrops(&next, now)
	after := next.MaxDeadDropID
	db, err := a.cfg.API.DeadDropsAfter(ctx, deaddrop.User, after)
	if err != nil {
		return nil, err
	}
	l, err := deaddrop.ParseList(deaddrop.User, db)
	if err != nil {
		return nil, err
	}
	if err := l.CheckPage(after); err != nil {
		return nil, fmt.Errorf("the API's user dead drops after %d: %w", after, err)
	}
	for _, d := range l.DeadDrops {
		// A dead drop that does not verify, or is dated beyond the
		// allowed skew, is skipped, and does not by itself move the
		// position: the next refresh asks for it again, with fresh keys
		// and a later clock, so that a genuine one is not lost to a
		// tampered page or a passing clock error. A verified dead drop
		// after it does move the position past it: otherwise one dead drop
		// that never verifies (signed by a key that has since expired)
		// would hold every install at the same page forever. Skipped dead
		// drops after the last verified one are asked for again.
		if (v.verifyDeadDrop(d) != nil || d.CreatedAt.After(now.Add(MaxClockSkew))) && !testHookKeepUnchecked {
			continue
		}
		next.MaxDeadDropID = d.ID
		if d.CreatedAt.Before(now.Add(-protocol.MessageValidFor)) {
			continue // verified, but too old to keep
		}
		b, err := json.Marshal(d) // as verified, not as served
		if err != nil {
			return nil, err
		}
		next.DeadDrops = append(next.DeadDrops, b)
	}
	return &next, nil
}

// trimDeadDrops keeps the cached dead drops of the last protocol.MessageValidFor by
// the app's clock, up to MaxClockSkew ahead of it. Dead drops are verified
// before they are cached, so their dates are the CoverNode's; still, one
// date far in the future must not make the trim drop every other dead
// drop, so the trim goes by the app's clock (upstream goes by the newest
// dead drop's date). A device clock set back by more than MaxClockSkew
// drops the dead drops it now sees as future ones.
// It also drops what an older version cached unchecked (unparsable, or an
// id beyond 32 bits), and brings back a position pushed beyond 32 bits to
// the highest id cached, so that such an install can ask the API again.
func trimDeadDrops(p *publicState, now time.Time) {
	var kept []json.RawMessage
	var maxKept int64
	for _, raw := range p.DeadDrops {
		d, err := deaddrop.Parse(deaddrop.User, raw, false)
		if err != nil || d.ID <= 0 || d.ID > math.MaxInt32 ||
			d.CreatedAt.Before(now.Add(-protocol.MessageValidFor)) || d.CreatedAt.After(now.Add(MaxClockSkew)) {
			continue
		}
		kept = append(kept, raw)
		maxKept = max(maxKept, d.ID)
	}
	p.DeadDrops = kept
	if p.MaxDeadDropID < 0 || p.MaxDeadDropID > math.MaxInt32 {
		p.MaxDeadDropID = maxKept
	}
}

func (a *App) deadDropsJSON() []byte {
	b, _ := json.Marshal(map[string]any{"dead_drops": a.pub.DeadDrops})
	return b
}

// coverMessage builds a cover message for the current CoverNode keys, in
// the install's mode.
func (a *App) coverMessage() ([]byte, error) {
	v, err := a.verified()
	if err != nil {
		return nil, err
	}
	return v.cover()
}

// loadQueue reads the sending queue; before the first refresh there is
// none yet, and it is a new one of cover messages (written by writeAll).
func (a *App) loadQueue() (*queue, error) {
	q, err := a.storedQueue()
	if q == nil && err == nil {
		return newQueue(a.mode.messageSize(), a.coverMessage)
	}
	return q, err
}

// storedQueue reads queue.bin; nil when there is none yet.
func (a *App) storedQueue() (*queue, error) {
	b, err := os.ReadFile(a.path(queueFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return unmarshalQueue(b, a.mode.messageSize())
}

func (a *App) saveQueue(q *queue) error {
	return atomicfile.Write(a.path(queueFile), q.marshal(), 0o600)
}

// RunResult says what a background run did.
type RunResult struct {
	Sent    int
	Skipped string // why nothing was sent, if so
}

// BackgroundRun is what the app's background job does: refresh, then send
// the queue's front message MessagesPerRun times, at most once per
// MinRunInterval. It does the same whether or not anything real is queued:
// every send sends one fixed-size message and dequeues it. Once the
// refresh succeeded, it rewrites the install's files (writeAll), whatever
// happens to the sends.
func (a *App) BackgroundRun(ctx context.Context) (res RunResult, err error) {
	now := a.cfg.Now()
	if !a.pub.LastRun.IsZero() && now.Sub(a.pub.LastRun) < a.cfg.MinRunInterval {
		return RunResult{Skipped: fmt.Sprintf("the last run was %s ago; runs are at least %s apart", now.Sub(a.pub.LastRun).Round(time.Second), a.cfg.MinRunInterval)}, nil
	}
	next, err := a.refresh(ctx)
	if err != nil {
		return RunResult{}, err
	}
	next.LastRun = now
	a.pub = next
	var q *queue
	defer func() {
		if werr := a.writeAll(q, nil); err == nil {
			err = werr
		}
	}()
	if !a.Available() {
		return RunResult{Skipped: "the organisation says the secure channel is unavailable"}, nil
	}
	if q, err = a.loadQueue(); err != nil {
		return RunResult{}, err
	}
	for range a.cfg.MessagesPerRun {
		if err := a.ingest.SendUserMessage(ctx, q.front()); err != nil {
			return res, err // the message stays at the front for the next run
		}
		cover, err := a.coverMessage()
		if err != nil {
			return res, err
		}
		if err := q.dequeue(cover); err != nil {
			return res, err
		}
		// Saved after every send, so that a message sent is not sent
		// again if the app dies before the run ends.
		if err := a.saveQueue(q); err != nil {
			return res, err
		}
		res.Sent++
	}
	return res, nil
}

// Message is one message of a conversation.
type Message struct {
	From       string    `json:"from"` // "me", or the journalist's id
	Text       string    `json:"text,omitempty"`
	HandoverTo string    `json:"handover_to,omitempty"`
	Time       time.Time `json:"time"`
}

// mailbox is what the encrypted storage holds. The reader's key material
// is its mode's: UserKey in coverdrop mode; ReaderID and ReplyKeys in pq
// mode.
type mailbox struct {
	UserKey     *keys.KeyPair        `json:"user_key,omitempty"`
	ReaderID    *pq.ReaderID         `json:"reader_id,omitempty"`
	ReplyKeys   replyKeys            `json:"reply_keys,omitempty"`
	QueueSecret []byte               `json:"queue_secret"`
	Threads     map[string][]Message `json:"threads"`
}

// Session is an unlocked mailbox.
type Session struct {
	a          *App
	passphrase string
	mb         *mailbox
}

// CreateMailbox sets up a new mailbox under a new passphrase, replacing
// whatever the storage held, and returns the passphrase.
func (a *App) CreateMailbox() (string, *Session, error) {
	pass, err := NewPassphrase(PassphraseWords)
	if err != nil {
		return "", nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, err
	}
	mb := &mailbox{QueueSecret: secret, Threads: map[string][]Message{}}
	if err := a.mode.newReader(mb, a.cfg.Now()); err != nil {
		return "", nil, err
	}
	s := &Session{a: a, passphrase: pass, mb: mb}
	return pass, s, s.save(nil)
}

// Unlock opens the mailbox, reads any replies in the cached dead drops, and
// forgets messages older than 14 days. A wrong passphrase gives
// ErrNoMailbox, as does a storage that holds no mailbox; either way Unlock
// rewrites the install's files (writeAll), so that their times do not say
// whether the passphrase opened anything.
func (a *App) Unlock(passphrase string) (*Session, error) {
	b, err := a.store.open(passphrase)
	if errors.Is(err, ErrNoMailbox) {
		return nil, a.noMailbox()
	}
	if err != nil {
		return nil, err
	}
	var mb mailbox
	if err := json.Unmarshal(b, &mb); err != nil || !a.mode.hasReader(&mb) {
		return nil, a.noMailbox()
	}
	if mb.Threads == nil {
		mb.Threads = map[string][]Message{}
	}
	s := &Session{a: a, passphrase: passphrase, mb: &mb}
	s.readReplies()
	s.expire()
	return s, s.save(nil)
}

// noMailbox rewrites the install's files as an unlock that opened a
// mailbox does, and returns ErrNoMailbox.
func (a *App) noMailbox() error {
	if err := a.writeAll(nil, nil); err != nil {
		return err
	}
	return ErrNoMailbox
}

// save seals the mailbox in the storage, and rewrites the install's other
// files with it (writeAll): q if the queue changed, else as they are.
func (s *Session) save(q *queue) error {
	b, err := json.Marshal(s.mb)
	if err != nil {
		return err
	}
	return s.a.writeAll(q, func() ([]byte, error) { return s.a.store.sealed(s.passphrase, b) })
}

// readReplies trial-decrypts the cached dead drops that verify with the
// reader's keys, in the install's mode; a reply seen before (same
// journalist, text and time) is not added again, so that each reply shows
// once however often its dead drop is read.
func (s *Session) readReplies() {
	v, err := s.a.verified()
	if err != nil {
		return
	}
	l, err := deaddrop.ParseList(deaddrop.User, s.a.deadDropsJSON())
	if err != nil {
		return
	}
	var dds []*deaddrop.DeadDrop
	for _, d := range l.DeadDrops {
		if v.verifyDeadDrop(d) == nil {
			dds = append(dds, d)
		}
	}
	for _, r := range v.replies(s.mb, dds) {
		m := Message{From: r.JournalistID, Text: r.Message.Text, HandoverTo: r.Message.HandoverTo, Time: r.CreatedAt}
		if !s.has(r.JournalistID, m) {
			s.mb.Threads[r.JournalistID] = append(s.mb.Threads[r.JournalistID], m)
		}
	}
	for id := range s.mb.Threads {
		sort.SliceStable(s.mb.Threads[id], func(i, j int) bool { return s.mb.Threads[id][i].Time.Before(s.mb.Threads[id][j].Time) })
	}
}

func (s *Session) has(id string, m Message) bool {
	if testHookKeepReplyCopies {
		return false
	}
	for _, x := range s.mb.Threads[id] {
		if x.From == m.From && x.Text == m.Text && x.HandoverTo == m.HandoverTo && x.Time.Equal(m.Time) {
			return true
		}
	}
	return false
}

func (s *Session) expire() {
	s.a.mode.expire(s.mb, s.a.cfg.Now())
	cutoff := s.a.cfg.Now().Add(-protocol.MessageValidFor)
	for id, msgs := range s.mb.Threads {
		var kept []Message
		for _, m := range msgs {
			if m.Time.After(cutoff) {
				kept = append(kept, m)
			}
		}
		if len(kept) == 0 {
			delete(s.mb.Threads, id)
		} else {
			s.mb.Threads[id] = kept
		}
	}
}

// Send queues a message to a journalist or desk. It goes out with the next
// background run, in place of a cover message.
func (s *Session) Send(journalistID, text string) error {
	if strings.TrimSpace(text) == "" {
		return errors.New("the message is empty")
	}
	v, err := s.a.verified()
	if err != nil {
		return err
	}
	known := false
	var ids []string
	for _, p := range v.profiles() {
		known = known || p.ID == journalistID
		ids = append(ids, p.ID)
	}
	if !known {
		slices.Sort(ids)
		return fmt.Errorf("there is no journalist %q; the journalists and desks are: %s", journalistID, strings.Join(ids, ", "))
	}
	msg, keep, err := v.seal(s.mb, journalistID, text, s.a.cfg.Now())
	if err != nil {
		return err
	}
	q, err := s.a.loadQueue()
	if err != nil {
		return err
	}
	if err := q.enqueue(s.mb.QueueSecret, msg); err != nil {
		return err
	}
	keep()
	s.mb.Threads[journalistID] = append(s.mb.Threads[journalistID], Message{From: "me", Text: text, Time: s.a.cfg.Now()})
	if testHookSendAtOnce {
		if err := s.a.ingest.SendUserMessage(context.Background(), msg); err != nil {
			return err
		}
	}
	return s.save(q)
}

// testHookSendAtOnce makes Send post the message at once as well as queue
// it: the leak the queue exists to prevent (a request tied to what the
// reader does), for the negative control of the wire tests.
var testHookSendAtOnce bool

// Hooks for the negative controls of the hostile-API tests, set only by
// tests: testHookWriteRefusedKeys rewrites the install with a key set that
// does not verify (as if it had moved the install before checking);
// testHookKeepUnchecked keeps dead drops that do not verify or are dated
// beyond the skew; testHookKeepReplyCopies shows a reply again each time a
// dead drop carrying it is served.
var testHookWriteRefusedKeys, testHookKeepUnchecked, testHookKeepReplyCopies bool

// Queued is the number of real messages waiting to be sent. It writes
// nothing.
func (s *Session) Queued() (int, error) {
	q, err := s.a.storedQueue()
	if q == nil {
		return 0, err
	}
	return q.realCount(s.mb.QueueSecret), nil
}

// Threads returns a copy of the conversations by journalist id: changing
// it changes nothing in the mailbox.
func (s *Session) Threads() map[string][]Message {
	out := make(map[string][]Message, len(s.mb.Threads))
	for id, msgs := range s.mb.Threads {
		out[id] = slices.Clone(msgs)
	}
	return out
}

// Journalists lists the journalists and desks a reader can write to now:
// visible, with a published messaging key, by sort name. It makes no
// request (see Refresh).
func (a *App) Journalists() ([]keys.JournalistProfile, error) {
	v, err := a.verified()
	if err != nil {
		return nil, err
	}
	var out []keys.JournalistProfile
	for _, p := range v.profiles() {
		if p.Status == keys.StatusVisible && v.canWriteTo(p.ID) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SortName < out[j].SortName })
	return out, nil
}
