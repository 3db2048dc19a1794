package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// EncodeBase64 encodes binary data as upstream's JSON does: the standard
// alphabet without padding.
func EncodeBase64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// DecodeBase64 decodes standard-alphabet base64 with or without padding, as
// upstream's decoders accept both. It refuses line breaks (which Go's
// decoder would otherwise skip) and non-canonical trailing bits, so that
// each value has one encoding.
func DecodeBase64(s string) ([]byte, error) { return DecodeBase64Bytes([]byte(s)) }

// DecodeBase64Bytes is DecodeBase64 for bytes, without copying them to a
// string first (the ingest decodes every request body).
func DecodeBase64Bytes(src []byte) ([]byte, error) {
	if bytes.ContainsAny(src, "\r\n") {
		return nil, errors.New("base64: line breaks are not allowed")
	}
	enc := base64.RawStdEncoding.Strict()
	if bytes.HasSuffix(src, []byte("=")) {
		enc = base64.StdEncoding.Strict()
	}
	dst := make([]byte, enc.DecodedLen(len(src)))
	n, err := enc.Decode(dst, src)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	return dst[:n], nil
}

// DecodeJSON decodes exactly one JSON value from b into v: anything but
// white space after it is an error (a bare Decoder would leave it unread).
// With strict, fields v does not have are refused too, as upstream's
// structs refuse them.
func DecodeJSON(b []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Base64 is binary data that JSON carries as unpadded standard base64.
type Base64 []byte

// MarshalJSON implements json.Marshaler.
func (b Base64) MarshalJSON() ([]byte, error) { return json.Marshal(EncodeBase64(b)) }

// UnmarshalJSON implements json.Unmarshaler; padded input is accepted.
func (b *Base64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("expected a base64 string")
	}
	out, err := DecodeBase64(s)
	if err != nil {
		return err
	}
	*b = out
	return nil
}

// Hex is binary data that JSON carries as lowercase hex (any case on input).
type Hex []byte

// MarshalJSON implements json.Marshaler.
func (h Hex) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// UnmarshalJSON implements json.Unmarshaler.
func (h *Hex) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("expected a hex string")
	}
	out, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("invalid hex: %w", err)
	}
	*h = out
	return nil
}

// FormatTime formats an instant as every upstream Rust component writes
// JSON timestamps: UTC, a fraction of 0, 3, 6 or 9 digits (the shortest of
// those that is exact), and Z. Go's time.RFC3339Nano trims zeros instead,
// which would change signed bytes.
func FormatTime(t time.Time) string { return formatAutoSi(t) + "Z" }

// FormatTimeOffset formats an instant as chrono's to_rfc3339 does, with
// "+00:00" for the zone. Signed forms embed this form.
func FormatTimeOffset(t time.Time) string { return formatAutoSi(t) + "+00:00" }

func formatAutoSi(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1_000_000 == 0:
		s += fmt.Sprintf(".%03d", ns/1_000_000)
	case ns%1_000 == 0:
		s += fmt.Sprintf(".%06d", ns/1_000)
	default:
		s += fmt.Sprintf(".%09d", ns)
	}
	return s
}

// ParseTime parses an RFC 3339 timestamp with any offset and returns it in
// UTC. The instant must fall in years 0 to 9999 in UTC, so that FormatTime
// writes it as a timestamp ParseTime reads back (an offset can carry
// 0000-01-01 or 9999-12-31 across).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if y := t.UTC().Year(); err != nil || y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("invalid RFC 3339 timestamp %q", s)
	}
	return t.UTC(), nil
}

// Time is an instant that JSON carries as upstream writes it (FormatTime).
type Time struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(FormatTime(t.Time)) }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("expected an RFC 3339 timestamp string")
	}
	p, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = p
	return nil
}

// UnixSeconds is the instant as upstream signs it: the floor of its Unix
// time in seconds.
func UnixSeconds(t time.Time) int64 { return t.Unix() }
