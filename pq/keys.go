package pq

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
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
// signs: LabelKEMKey ‖ key ‖ not_valid_after in whole Unix seconds
// (floored), big-endian. The label keeps the signed bytes unlike anything
// an identity key signs in coverdrop mode.
func KEMCertificateData(key *PublicKey, notValidAfter time.Time) []byte {
	out := make([]byte, 0, KEMCertificateDataSize)
	out = append(append(out, LabelKEMKey...), key.Bytes()...)
	return binary.BigEndian.AppendUint64(out, uint64(notValidAfter.Unix()))
}

// CertifyKEMKey certifies pub with parent (an identity key whose own
// certificate is parentPub) at now, for validFor clamped to the parent's
// expiry, as keys.Certify does for coverdrop keys.
func CertifyKEMKey(parent *crypto.SigningKey, parentPub *keys.SignedPublicKey, pub *PublicKey, validFor time.Duration, now time.Time) (*SignedKEMKey, error) {
	if pub == nil || parent == nil || parentPub == nil {
		return nil, errors.New("pq: certifying a KEM key needs the key and its parent")
	}
	if validFor <= 0 {
		return nil, errors.New("pq: validity must be positive")
	}
	if parentPub.Expired(now) {
		return nil, fmt.Errorf("pq: cannot certify with an expired key: %w", keys.ErrParentExpired)
	}
	nva := now.UTC().Add(validFor).Truncate(time.Microsecond)
	if nva.After(parentPub.NotValidAfter) {
		nva = parentPub.NotValidAfter
	}
	k := &SignedKEMKey{Key: pub, NotValidAfter: nva}
	copy(k.Certificate[:], parent.Sign(KEMCertificateData(pub, nva)))
	return k, nil
}

// Verify checks k against the identity key that certifies it at now:
// neither may have expired, and the parent's signature must verify.
func (k *SignedKEMKey) Verify(parent *keys.SignedPublicKey, now time.Time) error {
	if now.After(k.NotValidAfter) {
		return fmt.Errorf("%w (not valid after %s)", keys.ErrExpired, protocol.FormatTime(k.NotValidAfter))
	}
	if parent.Expired(now) {
		return fmt.Errorf("%w (not valid after %s)", keys.ErrParentExpired, protocol.FormatTime(parent.NotValidAfter))
	}
	vk, err := parent.VerifyingKey()
	if err != nil {
		return fmt.Errorf("%w: parent key: %v", keys.ErrBadCertificate, err)
	}
	if vk.Verify(KEMCertificateData(k.Key, k.NotValidAfter), k.Certificate[:]) != nil {
		return keys.ErrBadCertificate
	}
	return nil
}

type signedKeyJSON struct {
	Key           string `json:"key"`
	Certificate   string `json:"certificate"`
	NotValidAfter string `json:"not_valid_after"`
}

// MarshalJSON writes the key, certificate and expiry.
func (k *SignedKEMKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(signedKeyJSON{
		Key:           hex.EncodeToString(k.Key.Bytes()),
		Certificate:   hex.EncodeToString(k.Certificate[:]),
		NotValidAfter: protocol.FormatTime(k.NotValidAfter),
	})
}

// UnmarshalJSON reads exactly the three fields, all present, and checks
// the key's encoding. The certificate is not checked here (see Verify).
func (k *SignedKEMKey) UnmarshalJSON(b []byte) error {
	var j signedKeyJSON
	if err := protocol.DecodeJSON(b, &j, true); err != nil {
		return fmt.Errorf("pq: signed KEM key: %w", err)
	}
	key, err := hex.DecodeString(j.Key)
	if err != nil {
		return fmt.Errorf("pq: signed KEM key: key is not hex")
	}
	pk, err := NewPublicKey(key)
	if err != nil {
		return err
	}
	out := SignedKEMKey{Key: pk}
	if len(j.Certificate) != 2*crypto.SignatureSize {
		return fmt.Errorf("pq: signed KEM key: certificate is %d hex digits, want %d", len(j.Certificate), 2*crypto.SignatureSize)
	}
	if _, err := hex.Decode(out.Certificate[:], []byte(j.Certificate)); err != nil {
		return fmt.Errorf("pq: signed KEM key: certificate is not hex")
	}
	if out.NotValidAfter, err = protocol.ParseTime(j.NotValidAfter); err != nil {
		return fmt.Errorf("pq: signed KEM key: not_valid_after: %w", err)
	}
	*k = out
	return nil
}

