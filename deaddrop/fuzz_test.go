package deaddrop_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/vectors"
)

func seedDeadDrops(f *testing.F) {
	dir := vectors.Locate()
	if dir == "" {
		return
	}
	for _, kind := range []string{"user_dead_drops", "journalist_dead_drops"} {
		files, _ := filepath.Glob(filepath.Join(dir, vectors.Scenarios, "*", kind, "*.json"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, kind == "user_dead_drops")
			}
		}
	}
}

func FuzzParseList(f *testing.F) {
	seedDeadDrops(f)
	f.Add([]byte(`{"dead_drops":[]}`), true)
	sk, reader := fuzzKeys(f)
	seedGeneratedLists(f, sk, reader)
	vk := sk.VerifyingKey()
	ro, _ := deaddrop.NewReaderOpener(reader, map[string][]*crypto.PublicKey{"a": {reader.PublicKey()}})
	jo, _ := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{reader}, []*crypto.PublicKey{reader.PublicKey()})
	f.Fuzz(func(t *testing.T, b []byte, user bool) {
		kind := deaddrop.Journalist
		if user {
			kind = deaddrop.User
		}
		l, err := deaddrop.ParseList(kind, b)
		if err != nil {
			return
		}
		for _, d := range l.DeadDrops {
			_ = d.Verify([]*crypto.VerifyingKey{vk})
			if user {
				_, _ = ro.Open(d)
			} else {
				_, _ = jo.Open(d)
			}
			again, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			back, err := deaddrop.Parse(kind, again, true)
			if err != nil || back.ID != d.ID || string(back.Data) != string(d.Data) || back.Signature != d.Signature || back.Epoch != d.Epoch || back.CreatedAt.Unix() != d.CreatedAt.Unix() {
				t.Fatalf("dead drop does not round-trip: %v\n%s", err, again)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"created_at":"2023-10-04T19:06:43.635851Z","data":"AAAA","signature":"00","epoch":1}`), false)
	seedGeneratedDeadDrops(f)
	f.Fuzz(func(t *testing.T, b []byte, strict bool) {
		for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
			d, err := deaddrop.Parse(kind, b, strict)
			if err != nil {
				continue
			}
			if err := d.CheckLength(); err != nil {
				t.Fatalf("parsed a dead drop of bad length: %v", err)
			}
		}
	})
}

// FuzzSniffKind: any body gives a kind or an error without panicking; a
// list whose first item carries an epoch is a journalist one, an empty
// list a user one.
func FuzzSniffKind(f *testing.F) {
	for _, s := range []string{`{"dead_drops":[]}`, `{"dead_drops":[{"id":1,"epoch":2}]}`, `{"dead_drops":[{"id":1}]}`, `[]`, `{"dead_drops":[7]}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := deaddrop.SniffKind(b)
		if err != nil {
			return
		}
		if k != deaddrop.User && k != deaddrop.Journalist {
			t.Fatalf("kind %v", k)
		}
	})
}

func TestSniffKind(t *testing.T) {
	for body, want := range map[string]deaddrop.Kind{`{"dead_drops":[]}`: deaddrop.User, `{"dead_drops":[{"id":1,"epoch":2}]}`: deaddrop.Journalist, `{"dead_drops":[{"id":1}]}`: deaddrop.User} {
		if k, err := deaddrop.SniffKind([]byte(body)); err != nil || k != want {
			t.Errorf("%s: %v %v", body, k, err)
		}
	}
	if _, err := deaddrop.SniffKind([]byte(`{"dead_drops":`)); err == nil {
		t.Error("a broken body sniffed")
	}
}
