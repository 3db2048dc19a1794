package journalist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/chaffhq/chaff/internal/filelock"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// Message is one message of a conversation.
type Message struct {
	From       string    `json:"from"` // "source" or "me"
	Text       string    `json:"text,omitempty"`
	HandoverTo string    `json:"handover_to,omitempty"`
	Time       time.Time `json:"time"`
	Sent       bool      `json:"sent,omitempty"` // for "me": it has left in a J2C message
	// SentAt is when a reply left (zero while queued, and for replies
	// sent before it was kept).
	SentAt time.Time `json:"sent_at,omitzero"`
	// Expires is when the vault deletes the message (see expire); zero
	// in vaults written before expiry, which then takes Time plus
	// DefaultExpiry.
	Expires time.Time `json:"expires,omitzero"`
	// J2U is the SHA-256 (hex) of a reply's J2U message, kept until the
	// reply is seen in a user dead drop (see CheckPublished), when
	// PublishedAt takes the dead drop's date.
	J2U         string    `json:"j2u,omitempty"`
	PublishedAt time.Time `json:"published_at,omitzero"`
}

// Conversation is everything with one source, known in coverdrop mode by
// their reply key (a public key), in pq mode by their reader id.
type Conversation struct {
	ID string `json:"id"` // first 16 hex digits of the reply key or reader id
	// ReplyKey is what replies are sealed with: in coverdrop mode the
	// reader's public key; in pq mode the reply key of the reader's latest
	// message (docs/PQ.md §5.5), a secret kept only in the vault.
	ReplyKey string `json:"reply_key"`
	// ReaderID (pq mode) is the reader id that threads the conversation,
	// and ReplyKeyAt the date of the message ReplyKey came from.
	ReaderID   string    `json:"reader_id,omitempty"`
	ReplyKeyAt time.Time `json:"reply_key_at,omitzero"`
	Messages   []Message `json:"messages"`
	Unread     int       `json:"unread"`
	Handled    bool      `json:"handled"`
	// Alias and Notes are the journalist's own words about the source,
	// kept only in the vault.
	Alias string `json:"alias,omitempty"`
	Notes string `json:"notes,omitempty"`
	// Muted conversations sort below the others and show no unread
	// highlight; their messages are still kept.
	Muted bool `json:"muted,omitempty"`
}

// data is what the vault holds.
type data struct {
	// Protocol is the vault's protocol mode, pq.ModeCoverDrop or
	// pq.ModePQ, fixed when it is made ("" in vaults from before pq mode:
	// coverdrop).
	Protocol     string               `json:"protocol,omitempty"`
	JournalistID string               `json:"journalist_id"`
	API          string               `json:"api"`
	TrustAnchor  keys.SignedPublicKey `json:"trust_anchor"`
	Identity     keys.Ring            `json:"identity"`
	// Messaging holds the vault's messaging keys: X25519 in coverdrop
	// mode, X-Wing in pq mode.
	Messaging     keys.Ring                `json:"messaging"`
	Conversations map[string]*Conversation `json:"conversations"`
	// MaxDeadDropID is the id of the newest verified journalist dead drop
	// seen; syncs ask for the ones after it.
	MaxDeadDropID int64 `json:"max_dead_drop_id"`
	// EpochWaitSince is when syncs started stopping at a verified dead
	// drop whose epoch is above the published keys' (zero: they do not);
	// see waitForEpoch.
	EpochWaitSince time.Time `json:"epoch_wait_since,omitzero"`
	// Seen holds the SHA-256 (hex) of the U2J ciphertext of every message
	// received, so that none is kept twice (see receive).
	Seen map[string]bool `json:"seen,omitempty"`
	// Keys is the last key hierarchy fetched (by a sync or a send) that
	// verified. Kept in the vault so that replying, handing over or
	// listing journalists, in the web UI or the CLI, never makes a request.
	Keys *keys.Hierarchy `json:"keys,omitempty"`
	// Outbox holds J2C messages (replies and handovers) waiting for the
	// next send; the send cadence does not change when it is not empty.
	Outbox []outItem `json:"outbox"`
	// Log is the vault's own record of what happened to it (see
	// LogEntry), kept inside the encrypted vault and nowhere else.
	Log []LogEntry `json:"log,omitempty"`
	// MaxUserDeadDropID is the id of the newest verified user dead drop
	// CheckPublished has looked through.
	MaxUserDeadDropID int64 `json:"max_user_dead_drop_id,omitempty"`
	// KeptShares are colleagues' backup shares this journalist keeps (see
	// KeepShare), each still sealed to the backup admin.
	KeptShares []KeptShare `json:"kept_shares,omitempty"`
}

