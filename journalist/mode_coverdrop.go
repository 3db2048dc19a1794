package journalist

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/apiclient"
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
	var t time.Time
	for _, f := range k.Journalists[id] {
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

func (coverDropMode) fetch(ctx context.Context, v *Vault) (published, error) {
	h, err := v.api.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	ver, err := keys.Verify(h, []keys.SignedPublicKey{v.d.TrustAnchor}, v.now())
	if err != nil {
		return nil, err
	}
	v.d.Keys = h
	return coverDropKeys{ver}, nil
}

func (coverDropMode) cached(v *Vault) (published, error) {
	if v.d.Keys == nil {
		return nil, errNoKeys
	}
	ver, err := keys.Verify(v.d.Keys, []keys.SignedPublicKey{v.d.TrustAnchor}, v.now())
	if err != nil {
		return nil, err
	}
	return coverDropKeys{ver}, nil
}

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

// rotateMessaging drops expired X25519 messaging keys and publishes the
// candidate, making one when the newest is a day old. A new key is saved
// before it is sent.
func (coverDropMode) rotateMessaging(ctx context.Context, v *Vault, id *keys.KeyPair, now time.Time) error {
	if v.d.Messaging.Forget(now) {
		if err := v.save(); err != nil {
			return err
		}
	}
	cand, created, err := v.d.Messaging.Next(keys.JournalistMessaging, id, now)
	if err != nil || cand == nil {
		return err
	}
	if created {
		if err := v.save(); err != nil {
			return err
		}
	}
	epoch, err := v.api.UploadMessagingKey(ctx, apiclient.PostJournalistMessagingKey, id, cand.Pair.Public)
	if err != nil {
		return fmt.Errorf("publishing a messaging key: %w", err)
	}
	if err := cand.Published(epoch, nil, now); err != nil {
		return err
	}
	return v.publishedMessagingKey(epoch)
}
