package keys

import (
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
)

// KeyPair is a key pair in upstream's key-file format (SPEC §1.2):
// {"public_key": {signed or unsigned public key}, "secret_key": hex32}.
// For signing roles the secret is the Ed25519 seed; for encryption roles,
// the X25519 scalar, or in pq mode the X-Wing seed (docs/PQ.md §2.2: a
// pair is its 32-byte seed), its public key then being an X-Wing key.
type KeyPair struct {
	// Public holds the public key; Certificate and NotValidAfter are zero
	// when the pair is unsigned (see Signed).
	Public SignedPublicKey
	Signed bool
	secret [crypto.KeySize]byte
}

// NewSigningKeyPair wraps a signing key and its (possibly nil) certificate.
func NewSigningKeyPair(sk *crypto.SigningKey, pub *SignedPublicKey) *KeyPair {
	kp := &KeyPair{}
	copy(kp.secret[:], sk.Seed())
	kp.setPublic(sk.VerifyingKey().Bytes(), pub)
	return kp
}

// NewEncryptionKeyPair wraps an X25519 key and its (possibly nil)
// certificate.
func NewEncryptionKeyPair(sk *crypto.PrivateKey, pub *SignedPublicKey) *KeyPair {
	kp := &KeyPair{}
	copy(kp.secret[:], sk.Bytes())
	kp.setPublic(sk.PublicKey().Bytes(), pub)
	return kp
}

// NewKEMKeyPair wraps an X-Wing key and its (possibly nil) certificate.
func NewKEMKeyPair(sk *xwing.PrivateKey, pub *SignedPublicKey) *KeyPair {
	kp := &KeyPair{}
	seed := sk.Seed()
	copy(kp.secret[:], seed)
	clear(seed)
	if pub != nil {
		kp.Public, kp.Signed = *pub, true
	} else {
		kp.Public = NewKEMKey(sk.PublicKey())
	}
	return kp
}

func (kp *KeyPair) setPublic(key []byte, pub *SignedPublicKey) {
	if pub != nil {
		kp.Public, kp.Signed = *pub, true
		return
	}
	copy(kp.Public.Key[:], key)
}

// Generate creates a key pair for role at now in coverdrop mode (see
// GenerateIn).
func Generate(role Role, parent *KeyPair, now time.Time) (*KeyPair, error) {
	return GenerateIn(ModeCoverDrop, role, parent, now)
}

// GenerateIn creates a key pair for role at now in a protocol mode.
// Certified roles other than the organisation need their parent's key
// pair, which must be signed and unexpired; the child's expiry is clamped
// to the parent's. The organisation key is self-signed, in pq mode over the
// pq form (CertifyOrganization). Messaging keys are X25519 in coverdrop
// mode and X-Wing in pq mode, certified in the KEM form. Users and unsigned
// identity keys get no certificate (pass a nil parent).
func GenerateIn(mode string, role Role, parent *KeyPair, now time.Time) (*KeyPair, error) {
	if err := CheckMode(mode); err != nil {
		return nil, err
	}
	if mode == ModePQ && role.Messaging() {
		return generateKEM(role, parent, now)
	}
	var pub []byte
	var wrap func(*SignedPublicKey) *KeyPair
	var self *crypto.SigningKey
	if role.Signing() {
		sk, err := crypto.GenerateSigningKey()
		if err != nil {
			return nil, err
		}
		pub, self = sk.VerifyingKey().Bytes(), sk
		wrap = func(c *SignedPublicKey) *KeyPair { return NewSigningKeyPair(sk, c) }
	} else {
		sk, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		pub = sk.PublicKey().Bytes()
		wrap = func(c *SignedPublicKey) *KeyPair { return NewEncryptionKeyPair(sk, c) }
	}
	switch {
	case role == Organization:
		c, err := CertifyOrganization(self, mode, now)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	case !role.Certified():
		if parent != nil {
			return nil, fmt.Errorf("keys: %s keys are not certified", role)
		}
		return wrap(nil), nil
	}
	psk, err := parentKey(role, parent)
	if err != nil {
		return nil, err
	}
	c, err := Certify(psk, &parent.Public, pub, role.ValidFor(), now)
	if err != nil {
		return nil, err
	}
	return wrap(c), nil
}

// parentKey returns the signing key of a certified role's parent pair.
func parentKey(role Role, parent *KeyPair) (*crypto.SigningKey, error) {
	if parent == nil || !parent.Signed {
		return nil, fmt.Errorf("keys: a %s key needs its signed %s key pair", role, role.Parent())
	}
	psk, err := parent.SigningKey()
	if err != nil {
		return nil, fmt.Errorf("keys: parent of a %s key: %w", role, err)
	}
	return psk, nil
}

// generateKEM makes an X-Wing messaging key pair certified by parent.
func generateKEM(role Role, parent *KeyPair, now time.Time) (*KeyPair, error) {
	psk, err := parentKey(role, parent)
	if err != nil {
		return nil, err
	}
	sk, err := xwing.GenerateKey()
	if err != nil {
		return nil, err
	}
	c, err := CertifyKEM(psk, &parent.Public, sk.PublicKey(), role.ValidFor(), now)
	if err != nil {
		return nil, err
	}
	return NewKEMKeyPair(sk, c), nil
}