type outItem struct {
	Conversation string `json:"conversation"`
	Index        int    `json:"index"` // of the message in the conversation
	J2C          []byte `json:"j2c"`
}

// Vault is an unlocked vault. Its methods are safe for concurrent use.
type Vault struct {
	lock *os.File // held while the vault is open
	// sendMu makes sends (SendOne, a burst's messages) take turns. A
	// send holds mu only around the vault's state, never while its
	// requests are in flight, so that a slow API holds up no page of the
	// web UI and a burst stops as soon as it is cancelled. Close takes
	// sendMu first.
	sendMu     sync.Mutex
	mu         sync.Mutex
	path       string
	passphrase string
	kdf        KDFParams
	d          *data
	api        *apiclient.Client
	now        func() time.Time
	mode       mode
}

// Create makes a vault from a setup bundle, then deletes the bundle
// (keys.DeleteBundle; when it cannot, Create fails saying so, the vault
// made); the API in the bundle may be
// overridden.
func Create(path, passphrase string, kdf KDFParams, bundlePath, api string) (*Vault, error) {
	return CreateWith(path, passphrase, kdf, bundlePath, api, Options{})
}

// Options change how a vault works; the zero value is the default.
type Options struct {
	// Now is the vault's clock (time.Now when nil): what it dates
	// messages and log entries by and decides key rotations and expiry
	// with. A host whose clock it trusts more than the system's, or a
	// test, supplies its own.
	Now func() time.Time
}

func (o Options) now() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

// CreateWith is Create with options.
func CreateWith(path, passphrase string, kdf KDFParams, bundlePath, api string, o Options) (*Vault, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to replace a vault", path)
	}
	if err := kdf.check(); err != nil {
		return nil, err
	}
	bundle, err := keys.ReadJournalistBundle(bundlePath)
	if err != nil {
		return nil, err
	}
	if api == "" {
		api = bundle.API
	}
	if api == "" {
		return nil, errors.New("no API URL: give one")
	}
	// The mode is the deployment's, which its organisation key signs: a
	// vault speaks it for ever.
	m, err := modeFor(bundle.TrustAnchor.Mode())
	if err != nil {
		return nil, err
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	v := &Vault{lock: lock, path: path, passphrase: passphrase, kdf: kdf, now: o.now(), api: apiclient.New(api), mode: m, d: &data{
		Protocol: m.name(), JournalistID: bundle.JournalistID, API: api, TrustAnchor: bundle.TrustAnchor,
		Identity:      keys.Ring{{Pair: bundle.IdentityKey, Epoch: 1, CreatedAt: o.now()()}},
		Conversations: map[string]*Conversation{}, Seen: map[string]bool{},
	}}
	if err := v.save(); err != nil {
		return nil, err
	}
	// The vault holds the identity key now; the bundle holds it in
	// plaintext.
	if err := keys.DeleteBundle(bundlePath); err != nil {
		v.Close()
		return nil, fmt.Errorf("the vault %s is made, but %w", path, err)
	}
	return v, nil
}

// Open unlocks a vault. It holds a lock until Close, so that two programs
// never keep diverging copies of one vault.
func Open(path, passphrase string) (*Vault, error) {
	return OpenWith(path, passphrase, Options{})
}

// OpenWith is Open with options.
func OpenWith(path, passphrase string, o Options) (*Vault, error) {
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	var d data
	kdf, err := openVault(path, passphrase, &d)
	if err != nil {
		lock.Close()
		return nil, err
	}
	m, err := modeFor(d.Protocol)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if d.Conversations == nil {
		d.Conversations = map[string]*Conversation{}
	}
	if d.Seen == nil {
		d.Seen = map[string]bool{}
	}
	return &Vault{lock: lock, path: path, passphrase: passphrase, kdf: kdf, d: &d, api: apiclient.New(d.API), now: o.now(), mode: m}, nil
}

// Close releases the vault.
func (v *Vault) Close() error {
	v.sendMu.Lock()
	defer v.sendMu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.lock == nil {
		return nil
	}
	err := v.lock.Close()
	v.lock = nil
	return err
}