// OrgCertificateData returns what the organisation key signs about itself
// in a mode (docs/PQ.md §8): coverdrop mode's 40 bytes (key ‖ expiry,
// unchanged from upstream), or in pq mode LabelOrganization ‖ key ‖ expiry.
// A pq organisation never signs the coverdrop form, so no pq client can be
// shown a coverdrop hierarchy under its anchor.
func OrgCertificateData(mode string, key []byte, notValidAfter time.Time) ([]byte, error) {
	switch mode {
	case ModeCoverDrop:
		return keys.CertificateData(key, notValidAfter), nil
	case ModePQ:
		out := make([]byte, 0, OrgCertificateDataSize)
		return append(append(out, LabelOrganization...), keys.CertificateData(key, notValidAfter)...), nil
	}
	return nil, fmt.Errorf("pq: unknown protocol mode %q", mode)
}

// Anchor is an organisation key with the protocol mode it signed: the
// trust anchor a client pins, and org_pk in a published hierarchy. In
// coverdrop mode its JSON is upstream's three fields, byte for byte; in pq
// mode it has a fourth, "protocol": "pq".
type Anchor struct {
	keys.SignedPublicKey
	Mode string
}

// NewAnchor self-certifies the organisation key sk in mode at now.
func NewAnchor(sk *crypto.SigningKey, mode string, now time.Time) (*Anchor, error) {
	a := &Anchor{Mode: mode}
	a.NotValidAfter = now.UTC().Add(keys.Organization.ValidFor()).Truncate(time.Microsecond)
	copy(a.Key[:], sk.VerifyingKey().Bytes())
	data, err := OrgCertificateData(mode, a.Key[:], a.NotValidAfter)
	if err != nil {
		return nil, err
	}
	copy(a.Certificate[:], sk.Sign(data))
	return a, nil
}

// Verify checks the self-certificate in the anchor's own mode at now.
func (a *Anchor) Verify(now time.Time) error {
	if a.Expired(now) {
		return fmt.Errorf("%w (not valid after %s)", keys.ErrExpired, protocol.FormatTime(a.NotValidAfter))
	}
	vk, err := a.VerifyingKey()
	if err != nil {
		return fmt.Errorf("%w: %v", keys.ErrBadCertificate, err)
	}
	data, err := OrgCertificateData(a.Mode, a.Key[:], a.NotValidAfter)
	if err != nil {
		return err
	}
	if vk.Verify(data, a.Certificate[:]) != nil {
		return keys.ErrBadCertificate
	}
	return nil
}

// MarshalJSON writes upstream's three fields, and "protocol" in pq mode.
func (a *Anchor) MarshalJSON() ([]byte, error) {
	if a.Mode == ModeCoverDrop {
		return json.Marshal(a.SignedPublicKey)
	}
	return json.Marshal(struct {
		signedKeyJSON
		Protocol string `json:"protocol"`
	}{signedKeyJSON{hex.EncodeToString(a.Key[:]), hex.EncodeToString(a.Certificate[:]), protocol.FormatTime(a.NotValidAfter)}, a.Mode})
}

// ParseAnchor reads an organisation key and its mode: no "protocol" field
// is coverdrop, "pq" is pq, anything else is refused. A client keeps the
// mode with the anchor and never speaks another.
func ParseAnchor(b []byte) (*Anchor, error) {
	var j struct {
		signedKeyJSON
		Protocol *string `json:"protocol"`
	}
	if err := protocol.DecodeJSON(b, &j, true); err != nil {
		return nil, fmt.Errorf("pq: organisation key: %w", err)
	}
	a := &Anchor{Mode: ModeCoverDrop}
	if j.Protocol != nil {
		if *j.Protocol != ModePQ {
			return nil, fmt.Errorf("pq: organisation key: unknown protocol %q", *j.Protocol)
		}
		a.Mode = ModePQ
	}
	plain, err := json.Marshal(j.signedKeyJSON)
	if err != nil {
		return nil, err
	}
	if err := a.SignedPublicKey.UnmarshalJSON(plain); err != nil {
		return nil, err
	}
	return a, nil
}
