package protocol_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/vectors"
	"github.com/chaffhq/chaff/protocol"
)

// seedU2J adds the U2J plaintexts opened from the upstream journalist
// dead-drop vector to the corpus, when the vectors are present.
func seedU2J(f *testing.F) {
	dir := vectors.Locate()
	if dir == "" {
		return
	}
	read := func(name string) []byte {
		b, _ := os.ReadFile(filepath.Join(dir, vectors.Common, "journalist_dead_drop", name))
		return b
	}
	jSK, err := crypto.NewPrivateKey(read("02_journalist_sk"))
	if err != nil {
		return
	}
	cn, err := crypto.NewPublicKey(read("04_covernode_pk"))
	if err != nil {
		return
	}
	key, err := crypto.Precompute(jSK, cn)
	if err != nil {
		return
	}
	data := read("05_journalist_dead_drop")
	for i := 0; i+protocol.C2JMessageSize <= len(data); i += protocol.C2JMessageSize {
		u2j, err := protocol.OpenC2J(key, data[i:i+protocol.C2JMessageSize])
		if err != nil {
			continue
		}
		if pt, err := crypto.OpenAnonymous(jSK, u2j); err == nil {
			f.Add(pt)
		}
	}
}

func FuzzPaddedText(f *testing.F) {
	for _, s := range []string{"", "hello", "こんにちは", string(bytes.Repeat([]byte("a"), 2000))} {
		if p, err := protocol.EncodeText(s); err == nil {
			f.Add(p[:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := protocol.ParsePaddedText(b)
		if err != nil {
			return
		}
		s, err := p.Text()
		if err != nil {
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 accepted: %q", s)
		}
		// A text that decodes re-encodes (it fitted once; our encoder may
		// compress differently, so only check that it decodes the same).
		if again, err := protocol.EncodeText(s); err == nil {
			if back, err := again.Text(); err != nil || back != s {
				t.Fatalf("re-encoded text reads back as %q, %v", back, err)
			}
		}
	})
}

func FuzzEncodeText(f *testing.F) {
	f.Add("hello")
	f.Add("こんにちは")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := protocol.EncodeText(s)
		if err != nil {
			return
		}
		back, err := p.Text()
		if err != nil || back != s {
			t.Fatalf("%q reads back as %q, %v", s, back, err)
		}
	})
}

func FuzzParseU2JPlaintext(f *testing.F) {
	seedU2J(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.ParseU2JPlaintext(b)
		if err != nil {
			return
		}
		again, err := protocol.NewU2JPlaintext(m.ReplyKey, m.Text)
		if err != nil {
			return // a text that upstream fitted may not fit our deflate
		}
		back, err := protocol.ParseU2JPlaintext(again)
		if err != nil || back.Text != m.Text || !back.ReplyKey.Equal(m.ReplyKey) {
			t.Fatalf("U2J plaintext does not round-trip: %v", err)
		}
	})
}

func FuzzParseU2CPlaintext(f *testing.F) {
	f.Add(make([]byte, protocol.U2CPlaintextSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.ParseU2CPlaintext(b)
		if err != nil {
			return
		}
		if len(b) != protocol.U2CPlaintextSize || (!m.IsCover() && len(m.U2J) != protocol.U2JMessageSize) {
			t.Fatalf("accepted %d bytes as U2C plaintext: %+v", len(b), m)
		}
	})
}

func FuzzParseJ2UPlaintext(f *testing.F) {
	text, _ := protocol.NewJ2UPlaintext(&protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thanks"})
	handover, _ := protocol.NewJ2UPlaintext(&protocol.JournalistMessage{Type: protocol.J2UTypeHandover, HandoverTo: "desk"})
	f.Add(text)
	f.Add(handover)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.ParseJ2UPlaintext(b)
		if err != nil {
			return
		}
		again, err := protocol.NewJ2UPlaintext(m)
		if err != nil {
			return
		}
		back, err := protocol.ParseJ2UPlaintext(again)
		if err != nil || *back != *m {
			t.Fatalf("J2U plaintext does not round-trip: %+v vs %+v, %v", back, m, err)
		}
	})
}

func FuzzParseJ2CPlaintext(f *testing.F) {
	f.Add(make([]byte, protocol.J2CPlaintextSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.ParseJ2CPlaintext(b)
		if err != nil {
			return
		}
		if len(m.J2U) != protocol.J2UMessageSize {
			t.Fatalf("J2C carries %d bytes", len(m.J2U))
		}
	})
}

func FuzzDecodeBase64(f *testing.F) {
	f.Add("AAAA")
	f.Add("AA==")
	f.Add("81O5XJsRr/WAJ47RVGCYk9Na")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := protocol.DecodeBase64(s)
		if err != nil {
			return
		}
		back, err := protocol.DecodeBase64(protocol.EncodeBase64(b))
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("base64 %q does not round-trip", s)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2023-10-04T19:06:52.135118209Z", "2023-02-24T13:37:42+00:00", "2023-11-29T19:06:19Z",
		"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"} { // formatted out of years 0 to 9999 before ParseTime refused them
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := protocol.ParseTime(s)
		if err != nil {
			return
		}
		back, err := protocol.ParseTime(protocol.FormatTime(tm))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q: formatted %q reads back as %v, %v", s, protocol.FormatTime(tm), back, err)
		}
	})
}

func FuzzParseRecipientTag(f *testing.F) {
	f.Add("6a139e67")
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := protocol.ParseRecipientTag(s)
		if err != nil {
			return
		}
		if back, err := protocol.ParseRecipientTag(tag.String()); err != nil || back != tag {
			t.Fatalf("tag %q does not round-trip", s)
		}
	})
}
