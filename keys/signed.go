package keys

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
	"github.com/chaffhq/chaff/protocol"
)

// CertificateDataSize is the size of the bytes a certificate signs.
const CertificateDataSize = crypto.KeySize + 8

// Errors of certificate verification. They are wrapped in *KeyError, which
// says which key failed.
var (
	ErrExpired          = errors.New("key has expired")
	ErrParentExpired    = errors.New("the key that certifies it has expired")
	ErrBadCertificate   = errors.New("certificate does not verify")
	ErrNotTrustAnchor   = errors.New("organisation key matches no trust anchor")
	ErrInvalidPublicKey = errors.New("not a valid public key")
)

// SignedPublicKey is a public key with its certificate (SPEC §2.2). The same
// shape serves signing and encryption keys, in both protocol modes
// (docs/PQ.md §3, §8).
type SignedPublicKey struct {
	// Key is the Ed25519 or X25519 key; for an X-Wing key (KEM set), it
	// is the key's id, SHA-256 of its 1,216 bytes, and never a key to use.
	Key           [crypto.KeySize]byte
	Certificate   [crypto.SignatureSize]byte
	NotValidAfter time.Time
	// KEM is set on an X-Wing messaging key of a pq deployment; its
	// certificate signs KEMCertificateData and its JSON "key" is the
	// X-Wing key's 2,432 hex digits.
	KEM *xwing.PublicKey
	// Protocol is ModePQ on the organisation key of a pq deployment (its
	// self-certificate signs the pq form and its JSON has "protocol":
	// "pq"), and empty everywhere else.
	Protocol string
}

// CertificateData returns the 40 bytes a certificate signs: the key and
// its expiry in whole Unix seconds (floored), big-endian.
func CertificateData(key []byte, notValidAfter time.Time) []byte {
	out := make([]byte, 0, CertificateDataSize)
	out = append(out, key...)
	return binary.BigEndian.AppendUint64(out, uint64(notValidAfter.Unix()))
}

// CertificateData returns the bytes k's certificate signs: SPEC §2.1's 40
// bytes, or in pq mode the KEM form of an X-Wing key or the pq form of the
// organisation key.
func (k *SignedPublicKey) CertificateData() []byte {
	switch {
	case k.KEM != nil:
		return KEMCertificateData(k.KEM.Bytes(), k.NotValidAfter)
	case k.Protocol == ModePQ:
		b, _ := OrgCertificateData(ModePQ, k.Key[:], k.NotValidAfter)
		return b
	}
	return CertificateData(k.Key[:], k.NotValidAfter)
}

// wireHex returns the key as its JSON "key" field holds it.
func (k *SignedPublicKey) wireHex() string {
	if k.KEM != nil {
		return hex.EncodeToString(k.KEM.Bytes())
	}
	return k.Hex()
}

// Hex returns the key (an X-Wing key's id) in lowercase hex.
func (k *SignedPublicKey) Hex() string { return hex.EncodeToString(k.Key[:]) }

// Prefix returns the first 8 hex digits of the key, as upstream names files.
func (k *SignedPublicKey) Prefix() string { return k.Hex()[:8] }

// Published returns the public key as published: the 1,216 bytes of an
// X-Wing key, the 32 of an Ed25519 or X25519 key.
func (k *SignedPublicKey) Published() []byte {
	if k.KEM != nil {
		return k.KEM.Bytes()
	}
	return bytes.Clone(k.Key[:])
}

// HumanDigest returns upstream's short digest of the published key
// (crypto.HumanDigest), the one people compare by eye; for an X-Wing key it
// covers all of its 1,216 bytes, not its id.
func (k *SignedPublicKey) HumanDigest() string { return crypto.HumanDigest(k.Published()) }

// Equal reports whether two signed keys are identical in key, certificate
// and expiry.
func (k *SignedPublicKey) Equal(o *SignedPublicKey) bool {
	return k.Key == o.Key && k.Certificate == o.Certificate && k.NotValidAfter.Equal(o.NotValidAfter) &&
		k.Protocol == o.Protocol && (k.KEM == nil) == (o.KEM == nil) && (k.KEM == nil || k.KEM.Equal(o.KEM))
}

// errNotX25519 is why an X-Wing key is refused as an Ed25519 or X25519 one.
var errNotX25519 = errors.New("keys: an X-Wing key is neither an Ed25519 nor an X25519 key")

// VerifyingKey returns the key as an Ed25519 verifying key.
func (k *SignedPublicKey) VerifyingKey() (*crypto.VerifyingKey, error) {
	if k.KEM != nil {
		return nil, errNotX25519
	}
	return crypto.NewVerifyingKey(k.Key[:])
}

// PublicKey returns the key as an X25519 public key. An X-Wing key is
// refused: no path seals to half of a pq key.
func (k *SignedPublicKey) PublicKey() (*crypto.PublicKey, error) {
	if k.KEM != nil {
		return nil, errNotX25519
	}
	return crypto.NewPublicKey(k.Key[:])
}

// Expired reports whether the key has expired at now.
func (k *SignedPublicKey) Expired(now time.Time) bool { return now.After(k.NotValidAfter) }

