package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// Protocol modes (docs/PQ.md §8). An install speaks the mode of the
// anchors it was installed with, and only that one.
const (
	ProtocolCoverDrop = keys.ModeCoverDrop
	ProtocolPQ        = keys.ModePQ
)

// protocolMode is everything an install does differently in one protocol
// mode: the key hierarchy it verifies, the size of its messages, how it
// seals them, the reader's key material and how it reads replies. An install
// chooses its mode once (its anchors', pinned in public.json by Start); the
// queue, the cadence, the refresh and its checks, the storage and the
// install's files are the same code in both modes.
type protocolMode interface {
	// name is the mode as pq.ParseAnchor reads it.
	name() string
	// messageSize is the size of every message the install sends.
	messageSize() int
	// publicKeys fetches the published keys as the mode's readers all do:
	// GET /v1/public-keys in coverdrop mode (upstream's apps', and a
	// coverdrop reader opens replies under older journalist keys too), the
	// readers' view in pq mode (docs/PQ.md §10.2).
	publicKeys(ctx context.Context, api *apiclient.Client) ([]byte, error)
	// verify parses a GET /v1/public-keys body and verifies it from the
	// anchors at now, in the mode only (keys.VerifyIn: anchors of the other
	// mode, and keys of the other mode inside the hierarchy, are refused).
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
// before modes existed).
func modeFor(name string) (protocolMode, error) {
	switch name {
	case "", ProtocolCoverDrop:
		return coverDropMode{}, nil
	case ProtocolPQ:
		return pqMode{}, nil
	}
	return nil, fmt.Errorf("unknown protocol mode %q", name)
}

// anchorsMode is the protocol mode the anchors signed (docs/PQ.md §8), ""
// when there are none. Each must be self-signed in its mode's form (an
// anchor file given a "protocol" field it was not signed with is refused),
// and all in one mode.
func anchorsMode(anchors []keys.SignedPublicKey) (string, error) {
	mode := ""
	for i := range anchors {
		a := &anchors[i]
		vk, err := a.VerifyingKey()
		if err == nil {
			err = vk.Verify(a.CertificateData(), a.Certificate[:])
		}
		if err != nil {
			return "", fmt.Errorf("the trust anchor %s… is not an organisation key of a %s deployment: its self-signature is not in that mode's form", a.Prefix(), a.Mode())
		}
		if mode != "" && a.Mode() != mode {
			return "", errors.New("trust anchors of two protocol modes: an install speaks one")
		}
		mode = a.Mode()
	}
	return mode, nil
}

// ParseAnchors reads the organisation key files an app ships with, each an
// anchor or a JSON list of anchors (pq.ParseAnchor: no "protocol" field is
// coverdrop, "pq" is pq, anything else is refused), for Config.Anchors.
// Anchors of different modes are refused: an install speaks one.
func ParseAnchors(files ...[]byte) ([]keys.SignedPublicKey, error) {
	var out []keys.SignedPublicKey
	for _, b := range files {
		items := []json.RawMessage{b}
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
			if err := json.Unmarshal(t, &items); err != nil {
				return nil, fmt.Errorf("trust anchor list: %w", err)
			}
		}
		for _, it := range items {
			a, err := pq.ParseAnchor(it)
			if err != nil {
				return nil, fmt.Errorf("trust anchor: %w", err)
			}
			out = append(out, a.Signed())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no trust anchor")
	}
	if _, err := anchorsMode(out); err != nil {
		return nil, err
	}
	return out, nil
}

// coverDropMode is CoverDrop's protocol, byte-compatible with upstream's
// apps: a long-lived X25519 reader key, 773-byte messages.
type coverDropMode struct{}

func (coverDropMode) name() string { return ProtocolCoverDrop }

func (coverDropMode) publicKeys(ctx context.Context, api *apiclient.Client) ([]byte, error) {
	return api.PublicKeysBody(ctx)
}

func (coverDropMode) messageSize() int { return protocol.U2CMessageSize }

func (coverDropMode) verify(body []byte, anchors []keys.SignedPublicKey, now time.Time) (verifiedKeys, error) {
	v, err := verifyIn(keys.ModeCoverDrop, body, anchors, now)
	if err != nil {
		return nil, err
	}
	return coverDropKeys{v}, nil
}

func verifyIn(mode string, body []byte, anchors []keys.SignedPublicKey, now time.Time) (*keys.Verified, error) {
	h, err := keys.ParseHierarchy(body)
	if err != nil {
		return nil, err
	}
	return keys.VerifyIn(mode, h, anchors, now)
}

func (coverDropMode) newReader(mb *mailbox, now time.Time) error {
	uk, err := keys.Generate(keys.User, nil, now)
	mb.UserKey = uk
	return err
}

func (coverDropMode) hasReader(mb *mailbox) bool { return mb.UserKey != nil }

func (coverDropMode) expire(*mailbox, time.Time) {}

// keysIn is a verified hierarchy as its mode's verifiedKeys.
func keysIn(v *keys.Verified) verifiedKeys {
	if v.Mode == keys.ModePQ {
		return pqKeys{v}
	}
	return coverDropKeys{v}
}

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

func (pqMode) publicKeys(ctx context.Context, api *apiclient.Client) ([]byte, error) {
	b, err := api.ReaderPublicKeysBody(ctx)
	if apiclient.StatusOf(err) == http.StatusNotFound {
		return nil, fmt.Errorf("the API serves no readers' keys (GET /v1/public-keys/readers), so it is not a pq deployment: %w", err)
	}
	return b, err
}

func (pqMode) messageSize() int { return pq.U2CMessageSize }

func (pqMode) verify(body []byte, anchors []keys.SignedPublicKey, now time.Time) (verifiedKeys, error) {
	v, err := verifyIn(keys.ModePQ, body, anchors, now)
	if err != nil {
		return nil, err
	}
	return pqKeys{v}, nil
}

func (pqMode) newReader(mb *mailbox, _ time.Time) error {
	id, err := pq.NewReaderID()
	mb.ReaderID = &id
	return err
}

func (pqMode) hasReader(mb *mailbox) bool { return mb.ReaderID != nil }

func (pqMode) expire(mb *mailbox, now time.Time) { mb.ReplyKeys = mb.ReplyKeys.expire(now) }

// pqKeys is a hierarchy verified in pq mode: X-Wing messaging keys
// certified in the KEM form (docs/PQ.md §3).
type pqKeys struct{ v *keys.Verified }

func (k pqKeys) profiles() []keys.JournalistProfile { return k.v.Profiles }

func (k pqKeys) canWriteTo(id string) bool { return len(k.v.JournalistKEMKeys(id)) > 0 }

func (k pqKeys) verifyDeadDrop(d *deaddrop.DeadDrop) error {
	return asPQ(d).Verify(k.v.CoverNodeIdentityKeys())
}

func (k pqKeys) cover() ([]byte, error) {
	ks, err := k.v.CoverNodeKEMWrappingKeys()
	if err != nil {
		return nil, err
	}
	return pq.SealCoverU2C(ks)
}

func (k pqKeys) seal(mb *mailbox, journalistID, text string, now time.Time) ([]byte, func(), error) {
	jk, err := k.v.JournalistKEMKey(journalistID)
	if err != nil {
		return nil, nil, err
	}
	cks, err := k.v.CoverNodeKEMWrappingKeys()
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
