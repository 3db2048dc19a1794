package journalist

import (
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// mode is what the vault does differently in each protocol mode
// (docs/PQ.md): the formats of keys, dead drops and messages. Everything
// else belongs to the vault and is shared by both modes: the sync's
// paging, epochs and waits, the record of messages seen, threading, the
// outbox and its cadence, expiry, the log and the web UI. A vault's mode
// is fixed when it is made, from its deployment, and it never speaks the
// other one: a vault of one mode refuses the published keys of a
// deployment of the other (their organisation keys sign different forms).
type mode interface {
	// name is pq.ModeCoverDrop or pq.ModePQ.
	name() string
	// published gives a hierarchy verified in the mode (keys.VerifyIn)
	// the form the vault uses.
	published(ver *keys.Verified) published
	// parsePage reads a page of published dead drops of kind; the page's
	// ids are checked by the caller.
	parsePage(kind deaddrop.Kind, b []byte) ([]drop, error)
	// opener returns what opens a verified journalist dead drop with the
	// vault's own messaging keys valid at now, latest first.
	opener(v *Vault, pub published, now time.Time) (func(drop) []received, error)
	// openShare opens a backup share sealed to one of the vault's valid
	// messaging keys (crypto.ErrDecrypt when none opens it). Callers hold
	// mu.
	openShare(v *Vault, sealed []byte, now time.Time) ([]byte, error)
	// sealJ2U seals m to a conversation's reader. Callers hold mu.
	sealJ2U(v *Vault, c *Conversation, m *protocol.JournalistMessage, now time.Time) ([]byte, error)
}

// published is a verified key hierarchy of the vault's mode, as the vault
// uses it.
type published interface {
	// coverNodeIdentityKeys verify dead drops.
	coverNodeIdentityKeys() []*crypto.VerifyingKey
	// maxEpoch is the newest epoch of the keys (SPEC §6.4).
	maxEpoch() int64
	// profiles are the journalists' and desks' public profiles.
	profiles() []keys.JournalistProfile
	// sealJ2C wraps a J2U message for the CoverNodes; sealCoverJ2C makes a
	// cover message of the same size.
	sealJ2C(j2u []byte) ([]byte, error)
	sealCoverJ2C() ([]byte, error)
	// shareSealer returns what seals a backup share to the journalist
	// id's latest messaging key.
	shareSealer(id string) (func(share []byte) ([]byte, error), error)
	// messagingKeyExpiry is when the journalist id's latest messaging key
	// expires (zero when unknown): a share sealed to it must be kept
	// before then.
	messagingKeyExpiry(id string) time.Time
	// backupSealer returns what seals a backup share to the newest
	// published backup messaging key (the backup admin's),
	// ErrNoBackupKey when none is published.
	backupSealer() (func(share []byte) ([]byte, error), error)
}

// deadDrop is what the vault needs of a dead drop of either mode.
type deadDrop interface {
	Verify(coverNodeIdentityKeys []*crypto.VerifyingKey) error
	Chunks() int
	Chunk(i int) []byte
}

// drop is a published dead drop of either mode.
type drop struct {
	ID        int64
	CreatedAt time.Time
	Epoch     int32
	dd        deadDrop
}

func dropIDs(ds []drop) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// received is a reader's message opened from a journalist dead drop, in
// either mode.
type received struct {
	CreatedAt time.Time
	// U2J is the message as the reader sealed it: it tells a message
	// delivered twice from the same text sent twice (see receive).
	U2J []byte
	// Thread (hex) is what ties a reader's messages together: in coverdrop
	// mode the reader's public key, in pq mode their reader id.
	Thread string
	// ReplyKey (hex) is what replies to the message are sealed with: in
	// coverdrop mode the reader's public key again, in pq mode the
	// message's own reply key, a secret (docs/PQ.md §5.5).
	ReplyKey string
	Text     string
}

// protocolWords says what each mode is, for the vault page.
var protocolWords = map[string]string{
	pq.ModeCoverDrop: "coverdrop: CoverDrop's protocol",
	pq.ModePQ:        "pq: post-quantum (ML-KEM-768 with X25519); what is recorded today stays secret if either holds",
}

// modeFor returns the mode of the name ("" is coverdrop: vaults from
// before pq mode).
func modeFor(name string) (mode, error) {
	switch name {
	case "", pq.ModeCoverDrop:
		return coverDropMode{}, nil
	case pq.ModePQ:
		return pqMode{}, nil
	}
	return nil, fmt.Errorf("the vault speaks protocol %q, which this version does not know", name)
}
