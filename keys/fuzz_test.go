package keys_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/vectors"
	"github.com/chaffhq/chaff/keys"
)

// seedFiles adds the upstream files matching pattern to the corpus, when
// the vectors are present.
func seedFiles(f *testing.F, pattern string) {
	dir := vectors.Locate()
	if dir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func FuzzParseHierarchy(f *testing.F) {
	seedFiles(f, filepath.Join(vectors.Scenarios, "*", "published_keys", "*.json"))
	f.Add([]byte(`{"journalist_profiles":[],"default_journalist_id":null,"keys":[],"max_epoch":0}`))
	now := time.Date(2023, 10, 4, 19, 6, 52, 0, time.UTC)
	f.Add(publishedHierarchy(f, keys.ModeCoverDrop, now))
	f.Add(publishedHierarchy(f, keys.ModePQ, now))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := keys.ParseHierarchy(b)
		if err != nil {
			return
		}
		// Whatever parses can be verified without panicking, and re-encodes
		// to something that parses again.
		var anchors []keys.SignedPublicKey
		for _, o := range h.Keys {
			anchors = append(anchors, o.OrgPK)
		}
		v, err := keys.Verify(h, anchors, now)
		if err != nil && v == nil {
			return // anchors of two modes
		}
		_ = v.All()
		_, _ = v.CoverNodeKeys()
		_, _ = v.CoverNodeKEMWrappingKeys()
		again, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keys.ParseHierarchy(again); err != nil {
			t.Fatalf("re-encoded hierarchy does not parse: %v\n%s", err, again)
		}
	})
}

func FuzzKeyPair(f *testing.F) {
	seedFiles(f, filepath.Join(vectors.TestKeys, "*.json"))
	seedKeyFiles(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		var kp keys.KeyPair
		if err := json.Unmarshal(b, &kp); err != nil {
			return
		}
		_, _ = kp.SigningKey()
		_, _ = kp.PrivateKey()
		_, _ = kp.KEMPrivateKey()
		again, err := json.Marshal(&kp)
		if err != nil {
			t.Fatal(err)
		}
		var back keys.KeyPair
		if err := json.Unmarshal(again, &back); err != nil || !back.Public.Equal(&kp.Public) || back.Signed != kp.Signed {
			t.Fatalf("key pair does not round-trip: %v\n%s", err, again)
		}
	})
}

func FuzzSignedPublicKey(f *testing.F) {
	seedFiles(f, filepath.Join(vectors.TestKeys, "*.pub.json"))
	seedKeyFiles(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, signed, err := keys.ParsePublicKey(b)
		if err != nil || !signed {
			return
		}
		_ = k.Verify(&k, k.NotValidAfter)
		again, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := keys.ParsePublicKey(again)
		if err != nil || !back.Equal(&k) {
			t.Fatalf("signed key does not round-trip: %v\n%s", err, again)
		}
	})
}