func (v *Vault) save() error { return sealVault(v.path, v.passphrase, v.kdf, v.d) }

// ID is the journalist's id.
func (v *Vault) ID() string { return v.d.JournalistID }

// Protocol is the vault's protocol mode, pq.ModeCoverDrop or pq.ModePQ.
func (v *Vault) Protocol() string { return v.mode.name() }

// verified fetches and verifies the published keys, and keeps them in the
// vault when they verify. Only Sync and SendOne fetch, and they run on
// schedules of their own (the web UI's timers, a sync at unlock, or a
// command the journalist runs); what a journalist does in between
// (opening a conversation, replying, handing over) uses the kept copy, so
// the API sees no request tied to it. Callers hold mu.
//
// The keys are verified in the vault's mode (keys.VerifyIn): a vault
// never takes the keys of a deployment of the other mode, whose
// organisation key signs another form (keys.ErrWrongMode).
func (v *Vault) verified(ctx context.Context) (published, error) {
	h, err := v.api.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	return v.keepVerifiedLocked(h)
}

// keepVerifiedLocked verifies fetched keys (see verified) and keeps them
// when they verify. Callers hold mu.
func (v *Vault) keepVerifiedLocked(h *keys.Hierarchy) (published, error) {
	ver, err := keys.VerifyIn(v.mode.name(), h, []keys.SignedPublicKey{v.d.TrustAnchor}, v.now())
	if err != nil {
		return nil, err
	}
	v.d.Keys = h
	return v.mode.published(ver), nil
}

// errNoKeys: nothing has fetched the published keys into this vault yet.
var errNoKeys = errors.New("the published keys have not been downloaded yet: wait for the first sync (or run chaff journalist sync)")

// cachedVerified verifies the kept keys at this instant. It never fetches
// (see verified). Callers hold mu.
func (v *Vault) cachedVerified() (published, error) {
	if v.d.Keys == nil {
		return nil, errNoKeys
	}
	ver, err := keys.VerifyIn(v.mode.name(), v.d.Keys, []keys.SignedPublicKey{v.d.TrustAnchor}, v.now())
	if err != nil {
		return nil, err
	}
	return v.mode.published(ver), nil
}

// SyncResult says what a sync found.
type SyncResult struct {
	DeadDrops, Messages int
	// Unverified counts dead drops skipped because their signature
	// verified under no CoverNode identity key.
	Unverified int
	Waiting    string // why it stopped early, if it did
}

// MaxSyncPages bounds the pages of dead drops one Sync downloads. Every
// page must move forward (see deaddrop.List.CheckPage), so an API can no
// longer make Sync loop on one page; the bound is the backstop against
// one that moves forward by one id at a time for ever, so that Sync, which
// holds the vault while it runs, always ends. At the API's page size (24
// upstream) it is more than a day of dead drops; the next Sync continues
// where this one stopped.
const MaxSyncPages = 50

