package pq

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
)

// SignedKEMKey is an X-Wing messaging key (CoverNode, journalist or backup)
// with its certificate: the parent identity key's Ed25519 signature over
// KEMCertificateData (docs/PQ.md §3). Its JSON is coverdrop mode's three
// fields, the key in 2,432 hex digits.
type SignedKEMKey struct {
	Key           *PublicKey
	Certificate   [crypto.SignatureSize]byte
	NotValidAfter time.Time
}

// KEMCertificateData returns the 1,243 bytes a KEM key's certificate
// signs (keys.KEMCertificateData): LabelKEMKey ‖ key ‖ not_valid_after in
// whole Unix seconds (floored), big-endian.
func KEMCertificateData(key *PublicKey, notValidAfter time.Time) []byte {
	return keys.KEMCertificateData(key.Bytes(), notValidAfter)
}

// CertifyKEMKey certifies pub with parent (an identity key whose own
// certificate is parentPub) at now, for validFor clamped to the parent's
// expiry (keys.CertifyKEM).
func CertifyKEMKey(parent *crypto.SigningKey, parentPub *keys.SignedPublicKey, pub *PublicKey, validFor time.Duration, now time.Time) (*SignedKEMKey, error) {
	if parent == nil {
		return nil, errors.New("pq: certifying a KEM key needs the key and its parent")
	}
	k, err := keys.CertifyKEM(parent, parentPub, pub, validFor, now)
	if err != nil {
		return nil, fmt.Errorf("pq: %w", err)
	}
	return KEMKey(k)
}

// KEMKey returns the X-Wing key of a signed key of a pq hierarchy, as it
// sits in keys.SignedPublicKey (whose KEM it is); it refuses any other key.
func KEMKey(k *keys.SignedPublicKey) (*SignedKEMKey, error) {
	if k.KEM == nil {
		return nil, fmt.Errorf("pq: %w: not an X-Wing key", keys.ErrWrongMode)
	}
	return &SignedKEMKey{Key: k.KEM, Certificate: k.Certificate, NotValidAfter: k.NotValidAfter}, nil
}

// Signed returns k as the key hierarchy holds it.
func (k *SignedKEMKey) Signed() keys.SignedPublicKey {
	s := keys.NewKEMKey(k.Key)
	s.Certificate, s.NotValidAfter = k.Certificate, k.NotValidAfter
	return s
}

// Verify checks k against the identity key that certifies it at now:
// neither may have expired, and the parent's signature must verify.
func (k *SignedKEMKey) Verify(parent *keys.SignedPublicKey, now time.Time) error {
	s := k.Signed()
	return s.Verify(parent, now)
}

// MarshalJSON writes the key, certificate and expiry.
func (k *SignedKEMKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.Signed()) }

// UnmarshalJSON reads exactly the three fields, all present, and checks
// the key's encoding. The certificate is not checked here (see Verify).
func (k *SignedKEMKey) UnmarshalJSON(b []byte) error {
	var s keys.SignedPublicKey
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("pq: signed KEM key: %w", err)
	}
	out, err := KEMKey(&s)
	if err != nil {
		return err
	}
	*k = *out
	return nil
}

// OrgCertificateData returns what the organisation key signs about itself
// in a mode (keys.OrgCertificateData, docs/PQ.md §8).
func OrgCertificateData(mode string, key []byte, notValidAfter time.Time) ([]byte, error) {
	return keys.OrgCertificateData(mode, key, notValidAfter)
}

// Anchor is an organisation key with the protocol mode it signed: the
// trust anchor a client pins, and org_pk in a published hierarchy. In
// coverdrop mode its JSON is upstream's three fields, byte for byte; in pq
// mode it has a fourth, "protocol": "pq". Mode rules: the embedded key's
// Protocol is set from it when the anchor is written or made.
type Anchor struct {
	keys.SignedPublicKey
	Mode string
}

// NewAnchor self-certifies the organisation key sk in mode at now
// (keys.CertifyOrganization).
func NewAnchor(sk *crypto.SigningKey, mode string, now time.Time) (*Anchor, error) {
	k, err := keys.CertifyOrganization(sk, mode, now)
	if err != nil {
		return nil, fmt.Errorf("pq: %w", err)
	}
	return &Anchor{*k, mode}, nil
}

// Signed returns the anchor as a keys.SignedPublicKey in its mode's form (its
// Protocol set from Mode), as keys.Verify takes trust anchors.
func (a *Anchor) Signed() keys.SignedPublicKey {
	k := a.SignedPublicKey
	k.Protocol = ""
	if a.Mode == ModePQ {
		k.Protocol = ModePQ
	}
	return k
}

// Verify checks the self-certificate in the anchor's own mode at now.
func (a *Anchor) Verify(now time.Time) error {
	if err := keys.CheckMode(a.Mode); err != nil {
		return fmt.Errorf("pq: %w", err)
	}
	k := a.Signed()
	return k.Verify(&k, now)
}

// MarshalJSON writes upstream's three fields, and "protocol" in pq mode.
func (a *Anchor) MarshalJSON() ([]byte, error) { return json.Marshal(a.Signed()) }

// ParseAnchor reads an organisation key and its mode: no "protocol" field
// is coverdrop, "pq" is pq, anything else is refused. A client keeps the
// mode with the anchor and never speaks another.
func ParseAnchor(b []byte) (*Anchor, error) {
	var k keys.SignedPublicKey
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("pq: organisation key: %w", err)
	}
	if k.KEM != nil {
		return nil, errors.New("pq: organisation key: an X-Wing key is not an organisation key")
	}
	return &Anchor{k, k.Mode()}, nil
}
