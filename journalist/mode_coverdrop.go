package journalist

import (
	"encoding/hex"
	"errors"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// coverDropMode is CoverDrop's protocol, byte-compatible with upstream:
// X25519 messaging keys, replies sealed to the reader's public key.
type coverDropMode struct{}

func (coverDropMode) name() string { return pq.ModeCoverDrop }

// coverDropKeys is a verified coverdrop hierarchy.
type coverDropKeys struct{ *keys.Verified }

func (k coverDropKeys) coverNodeIdentityKeys() []*crypto.VerifyingKey {
	return k.CoverNodeIdentityKeys()
}
func (k coverDropKeys) maxEpoch() int64                    { return k.MaxEpoch }
func (k coverDropKeys) profiles() []keys.JournalistProfile { return k.Profiles }

func (k coverDropKeys) sealJ2C(j2u []byte) ([]byte, error) {
	cks, err := k.CoverNodeKeys()
	if err != nil {
		return nil, err
	}
	return protocol.SealJ2C(cks, j2u)
}

func (k coverDropKeys) sealCoverJ2C() ([]byte, error) {
	cks, err := k.CoverNodeKeys()
	if err != nil {
		return nil, err
	}
	return protocol.SealCoverJ2C(cks)
}

// shareSealer seals to the colleague's latest X25519 messaging key with
// a sealed box.
func (k coverDropKeys) shareSealer(id string) (func([]byte) ([]byte, error), error) {
	pk, err := k.JournalistKey(id)
	if err != nil {
		return nil, err
	}
	return func(share []byte) ([]byte, error) { return crypto.SealAnonymous(pk, share) }, nil
}

// messagingKeyExpiry is the expiry of the colleague's latest verified
// messaging key.
func (k coverDropKeys) messagingKeyExpiry(id string) time.Time {
	return latestMessagingExpiry(k.Verified, id)
}

// latestMessagingExpiry is the expiry of journalist id's latest verified
// messaging key, in either mode (zero when there is none).
func latestMessagingExpiry(v *keys.Verified, id string) time.Time {
	var t time.Time
	for _, f := range v.Journalists[id] {
		for _, m := range f.Messaging {
			if m.NotValidAfter.After(t) {
				t = m.NotValidAfter
			}
		}
	}
	return t.UTC()
}

// backupSealer seals to the newest verified backup messaging key (X25519)
// with a sealed box, as upstream wraps every share.
func (k coverDropKeys) backupSealer() (func([]byte) ([]byte, error), error) {
	var best *keys.VerifiedKey
	for _, f := range k.Backup {
		for i, m := range f.Messaging {
			if best == nil || m.NotValidAfter.After(best.NotValidAfter) {
				best = &f.Messaging[i]
			}
		}
	}
	if best == nil {
		return nil, ErrNoBackupKey
	}
	pk, err := best.PublicKey()
	if err != nil {
		return nil, err
	}
	return func(share []byte) ([]byte, error) { return crypto.SealAnonymous(pk, share) }, nil
}

func (coverDropMode) openShare(v *Vault, sealed []byte, now time.Time) ([]byte, error) {
	for _, sk := range v.d.Messaging.DecryptionKeys(now) {
		if plain, err := crypto.OpenAnonymous(sk, sealed); err == nil {
			return plain, nil
		}
	}
	return nil, crypto.ErrDecrypt
}

func (coverDropMode) published(ver *keys.Verified) published { return coverDropKeys{ver} }

func (coverDropMode) parsePage(kind deaddrop.Kind, b []byte) ([]drop, error) {
	l, err := deaddrop.ParseList(kind, b)
	if err != nil {
		return nil, err
	}
	out := make([]drop, len(l.DeadDrops))
	for i, d := range l.DeadDrops {
		out[i] = drop{ID: d.ID, CreatedAt: d.CreatedAt, Epoch: d.Epoch, dd: d}
	}
	return out, nil
}

func (coverDropMode) opener(v *Vault, pub published, now time.Time) (func(drop) []received, error) {
	op, err := deaddrop.NewJournalistOpener(v.d.Messaging.DecryptionKeys(now), pub.(coverDropKeys).AllCoverNodeMessagingKeys())
	if err != nil {
		return nil, err
	}
	return func(d drop) []received {
		got, _ := op.Open(d.dd.(*deaddrop.DeadDrop)) // ErrNotForMe: nothing for this journalist
		out := make([]received, len(got))
		for i, r := range got {
			rk := r.Message.ReplyKey.Hex()
			out[i] = received{CreatedAt: r.CreatedAt, U2J: r.U2J, Thread: rk, ReplyKey: rk, Text: r.Message.Text}
		}
		return out
	}, nil
}

func (coverDropMode) sealJ2U(v *Vault, c *Conversation, m *protocol.JournalistMessage, now time.Time) ([]byte, error) {
	rkb, err := hex.DecodeString(c.ReplyKey)
	if err != nil {
		return nil, err
	}
	rk, err := crypto.NewPublicKey(rkb)
	if err != nil {
		return nil, err
	}
	mk := v.d.Messaging.Latest(now)
	if mk == nil {
		return nil, errors.New("no published messaging key yet: sync first")
	}
	sk, err := mk.Pair.PrivateKey()
	if err != nil {
		return nil, err
	}
	return protocol.SealJ2U(rk, sk, m)
}
