package deaddrop_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"path"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/vectors"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// verifiedScenario verifies the minimal scenario's hierarchy at its instant.
func verifiedScenario(t *testing.T) (vectors.Scenario, *keys.Verified) {
	t.Helper()
	s := vectors.LoadScenarios(t, "minimal_scenario")[0]
	anchor, err := keys.ReadPublicKeyFile(filepath.Join(vectors.Dir(t), vectors.AnchorFile))
	if err != nil {
		t.Fatal(err)
	}
	var ts protocol.Time
	if err := json.Unmarshal(s.Timestamp, &ts); err != nil {
		t.Fatal(err)
	}
	h, err := keys.ParseHierarchy(s.PublishedKeys)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{*anchor}, ts.Time)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// TestVectors verifies every dead drop of the minimal scenario under the
// scenario's verified CoverNode identity keys, and re-encodes each as
// upstream does (without the legacy cert).
func TestVectors(t *testing.T) {
	s, v := verifiedScenario(t)
	cnKeys := v.CoverNodeIdentityKeys()
	for _, tc := range []struct {
		kind deaddrop.Kind
		body []byte
		want int
	}{{deaddrop.User, s.UserDeadDrops, 3}, {deaddrop.Journalist, s.JournalistDeadDrops, 2}} {
		l, err := deaddrop.ParseList(tc.kind, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.DeadDrops) != tc.want {
			t.Fatalf("%s: %d dead drops, want %d", tc.kind, len(l.DeadDrops), tc.want)
		}
		var raw struct {
			DeadDrops []map[string]any `json:"dead_drops"`
		}
		if err := json.Unmarshal(tc.body, &raw); err != nil {
			t.Fatal(err)
		}
		for i, d := range l.DeadDrops {
			if err := d.Verify(cnKeys); err != nil {
				t.Fatalf("%s dead drop %d: %v", tc.kind, d.ID, err)
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			want := raw.DeadDrops[i]
			delete(want, "cert")
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s dead drop %d re-encodes as %s", tc.kind, d.ID, b)
			}
		}
	}
}

// TestVectorsBitFlips flips bits of each scenario dead drop's signature,
// data, timestamp and epoch: that dead drop, and only it, fails to verify.
func TestVectorsBitFlips(t *testing.T) {
	s, v := verifiedScenario(t)
	cnKeys := v.CoverNodeIdentityKeys()
	for _, tc := range []struct {
		kind deaddrop.Kind
		body []byte
	}{{deaddrop.User, s.UserDeadDrops}, {deaddrop.Journalist, s.JournalistDeadDrops}} {
		l, err := deaddrop.ParseList(tc.kind, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		check := func(target int, what string, flip func(d *deaddrop.DeadDrop)) {
			t.Helper()
			fresh, _ := deaddrop.ParseList(tc.kind, tc.body)
			flip(fresh.DeadDrops[target])
			for i, d := range fresh.DeadDrops {
				err := d.Verify(cnKeys)
				if i == target && !errors.Is(err, deaddrop.ErrBadSignature) {
					t.Fatalf("%s dead drop %d with %s flipped: %v", tc.kind, d.ID, what, err)
				}
				if i != target && err != nil {
					t.Fatalf("%s dead drop %d fails after flipping another: %v", tc.kind, d.ID, err)
				}
			}
		}
		for target, d := range l.DeadDrops {
			for bit := range len(d.Signature) * 8 {
				check(target, "signature bit", func(d *deaddrop.DeadDrop) { d.Signature[bit/8] ^= 1 << (bit % 8) })
			}
			// Data bits: a prime stride reaches every bit position and
			// every chunk.
			for bit := 0; bit < len(d.Data)*8; bit += 61 {
				check(target, "data bit", func(d *deaddrop.DeadDrop) { d.Data[bit/8] ^= 1 << (bit % 8) })
			}
			check(target, "created_at", func(d *deaddrop.DeadDrop) { d.CreatedAt = d.CreatedAt.Add(time.Second) })
			if tc.kind == deaddrop.Journalist {
				check(target, "epoch", func(d *deaddrop.DeadDrop) { d.Epoch ^= 1 })
			}
		}
	}
}

// TestVectorsOpen trial-decrypts the upstream journalist dead drop as that
// journalist: five messages for it, five for someone else.
func TestVectorsOpen(t *testing.T) {
	read := func(name string) []byte {
		return vectors.Read(t, path.Join(vectors.Common, "journalist_dead_drop", name))
	}
	jSK, err := crypto.NewPrivateKey(read("02_journalist_sk"))
	if err != nil {
		t.Fatal(err)
	}
	cn, err := crypto.NewPublicKey(read("04_covernode_pk"))
	if err != nil {
		t.Fatal(err)
	}
	d := &deaddrop.DeadDrop{Kind: deaddrop.Journalist, ID: 7, Data: read("05_journalist_dead_drop")}
	o, err := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{jSK}, []*crypto.PublicKey{cn})
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("%d messages, want 5", len(got))
	}
	for _, m := range got {
		if m.Message.Text != "こんにちは" || !bytes.Equal(m.Message.ReplyKey.Bytes(), read("03_user_pk")) || m.DeadDropID != 7 {
			t.Fatalf("message %+v", m)
		}
	}
	// Another journalist finds nothing.
	other, _ := crypto.GenerateKey()
	o, _ = deaddrop.NewJournalistOpener([]*crypto.PrivateKey{other}, []*crypto.PublicKey{cn})
	if _, err := o.Open(d); !errors.Is(err, deaddrop.ErrNotForMe) {
		t.Fatalf("another journalist: %v", err)
	}
}

