// Package form holds CoverDrop's signed forms (SPEC §5.3): the envelope in
// which every mutating API request is signed by the key of a given role.
package form

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/protocol"
)

// Lifetimes of forms (upstream DEFAULT_FORM_TTL, BUNDLE_FORM_TTL and the
// CoverNode identity setup bundle's).
const (
	DefaultTTL           = time.Hour
	BundleTTL            = 4 * 7 * 24 * time.Hour
	CoverNodeIdentityTTL = 24 * time.Hour
)

// Errors of form verification.
var (
	ErrExpired      = errors.New("form is not sufficiently fresh")
	ErrWrongSigner  = errors.New("form was signed by another key")
	ErrBadSignature = errors.New("form signature does not verify")
)

// Form is a signed form: a JSON body, signed with the times of its
// validity by the key in SigningPK.
type Form struct {
	Body          []byte // the JSON of the form data
	Signature     [crypto.SignatureSize]byte
	CreatedAt     time.Time
	NotValidAfter time.Time
	SigningPK     [crypto.KeySize]byte
}

// Sign builds a form for body (marshalled to compact JSON) signed by sk,
// valid from now for ttl.
func Sign(body any, sk *crypto.SigningKey, now time.Time, ttl time.Duration) (*Form, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("form body: %w", err)
	}
	return SignBytes(b, sk, now, ttl), nil
}

// SignBytes is Sign for a body that is already bytes, JSON or not (the
// fuzz tests sign arbitrary bodies).
func SignBytes(body []byte, sk *crypto.SigningKey, now time.Time, ttl time.Duration) *Form {
	now = now.UTC().Truncate(time.Microsecond)
	f := &Form{Body: body, CreatedAt: now, NotValidAfter: now.Add(ttl)}
	copy(f.SigningPK[:], sk.VerifyingKey().Bytes())
	copy(f.Signature[:], sk.Sign(f.SignedData()))
	return f
}

// SignedData returns the bytes the signature covers: body ‖ created_at ‖
// not_valid_after, the times recomputed from the parsed instants in
// upstream's "+00:00" form.
func (f *Form) SignedData() []byte {
	out := make([]byte, 0, len(f.Body)+80)
	out = append(out, f.Body...)
	out = append(out, protocol.FormatTimeOffset(f.CreatedAt)...)
	return append(out, protocol.FormatTimeOffset(f.NotValidAfter)...)
}

// Verify checks the form against the key expected to have signed it, at
// now: the key must be the form's signing_pk, the form must not have
// expired, and the signature must verify. Finding the key among the keys
// of the right role, valid at now, is the caller's job (SPEC §5.3 step 1).
func (f *Form) Verify(vk *crypto.VerifyingKey, now time.Time) error {
	if !bytes.Equal(vk.Bytes(), f.SigningPK[:]) {
		return ErrWrongSigner
	}
	if now.After(f.NotValidAfter) {
		return ErrExpired
	}
	if err := vk.Verify(f.SignedData(), f.Signature[:]); err != nil {
		return ErrBadSignature
	}
	return nil
}

// Decode parses the body into v, refusing unknown fields.
func (f *Form) Decode(v any) error {
	if err := protocol.DecodeJSON(f.Body, v, true); err != nil {
		return fmt.Errorf("form body: %w", err)
	}
	return nil
}

type formJSON struct {
	Body          string `json:"body"`
	Signature     string `json:"signature"`
	CreatedAt     string `json:"created_at"`
	NotValidAfter string `json:"not_valid_after"`
	SigningPK     string `json:"signing_pk"`
}

// MarshalJSON writes the form with its body in padded base64, as upstream
// requires.
func (f *Form) MarshalJSON() ([]byte, error) {
	return json.Marshal(formJSON{
		Body:          base64.StdEncoding.EncodeToString(f.Body),
		Signature:     hex.EncodeToString(f.Signature[:]),
		CreatedAt:     protocol.FormatTime(f.CreatedAt),
		NotValidAfter: protocol.FormatTime(f.NotValidAfter),
		SigningPK:     hex.EncodeToString(f.SigningPK[:]),
	})
}

// UnmarshalJSON reads a form, refusing unknown and missing fields. The body
// may be in padded or unpadded base64.
func (f *Form) UnmarshalJSON(b []byte) error {
	var j formJSON
	if err := protocol.DecodeJSON(b, &j, true); err != nil {
		return fmt.Errorf("signed form: %w", err)
	}
	if j.Body == "" || j.Signature == "" || j.CreatedAt == "" || j.NotValidAfter == "" || j.SigningPK == "" {
		return errors.New("signed form: body, signature, created_at, not_valid_after and signing_pk are all required")
	}
	var out Form
	var err error
	if out.Body, err = protocol.DecodeBase64(j.Body); err != nil {
		return fmt.Errorf("signed form: body: %w", err)
	}
	if err := decodeHex(out.Signature[:], j.Signature, "signature"); err != nil {
		return err
	}
	if err := decodeHex(out.SigningPK[:], j.SigningPK, "signing_pk"); err != nil {
		return err
	}
	if out.CreatedAt, err = protocol.ParseTime(j.CreatedAt); err != nil {
		return fmt.Errorf("signed form: created_at: %w", err)
	}
	if out.NotValidAfter, err = protocol.ParseTime(j.NotValidAfter); err != nil {
		return fmt.Errorf("signed form: not_valid_after: %w", err)
	}
	*f = out
	return nil
}

func decodeHex(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("signed form: %s is %d hex digits, want %d", what, len(s), 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("signed form: %s: not hex", what)
	}
	return nil
}

// Parse reads a signed form from JSON.
func Parse(b []byte) (*Form, error) {
	var f Form
	if err := json.Unmarshal(b, &f); err != nil {
		if !strings.HasPrefix(err.Error(), "signed form") {
			err = fmt.Errorf("signed form: %w", err)
		}
		return nil, err
	}
	return &f, nil
}