// Sync rotates keys when due, then downloads the journalist dead drops
// after the last one seen, verifies them and keeps the messages for this
// journalist. It stops (without moving past them) at dead drops newer
// than the keys it has (SPEC §6.4). Only a verified dead drop moves the
// position; a page that does not hold to deaddrop.List.CheckPage stops
// the sync with an error, and nothing of it is kept.
func (v *Vault) Sync(ctx context.Context) (SyncResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.rotateKeys(ctx); err != nil {
		return SyncResult{}, err
	}
	ver, err := v.verified(ctx)
	if err != nil {
		return SyncResult{}, err
	}
	now := v.now()
	v.expireLocked(now)
	open, err := v.mode.opener(v, ver, now)
	if err != nil {
		return SyncResult{}, err
	}
	res := SyncResult{}
	// sawNewerEpoch: a verified dead drop of this sync had an epoch above
	// the keys', and was opened because the wait for keys was over.
	sawNewerEpoch := false
	// stop saves what the verified pages before brought (and the keys just
	// fetched) whether or not the sync went to its end. A sync that went
	// to its end without meeting a dead drop newer than the keys ends any
	// wait for keys.
	stop := func(err error) (SyncResult, error) {
		if err == nil && res.Waiting == "" && !sawNewerEpoch {
			v.d.EpochWaitSince = time.Time{}
		}
		return res, errors.Join(err, v.save())
	}
	var unverifiedTo int64 // the newest unverified dead drop counted
	for page := 0; ; page++ {
		if page == MaxSyncPages {
			res.Waiting = "More dead drops remain than one sync downloads: the next sync continues."
			return stop(nil)
		}
		after := v.d.MaxDeadDropID
		b, err := v.api.DeadDropsAfter(ctx, deaddrop.Journalist, after)
		if err != nil {
			return stop(err)
		}
		l, err := v.mode.parsePage(deaddrop.Journalist, b)
		if err == nil {
			err = deaddrop.CheckPageIDs(after, dropIDs(l))
		}
		if err != nil {
			return stop(fmt.Errorf("the API sent a page of dead drops after id %d that cannot be right, and none of it was kept: %w", after, err))
		}
		if len(l) == 0 {
			return stop(nil)
		}
		for _, d := range l {
			// The signature first: nothing of a dead drop (its epoch, its
			// date) is acted on before it verifies.
			if testHookEpochFirst && int64(d.Epoch) > ver.maxEpoch() {
				res.Waiting = "A dead drop needs newer keys than the API has published: sync again shortly."
				return stop(nil)
			}
			if d.dd.Verify(ver.coverNodeIdentityKeys()) != nil {
				// Skipped without moving past it: a later verified dead
				// drop moves the position beyond it.
				if d.ID > unverifiedTo {
					res.Unverified++
					unverifiedTo = d.ID
				}
				continue
			}
			if int64(d.Epoch) > ver.maxEpoch() {
				if !v.waitForEpoch(now) {
					res.Waiting = "A dead drop needs newer keys than the API has published: sync again shortly."
					return stop(nil)
				}
				sawNewerEpoch = true // waited long enough: open it with the keys there are
			}
			for _, m := range open(d) {
				if v.receive(m, now) {
					res.Messages++
				}
			}
			res.DeadDrops++
			v.d.MaxDeadDropID = d.ID
		}
		if v.d.MaxDeadDropID == after {
			// No dead drop of the page verified, so asking again would
			// bring the same page: stop until a verified one follows.
			return stop(fmt.Errorf("dead drops %d to %d verify under no CoverNode identity key: not moving past them",
				l[0].ID, l[len(l)-1].ID))
		}
	}
}

// MaxEpochWait bounds how long syncs stop at a dead drop whose epoch is
// above the published keys' (SPEC §6.4: wait for the keys it was made
// with). A genuine one waits for the API's keys to catch up, a minute or
// two (the keys are cached for 60 s; the API refuses dead drops with an
// epoch above its keys'); one that still waits after MaxEpochWait was
// signed with an epoch no keys will reach (by a CoverNode gone wrong, or
// its stolen key, served by a hostile API), and is opened with the keys
// there are, so that it cannot hold back every dead drop after it.
const MaxEpochWait = 15 * time.Minute

// testHookEpochFirst brings back, for the negative control of the
// hostile dead-drop tests, the old Sync that stopped at a dead drop's
// epoch before checking its signature.
var testHookEpochFirst bool

// testHookKeepCopies turns off the record of messages seen, for the
// negative control of the replay tests.
var testHookKeepCopies bool

// waitForEpoch says whether a sync that meets a verified dead drop of an
// unknown epoch should stop (false) or go on (true): it stops for
// MaxEpochWait from the first time one stopped a sync, however many such
// dead drops follow, until a sync meets none. Callers hold mu.
func (v *Vault) waitForEpoch(now time.Time) bool {
	if v.d.EpochWaitSince.IsZero() || v.d.EpochWaitSince.After(now) {
		v.d.EpochWaitSince = now
	}
	return now.Sub(v.d.EpochWaitSince) >= MaxEpochWait
}

