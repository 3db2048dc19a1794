package journalist

import (
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/pq"
)

// SeizedKeys returns the messaging private keys held in the vault file at
// path, opened with its passphrase: X25519 keys in coverdrop mode, X-Wing
// keys in pq mode, expired ones not yet forgotten included. It is what
// whoever seizes a journalist's laptop and learns the passphrase holds,
// and how the quantum-adversary tests (internal/adversary) hand an
// adversary every journalist's keys; no command calls it. It reads the
// file only: an open Vault of the same file is not disturbed.
func SeizedKeys(path, passphrase string) ([]*crypto.PrivateKey, []*pq.PrivateKey, error) {
	var d data
	if _, err := openVault(path, passphrase, &d); err != nil {
		return nil, nil, err
	}
	var x25519 []*crypto.PrivateKey
	var kem []*pq.PrivateKey
	for _, k := range d.Messaging {
		if k.Pair.Public.KEM != nil { // pq mode: an X-Wing key pair
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
