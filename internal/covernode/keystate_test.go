package covernode

import (
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// TestParsedKeys, in both protocol modes: a batch's opener gets the very
// key objects the batch before it got (each key parsed from its secret
// once, not per batch), and they open messages sealed to them; a key
// made since is parsed and used next to them, newest first; an expired
// key is neither returned nor kept, and forgetting expired keys empties
// the cache. Control: the ring's own DecryptionKeys and KEMDecryptionKeys
// parse again at every call (new objects), so the identity check can tell.
func TestParsedKeys(t *testing.T) {
	now := time.Now()
	t.Run(keys.ModeCoverDrop, func(t *testing.T) {
		newKey := func(created time.Time, validFor time.Duration) *keys.OwnKey {
			sk, err := crypto.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			return x25519OwnKey(sk, created, created.Add(validFor))
		}
		open := func(got []*crypto.PrivateKey, k *keys.OwnKey) bool {
			pub, err := k.Pair.PrivateKey()
			if err != nil {
				t.Fatal(err)
			}
			msg, err := protocol.SealCoverU2C([]*crypto.PublicKey{pub.PublicKey(), pub.PublicKey()})
			if err != nil {
				t.Fatal(err)
			}
			_, _, ok := coverDropOpener(got).openU2C(msg, 0)
			return ok
		}
		parsedKeysCase(t, now, newKey, func(ks *keyState, at time.Time) []*crypto.PrivateKey { return ks.decryptionKeys(at) },
			keys.Ring.DecryptionKeys, func(ks *keyState) int { return len(ks.x25519Keys.m) }, open)
	})
	t.Run(keys.ModePQ, func(t *testing.T) {
		newKey := func(created time.Time, validFor time.Duration) *keys.OwnKey {
			sk, err := pq.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			return kemOwnKey(sk, created, created.Add(validFor))
		}
		open := func(got []*pq.PrivateKey, k *keys.OwnKey) bool {
			msg, err := pq.SealCoverU2C([]*pq.PublicKey{k.Pair.Public.KEM, k.Pair.Public.KEM})
			if err != nil {
				t.Fatal(err)
			}
			_, _, ok := pqOpener(got).openU2C(msg, 0)
			return ok
		}
		parsedKeysCase(t, now, newKey, func(ks *keyState, at time.Time) []*pq.PrivateKey { return ks.kemDecryptionKeys(at) },
			keys.Ring.KEMDecryptionKeys, func(ks *keyState) int { return len(ks.kemKeys.m) }, open)
	})
}

func parsedKeysCase[K comparable](t *testing.T, now time.Time,
	newKey func(created time.Time, validFor time.Duration) *keys.OwnKey,
	get func(*keyState, time.Time) []K, ringGet func(keys.Ring, time.Time) []K,
	cached func(*keyState) int, opens func([]K, *keys.OwnKey) bool,
) {
	t.Helper()
	old := newKey(now.Add(-2*time.Hour), 3*time.Hour) // expires in an hour
	ks := &keyState{Messaging: keys.Ring{old}}
	first := get(ks, now)
	if len(first) != 1 || !opens(first, old) {
		t.Fatalf("%d keys returned for one; they open its messages: %v", len(first), len(first) == 1 && opens(first, old))
	}
	if again := get(ks, now); len(again) != 1 || again[0] != first[0] {
		t.Fatal("the key was parsed again for the next batch")
	}
	if a, b := ringGet(ks.Messaging, now), ringGet(ks.Messaging, now); a[0] == b[0] {
		t.Fatal("control: the ring's own decryption keys are the same objects at each call; the identity check proves nothing")
	}

	fresh := newKey(now.Add(-time.Hour), 7*24*time.Hour)
	ks.Messaging = append(ks.Messaging, fresh)
	both := get(ks, now)
	if len(both) != 2 || both[1] != first[0] || !opens(both[:1], fresh) || opens(both[:1], old) {
		t.Fatal("a new key is not first, parsed, beside the old one kept as it was")
	}

	later := now.Add(2 * time.Hour) // the old key has expired
	if got := get(ks, later); len(got) != 1 || got[0] != both[0] || cached(ks) != 1 {
		t.Fatalf("after the old key expired: %d keys returned, %d kept parsed; want the new one alone", len(got), cached(ks))
	}
	ks.mu.Lock()
	ks.forgetExpired(later)
	ks.mu.Unlock()
	if len(ks.Messaging) != 1 || cached(ks) != 0 {
		t.Fatalf("after forgetting expired keys: %d in the ring, %d kept parsed; want 1 and 0", len(ks.Messaging), cached(ks))
	}
	if got := get(ks, later); len(got) != 1 || !opens(got, fresh) {
		t.Fatal("the remaining key does not open its messages once parsed again")
	}
}