// receive keeps a message unless it was kept before, and reports whether
// it was new.
//
// What identifies one transmission is its U2J ciphertext: the reader's
// client seals every message to the journalist's key with a fresh
// ephemeral key, so two sends never share one, even of the same text by
// the same reader (and both are kept), while every copy of one send
// does. Neither the dead drop nor its C2J chunk would do: a dead drop can
// be served again under another id (ids are not signed), and a CoverNode
// that processes a message twice (redelivery after a crash) seals the same
// U2J into a new C2J with a fresh nonce, in another dead drop with its own
// date and signature.
//
// The record of what was seen is never trimmed: it costs 64 bytes a
// message, less than the message the vault keeps anyway, and with no
// expiry no date a dead drop claims, however far in the future, can make
// a record look old enough to forget.
func (v *Vault) receive(r received, now time.Time) bool {
	sum := sha256.Sum256(r.U2J)
	seen := hex.EncodeToString(sum[:])
	if v.d.Seen[seen] && !testHookKeepCopies {
		return false
	}
	v.d.Seen[seen] = true
	// The date is the CoverNode's claim: one in the future would keep the
	// conversation at the top of the list for ever, and no message arrived
	// later than now.
	at := r.CreatedAt
	if at.After(now) {
		at = now
	}
	c := v.thread(r, at)
	c.Messages = append(c.Messages, Message{From: "source", Text: r.Text, Time: at, Expires: at.Add(DefaultExpiry)})
	c.Unread++
	c.Handled = false
	return true
}

// thread returns the conversation r belongs to, making it when it is the
// reader's first message. In pq mode the conversation's reply key becomes
// r's when r is the reader's latest message (docs/PQ.md §5.5), and the
// whole reader id must match: a reader who learnt another's id prefix
// (the UI shows it) and chose an id starting with it starts a
// conversation of their own rather than taking over the other's replies.
func (v *Vault) thread(r received, at time.Time) *Conversation {
	id := r.Thread[:16]
	pqThread := r.Thread != r.ReplyKey
	if c := v.d.Conversations[id]; c != nil && pqThread && c.ReaderID != r.Thread {
		id = r.Thread
	}
	c := v.d.Conversations[id]
	if c == nil {
		c = &Conversation{ID: id, ReplyKey: r.ReplyKey}
		if pqThread {
			c.ReaderID, c.ReplyKeyAt = r.Thread, at
		}
		v.d.Conversations[id] = c
	}
	if pqThread && !at.Before(c.ReplyKeyAt) {
		c.ReplyKey, c.ReplyKeyAt = r.ReplyKey, at
	}
	return c
}

