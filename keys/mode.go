package keys

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
)

// Protocol modes (docs/PQ.md §8). A deployment is in exactly one: its
// organisation key signs the mode, and clients pin it with the anchor.
const (
	// ModeCoverDrop is CoverDrop's protocol, byte-compatible with
	// upstream: X25519 messaging keys, the organisation key in SPEC §2.1's
	// form. It is the default.
	ModeCoverDrop = "coverdrop"
	// ModePQ is the post-quantum mode: X-Wing messaging keys certified in
	// the KEM form, the organisation key in the pq form.
	ModePQ = "pq"
)

// Domain-separation labels of the pq mode's certificates (docs/PQ.md §2.3).
const (
	// LabelKEMKey prefixes a KEM key's certificate data.
	LabelKEMKey = "chaff-pq-v1/kem-key"
	// LabelOrganization prefixes the organisation key's pq-mode
	// self-certificate data.
	LabelOrganization = "chaff-pq-v1/organization"
)

// Certificate sizes of the pq mode (docs/PQ.md §3, §8).
const (
	// KEMCertificateDataSize is what a KEM key's certificate signs.
	KEMCertificateDataSize = len(LabelKEMKey) + xwing.PublicKeySize + 8 // 1243
	// OrgCertificateDataSize is what the organisation key's pq-mode
	// self-certificate signs.
	OrgCertificateDataSize = len(LabelOrganization) + CertificateDataSize // 64
)

// ErrWrongMode is why a key of one protocol mode is refused where the
// other's is due: an X25519 messaging key in a pq hierarchy, an X-Wing one
// in a coverdrop hierarchy, a "protocol" field anywhere but on an
// organisation key.
var ErrWrongMode = errors.New("key is not of the deployment's protocol mode")

// AnchorsMode returns the protocol mode of a holder's trust anchors:
// ModeCoverDrop when there are none, ErrMixedModes when they differ.
func AnchorsMode(anchors []SignedPublicKey) (string, error) {
	mode := ModeCoverDrop
	for i := range anchors {
		if i == 0 {
			mode = anchors[0].Mode()
		} else if anchors[i].Mode() != mode {
			return "", ErrMixedModes
		}
	}
	return mode, nil
}

// CheckMode refuses anything but ModeCoverDrop and ModePQ.
func CheckMode(mode string) error {
	if mode != ModeCoverDrop && mode != ModePQ {
		return fmt.Errorf("unknown protocol mode %q (want %s or %s)", mode, ModeCoverDrop, ModePQ)
	}
	return nil
}

// KEMCertificateData returns the 1,243 bytes a KEM key's certificate
// signs: LabelKEMKey ‖ X-Wing public key ‖ not_valid_after in whole Unix
// seconds (floored), big-endian. The label keeps the signed bytes unlike
// anything an identity key signs in coverdrop mode.
func KEMCertificateData(key []byte, notValidAfter time.Time) []byte {
	out := make([]byte, 0, KEMCertificateDataSize)
	out = append(out, LabelKEMKey...)
	return append(out, CertificateData(key, notValidAfter)...)
}

// OrgCertificateData returns what the organisation key signs about itself
// in a mode (docs/PQ.md §8): coverdrop mode's 40 bytes (key ‖ expiry,
// unchanged from upstream), or in pq mode LabelOrganization ‖ key ‖ expiry.
// A pq organisation never signs the coverdrop form, so no pq client can be
// shown a coverdrop hierarchy under its anchor.
func OrgCertificateData(mode string, key []byte, notValidAfter time.Time) ([]byte, error) {
	switch mode {
	case ModeCoverDrop:
		return CertificateData(key, notValidAfter), nil
	case ModePQ:
		out := make([]byte, 0, OrgCertificateDataSize)
		return append(append(out, LabelOrganization...), CertificateData(key, notValidAfter)...), nil
	}
	return nil, CheckMode(mode)
}

// NewKEMKey returns an X-Wing public key as an uncertified signed key:
// KEM holds it, and Key its id, SHA-256 of its 1,216 bytes.
func NewKEMKey(pub *xwing.PublicKey) SignedPublicKey {
	return SignedPublicKey{Key: sha256.Sum256(pub.Bytes()), KEM: pub}
}

// Mode returns the protocol mode an organisation key signed: ModePQ when
// its Protocol is, else ModeCoverDrop.
func (k *SignedPublicKey) Mode() string {
	if k.Protocol == ModePQ {
		return ModePQ
	}
	return ModeCoverDrop
}

// CertifyKEM certifies an X-Wing messaging key with parent (an identity
// key whose own certificate is parentPub) at now, for validFor clamped to
// the parent's expiry, in the KEM form (docs/PQ.md §3).
func CertifyKEM(parent *crypto.SigningKey, parentPub *SignedPublicKey, pub *xwing.PublicKey, validFor time.Duration, now time.Time) (*SignedPublicKey, error) {
	if pub == nil || parentPub == nil {
		return nil, errors.New("keys: certifying a KEM key needs the key and its parent")
	}
	k := NewKEMKey(pub)
	return certify(parent, parentPub, &k, validFor, now)
}

// CertifyOrganization self-certifies the organisation key sk in mode at
// now, valid for the organisation role's lifetime: in pq mode over the pq
// form, with Protocol set (its JSON gains "protocol": "pq").
func CertifyOrganization(sk *crypto.SigningKey, mode string, now time.Time) (*SignedPublicKey, error) {
	if err := CheckMode(mode); err != nil {
		return nil, err
	}
	k := &SignedPublicKey{}
	copy(k.Key[:], sk.VerifyingKey().Bytes())
	if mode == ModePQ {
		k.Protocol = ModePQ
	}
	return certify(sk, nil, k, Organization.ValidFor(), now)
}

// Messaging reports whether keys of this role are messaging keys (X25519
// in coverdrop mode, X-Wing in pq mode).
func (r Role) Messaging() bool {
	return r == CoverNodeMessaging || r == JournalistMessaging || r == BackupMessaging
}

// CheckKeyMode refuses a key that does not belong in a hierarchy of mode at
// role: a "protocol" field anywhere but on the organisation key, an X-Wing
// key anywhere but in a pq messaging role, an X25519 messaging key in pq.
func CheckKeyMode(mode string, role Role, k *SignedPublicKey) error {
	switch {
	case role == Organization && k.Mode() != mode,
		role != Organization && k.Protocol != "",
		k.KEM != nil && !(role.Messaging() && mode == ModePQ),
		k.KEM == nil && role.Messaging() && mode == ModePQ:
		return fmt.Errorf("%w (%s)", ErrWrongMode, mode)
	}
	return nil
}
