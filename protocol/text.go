package protocol

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// maxTextExpansion bounds how far a padded text may decompress: upstream
// refuses a text whose decompressed length divided (integer division) by
// its compressed length exceeds 100. It guards against zip bombs.
const maxTextExpansion = 100

// ErrTextTooLong is returned when a text does not fit a padded text once
// compressed.
var ErrTextTooLong = errors.New("protocol: message too long: its compressed form exceeds 510 bytes")

// TextError reports a padded text that cannot be decoded.
type TextError struct{ Reason string }

func (e *TextError) Error() string { return "protocol: bad padded text: " + e.Reason }

// PaddedText is a fixed-size padded compressed text (upstream
// FixedSizeMessageText): a big-endian u16 length L, L bytes of gzip, and
// random padding up to PaddedTextSize bytes.
type PaddedText [PaddedTextSize]byte

// gzipWriters keeps compressors between messages: a fresh one allocates
// about a megabyte, which would cost more than the encryption.
var gzipWriters = sync.Pool{New: func() any {
	zw, err := gzip.NewWriterLevel(io.Discard, 6) // upstream's flate2 default level
	if err != nil {
		panic(err) // a constant, valid level
	}
	return zw
}}

// EncodeText compresses text into a PaddedText, filling the rest with
// random bytes so that the padding carries no information.
func EncodeText(text string) (*PaddedText, error) {
	if !utf8.ValidString(text) {
		return nil, errors.New("protocol: message text is not valid UTF-8")
	}
	var gz bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&gz)
	if _, err := io.WriteString(zw, text); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if gz.Len() > PaddedTextSize-2 {
		return nil, ErrTextTooLong
	}
	var p PaddedText
	binary.BigEndian.PutUint16(p[:2], uint16(gz.Len()))
	n := copy(p[2:], gz.Bytes())
	if _, err := rand.Read(p[2+n:]); err != nil {
		return nil, fmt.Errorf("protocol: reading randomness: %w", err)
	}
	return &p, nil
}

// ParsePaddedText checks the size of b and returns it as a PaddedText.
func ParsePaddedText(b []byte) (*PaddedText, error) {
	if len(b) != PaddedTextSize {
		return nil, lengthError("padded text", len(b), PaddedTextSize)
	}
	return (*PaddedText)(b), nil
}

// Text decompresses the text. It refuses a length header that points past
// the end, a stream that is not gzip, one that expands more than upstream
// allows, and text that is not UTF-8.
func (p *PaddedText) Text() (string, error) {
	l := int(binary.BigEndian.Uint16(p[:2]))
	if l == 0 || l > PaddedTextSize-2 {
		return "", &TextError{fmt.Sprintf("compressed length %d out of range 1..%d", l, PaddedTextSize-2)}
	}
	zr, err := gzip.NewReader(bytes.NewReader(p[2 : 2+l]))
	if err != nil {
		return "", &TextError{"not a gzip stream"}
	}
	zr.Multistream(false)
	limit := int64((maxTextExpansion + 1) * l)
	out, err := io.ReadAll(io.LimitReader(zr, limit))
	if err != nil {
		return "", &TextError{"corrupt gzip stream"}
	}
	if int64(len(out)) >= limit {
		return "", &TextError{"decompresses more than 100 times its size"}
	}
	if !utf8.Valid(out) {
		return "", &TextError{"text is not valid UTF-8"}
	}
	return string(out), nil
}
