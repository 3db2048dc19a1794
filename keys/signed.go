package keys

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
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
// shape serves signing and encryption keys.
type SignedPublicKey struct {
	Key           [crypto.KeySize]byte
	Certificate   [crypto.SignatureSize]byte
	NotValidAfter time.Time
}

// CertificateData returns the 40 bytes a certificate signs: the key and
// its expiry in whole Unix seconds (floored), big-endian.
func CertificateData(key []byte, notValidAfter time.Time) []byte {
	out := make([]byte, 0, CertificateDataSize)
	out = append(out, key...)
	return binary.BigEndian.AppendUint64(out, uint64(notValidAfter.Unix()))
}

// CertificateData returns the bytes k's certificate signs.
func (k *SignedPublicKey) CertificateData() []byte {
	return CertificateData(k.Key[:], k.NotValidAfter)
}

// Hex returns the key in lowercase hex.
func (k *SignedPublicKey) Hex() string { return hex.EncodeToString(k.Key[:]) }

// Prefix returns the first 8 hex digits of the key, as upstream names files.
func (k *SignedPublicKey) Prefix() string { return k.Hex()[:8] }

// Equal reports whether two signed keys are identical in key, certificate
// and expiry.
func (k *SignedPublicKey) Equal(o *SignedPublicKey) bool {
	return k.Key == o.Key && k.Certificate == o.Certificate && k.NotValidAfter.Equal(o.NotValidAfter)
}

// VerifyingKey returns the key as an Ed25519 verifying key.
func (k *SignedPublicKey) VerifyingKey() (*crypto.VerifyingKey, error) {
	return crypto.NewVerifyingKey(k.Key[:])
}

// PublicKey returns the key as an X25519 public key.
func (k *SignedPublicKey) PublicKey() (*crypto.PublicKey, error) {
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
	k := &SignedPublicKey{NotValidAfter: nva}
	copy(k.Key[:], pub)
	copy(k.Certificate[:], parent.Sign(k.CertificateData()))
	return k, nil
}

type signedPublicKeyJSON struct {
	Key           string `json:"key"`
	Certificate   string `json:"certificate"`
	NotValidAfter string `json:"not_valid_after"`
}

// MarshalJSON emits exactly upstream's three fields.
func (k SignedPublicKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(signedPublicKeyJSON{
		Key:           hex.EncodeToString(k.Key[:]),
		Certificate:   hex.EncodeToString(k.Certificate[:]),
		NotValidAfter: protocol.FormatTime(k.NotValidAfter),
	})
}

// UnmarshalJSON accepts exactly upstream's three fields, all present, and
// checks the lengths of key and certificate.
func (k *SignedPublicKey) UnmarshalJSON(b []byte) error {
	var j signedPublicKeyJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return fmt.Errorf("signed public key: %w", err)
	}
	if j.Key == "" || j.Certificate == "" || j.NotValidAfter == "" {
		return errors.New("signed public key: key, certificate and not_valid_after are all required")
	}
	var out SignedPublicKey
	if err := decodeHexInto(out.Key[:], j.Key, "key"); err != nil {
		return err
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
