package pq

import (
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
)

func mustKey(tb testing.TB) *PrivateKey {
	tb.Helper()
	k, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func pubs(ks ...*PrivateKey) []*PublicKey {
	out := make([]*PublicKey, len(ks))
	for i, k := range ks {
		out[i] = k.PublicKey()
	}
	return out
}

func mustReaderID(tb testing.TB) ReaderID {
	tb.Helper()
	id, err := NewReaderID()
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// identity returns a self-certified Ed25519 identity key valid for a week
// from now, standing in for a CoverNode or journalist identity key.
func identity(tb testing.TB, now time.Time) (*crypto.SigningKey, *keys.SignedPublicKey) {
	tb.Helper()
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := keys.Certify(sk, nil, sk.VerifyingKey().Bytes(), keys.Week, now)
	if err != nil {
		tb.Fatal(err)
	}
	return sk, pub
}
