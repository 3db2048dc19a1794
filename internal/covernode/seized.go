package covernode

import (
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
)

// SeizedKeys returns the messaging private keys a CoverNode keeps in its
// state directory, opened with its state key: X25519 keys in coverdrop
// mode, X-Wing keys in pq mode, expired ones not yet forgotten included.
// It is what whoever seizes both holds, and how the quantum-adversary
// tests (internal/adversary) hand an adversary every CoverNode's keys; no
// command calls it. It only reads: a node that has started has nothing to
// migrate.
func SeizedKeys(stateDir string, stateKey *[crypto.SecretBoxKeySize]byte) ([]*crypto.PrivateKey, []*xwing.PrivateKey, error) {
	ks, _, err := loadKeyState(stateDir, stateKey)
	if err != nil {
		return nil, nil, err
	}
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	var x25519 []*crypto.PrivateKey
	var kem []*xwing.PrivateKey
	for _, k := range ks.Messaging {
		if k.Pair.Public.KEM != nil {
			sk, err := k.Pair.KEMPrivateKey()
			if err != nil {
				return nil, nil, err
			}
			kem = append(kem, sk)
			continue
		}
		sk, err := k.Pair.PrivateKey()
		if err != nil {
			return nil, nil, err
		}
		x25519 = append(x25519, sk)
	}
	return x25519, kem, nil
}