// Conversations lists the conversations by last activity, newest first,
// muted ones after the others.
func (v *Vault) Conversations() []Conversation {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Conversation
	for _, c := range v.d.Conversations {
		cc := *c
		cc.Messages = append([]Message(nil), c.Messages...)
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Muted != out[j].Muted {
			return !out[i].Muted
		}
		if a, b := out[i].LastActivity(), out[j].LastActivity(); !a.Equal(b) {
			return a.After(b)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Read returns a conversation and marks it read.
func (v *Vault) Read(id string) (Conversation, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.d.Conversations[id]
	if c == nil {
		return Conversation{}, fmt.Errorf("no conversation %q", id)
	}
	if c.Unread > 0 {
		c.Unread = 0
		if err := v.save(); err != nil {
			return Conversation{}, err
		}
	}
	out := *c
	out.Messages = append([]Message(nil), c.Messages...)
	return out, nil
}

// SetHandled marks a conversation handled (or not).
func (v *Vault) SetHandled(id string, handled bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.d.Conversations[id]
	if c == nil {
		return fmt.Errorf("no conversation %q", id)
	}
	c.Handled = handled
	return v.save()
}

// Reply queues a reply to a conversation's source; it leaves with the
// next send, in place of a cover message. It makes no request: it seals
// the reply to the keys the last sync or send fetched.
func (v *Vault) Reply(ctx context.Context, id, text string) error {
	return v.queue(ctx, id, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: text})
}

// Handover tells a conversation's source to write to another journalist
// from now on. Like Reply, it makes no request.
func (v *Vault) Handover(ctx context.Context, id, to string) error {
	v.mu.Lock()
	known := false
	if ver, err := v.cachedVerified(); err == nil {
		for _, p := range ver.profiles() {
			known = known || p.ID == to
		}
	}
	v.mu.Unlock()
	if !known || to == v.d.JournalistID {
		return fmt.Errorf("there is no other journalist %q to hand over to", to)
	}
	return v.queue(ctx, id, &protocol.JournalistMessage{Type: protocol.J2UTypeHandover, HandoverTo: to})
}

func (v *Vault) queue(ctx context.Context, id string, m *protocol.JournalistMessage) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.d.Conversations[id]
	if c == nil {
		return fmt.Errorf("no conversation %q", id)
	}
	if m.Type == protocol.J2UTypeText && strings.TrimSpace(m.Text) == "" {
		return errors.New("the reply is empty")
	}
	now := v.now()
	j2u, err := v.mode.sealJ2U(v, c, m, now)
	if err != nil {
		return err
	}
	ver, err := v.cachedVerified()
	if err != nil {
		return err
	}
	j2c, err := ver.sealJ2C(j2u)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(j2u)
	c.Messages = append(c.Messages, Message{From: "me", Text: m.Text, HandoverTo: m.HandoverTo, Time: now, Expires: now.Add(DefaultExpiry), J2U: hex.EncodeToString(sum[:])})
	v.d.Outbox = append(v.d.Outbox, outItem{Conversation: id, Index: len(c.Messages) - 1, J2C: j2c})
	return v.save()
}

// SendOne sends one J2C message: the oldest queued reply if there is one,
// otherwise cover. Called on a fixed cadence, it makes replies look like
// the steady cover every journalist sends. It reports whether a real
// message left.
func (v *Vault) SendOne(ctx context.Context) (bool, error) {
	v.sendMu.Lock()
	defer v.sendMu.Unlock()
	real, err := v.sendOne(ctx)
	if err != nil {
		return false, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return real, v.save()
}

// sendOne is SendOne without saving the vault. Callers hold sendMu and
// not mu: it takes mu around the vault's state only, not while a request
// is in flight.
func (v *Vault) sendOne(ctx context.Context) (bool, error) {
	// Fetch the keys and build a cover message every time, and use it only
	// when nothing real is queued: the requests the API sees and the work
	// done are the same either way.
	h, err := v.api.PublicKeys(ctx)
	if err != nil {
		return false, err
	}
	msg, real, id, err := v.nextMessage(h)
	if err != nil {
		return false, err
	}
	if err := v.api.SendJournalistMessage(ctx, id, msg); err != nil {
		return false, err
	}
	if real {
		v.mu.Lock()
		defer v.mu.Unlock()
		// Sends take turns and only they take from the outbox, so the
		// reply sent is still first; checked all the same.
		if len(v.d.Outbox) > 0 && bytes.Equal(v.d.Outbox[0].J2C, msg) {
			it := v.d.Outbox[0]
			v.d.Outbox = v.d.Outbox[1:]
			if c := v.d.Conversations[it.Conversation]; c != nil && it.Index < len(c.Messages) {
				c.Messages[it.Index].Sent = true
				c.Messages[it.Index].SentAt = v.now()
			}
		}
	}
	return real, nil
}

// nextMessage verifies and keeps the keys h, and returns the message to
// send (the first queued reply, or cover sealed under h's keys), whether
// it is real, and the identity key that signs it.
func (v *Vault) nextMessage(h *keys.Hierarchy) (msg []byte, real bool, id *keys.KeyPair, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ver, err := v.keepVerifiedLocked(h)
	if err != nil {
		return nil, false, nil, err
	}
	if msg, err = ver.sealCoverJ2C(); err != nil {
		return nil, false, nil, err
	}
	if real = len(v.d.Outbox) > 0; real {
		msg = v.d.Outbox[0].J2C
	}
	k := v.d.Identity.Latest(v.now())
	if k == nil {
		return nil, false, nil, errors.New("the identity key has expired: ask the newsroom for a new setup bundle")
	}
	return msg, real, k.Pair, nil
}

// Queued is the number of replies waiting to be sent.
func (v *Vault) Queued() int { v.mu.Lock(); defer v.mu.Unlock(); return len(v.d.Outbox) }

// Journalists lists the other journalists a source can be handed to, from
// the keys the last sync or send fetched; it makes no request.
func (v *Vault) Journalists(ctx context.Context) ([]keys.JournalistProfile, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ver, err := v.cachedVerified()
	if err != nil {
		return nil, err
	}
	var out []keys.JournalistProfile
	for _, p := range ver.profiles() {
		if p.ID != v.d.JournalistID && p.Status != keys.StatusHiddenFromResponse {
			out = append(out, p)
		}
	}
	return out, nil
}

// lockFile takes the vault's lock, path+".lock", held while it is open.
func lockFile(path string) (*os.File, error) {
	f, err := filelock.Lock(path + ".lock")
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("%s: %w", path, ErrInUse)
	}
	return f, err
}
