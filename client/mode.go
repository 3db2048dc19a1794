package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// Protocol modes (docs/PQ.md §8). An install speaks the mode of the
// anchors it was installed with, and only that one.
const (
	ProtocolCoverDrop = pq.ModeCoverDrop
	ProtocolPQ        = pq.ModePQ
)

// protocolMode is everything an install does differently in one protocol
// mode: the key hierarchy it verifies, the size of its messages, how it
// seals them, the reader's key material and how it reads replies. An install
// chooses its mode once (modeFor, pinned in public.json by Start); the
// queue, the cadence, the refresh and its checks, the storage and the
// install's files are the same code in both modes.
type protocolMode interface {
	// name is the mode as pq.ParseAnchor reads it.
	name() string
	// messageSize is the size of every message the install sends.
	messageSize() int
	// verify parses a GET /v1/public-keys body and verifies it from the
	// anchors at now.
	verify(body []byte, anchors []keys.SignedPublicKey, now time.Time) (verifiedKeys, error)
	// newReader puts fresh reader key material in a new mailbox.
	newReader(mb *mailbox, now time.Time) error
	// hasReader reports whether an opened mailbox holds the mode's reader
	// key material (a mailbox of the other mode does not open).
	hasReader(mb *mailbox) bool
	// expire deletes the reader key material no longer needed at now.
	expire(mb *mailbox, now time.Time)
}

// verifiedKeys is a key hierarchy verified in one mode: what a reader needs
// from it.
type verifiedKeys interface {
	profiles() []keys.JournalistProfile
	// canWriteTo reports whether id has a messaging key to seal to.
	canWriteTo(id string) bool
	// verifyDeadDrop checks a user dead drop's signature, in the mode's
	// signed form, under the hierarchy's CoverNode identity keys.
	verifyDeadDrop(d *deaddrop.DeadDrop) error
	// cover seals a cover message.
	cover() ([]byte, error)
	// seal seals the mailbox reader's real message to a journalist; keep
	// records in the mailbox what reading the replies needs, to be called
	// once the message is queued.
	seal(mb *mailbox, journalistID, text string, now time.Time) (msg []byte, keep func(), err error)
	// replies opens verified user dead drops with the mailbox's keys.
	replies(mb *mailbox, dds []*deaddrop.DeadDrop) []deaddrop.Reply
}