// TestRoundTrip builds, signs, publishes, verifies and opens dead drops of
// both kinds, with cover around the real messages.
func TestRoundTrip(t *testing.T) {
	now := time.Now()
	cnID, _ := crypto.GenerateSigningKey()
	cnMsg, _ := crypto.GenerateKey()
	jMsg, _ := crypto.GenerateKey()
	reader, _ := crypto.GenerateKey()

	// Journalist dead drop: one real message among nine covers.
	u2j, err := protocol.SealU2J(jMsg.PublicKey(), reader.PublicKey(), "the documents are in the usual place")
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for i := range 10 {
		var c []byte
		if i == 6 {
			c, err = protocol.SealC2J(jMsg.PublicKey(), cnMsg, u2j)
		} else {
			c, err = protocol.RandomC2J(cnMsg)
		}
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, c...)
	}
	jd := &deaddrop.DeadDrop{Kind: deaddrop.Journalist, CreatedAt: now, Data: data, Epoch: 12}
	jd.Sign(cnID)
	b, _ := json.Marshal(jd)
	back, err := deaddrop.Parse(deaddrop.Journalist, b, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify([]*crypto.VerifyingKey{cnID.VerifyingKey()}); err != nil {
		t.Fatal(err)
	}
	jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{jMsg}, []*crypto.PublicKey{cnMsg.PublicKey()})
	got, err := jo.Open(back)
	if err != nil || len(got) != 1 || got[0].Message.Text != "the documents are in the usual place" || !got[0].Message.ReplyKey.Equal(reader.PublicKey()) {
		t.Fatalf("journalist opened %+v, %v", got, err)
	}

	// User dead drop: a text and a handover among cover.
	data = nil
	for i := range 5 {
		var c []byte
		switch i {
		case 1:
			c, err = protocol.SealJ2U(reader.PublicKey(), jMsg, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you"})
		case 3:
			c, err = protocol.SealJ2U(reader.PublicKey(), jMsg, &protocol.JournalistMessage{Type: protocol.J2UTypeHandover, HandoverTo: "investigations_desk"})
		default:
			c, err = protocol.RandomJ2U()
		}
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, c...)
	}
	ud := &deaddrop.DeadDrop{Kind: deaddrop.User, ID: 3, CreatedAt: now, Data: data}
	ud.Sign(cnID)
	if err := ud.Verify([]*crypto.VerifyingKey{cnID.VerifyingKey()}); err != nil {
		t.Fatal(err)
	}
	ro, err := deaddrop.NewReaderOpener(reader, map[string][]*crypto.PublicKey{"alice": {jMsg.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	replies, err := ro.Open(ud)
	if err != nil || len(replies) != 2 {
		t.Fatalf("reader opened %+v, %v", replies, err)
	}
	if replies[0].Message.Text != "thank you" || replies[0].JournalistID != "alice" || replies[1].Message.HandoverTo != "investigations_desk" {
		t.Fatalf("replies %+v %+v", replies[0].Message, replies[1].Message)
	}
	// A stranger finds nothing; the wrong kind is refused.
	stranger, _ := crypto.GenerateKey()
	ro, _ = deaddrop.NewReaderOpener(stranger, map[string][]*crypto.PublicKey{"alice": {jMsg.PublicKey()}})
	if _, err := ro.Open(ud); !errors.Is(err, deaddrop.ErrNotForMe) {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := ro.Open(jd); err == nil {
		t.Fatal("reader opened a journalist dead drop")
	}
	// Another CoverNode's key does not verify.
	otherCN, _ := crypto.GenerateSigningKey()
	if err := ud.Verify([]*crypto.VerifyingKey{otherCN.VerifyingKey()}); !errors.Is(err, deaddrop.ErrBadSignature) {
		t.Fatalf("foreign CoverNode key: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	sig := bytes.Repeat([]byte("ab"), 64)
	good := func(data string) string {
		return `{"created_at":"2023-10-04T19:06:43.635851Z","data":"` + data + `","signature":"` + string(sig) + `"}`
	}
	chunk := protocol.EncodeBase64(make([]byte, protocol.J2UMessageSize))
	if _, err := deaddrop.Parse(deaddrop.User, []byte(good(chunk)), true); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"empty data":          good(""),
		"partial chunk":       good(protocol.EncodeBase64(make([]byte, protocol.J2UMessageSize+1))),
		"not base64":          good("!!!!"),
		"unknown field":       `{"x":1,` + good(chunk)[1:],
		"legacy cert, strict": `{"cert":"00",` + good(chunk)[1:],
		"epoch on user drop":  `{"epoch":1,` + good(chunk)[1:],
		"short signature":     `{"created_at":"2023-10-04T19:06:43Z","data":"` + chunk + `","signature":"abab"}`,
		"no created_at":       `{"data":"` + chunk + `","signature":"` + string(sig) + `"}`,
		"trailing":            good(chunk) + "{}",
		"trailing brackets":   good(chunk) + "}}]]",
	} {
		if _, err := deaddrop.Parse(deaddrop.User, []byte(in), true); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := deaddrop.Parse(deaddrop.Journalist, []byte(good(protocol.EncodeBase64(make([]byte, protocol.C2JMessageSize)))), true); err == nil {
		t.Error("journalist dead drop without epoch accepted")
	}
	if _, err := deaddrop.ParseList(deaddrop.User, []byte(`{"dead_drops":[`+good(chunk)+`]}`)); err == nil {
		t.Error("published list item without id accepted")
	}
	if _, err := deaddrop.ParseList(deaddrop.User, []byte(`{}`)); err == nil {
		t.Error("list without dead_drops accepted")
	}
	withID := func(id string) string { return `{"id":` + id + `,` + good(chunk)[1:] }
	if _, err := deaddrop.ParseList(deaddrop.User, []byte(`{"dead_drops":[`+withID("1")+`]} garbage`)); err == nil {
		t.Error("list with trailing data accepted")
	}
}

// TestCheckPage: a page asked with ids_greater_than=after must hold ids
// above it, rising, within 32 bits.
func TestCheckPage(t *testing.T) {
	page := func(ids ...int64) *deaddrop.List {
		l := &deaddrop.List{}
		for _, id := range ids {
			l.DeadDrops = append(l.DeadDrops, &deaddrop.DeadDrop{ID: id})
		}
		return l
	}
	for _, tc := range []struct {
		after int64
		ids   []int64
		ok    bool
	}{
		{0, nil, true},
		{0, []int64{1, 2, 5}, true},
		{4, []int64{5, 6}, true},
		{5, []int64{5, 6}, false},    // not above the id asked for
		{0, []int64{3, 2}, false},    // falling
		{0, []int64{2, 2}, false},    // repeated
		{0, []int64{1 << 40}, false}, // beyond 32 bits
		{math.MaxInt32 - 1, []int64{math.MaxInt32}, true},
	} {
		if err := page(tc.ids...).CheckPage(tc.after); (err == nil) != tc.ok {
			t.Errorf("after %d, ids %v: %v, want ok=%v", tc.after, tc.ids, err, tc.ok)
		}
	}
}