// Verify checks k against the key that certifies it at now (SPEC §2.4):
// neither may have expired, and the parent's signature over k's certificate
// data must verify. The organisation key is its own parent.
func (k *SignedPublicKey) Verify(parent *SignedPublicKey, now time.Time) error {
	if k.Expired(now) {
		return fmt.Errorf("%w (not valid after %s)", ErrExpired, protocol.FormatTime(k.NotValidAfter))
	}
	if parent.Expired(now) {
		return fmt.Errorf("%w (not valid after %s)", ErrParentExpired, protocol.FormatTime(parent.NotValidAfter))
	}
	vk, err := parent.VerifyingKey()
	if err != nil {
		return fmt.Errorf("%w: parent key: %v", ErrBadCertificate, err)
	}
	if err := vk.Verify(k.CertificateData(), k.Certificate[:]); err != nil {
		return ErrBadCertificate
	}
	return nil
}

// Certify returns a signed public key for pub, certified by parent (whose
// own certificate is parentPub) at now. The expiry is now + validFor,
// clamped to the parent's (a child never outlives its parent); pass a nil
// parentPub to self-sign an organisation key. Times are kept to the
// microsecond, as upstream stores them.
func Certify(parent *crypto.SigningKey, parentPub *SignedPublicKey, pub []byte, validFor time.Duration, now time.Time) (*SignedPublicKey, error) {
	if len(pub) != crypto.KeySize {
		return nil, &crypto.LengthError{What: "public key", Got: len(pub), Want: crypto.KeySize}
	}
	k := &SignedPublicKey{}
	copy(k.Key[:], pub)
	return certify(parent, parentPub, k, validFor, now)
}

// certify sets k's expiry and certificate (see Certify).
func certify(parent *crypto.SigningKey, parentPub, k *SignedPublicKey, validFor time.Duration, now time.Time) (*SignedPublicKey, error) {
	if validFor <= 0 {
		return nil, errors.New("keys: validity must be positive")
	}
	nva := now.UTC().Add(validFor).Truncate(time.Microsecond)
	if parentPub != nil {
		if parentPub.Expired(now) {
			return nil, fmt.Errorf("keys: cannot certify with an expired key: %w", ErrParentExpired)
		}
		if nva.After(parentPub.NotValidAfter) {
			nva = parentPub.NotValidAfter
		}
	}
	k.NotValidAfter = nva
	copy(k.Certificate[:], parent.Sign(k.CertificateData()))
	return k, nil
}

type signedPublicKeyJSON struct {
	Key           string          `json:"key"`
	Certificate   string          `json:"certificate"`
	NotValidAfter string          `json:"not_valid_after"`
	Protocol      json.RawMessage `json:"protocol,omitempty"`
}

// MarshalJSON emits exactly upstream's three fields, and "protocol" on a
// pq organisation key (docs/PQ.md §8).
func (k SignedPublicKey) MarshalJSON() ([]byte, error) {
	j := signedPublicKeyJSON{
		Key:           k.wireHex(),
		Certificate:   hex.EncodeToString(k.Certificate[:]),
		NotValidAfter: protocol.FormatTime(k.NotValidAfter),
	}
	if k.Protocol != "" {
		j.Protocol, _ = json.Marshal(k.Protocol)
	}
	return json.Marshal(j)
}

// UnmarshalJSON accepts upstream's three fields, all present, checking the
// lengths of key and certificate; a 2,432-hex-digit key is an X-Wing key,
// which must parse. A fourth field "protocol" must be "pq" (no field is
// coverdrop; docs/PQ.md §8), and is refused on an X-Wing key.
func (k *SignedPublicKey) UnmarshalJSON(b []byte) error {
	var j signedPublicKeyJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return fmt.Errorf("signed public key: %w", err)
	}
	if j.Key == "" || j.Certificate == "" || j.NotValidAfter == "" {
		return errors.New("signed public key: key, certificate and not_valid_after are all required")
	}
	out, err := decodeKey(j.Key)
	if err != nil {
		return fmt.Errorf("signed public key: %w", err)
	}
	if j.Protocol != nil { // present, even as null
		var p string
		if json.Unmarshal(j.Protocol, &p) != nil || p != ModePQ || out.KEM != nil {
			return fmt.Errorf("signed public key: unknown protocol %.20s", j.Protocol)
		}
		out.Protocol = ModePQ
	}
	if err := decodeHexInto(out.Certificate[:], j.Certificate, "certificate"); err != nil {
		return err
	}
	t, err := protocol.ParseTime(j.NotValidAfter)
	if err != nil {
		return fmt.Errorf("signed public key: not_valid_after: %w", err)
	}
	out.NotValidAfter = t
	*k = out
	return nil
}

// decodeKey reads a JSON "key": 64 hex digits of an Ed25519 or X25519
// key, or 2,432 of an X-Wing key.
func decodeKey(s string) (SignedPublicKey, error) {
	var out SignedPublicKey
	if len(s) != 2*xwing.PublicKeySize {
		return out, decodeHexInto(out.Key[:], s, "key")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return out, fmt.Errorf("key: not hex: %v", err)
	}
	pk, err := xwing.NewPublicKey(b)
	if err != nil {
		return out, fmt.Errorf("key: %w", err)
	}
	return NewKEMKey(pk), nil
}

func decodeHexInto(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%s: %d hex digits, want %d", what, len(s), 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%s: not hex: %v", what, err)
	}
	return nil
}

// strictUnmarshal decodes one JSON value, refusing unknown fields and
// trailing data.
func strictUnmarshal(b []byte, v any) error { return protocol.DecodeJSON(b, v, true) }
