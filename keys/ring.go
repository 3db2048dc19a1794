package keys

import (
	"errors"
	"sort"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
)

// OwnKey is one of a key holder's own key pairs (a journalist's or a
// CoverNode's) with what the API said of it. Epoch 0 marks a candidate:
// made and saved, not yet published; an identity candidate has no
// certificate yet either.
type OwnKey struct {
	Pair      *KeyPair  `json:"pair"`
	Epoch     uint64    `json:"epoch"`
	CreatedAt time.Time `json:"created_at"`
}

// Ring is a holder's own keys of one role, in the order they were made,
// as kept in the journalist vault and the CoverNode's key state (a JSON
// array of OwnKey). It is the one place that says which key is the
// latest, when a new one is due and when an old one expires; it holds no
// lock (its holder's does).
type Ring []*OwnKey

// Latest returns the key to sign or seal with: of the published,
// certified and unexpired keys, the one valid longest. It is nil when
// there is none.
func (r Ring) Latest(now time.Time) *OwnKey {
	var best *OwnKey
	for _, k := range r {
		if k.Epoch > 0 && k.Pair.Signed && !k.Pair.Public.Expired(now) &&
			(best == nil || k.Pair.Public.NotValidAfter.After(best.Pair.Public.NotValidAfter)) {
			best = k
		}
	}
	return best
}

// Candidate returns the newest key not yet published, or nil.
func (r Ring) Candidate() *OwnKey {
	var c *OwnKey
	for _, k := range r {
		if k.Epoch == 0 {
			c = k
		}
	}
	return c
}

// Due reports whether a new key should be made at now: there is no
// candidate, and no published key was made less than every ago.
func (r Ring) Due(now time.Time, every time.Duration) bool {
	if r.Candidate() != nil {
		return false
	}
	var newest *OwnKey
	for _, k := range r {
		if newest == nil || k.CreatedAt.After(newest.CreatedAt) {
			newest = k
		}
	}
	return newest == nil || now.Sub(newest.CreatedAt) >= every
}

// Next returns the key to publish next, adding one for role when a key is
// Due after role's rotation period: the candidate there is, or a new one
// (created reports that, so that the holder saves it before sending it:
// a crash in between never leaves a published key the holder lacks). A
// new messaging key is certified by parent; a new identity key is left
// uncertified, for the identity API to certify. Next returns nil when
// nothing is to be published.
func (r *Ring) Next(role Role, parent *KeyPair, now time.Time) (next *OwnKey, created bool, err error) {
	return r.NextIn(ModeCoverDrop, role, parent, now)
}

// NextIn is Next in a protocol mode: in pq mode a new messaging key is an
// X-Wing key certified in the KEM form (GenerateIn), on the same cadence.
func (r *Ring) NextIn(mode string, role Role, parent *KeyPair, now time.Time) (next *OwnKey, created bool, err error) {
	if c := r.Candidate(); c != nil {
		return c, false, nil
	}
	if !r.Due(now, role.RotateAfter()) {
		return nil, false, nil
	}
	var kp *KeyPair
	if role.Signing() {
		sk, err := crypto.GenerateSigningKey()
		if err != nil {
			return nil, false, err
		}
		kp = NewSigningKeyPair(sk, nil)
	} else if kp, err = GenerateIn(mode, role, parent, now); err != nil {
		return nil, false, err
	}
	next = &OwnKey{Pair: kp, CreatedAt: now}
	*r = append(*r, next)
	return next, true, nil
}

// Forget drops the keys that have expired, secrets and all: they sign and
// open nothing any more, and a seized disk should give away as few old
// keys as possible. A candidate still waiting for its certificate stays.
// It reports whether any key went.
func (r *Ring) Forget(now time.Time) (dropped bool) {
	var kept Ring
	for _, k := range *r {
		if !k.Pair.Signed || !k.Pair.Public.Expired(now) {
			kept = append(kept, k)
		}
	}
	dropped = len(kept) < len(*r)
	*r = kept
	return dropped
}

// DecryptionKeys returns the private keys of every unexpired key, newest
// first, for trial decryption (a published key and its candidate
// successor both open messages while clients change over).
func (r Ring) DecryptionKeys(now time.Time) []*crypto.PrivateKey {
	return DecryptionKeysOf(r, now, (*KeyPair).PrivateKey)
}

// KEMDecryptionKeys returns the X-Wing private keys of every unexpired
// key, newest first: DecryptionKeys of a pq ring.
func (r Ring) KEMDecryptionKeys(now time.Time) []*xwing.PrivateKey {
	return DecryptionKeysOf(r, now, (*KeyPair).KEMPrivateKey)
}

// DecryptionKeysOf returns private(pair) of every unexpired key of r,
// newest first, leaving out the pairs private refuses: DecryptionKeys and
// KEMDecryptionKeys with the parsing of each pair left to the caller (a
// CoverNode parses each key once, not once per batch).
func DecryptionKeysOf[K any](r Ring, now time.Time, private func(*KeyPair) (K, error)) []K {
	ks := append(Ring(nil), r...)
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].CreatedAt.After(ks[j].CreatedAt) })
	var out []K
	for _, k := range ks {
		if k.Pair.Public.Expired(now) {
			continue
		}
		if sk, err := private(k.Pair); err == nil {
			out = append(out, sk)
		}
	}
	return out
}

// ErrNotThisKey is returned by Published when the API's certificate is
// not for the key, or has expired.
var ErrNotThisKey = errors.New("keys: the certificate is not for this key, or has expired")

// Published records that the API published k at epoch. For an identity
// key the certificate the API answered with (cert) must be for k's key
// and unexpired at now; it becomes k's certificate. A messaging key is
// certified already (pass a nil cert).
func (k *OwnKey) Published(epoch uint64, cert *SignedPublicKey, now time.Time) error {
	if epoch == 0 {
		return errors.New("keys: published at epoch 0")
	}
	if cert != nil {
		if cert.Key != k.Pair.Public.Key || cert.Expired(now) {
			return ErrNotThisKey
		}
		sk, err := k.Pair.SigningKey()
		if err != nil {
			return err
		}
		k.Pair = NewSigningKeyPair(sk, cert)
	}
	k.Epoch = epoch
	return nil
}
