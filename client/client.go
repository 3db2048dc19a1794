package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/apiclient"
	"github.com/chaffhq/chaff/internal/atomicfile"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// MessageValidFor is how long messages and cached dead drops are kept
// (upstream's 14 days).
const MessageValidFor = 14 * 24 * time.Hour

// Config configures an install.
type Config struct {
	StateDir string
	// API is the API; IngestURL the host readers' messages go to (default:
	// the API's).
	API       *apiclient.Client
	IngestURL string
	// Anchors are the organisation keys the app ships with.
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
}

// Start is an app start: on the first it creates the install's state and
// its storage (random bytes: no mailbox); on every start it rewrites the
// storage with fresh randomness.
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
		a.ingest = &apiclient.Client{Base: strings.TrimRight(cfg.IngestURL, "/"), HTTP: cfg.API.HTTP}
	}
	b, err := os.ReadFile(a.path("public.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		var dk [crypto.SecretBoxKeySize]byte
		if _, err := rand.Read(dk[:]); err != nil {
			return nil, err
		}
		a.pub.DeviceKey = hex.EncodeToString(dk[:])
		if err := a.savePublic(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, a.pub); err != nil {
			return nil, fmt.Errorf("%s: %w", a.path("public.json"), err)
		}
	}
	dk, err := hex.DecodeString(a.pub.DeviceKey)
	if err != nil || len(dk) != crypto.SecretBoxKeySize {
		return nil, errors.New("the install's device key is damaged")
	}
	a.store = &storage{path: a.path("storage.bin"), kdf: cfg.KDF}
	copy(a.store.deviceKey[:], dk)
	if _, err := os.Stat(a.store.path); errors.Is(err, os.ErrNotExist) {
		err = a.store.create()
		if err != nil {
			return nil, err
		}
	} else if err := a.store.rewrite(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) path(name string) string { return filepath.Join(a.cfg.StateDir, name) }

func (a *App) savePublic() error {
	b, err := json.Marshal(a.pub)
	if err != nil {
		return err
	}
	return atomicfile.Write(a.path("public.json"), b, 0o600)
}

// Verified returns the cached keys, verified from the anchors now.
func (a *App) Verified() (*keys.Verified, error) {
	if len(a.pub.Keys) == 0 {
		return nil, errors.New("no keys downloaded yet: run a background refresh first")
	}
	h, err := keys.ParseHierarchy(a.pub.Keys)
	if err != nil {
		return nil, err
	}
	return keys.Verify(h, a.cfg.Anchors, a.cfg.Now())
}

// Available reports whether the organisation says the system is up.
func (a *App) Available() bool {
	var st struct {
		IsAvailable bool `json:"is_available"`
	}
	return len(a.pub.Status) > 0 && json.Unmarshal(a.pub.Status, &st) == nil && st.IsAvailable
}

// Refresh downloads the status, the keys and new user dead drops, as every
// app does whether or not its reader is a source.
func (a *App) Refresh(ctx context.Context) error {
	st, err := a.cfg.API.Do(ctx, "GET", "/v1/status", nil)
	if err != nil {
		return err
	}
	a.pub.Status = st
	kb, err := a.cfg.API.Do(ctx, "GET", "/v1/public-keys", nil)
	if err != nil {
		return err
	}
	h, err := keys.ParseHierarchy(kb)
	if err != nil {
		return err
	}
	if _, err := keys.Verify(h, a.cfg.Anchors, a.cfg.Now()); err != nil {
		return fmt.Errorf("the published keys do not verify: %w", err)
	}
	a.pub.Keys, a.pub.KeysDownloaded = kb, a.cfg.Now()
	db, err := a.cfg.API.Do(ctx, "GET", fmt.Sprintf("/v1/user/dead-drops?ids_greater_than=%d", a.pub.MaxDeadDropID), nil)
	if err != nil {
		return err
	}
	var page struct {
		DeadDrops []json.RawMessage `json:"dead_drops"`
	}
	if err := json.Unmarshal(db, &page); err != nil {
		return fmt.Errorf("dead drops: %w", err)
	}
	if _, err := deaddrop.ParseList(deaddrop.User, db); err != nil {
		return err
	}
	a.pub.DeadDrops = append(a.pub.DeadDrops, page.DeadDrops...)
	a.trimDeadDrops()
	return a.savePublic()
}

// trimDeadDrops keeps the dead drops of the 14 days before the newest one
// (the newest's time, not the device clock, as upstream).
func (a *App) trimDeadDrops() {
	l, err := deaddrop.ParseList(deaddrop.User, a.deadDropsJSON())
	if err != nil || len(l.DeadDrops) == 0 {
		return
	}
	newest := l.DeadDrops[0].CreatedAt
	for _, d := range l.DeadDrops {
		if d.CreatedAt.After(newest) {
			newest = d.CreatedAt
		}
		a.pub.MaxDeadDropID = max(a.pub.MaxDeadDropID, d.ID)
	}
	var kept []json.RawMessage
	for i, d := range l.DeadDrops {
		if !d.CreatedAt.Before(newest.Add(-MessageValidFor)) {
			kept = append(kept, a.pub.DeadDrops[i])
		}
	}
	a.pub.DeadDrops = kept
}

func (a *App) deadDropsJSON() []byte {
	b, _ := json.Marshal(map[string]any{"dead_drops": a.pub.DeadDrops})
	return b
}

// coverMessage builds a cover U2C message for the current CoverNode keys.
func (a *App) coverMessage() ([]byte, error) {
	v, err := a.Verified()
	if err != nil {
		return nil, err
	}
	ks, err := v.CoverNodeKeys()
	if err != nil {
		return nil, err
	}
	return protocol.SealCoverU2C(ks)
}

func (a *App) loadQueue() (*queue, error) {
	b, err := os.ReadFile(a.path("queue.bin"))
	if errors.Is(err, os.ErrNotExist) {
		q, err := newQueue(a.coverMessage)
		if err != nil {
			return nil, err
		}
		return q, a.saveQueue(q)
	}
	if err != nil {
		return nil, err
	}
	return unmarshalQueue(b)
}

func (a *App) saveQueue(q *queue) error {
	return atomicfile.Write(a.path("queue.bin"), q.marshal(), 0o600)
}

// RunResult says what a background run did.
type RunResult struct {
	Sent    int
	Skipped string // why nothing was sent, if so
}

// BackgroundRun is what the app's background job does: refresh, then send
// the queue's front message MessagesPerRun times, at most once per
// MinRunInterval. It does the same whether or not anything real is queued:
// every send sends one fixed-size message and dequeues it.
func (a *App) BackgroundRun(ctx context.Context) (RunResult, error) {
	now := a.cfg.Now()
	if !a.pub.LastRun.IsZero() && now.Sub(a.pub.LastRun) < a.cfg.MinRunInterval {
		return RunResult{Skipped: fmt.Sprintf("the last run was %s ago; runs are at least %s apart", now.Sub(a.pub.LastRun).Round(time.Second), a.cfg.MinRunInterval)}, nil
	}
	if err := a.Refresh(ctx); err != nil {
		return RunResult{}, err
	}
	a.pub.LastRun = now
	if err := a.savePublic(); err != nil {
		return RunResult{}, err
	}
	if !a.Available() {
		return RunResult{Skipped: "the organisation says the secure channel is unavailable"}, nil
	}
	q, err := a.loadQueue()
	if err != nil {
		return RunResult{}, err
	}
	res := RunResult{}
	for range a.cfg.MessagesPerRun {
		body, _ := json.Marshal(protocol.EncodeBase64(q.front()))
		if _, err := a.ingest.Do(ctx, "POST", "/user/messages", body); err != nil {
			return res, err // the message stays at the front for the next run
		}
		cover, err := a.coverMessage()
		if err != nil {
			return res, err
		}
		if err := q.dequeue(cover); err != nil {
			return res, err
		}
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

// mailbox is what the encrypted storage holds.
type mailbox struct {
	UserKey     *keys.KeyPair        `json:"user_key"`
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
	uk, err := keys.Generate(keys.User, nil, a.cfg.Now())
	if err != nil {
		return "", nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, err
	}
	s := &Session{a: a, passphrase: pass, mb: &mailbox{UserKey: uk, QueueSecret: secret, Threads: map[string][]Message{}}}
	return pass, s, s.save()
}

// Unlock opens the mailbox, reads any replies in the cached dead drops, and
// forgets messages older than 14 days. A wrong passphrase gives
// ErrNoMailbox, as does a storage that holds no mailbox.
func (a *App) Unlock(passphrase string) (*Session, error) {
	b, err := a.store.open(passphrase)
	if err != nil {
		return nil, err
	}
	var mb mailbox
	if err := json.Unmarshal(b, &mb); err != nil || mb.UserKey == nil {
		return nil, ErrNoMailbox
	}
	if mb.Threads == nil {
		mb.Threads = map[string][]Message{}
	}
	s := &Session{a: a, passphrase: passphrase, mb: &mb}
	s.readReplies()
	s.expire()
	return s, s.save()
}

func (s *Session) save() error {
	b, err := json.Marshal(s.mb)
	if err != nil {
		return err
	}
	return s.a.store.seal(s.passphrase, b)
}

// readReplies trial-decrypts the cached dead drops with the reader's key
// against every journalist's messaging keys; a reply seen before (same
// journalist, text and time) is not added again.
func (s *Session) readReplies() {
	v, err := s.a.Verified()
	if err != nil {
		return
	}
	l, err := deaddrop.ParseList(deaddrop.User, s.a.deadDropsJSON())
	if err != nil {
		return
	}
	sk, err := s.mb.UserKey.PrivateKey()
	if err != nil {
		return
	}
	journalists := map[string][]*crypto.PublicKey{}
	for _, id := range v.JournalistIDs() {
		journalists[id] = v.JournalistMessagingKeys(id)
	}
	o, err := deaddrop.NewReaderOpener(sk, journalists)
	if err != nil {
		return
	}
	idKeys := v.CoverNodeIdentityKeys()
	for _, d := range l.DeadDrops {
		if d.Verify(idKeys) != nil {
			continue
		}
		replies, _ := o.Open(d)
		for _, r := range replies {
			m := Message{From: r.JournalistID, Text: r.Message.Text, HandoverTo: r.Message.HandoverTo, Time: r.CreatedAt}
			if !s.has(r.JournalistID, m) {
				s.mb.Threads[r.JournalistID] = append(s.mb.Threads[r.JournalistID], m)
			}
		}
	}
	for id := range s.mb.Threads {
		sort.SliceStable(s.mb.Threads[id], func(i, j int) bool { return s.mb.Threads[id][i].Time.Before(s.mb.Threads[id][j].Time) })
	}
}

func (s *Session) has(id string, m Message) bool {
	for _, x := range s.mb.Threads[id] {
		if x.From == m.From && x.Text == m.Text && x.HandoverTo == m.HandoverTo && x.Time.Equal(m.Time) {
			return true
		}
	}
	return false
}

func (s *Session) expire() {
	cutoff := s.a.cfg.Now().Add(-MessageValidFor)
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
	v, err := s.a.Verified()
	if err != nil {
		return err
	}
	known := false
	for _, p := range v.Profiles {
		known = known || p.ID == journalistID
	}
	if !known {
		return fmt.Errorf("there is no journalist %q", journalistID)
	}
	jk, err := v.JournalistKey(journalistID)
	if err != nil {
		return err
	}
	cks, err := v.CoverNodeKeys()
	if err != nil {
		return err
	}
	uk, err := s.mb.UserKey.PrivateKey()
	if err != nil {
		return err
	}
	msg, err := protocol.SealU2C(cks, journalistID, jk, uk.PublicKey(), text)
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
	if err := s.a.saveQueue(q); err != nil {
		return err
	}
	s.mb.Threads[journalistID] = append(s.mb.Threads[journalistID], Message{From: "me", Text: text, Time: s.a.cfg.Now()})
	return s.save()
}

// Queued is the number of real messages waiting to be sent.
func (s *Session) Queued() (int, error) {
	q, err := s.a.loadQueue()
	if err != nil {
		return 0, err
	}
	return q.realCount(s.mb.QueueSecret), nil
}

// Threads returns the conversations by journalist id.
func (s *Session) Threads() map[string][]Message { return s.mb.Threads }
