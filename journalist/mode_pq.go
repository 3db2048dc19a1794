package journalist

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// pqMode is the post-quantum protocol mode (docs/PQ.md): X-Wing messaging
// keys, journalist dead drops of HPKE-sealed chunks opened with
// pq.JournalistOpener, conversations threaded by reader id, and replies
// sealed under the reply key of the reader's latest message (pq.SealJ2U)
// inside a box to two CoverNodes' X-Wing keys (pq.SealJ2C). Its J2U
// plaintext is coverdrop mode's, so a reply's length limit is the same.
type pqMode struct{}

func (pqMode) name() string { return pq.ModePQ }

// A pq J2U plaintext is coverdrop's (docs/PQ.md §5.4): the limit on a
// reply (MaxReplyBytes, ReplyOver) is the same in both modes. Neither
// array may have a negative length, so this does not compile if they
// ever differ.
var (
	_ [pq.J2UPlaintextSize - protocol.J2UPlaintextSize]struct{}
	_ [protocol.J2UPlaintextSize - pq.J2UPlaintextSize]struct{}
)

// errPQHierarchy: the published key hierarchy has no pq form yet.
var errPQHierarchy = errors.New("pq mode: the key hierarchy's pq form is not wired into the vault yet")

func (pqMode) fetch(context.Context, *Vault) (published, error) { return nil, errPQHierarchy }
func (pqMode) cached(*Vault) (published, error)                 { return nil, errPQHierarchy }

// pqKeys is a verified pq hierarchy as the vault uses it.
type pqKeys struct {
	identity []*crypto.VerifyingKey
	epoch    int64
	profs    []keys.JournalistProfile
	// coverNodes are the two X-Wing keys every J2C is sealed to (SPEC
	// §6.3's selection: the latest key of the first two CoverNodes, the
	// first twice if there is one).
	coverNodes []*pq.PublicKey
	// journalists are each journalist's X-Wing messaging key with the
	// latest expiry, by id.
	journalists map[string]*pq.PublicKey
	// backup is the backup messaging X-Wing key with the latest expiry
	// (nil: none published).
	backup *pq.PublicKey
}

func (k pqKeys) coverNodeIdentityKeys() []*crypto.VerifyingKey { return k.identity }
func (k pqKeys) maxEpoch() int64                               { return k.epoch }
func (k pqKeys) profiles() []keys.JournalistProfile            { return k.profs }
func (k pqKeys) sealJ2C(j2u []byte) ([]byte, error)            { return pq.SealJ2C(k.coverNodes, j2u) }
func (k pqKeys) sealCoverJ2C() ([]byte, error)                 { return pq.SealCoverJ2C(k.coverNodes) }

// shareSealer seals to the colleague's latest X-Wing messaging key with
// HPKE (docs/PQ.md §5.8).
func (k pqKeys) shareSealer(id string) (func([]byte) ([]byte, error), error) {
	pk := k.journalists[id]
	if pk == nil {
		return nil, keys.ErrNoKey
	}
	return func(share []byte) ([]byte, error) { return pq.SealBackupShare(pk, share) }, nil
}

// messagingKeyExpiry is not kept in pq mode yet: zero (unknown).
func (k pqKeys) messagingKeyExpiry(string) time.Time { return time.Time{} }

// backupSealer seals to the backup messaging X-Wing key (docs/PQ.md §3)
// with HPKE, as shareSealer does to a colleague's (§5.8).
func (k pqKeys) backupSealer() (func([]byte) ([]byte, error), error) {
	if k.backup == nil {
		return nil, ErrNoBackupKey
	}
	return func(share []byte) ([]byte, error) { return pq.SealBackupShare(k.backup, share) }, nil
}

func (pqMode) openShare(v *Vault, sealed []byte, now time.Time) ([]byte, error) {
	own, err := v.d.PQMessaging.decryptionKeys(now)
	if err != nil {
		return nil, err
	}
	for _, sk := range own {
		if plain, err := pq.OpenBackupShare(sk, sealed); err == nil {
			return plain, nil
		}
	}
	return nil, crypto.ErrDecrypt
}

func (pqMode) parsePage(kind deaddrop.Kind, b []byte) ([]drop, error) {
	l, err := pq.ParseList(kind, b)
	if err != nil {
		return nil, err
	}
	out := make([]drop, len(l))
	for i, d := range l {
		out[i] = drop{ID: d.ID, CreatedAt: d.CreatedAt, Epoch: d.Epoch, dd: d}
	}
	return out, nil
}

func (pqMode) opener(v *Vault, _ published, now time.Time) (func(drop) []received, error) {
	own, err := v.d.PQMessaging.decryptionKeys(now)
	if err != nil {
		return nil, err
	}
	op := pq.NewJournalistOpener(own)
	return func(d drop) []received {
		got, _ := op.Open(d.dd.(*pq.DeadDrop)) // ErrNotForMe: nothing for this journalist
		out := make([]received, len(got))
		for i, r := range got {
			out[i] = received{CreatedAt: r.CreatedAt, U2J: r.U2J, Thread: hex.EncodeToString(r.Message.ReaderID[:]),
				ReplyKey: hex.EncodeToString(r.Message.ReplyKey[:]), Text: r.Message.Text}
			clear(r.Message.ReplyKey[:])
		}
		return out
	}, nil
}