// SigningKey returns the Ed25519 key of the pair, checking that it matches
// the public key.
func (kp *KeyPair) SigningKey() (*crypto.SigningKey, error) {
	sk, err := crypto.NewSigningKey(kp.secret[:])
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(sk.VerifyingKey().Bytes(), kp.Public.Key[:]) != 1 {
		return nil, errors.New("keys: secret key does not match the public key (is this an encryption key pair?)")
	}
	return sk, nil
}

// KEMPrivateKey returns the X-Wing key of a pq messaging pair, checking
// that it matches the public key.
func (kp *KeyPair) KEMPrivateKey() (*xwing.PrivateKey, error) {
	if kp.Public.KEM == nil {
		return nil, errors.New("keys: not an X-Wing key pair")
	}
	sk, err := xwing.NewPrivateKey(kp.secret[:])
	if err != nil {
		return nil, err
	}
	if !sk.PublicKey().Equal(kp.Public.KEM) {
		return nil, errors.New("keys: secret key does not match the X-Wing public key")
	}
	return sk, nil
}

// PrivateKey returns the X25519 key of the pair, checking that it matches
// the public key.
func (kp *KeyPair) PrivateKey() (*crypto.PrivateKey, error) {
	if kp.Public.KEM != nil {
		return nil, errNotX25519
	}
	sk, err := crypto.NewPrivateKey(kp.secret[:])
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(sk.PublicKey().Bytes(), kp.Public.Key[:]) != 1 {
		return nil, errors.New("keys: secret key does not match the public key (is this a signing key pair?)")
	}
	return sk, nil
}

// FileName is upstream's file name for a key of role: entity name, first 8
// hex digits of the key, and ".pub.json" or ".keypair.json".
func FileName(role Role, key []byte, pair bool) string {
	kind := ".pub.json"
	if pair {
		kind = ".keypair.json"
	}
	return fmt.Sprintf("%s-%s%s", role, hex.EncodeToString(key[:4]), kind)
}

type unsignedJSON struct {
	Key string `json:"key"`
}

type keyPairJSON struct {
	PublicKey json.RawMessage `json:"public_key"`
	SecretKey string          `json:"secret_key"`
}

// MarshalJSON writes the upstream key-pair file format.
func (kp *KeyPair) MarshalJSON() ([]byte, error) {
	var pub any = unsignedJSON{Key: kp.Public.wireHex()}
	if kp.Signed {
		pub = kp.Public
	}
	pb, err := json.Marshal(pub)
	if err != nil {
		return nil, err
	}
	return json.Marshal(keyPairJSON{PublicKey: pb, SecretKey: hex.EncodeToString(kp.secret[:])})
}

// UnmarshalJSON reads the upstream key-pair file format, signed or not.
// It does not check that the halves match: SigningKey and PrivateKey do.
func (kp *KeyPair) UnmarshalJSON(b []byte) error {
	var j keyPairJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return fmt.Errorf("key pair: %w", err)
	}
	if len(j.PublicKey) == 0 || j.SecretKey == "" {
		return errors.New("key pair: public_key and secret_key are both required")
	}
	var out KeyPair
	var err error
	out.Public, out.Signed, err = parsePublicKey(j.PublicKey)
	if err != nil {
		return fmt.Errorf("key pair: public_key: %w", err)
	}
	if err := decodeHexInto(out.secret[:], j.SecretKey, "secret_key"); err != nil {
		return fmt.Errorf("key pair: %w", err)
	}
	*kp = out
	return nil
}

// parsePublicKey reads a signed public key, or an unsigned one ({"key"}).
func parsePublicKey(b []byte) (SignedPublicKey, bool, error) {
	var u unsignedJSON
	if err := strictUnmarshal(b, &u); err == nil {
		k, err := decodeKey(u.Key)
		return k, false, err
	}
	var k SignedPublicKey
	if err := json.Unmarshal(b, &k); err != nil {
		return k, false, err
	}
	return k, true, nil
}

// ParsePublicKey reads a public key file: a signed public key, or an
// unsigned one ({"key": hex}); signed reports which.
func ParsePublicKey(b []byte) (k SignedPublicKey, signed bool, err error) {
	return parsePublicKey(b)
}

// ReadPublicKeyFile reads a signed public key file, such as an
// organisation trust anchor.
func ReadPublicKeyFile(path string) (*SignedPublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, signed, err := parsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !signed {
		return nil, fmt.Errorf("%s: public key has no certificate", path)
	}
	return &k, nil
}

// ReadKeyPairFile reads a key-pair file.
func ReadKeyPairFile(path string) (*KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kp KeyPair
	if err := json.Unmarshal(b, &kp); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &kp, nil
}

// WritePublicKeyFile writes the public half of kp into dir under
// upstream's file name, readable by all, and returns the path.
func WritePublicKeyFile(dir string, role Role, kp *KeyPair) (string, error) {
	var v any = unsignedJSON{Key: kp.Public.wireHex()}
	if kp.Signed {
		v = kp.Public
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName(role, kp.Public.Key[:], false))
	return path, writeNew(path, append(b, '\n'), 0o644)
}

// WriteKeyPairFile writes kp into dir under upstream's file name, readable
// by its owner only, and returns the path. It never overwrites a file.
func WriteKeyPairFile(dir string, role Role, kp *KeyPair) (string, error) {
	b, err := json.MarshalIndent(kp, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FileName(role, kp.Public.Key[:], true))
	return path, writeNew(path, append(b, '\n'), 0o600)
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