// modeFor returns the mode of a name ("" is coverdrop, as an install made
// before modes existed), and checks that every anchor is self-signed in
// that mode's form (docs/PQ.md §8): a coverdrop anchor in a pq install, or
// the reverse, is refused before anything is downloaded or sent.
func modeFor(name string, anchors []keys.SignedPublicKey) (protocolMode, error) {
	var m protocolMode
	switch name {
	case "", ProtocolCoverDrop:
		m = coverDropMode{}
	case ProtocolPQ:
		m = pqMode{}
	default:
		return nil, fmt.Errorf("unknown protocol mode %q", name)
	}
	for i := range anchors {
		if err := checkAnchorForm(m.name(), &anchors[i]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// checkAnchorForm checks an anchor's self-signature in mode's form,
// whatever its expiry (an expired anchor is dealt with where keys are
// verified).
func checkAnchorForm(mode string, a *keys.SignedPublicKey) error {
	data, err := pq.OrgCertificateData(mode, a.Key[:], a.NotValidAfter)
	if err != nil {
		return err
	}
	vk, err := a.VerifyingKey()
	if err == nil {
		err = vk.Verify(data, a.Certificate[:])
	}
	if err != nil {
		return fmt.Errorf("the trust anchor %x… is not an organisation key of a %s deployment: this install speaks %s only", a.Key[:4], mode, mode)
	}
	return nil
}

// ParseAnchors reads the organisation key files an app ships with, each an
// anchor or a JSON list of anchors (pq.ParseAnchor), and returns them with
// their protocol mode for Config. Anchors of different modes are refused:
// an install speaks one mode.
func ParseAnchors(files ...[]byte) ([]keys.SignedPublicKey, string, error) {
	var out []keys.SignedPublicKey
	mode := ""
	for _, b := range files {
		items := []json.RawMessage{b}
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
			if err := json.Unmarshal(t, &items); err != nil {
				return nil, "", fmt.Errorf("trust anchor list: %w", err)
			}
		}
		for _, it := range items {
			a, err := pq.ParseAnchor(it)
			if err != nil {
				return nil, "", fmt.Errorf("trust anchor: %w", err)
			}
			if mode != "" && a.Mode != mode {
				return nil, "", errors.New("trust anchors of two protocol modes: an install speaks one")
			}
			mode = a.Mode
			out = append(out, a.SignedPublicKey)
		}
	}
	if len(out) == 0 {
		return nil, "", errors.New("no trust anchor")
	}
	return out, mode, nil
}

// coverDropMode is CoverDrop's protocol, byte-compatible with upstream's
// apps: a long-lived X25519 reader key, 773-byte messages.
type coverDropMode struct{}

func (coverDropMode) name() string { return ProtocolCoverDrop }

func (coverDropMode) messageSize() int { return protocol.U2CMessageSize }

func (coverDropMode) verify(body []byte, anchors []keys.SignedPublicKey, now time.Time) (verifiedKeys, error) {
	h, err := keys.ParseHierarchy(body)
	if err != nil {
		return nil, err
	}
	v, err := keys.Verify(h, anchors, now)
	if err != nil {
		return nil, err
	}
	return coverDropKeys{v}, nil
}

func (coverDropMode) newReader(mb *mailbox, now time.Time) error {
	uk, err := keys.Generate(keys.User, nil, now)
	mb.UserKey = uk
	return err
}

func (coverDropMode) hasReader(mb *mailbox) bool { return mb.UserKey != nil }

func (coverDropMode) expire(*mailbox, time.Time) {}

// coverDropKeys is a hierarchy verified in coverdrop mode.
type coverDropKeys struct{ v *keys.Verified }

func (k coverDropKeys) profiles() []keys.JournalistProfile { return k.v.Profiles }

func (k coverDropKeys) canWriteTo(id string) bool { return len(k.v.JournalistMessagingKeys(id)) > 0 }

func (k coverDropKeys) verifyDeadDrop(d *deaddrop.DeadDrop) error {
	return d.Verify(k.v.CoverNodeIdentityKeys())
}

func (k coverDropKeys) cover() ([]byte, error) {
	ks, err := k.v.CoverNodeKeys()
	if err != nil {
		return nil, err
	}
	return protocol.SealCoverU2C(ks)
}

func (k coverDropKeys) seal(mb *mailbox, journalistID, text string, _ time.Time) ([]byte, func(), error) {
	jk, err := k.v.JournalistKey(journalistID)
	if err != nil {
		return nil, nil, err
	}
	cks, err := k.v.CoverNodeKeys()
	if err != nil {
		return nil, nil, err
	}
	uk, err := mb.UserKey.PrivateKey()
	if err != nil {
		return nil, nil, err
	}
	msg, err := protocol.SealU2C(cks, journalistID, jk, uk.PublicKey(), text)
	return msg, func() {}, err
}

func (k coverDropKeys) replies(mb *mailbox, dds []*deaddrop.DeadDrop) []deaddrop.Reply {
	sk, err := mb.UserKey.PrivateKey()
	if err != nil {
		return nil
	}
	journalists := map[string][]*crypto.PublicKey{}
	for _, id := range k.v.JournalistIDs() {
		journalists[id] = k.v.JournalistMessagingKeys(id)
	}
	o, err := deaddrop.NewReaderOpener(sk, journalists)
	if err != nil {
		return nil
	}
	var out []deaddrop.Reply
	for _, d := range dds {
		r, _ := o.Open(d)
		out = append(out, r...)
	}
	return out
}

// pqMode is the post-quantum mode (docs/PQ.md): a random reader id in
// place of the X25519 reader key, a reply key kept per message sent,
// 4,037-byte messages sealed with X-Wing.
type pqMode struct{}

func (pqMode) name() string { return ProtocolPQ }

func (pqMode) messageSize() int { return pq.U2CMessageSize }

func (pqMode) verify(body []byte, anchors []keys.SignedPublicKey, now time.Time) (verifiedKeys, error) {
	as := make([]pq.Anchor, len(anchors))
	for i := range anchors {
		as[i] = pq.Anchor{SignedPublicKey: anchors[i], Mode: pq.ModePQ}
	}
	h, err := verifyPQHierarchy(body, as, now)
	if err != nil {
		return nil, err
	}
	return pqKeys{h}, nil
}

func (pqMode) newReader(mb *mailbox, _ time.Time) error {
	id, err := pq.NewReaderID()
	mb.ReaderID = &id
	return err
}

func (pqMode) hasReader(mb *mailbox) bool { return mb.ReaderID != nil }

func (pqMode) expire(mb *mailbox, now time.Time) { mb.ReplyKeys = mb.ReplyKeys.expire(now) }

// pqHierarchy is a key hierarchy verified in pq mode from pq anchors:
// X-Wing messaging keys certified in the KEM form (docs/PQ.md §3).
type pqHierarchy interface {
	Profiles() []keys.JournalistProfile
	CoverNodeIdentityKeys() []*crypto.VerifyingKey
	// CoverNodeKeys are the keys a message is sealed to (docs/PQ.md §3's
	// key selection).
	CoverNodeKeys() ([]*pq.PublicKey, error)
	// JournalistKey is the messaging key a message to id is sealed to.
	JournalistKey(id string) (*pq.PublicKey, error)
}

// verifyPQHierarchy parses and verifies a pq-mode GET /v1/public-keys body.
var verifyPQHierarchy = func([]byte, []pq.Anchor, time.Time) (pqHierarchy, error) {
	return nil, errors.New("the pq key hierarchy cannot be read yet")
}

// pqKeys is a hierarchy verified in pq mode.
type pqKeys struct{ h pqHierarchy }

func (k pqKeys) profiles() []keys.JournalistProfile { return k.h.Profiles() }

func (k pqKeys) canWriteTo(id string) bool {
	_, err := k.h.JournalistKey(id)
	return err == nil
}

func (k pqKeys) verifyDeadDrop(d *deaddrop.DeadDrop) error {
	return asPQ(d).Verify(k.h.CoverNodeIdentityKeys())
}

func (k pqKeys) cover() ([]byte, error) {
	ks, err := k.h.CoverNodeKeys()
	if err != nil {
		return nil, err
	}
	return pq.SealCoverU2C(ks)
}

func (k pqKeys) seal(mb *mailbox, journalistID, text string, now time.Time) ([]byte, func(), error) {
	jk, err := k.h.JournalistKey(journalistID)
	if err != nil {
		return nil, nil, err
	}
	cks, err := k.h.CoverNodeKeys()
	if err != nil {
		return nil, nil, err
	}
	if mb.ReaderID == nil {
		return nil, nil, errors.New("the mailbox has no reader id")
	}
	msg, rk, err := pq.SealU2C(cks, journalistID, jk, *mb.ReaderID, text)
	if err != nil {
		return nil, nil, err
	}
	keep := func() {
		mb.ReplyKeys = mb.ReplyKeys.add(replyKey{pq.StoredReplyKey{Key: *rk, JournalistID: journalistID}, now})
		clear(rk[:])
	}
	return msg, keep, nil
}

func (k pqKeys) replies(mb *mailbox, dds []*deaddrop.DeadDrop) []deaddrop.Reply {
	o, err := pq.NewReaderOpener(mb.ReplyKeys.stored())
	if err != nil {
		return nil
	}
	var out []deaddrop.Reply
	for _, d := range dds {
		r, _ := o.Open(asPQ(d))
		out = append(out, r...)
	}
	return out
}

// asPQ is a user dead drop read in pq form: the same JSON and chunk size
// as coverdrop's, another signed digest (docs/PQ.md §6).
func asPQ(d *deaddrop.DeadDrop) *pq.DeadDrop {
	return &pq.DeadDrop{Kind: d.Kind, ID: d.ID, CreatedAt: d.CreatedAt, Data: d.Data, Signature: d.Signature, Epoch: d.Epoch}
}