// sealJ2U seals m under the reply key of the reader's latest message. The
// reader keeps a reply key for pq.ReplyKeyRetention after sending its
// message, so a reply under an older one would never be read: it is
// refused, saying why.
func (pqMode) sealJ2U(_ *Vault, c *Conversation, m *protocol.JournalistMessage, now time.Time) ([]byte, error) {
	if now.Sub(c.ReplyKeyAt) >= pq.ReplyKeyRetention {
		return nil, fmt.Errorf("the source's latest message is more than %d days old: their app no longer holds the key a reply needs, so none can reach them until they write again",
			int(pq.ReplyKeyRetention/(24*time.Hour)))
	}
	var rk pq.ReplyKey
	defer clear(rk[:])
	if n, err := hex.Decode(rk[:], []byte(c.ReplyKey)); err != nil || n != pq.ReplyKeySize || len(c.ReplyKey) != 2*pq.ReplyKeySize {
		return nil, errors.New("the conversation's reply key is damaged")
	}
	return pq.SealJ2U(&rk, m)
}

// pqOwnKey is one of the vault's X-Wing messaging keys: its 32-byte seed
// (docs/PQ.md §2.2) and its certificate.
type pqOwnKey struct {
	Seed      []byte           `json:"seed"`
	Key       *pq.SignedKEMKey `json:"key"`
	Epoch     uint64           `json:"epoch"`
	CreatedAt time.Time        `json:"created_at"`
}

// pqRing is the vault's X-Wing messaging keys, in the order they were made.
type pqRing []*pqOwnKey

// decryptionKeys returns the private keys of every unexpired key, newest
// first: the CoverNode seals to the latest, so the first key tried
// usually opens a chunk that is the journalist's (each key tried costs an
// X-Wing decapsulation per chunk).
func (r pqRing) decryptionKeys(now time.Time) ([]*pq.PrivateKey, error) {
	ks := append(pqRing(nil), r...)
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].CreatedAt.After(ks[j].CreatedAt) })
	var out []*pq.PrivateKey
	for _, k := range ks {
		if now.After(k.Key.NotValidAfter) {
			continue
		}
		sk, err := pq.NewPrivateKey(k.Seed)
		if err != nil {
			return nil, fmt.Errorf("a messaging key of the vault is damaged: %w", err)
		}
		out = append(out, sk)
	}
	return out, nil
}

// rotateMessaging drops expired X-Wing messaging keys and publishes the
// candidate, making one when the newest is a day old: the cadences are
// coverdrop mode's (docs/PQ.md §3). The key is certified in the KEM form
// (pq.CertifyKEMKey) and published with the same signed form as an X25519
// one, its key 1,216 bytes.
func (pqMode) rotateMessaging(ctx context.Context, v *Vault, id *keys.KeyPair, now time.Time) error {
	r := &v.d.PQMessaging
	if r.forget(now) {
		if err := v.save(); err != nil {
			return err
		}
	}
	cand := r.candidate()
	if cand == nil && r.due(now, keys.JournalistMessaging.RotateAfter()) {
		k, err := newPQOwnKey(id, now)
		if err != nil {
			return err
		}
		*r = append(*r, k)
		if err := v.save(); err != nil {
			return err
		}
		cand = k
	}
	if cand == nil {
		return nil
	}
	b, err := v.api.SendForm(ctx, apiclient.PostJournalistMessagingKey, id, cand.Key, form.DefaultTTL)
	if err == nil {
		cand.Epoch, err = apiclient.Epoch(b)
	}
	if err != nil {
		return fmt.Errorf("publishing a messaging key: %w", err)
	}
	return v.publishedMessagingKey(cand.Epoch)
}

// newPQOwnKey makes an X-Wing messaging key certified by the identity key
// id for keys.JournalistMessaging's validity (clamped to id's).
func newPQOwnKey(id *keys.KeyPair, now time.Time) (*pqOwnKey, error) {
	sk, err := pq.GenerateKey()
	if err != nil {
		return nil, err
	}
	signer, err := id.SigningKey()
	if err != nil {
		return nil, err
	}
	cert, err := pq.CertifyKEMKey(signer, &id.Public, sk.PublicKey(), keys.JournalistMessaging.ValidFor(), now)
	if err != nil {
		return nil, err
	}
	return &pqOwnKey{Seed: sk.Seed(), Key: cert, CreatedAt: now}, nil
}

// candidate returns the newest key not yet published, or nil.
func (r pqRing) candidate() *pqOwnKey {
	var c *pqOwnKey
	for _, k := range r {
		if k.Epoch == 0 {
			c = k
		}
	}
	return c
}

// due reports whether a new key should be made: no published key was
// made less than every ago.
func (r pqRing) due(now time.Time, every time.Duration) bool {
	for _, k := range r {
		if now.Sub(k.CreatedAt) < every {
			return false
		}
	}
	return true
}

// forget drops the expired keys, seeds and all (a seized disk should give
// away as few old keys as possible), and reports whether any went.
func (r *pqRing) forget(now time.Time) bool {
	kept := (*r)[:0:0]
	for _, k := range *r {
		if !now.After(k.Key.NotValidAfter) {
			kept = append(kept, k)
		} else {
			clear(k.Seed)
		}
	}
	dropped := len(kept) < len(*r)
	*r = kept
	return dropped
}
