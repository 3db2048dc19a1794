package newsroom

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/chaffhq/chaff/keys"
)

// Renewed is what Renew made: the new key pairs' files by role.
type Renewed struct {
	Files map[keys.Role]string
}

// Renew makes new provisioning and admin key pairs certified by the
// organisation key, writes them beside the old ones in the key directory
// and uploads them as Bootstrap does. It is the twice-yearly step for which
// the organisation key comes out of the safe (keys.VerifiedKey.RenewalDue says
// when). The old keys stay valid until they expire, so identity keys they
// certified keep verifying; from now on the newsroom signs with the new
// ones, since LoadKeyPair takes the key pair that expires last.
func (n *Newsroom) Renew(ctx context.Context, uploaded func(keys.Role, *keys.KeyPair)) (*Renewed, error) {
	if _, err := n.api(); err != nil {
		return nil, err
	}
	org, err := n.key(keys.Organization)
	if err != nil {
		return nil, err
	}
	now := n.now()
	r := &Renewed{Files: map[keys.Role]string{}}
	for _, role := range InitRoles[1:] {
		kp, err := keys.Generate(role, org, now)
		if err != nil {
			return nil, err
		}
		if r.Files[role], err = keys.WriteKeyPairFile(n.KeysDir, role, kp); err != nil {
			return nil, fmt.Errorf("writing the new %s key: %w", RoleWords(role), err)
		}
		if _, err := keys.WritePublicKeyFile(n.KeysDir, role, kp); err != nil {
			return nil, fmt.Errorf("writing the new %s key: %w", RoleWords(role), err)
		}
	}
	done := map[keys.Role]bool{}
	err = n.Bootstrap(ctx, func(role keys.Role, kp *keys.KeyPair) {
		done[role] = true
		if uploaded != nil {
			uploaded(role, kp)
		}
	})
	if err != nil {
		// A new key the API refused is a secret nobody will use: remove it,
		// so that the next attempt, and every later step, signs with a key
		// that is published.
		for role, path := range r.Files {
			if !done[role] {
				os.Remove(path)
				os.Remove(strings.TrimSuffix(path, ".keypair.json") + ".pub.json")
			}
		}
		return nil, err
	}
	return r, nil
}
