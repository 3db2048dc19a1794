package journalist

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// pqMode is the post-quantum protocol mode (docs/PQ.md): X-Wing messaging
// keys, journalist dead drops of HPKE-sealed chunks opened with
// pq.JournalistOpener, conversations threaded by reader id, and replies
// sealed under the reply key of the reader's latest message (pq.SealJ2U)
// inside a box to two CoverNodes' X-Wing keys (pq.SealJ2C).
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

func (pqMode) published(ver *keys.Verified) published { return pqKeys{ver} }

// pqKeys is a hierarchy verified in pq mode.
type pqKeys struct{ *keys.Verified }

func (k pqKeys) coverNodeIdentityKeys() []*crypto.VerifyingKey { return k.CoverNodeIdentityKeys() }
func (k pqKeys) maxEpoch() int64                               { return k.MaxEpoch }
func (k pqKeys) profiles() []keys.JournalistProfile            { return k.Profiles }

// sealJ2C seals to the two CoverNode X-Wing keys of SPEC §6.3's
// selection (the first twice if there is one CoverNode).
func (k pqKeys) sealJ2C(j2u []byte) ([]byte, error) {
	cks, err := k.CoverNodeKEMWrappingKeys()
	if err != nil {
		return nil, err
	}
	return pq.SealJ2C(cks, j2u)
}

func (k pqKeys) sealCoverJ2C() ([]byte, error) {
	cks, err := k.CoverNodeKEMWrappingKeys()
	if err != nil {
		return nil, err
	}
	return pq.SealCoverJ2C(cks)
}

// shareSealer seals to the colleague's latest X-Wing messaging key with
// HPKE (docs/PQ.md §5.8).
func (k pqKeys) shareSealer(id string) (func([]byte) ([]byte, error), error) {
	pk, err := k.JournalistKEMKey(id)
	if err != nil {
		return nil, err
	}
	return func(share []byte) ([]byte, error) { return pq.SealBackupShare(pk, share) }, nil
}

func (k pqKeys) messagingKeyExpiry(id string) time.Time {
	return latestMessagingExpiry(k.Verified, id)
}

// backupSealer seals to the newest backup messaging X-Wing key (docs/PQ.md
// §3) with HPKE, as shareSealer does to a colleague's (§5.8).
func (k pqKeys) backupSealer() (func([]byte) ([]byte, error), error) {
	pk, err := k.BackupKEMKey()
	if err != nil {
		return nil, ErrNoBackupKey
	}
	return func(share []byte) ([]byte, error) { return pq.SealBackupShare(pk, share) }, nil
}

func (pqMode) openShare(v *Vault, sealed []byte, now time.Time) ([]byte, error) {
	for _, sk := range v.d.Messaging.KEMDecryptionKeys(now) {
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

// opener tries the vault's X-Wing keys newest first: the CoverNode seals
// to the latest, so the first key tried usually opens a chunk that is the
// journalist's (each key tried costs an X-Wing decapsulation per chunk).
func (pqMode) opener(v *Vault, _ published, now time.Time) (func(drop) []received, error) {
	op := pq.NewJournalistOpener(v.d.Messaging.KEMDecryptionKeys(now))
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
	if len(c.ReplyKey) != 2*pq.ReplyKeySize {
		return nil, errors.New("the conversation's reply key is damaged")
	}
	if _, err := hex.Decode(rk[:], []byte(c.ReplyKey)); err != nil {
		return nil, errors.New("the conversation's reply key is damaged")
	}
	return pq.SealJ2U(&rk, m)
}
