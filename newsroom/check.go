package newsroom

import (
	"context"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/keys"
)

// KeyCheck is the published key hierarchy, verified, with what needs the
// newsroom's attention.
type KeyCheck struct {
	Verified *keys.Verified
	// Warnings name keys that expire within keys.ExpiryWarning and
	// provisioning keys due for renewal.
	Warnings []string
	// Problems are the newest keys of a role and owner that need action
	// (keys.Verified.Problems): what `chaff admin keys --check` fails on, and
	// what the API's key metrics alert on.
	Problems []keys.Problem
}

// CheckKeys fetches the published keys and verifies them from anchors
// (default: the organisation key in the key directory). A verification
// error comes with what did verify, as keys.Verify returns them.
func (n *Newsroom) CheckKeys(ctx context.Context, anchors []keys.SignedPublicKey) (*KeyCheck, error) {
	if len(anchors) == 0 {
		k, _, err := Anchor(n.KeysDir)
		if err != nil {
			return nil, fmt.Errorf("%v (or give --anchor)", err)
		}
		anchors = []keys.SignedPublicKey{*k}
	}
	c, err := n.api()
	if err != nil {
		return nil, err
	}
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := n.now()
	v, err := keys.Verify(h, anchors, now)
	kc := &KeyCheck{Verified: v}
	if err != nil {
		return kc, err
	}
	for _, k := range v.All() {
		left := k.NotValidAfter.Sub(now)
		switch {
		case left < keys.ExpiryWarning:
			kc.Warnings = append(kc.Warnings, fmt.Sprintf("WARNING: the %s key %s%s expires in %s", RoleWords(k.Role), k.Prefix(), ownerWords(k.Owner), keys.Days(left)))
		case renewalDue(k, now):
			kc.Warnings = append(kc.Warnings, fmt.Sprintf("WARNING: the %s key %s is due for renewal (it expires in %s): %s", RoleWords(k.Role), k.Prefix(), keys.Days(left), k.Role.RenewalHint()))
		}
	}
	kc.Problems = v.Problems(now)
	return kc, nil
}

func renewalDue(k keys.VerifiedKey, now time.Time) bool {
	due, ok := k.RenewalDue()
	return ok && !now.Before(due)
}

func ownerWords(owner string) string {
	if owner == "" {
		return ""
	}
	return " of " + owner
}
