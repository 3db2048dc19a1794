package deaddrop_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/protocol"
)

// fuzzKeys returns the CoverNode identity key that signs the generated
// seeds and the X25519 key that stands for every other party (reader,
// journalist and CoverNode messaging key). They are fixed, so that seeds
// made in one fuzzing process verify and open in every other.
func fuzzKeys(f *testing.F) (*crypto.SigningKey, *crypto.PrivateKey) {
	sk, err := crypto.NewSigningKey(bytes.Repeat([]byte{0x11}, 32))
	if err != nil {
		f.Fatal(err)
	}
	party, err := crypto.NewPrivateKey(bytes.Repeat([]byte{0x22}, crypto.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	return sk, party
}

// generatedDeadDrops returns signed, published dead drops of kind, each
// holding a message that party opens among filler.
func generatedDeadDrops(f *testing.F, kind deaddrop.Kind, sk *crypto.SigningKey, party *crypto.PrivateKey) []*deaddrop.DeadDrop {
	var out []*deaddrop.DeadDrop
	created := time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)
	for i := range 2 {
		var mine, filler []byte
		var err error
		if kind == deaddrop.User {
			mine, err = protocol.SealJ2U(party.PublicKey(), party, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "a reply"})
			if err == nil {
				filler, err = protocol.RandomJ2U()
			}
		} else {
			var u2j []byte
			u2j, err = protocol.SealU2J(party.PublicKey(), party.PublicKey(), "a message")
			if err == nil {
				mine, err = protocol.SealC2J(party.PublicKey(), party, u2j)
			}
			if err == nil {
				filler, err = protocol.RandomC2J(party)
			}
		}
		if err != nil {
			f.Fatal(err)
		}
		d := &deaddrop.DeadDrop{Kind: kind, ID: int64(i + 1), CreatedAt: created.Add(time.Duration(i) * time.Hour),
			Data: append(append([]byte{}, filler...), mine...)}
		if kind == deaddrop.Journalist {
			d.Epoch = int32(5 + i)
		}
		d.Sign(sk)
		out = append(out, d)
	}
	return out
}

// seedGeneratedLists adds pages of generated dead drops of both kinds,
// checking that each verifies and opens to one message.
func seedGeneratedLists(f *testing.F, sk *crypto.SigningKey, party *crypto.PrivateKey) {
	ro, err := deaddrop.NewReaderOpener(party, map[string][]*crypto.PublicKey{"a": {party.PublicKey()}})
	if err != nil {
		f.Fatal(err)
	}
	jo, err := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{party}, []*crypto.PublicKey{party.PublicKey()})
	if err != nil {
		f.Fatal(err)
	}
	for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
		b, err := json.Marshal(deaddrop.List{DeadDrops: generatedDeadDrops(f, kind, sk, party)})
		if err != nil {
			f.Fatal(err)
		}
		l, err := deaddrop.ParseList(kind, b)
		if err != nil {
			f.Fatal(err)
		}
		for _, d := range l.DeadDrops {
			if err := d.Verify([]*crypto.VerifyingKey{sk.VerifyingKey()}); err != nil {
				f.Fatal(err)
			}
			n := 0
			if kind == deaddrop.User {
				rs, err := ro.Open(d)
				n = len(rs)
				if err != nil {
					f.Fatal(err)
				}
			} else {
				rs, err := jo.Open(d)
				n = len(rs)
				if err != nil {
					f.Fatal(err)
				}
			}
			if n != 1 {
				f.Fatalf("a generated %s dead drop opens to %d messages", kind, n)
			}
		}
		f.Add(b, kind == deaddrop.User)
	}
}

// seedGeneratedDeadDrops adds generated dead drops of both kinds, published
// and (without id) as the CoverNode posts them.
func seedGeneratedDeadDrops(f *testing.F) {
	sk, party := fuzzKeys(f)
	for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
		for i, d := range generatedDeadDrops(f, kind, sk, party) {
			if i == 1 {
				d.ID = 0
			}
			b, err := json.Marshal(d)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, i == 1)
		}
	}
}
