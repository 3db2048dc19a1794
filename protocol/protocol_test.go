package protocol_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/vectors"
	"github.com/chaffhq/chaff/protocol"
)

func genKey(t testing.TB) *crypto.PrivateKey {
	t.Helper()
	sk, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// TestVectors opens the upstream journalist dead drop chunk by chunk: all
// ten outer layers open for the journalist, five inner layers are for this
// journalist and carry the user key and "こんにちは", five are for another.
func TestVectors(t *testing.T) {
	read := func(name string) []byte {
		return vectors.Read(t, path.Join(vectors.Common, "journalist_dead_drop", name))
	}
	jPK, jSKBytes, userPK, cnPK := read("01_journalist_pk"), read("02_journalist_sk"), read("03_user_pk"), read("04_covernode_pk")
	data := read("05_journalist_dead_drop")
	jSK, err := crypto.NewPrivateKey(jSKBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(jSK.PublicKey().Bytes(), jPK) {
		t.Fatal("journalist secret key does not derive the vector's public key")
	}
	cn, err := crypto.NewPublicKey(cnPK)
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.Precompute(jSK, cn)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 10*protocol.C2JMessageSize {
		t.Fatalf("dead drop is %d bytes, want 10 chunks of %d", len(data), protocol.C2JMessageSize)
	}
	for i := range 10 {
		chunk := data[i*protocol.C2JMessageSize : (i+1)*protocol.C2JMessageSize]
		u2j, err := protocol.OpenC2J(key, chunk)
		if err != nil {
			t.Fatalf("chunk %d: outer layer: %v", i, err)
		}
		msg, err := protocol.OpenU2J(jSK, u2j)
		if i >= 5 {
			if !errors.Is(err, crypto.ErrDecrypt) {
				t.Fatalf("chunk %d: inner layer should be for another journalist, got %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("chunk %d: inner layer: %v", i, err)
		}
		if !bytes.Equal(msg.ReplyKey.Bytes(), userPK) || msg.Text != "こんにちは" {
			t.Fatalf("chunk %d: got reply key %x text %q", i, msg.ReplyKey.Bytes(), msg.Text)
		}
		// Re-encoding: the plaintext is reply key ‖ 00 ‖ padded text, and
		// the padded text starts with the upstream gzip header.
		pt, err := crypto.OpenAnonymous(jSK, u2j)
		if err != nil {
			t.Fatal(err)
		}
		if pt[crypto.KeySize] != 0 {
			t.Fatalf("chunk %d: reserved byte %#x", i, pt[crypto.KeySize])
		}
		if hdr := pt[crypto.KeySize+3 : crypto.KeySize+13]; !bytes.Equal(hdr, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}) {
			t.Fatalf("chunk %d: gzip header %x", i, hdr)
		}
		again, err := protocol.NewU2JPlaintext(msg.ReplyKey, msg.Text)
		if err != nil {
			t.Fatal(err)
		}
		// Go's deflate and upstream's flate2 need not produce the same
		// stream (SPEC §3.1), so compare what the format fixes: reply key ‖
		// 00, the gzip header, the decoded text, and random padding.
		if !bytes.Equal(again[:crypto.KeySize+1], pt[:crypto.KeySize+1]) {
			t.Fatalf("chunk %d: re-encoded reply key ‖ 00 differs from upstream", i)
		}
		if !bytes.Equal(again[crypto.KeySize+3:crypto.KeySize+13], pt[crypto.KeySize+3:crypto.KeySize+13]) {
			t.Fatalf("chunk %d: re-encoded gzip header differs from upstream", i)
		}
		back, err := protocol.ParseU2JPlaintext(again)
		if err != nil || back.Text != msg.Text {
			t.Fatalf("chunk %d: re-encoded plaintext reads back as %q, %v", i, back.Text, err)
		}
		if bytes.Equal(again[len(again)-32:], pt[len(pt)-32:]) {
			t.Fatalf("chunk %d: padding repeated: it must be random", i)
		}
	}
	// Tags: upstream's example.
	if got := protocol.TagFor("static_test_journalist").String(); got != "6a139e67" {
		t.Fatalf("tag = %s, want 6a139e67", got)
	}
}

// TestTimestampsReformat re-formats every timestamp in the upstream scenario
// files and expects the same text: signed bytes depend on it.
func TestTimestampsReformat(t *testing.T) {
	re := regexp.MustCompile(`"(\d{4}-\d\d-\d\dT[0-9:.]+Z)"`)
	files := vectors.Glob(t, filepath.Join(vectors.Scenarios, "*", "*", "*.json"))
	files = append(files, filepath.Join(vectors.Dir(t), vectors.AnchorFile))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			s := string(m[1])
			tm, err := protocol.ParseTime(s)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if got := protocol.FormatTime(tm); got != s {
				t.Fatalf("%s: %q re-formats as %q", f, s, got)
			}
			n++
		}
	}
	if n < 50 {
		t.Fatalf("only %d timestamps found in the vectors", n)
	}
	cert := strings.TrimSpace(string(vectors.Read(t, path.Join(vectors.Common, "certificate_data/02_not_valid_after"))))
	tm, err := protocol.ParseTime(cert)
	if err != nil {
		t.Fatal(err)
	}
	if got := protocol.FormatTimeOffset(tm); got != cert {
		t.Fatalf("to_rfc3339 form %q, want %q", got, cert)
	}
}

func TestFormatTime(t *testing.T) {
	base := time.Date(2023, 10, 26, 19, 6, 40, 0, time.UTC)
	for _, tc := range []struct {
		ns   int
		want string
	}{
		{0, "2023-10-26T19:06:40Z"},
		{32_000_000, "2023-10-26T19:06:40.032Z"},
		{32_660_000, "2023-10-26T19:06:40.032660Z"},
		{32_660_418, "2023-10-26T19:06:40.032660418Z"},
		{100_000_000, "2023-10-26T19:06:40.100Z"},
	} {
		if got := protocol.FormatTime(base.Add(time.Duration(tc.ns))); got != tc.want {
			t.Errorf("FormatTime(+%dns) = %s, want %s", tc.ns, got, tc.want)
		}
	}
	// Other zones are converted to UTC, as chrono does.
	tm, err := protocol.ParseTime("2024-01-04T18:19:01.820879+01:00")
	if err != nil {
		t.Fatal(err)
	}
	if got := protocol.FormatTimeOffset(tm); got != "2024-01-04T17:19:01.820879+00:00" {
		t.Fatalf("got %s", got)
	}
	for _, bad := range []string{"", "2024-01-04", "2024-01-04T17:19:01", "yesterday"} {
		if _, err := protocol.ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestSizes(t *testing.T) {
	// The wire sizes of SPEC §3.7 follow from the constructions.
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"U2J", protocol.U2JMessageSize, 593},
		{"U2C", protocol.U2CMessageSize, 773},
		{"C2J", protocol.C2JMessageSize, 633},
		{"J2U", protocol.J2UMessageSize, 553},
		{"J2C", protocol.J2CMessageSize, 730},
	} {
		if tc.got != tc.want {
			t.Errorf("%s size %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	cn1, cn2, journalist, reader := genKey(t), genKey(t), genKey(t), genKey(t)
	cnKeys := []*crypto.PublicKey{cn1.PublicKey(), cn2.PublicKey()}
	const id = "jane_doe"
	text := "Meet at the usual place. " + strings.Repeat("ü", 20)

	real, err := protocol.SealU2C(cnKeys, id, journalist.PublicKey(), reader.PublicKey(), text)
	if err != nil {
		t.Fatal(err)
	}
	cover, err := protocol.SealCoverU2C(cnKeys)
	if err != nil {
		t.Fatal(err)
	}
	if len(real) != protocol.U2CMessageSize || len(cover) != protocol.U2CMessageSize {
		t.Fatalf("sizes real %d cover %d, want %d", len(real), len(cover), protocol.U2CMessageSize)
	}
	for _, cn := range []*crypto.PrivateKey{cn1, cn2} {
		m, _, err := protocol.OpenU2C(cn, real, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m.IsCover() || m.Tag != protocol.TagFor(id) {
			t.Fatalf("real message read as cover or with tag %s", m.Tag)
		}
		c, _, err := protocol.OpenU2C(cn, cover, 1)
		if err != nil || !c.IsCover() {
			t.Fatalf("cover message: %v cover=%v", err, c != nil && c.IsCover())
		}
		// CoverNode → journalist.
		c2j, err := protocol.SealC2J(journalist.PublicKey(), cn, m.U2J)
		if err != nil {
			t.Fatal(err)
		}
		key, err := crypto.Precompute(journalist, cn.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		u2j, err := protocol.OpenC2J(key, c2j)
		if err != nil {
			t.Fatal(err)
		}
		um, err := protocol.OpenU2J(journalist, u2j)
		if err != nil {
			t.Fatal(err)
		}
		if um.Text != text || !um.ReplyKey.Equal(reader.PublicKey()) {
			t.Fatalf("journalist read %q", um.Text)
		}
		filler, err := protocol.RandomC2J(cn)
		if err != nil || len(filler) != protocol.C2JMessageSize {
			t.Fatalf("filler C2J: %v", err)
		}
		if _, err := protocol.OpenC2J(key, filler); err == nil {
			t.Fatal("filler C2J opened for the journalist")
		}
	}

	// Journalist → reader, text and handover.
	for _, jm := range []*protocol.JournalistMessage{
		{Type: protocol.J2UTypeText, Text: "Thank you. Can you send the document?"},
		{Type: protocol.J2UTypeHandover, HandoverTo: "desk_investigations"},
	} {
		j2u, err := protocol.SealJ2U(reader.PublicKey(), journalist, jm)
		if err != nil {
			t.Fatal(err)
		}
		j2c, err := protocol.SealJ2C(cnKeys, j2u)
		if err != nil {
			t.Fatal(err)
		}
		coverJ2C, err := protocol.SealCoverJ2C(cnKeys)
		if err != nil {
			t.Fatal(err)
		}
		if len(j2c) != protocol.J2CMessageSize || len(coverJ2C) != protocol.J2CMessageSize {
			t.Fatalf("J2C sizes %d %d", len(j2c), len(coverJ2C))
		}
		opened, _, err := protocol.OpenJ2C(cn2, j2c, 0)
		if err != nil || !opened.Real {
			t.Fatalf("J2C: %v", err)
		}
		if c, _, err := protocol.OpenJ2C(cn1, coverJ2C, 0); err != nil || c.Real {
			t.Fatalf("cover J2C: %v", err)
		}
		key, err := crypto.Precompute(reader, journalist.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		got, err := protocol.OpenJ2U(key, opened.J2U)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *jm {
			t.Fatalf("reader read %+v, want %+v", got, jm)
		}
		filler, err := protocol.RandomJ2U()
		if err != nil || len(filler) != protocol.J2UMessageSize {
			t.Fatalf("filler J2U: %v", err)
		}
		if _, err := protocol.OpenJ2U(key, filler); err == nil {
			t.Fatal("filler J2U opened for the reader")
		}
	}
}

func TestPaddedText(t *testing.T) {
	a, err := protocol.EncodeText("hello")
	if err != nil {
		t.Fatal(err)
	}
	b, err := protocol.EncodeText("hello")
	if err != nil {
		t.Fatal(err)
	}
	if *a == *b {
		t.Fatal("two encodings of one text are identical: padding is not random")
	}
	for _, p := range []*protocol.PaddedText{a, b} {
		if s, err := p.Text(); err != nil || s != "hello" {
			t.Fatalf("decoded %q, %v", s, err)
		}
	}
	if empty, err := protocol.EncodeText(""); err != nil {
		t.Fatal(err)
	} else if s, err := empty.Text(); err != nil || s != "" {
		t.Fatalf("empty text: %q %v", s, err)
	}
	// Random bytes do not compress: 600 of them cannot fit.
	long := make([]byte, 300)
	for i := range long {
		long[i] = byte('!' + (i*7919)%90)
	}
	if _, err := protocol.EncodeText(string(long) + string(long[:200]) + strings.Repeat("x", 10)); err != nil {
		t.Logf("(repetitive text fits: %v)", err)
	}
	incompressible := strings.Repeat("", 0)
	for i := 0; len(incompressible) < 700; i++ {
		incompressible += string(rune(0x4e00 + (i*7919)%20000))
	}
	if _, err := protocol.EncodeText(incompressible); !errors.Is(err, protocol.ErrTextTooLong) {
		t.Fatalf("long text: %v, want ErrTextTooLong", err)
	}
	if _, err := protocol.EncodeText("\xff\xfe"); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}

	// A zip bomb: 100 kB of zeros compress to about 120 bytes.
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 100_000))
	zw.Close()
	var p protocol.PaddedText
	binary.BigEndian.PutUint16(p[:], uint16(bomb.Len()))
	copy(p[2:], bomb.Bytes())
	var terr *protocol.TextError
	if _, err := p.Text(); !errors.As(err, &terr) {
		t.Fatalf("zip bomb: %v, want TextError", err)
	}
	// Lengths out of range, and garbage.
	for _, l := range []uint16{0, 511, 65535} {
		binary.BigEndian.PutUint16(p[:], l)
		if _, err := p.Text(); !errors.As(err, &terr) {
			t.Errorf("length %d: %v", l, err)
		}
	}
	binary.BigEndian.PutUint16(p[:], 20)
	copy(p[2:], "not a gzip stream at all")
	if _, err := p.Text(); !errors.As(err, &terr) {
		t.Errorf("garbage: %v", err)
	}
}

func TestParsersRejectBadInput(t *testing.T) {
	var lerr *crypto.LengthError
	for _, n := range []int{0, 1, protocol.U2JPlaintextSize - 1, protocol.U2JPlaintextSize + 1} {
		if _, err := protocol.ParseU2JPlaintext(make([]byte, n)); !errors.As(err, &lerr) {
			t.Errorf("ParseU2JPlaintext(%d bytes): %v", n, err)
		}
	}
	if _, err := protocol.ParseU2CPlaintext(make([]byte, 596)); !errors.As(err, &lerr) {
		t.Error("short U2C plaintext accepted")
	}
	if _, err := protocol.ParseJ2CPlaintext(make([]byte, 555)); !errors.As(err, &lerr) {
		t.Error("long J2C plaintext accepted")
	}
	if _, _, err := protocol.OpenU2C(genKey(t), make([]byte, 772), 0); !errors.As(err, &lerr) {
		t.Error("772-byte U2C accepted")
	}
	if _, _, err := protocol.OpenJ2C(genKey(t), make([]byte, 731), 0); !errors.As(err, &lerr) {
		t.Error("731-byte J2C accepted")
	}
	// J2U: unknown type, handover without terminator, handover with a bad id.
	pt := make([]byte, protocol.J2UPlaintextSize)
	pt[0] = 7
	if _, err := protocol.ParseJ2UPlaintext(pt); err == nil {
		t.Error("unknown J2U type accepted")
	}
	pt[0] = protocol.J2UTypeHandover
	for i := 1; i < len(pt); i++ {
		pt[i] = 'a'
	}
	if _, err := protocol.ParseJ2UPlaintext(pt); err == nil {
		t.Error("unterminated handover accepted")
	}
	copy(pt[1:], "a/b\x00")
	if _, err := protocol.ParseJ2UPlaintext(pt); err == nil {
		t.Error("handover to an invalid id accepted")
	}
	copy(pt[1:], "\x00")
	if _, err := protocol.ParseJ2UPlaintext(pt); err == nil {
		t.Error("handover to an empty id accepted")
	}
	if _, err := protocol.SealU2C([]*crypto.PublicKey{genKey(t).PublicKey()}, "x", genKey(t).PublicKey(), genKey(t).PublicKey(), "hi"); err == nil {
		t.Error("U2C sealed to one CoverNode key")
	}
}

func TestIdentifiers(t *testing.T) {
	for _, ok := range []string{"static_test_journalist", "a", strings.Repeat("x", 128), "desk-politics"} {
		if err := protocol.ValidateJournalistID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 129), "a/b", `a\b`, "jürgen"} {
		if err := protocol.ValidateJournalistID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, ok := range []string{"covernode_001", "covernode_123"} {
		if err := protocol.ValidateCoverNodeID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "covernode_1", "node_001"} {
		if err := protocol.ValidateCoverNodeID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBase64(t *testing.T) {
	raw := []byte{0xfb, 0xff, 0x01, 0x02}
	for _, s := range []string{"+/8BAg", "+/8BAg=="} {
		b, err := protocol.DecodeBase64(s)
		if err != nil || !bytes.Equal(b, raw) {
			t.Errorf("DecodeBase64(%q) = %x, %v", s, b, err)
		}
	}
	if got := protocol.EncodeBase64(raw); got != "+/8BAg" {
		t.Errorf("EncodeBase64 = %q", got)
	}
	for _, bad := range []string{"+/8B\nAg", "-_8BAg", "+/8BAh", "+/8BAg=", "+/8BAg===", "@@@@"} {
		if _, err := protocol.DecodeBase64(bad); err == nil {
			t.Errorf("DecodeBase64(%q) accepted", bad)
		}
	}
	// iOS escapes '/' as '\/' in JSON: a JSON decoder handles it.
	var b protocol.Base64
	if err := json.Unmarshal([]byte(`"+\/8BAg=="`), &b); err != nil || !bytes.Equal(b, raw) {
		t.Errorf("JSON with escaped slash: %x %v", []byte(b), err)
	}
}

// TestDecodeJSON: one value, nothing after it but white space; unknown
// fields refused when strict.
func TestDecodeJSON(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	for in, ok := range map[string]bool{
		`{"a":1}`:         true,
		" {\"a\":1} \n\t": true,
		`{"a":1}}}]]`:     false,
		`{"a":1} {"a":2}`: false,
		`{"a":1} x`:       false,
		`{"a":1,"b":2}`:   false,
		``:                false,
	} {
		if err := protocol.DecodeJSON([]byte(in), &v, true); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", in, err, ok)
		}
	}
	if err := protocol.DecodeJSON([]byte(`{"a":1,"b":2}`), &v, false); err != nil {
		t.Errorf("not strict, an unknown field: %v", err)
	}
}
