package newsroom

import (
	"context"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/keys"
)

// ExpiryWarning is how long before a key's expiry CheckKeys warns.
const ExpiryWarning = 7 * 24 * time.Hour

// KeyCheck is the published key hierarchy, verified, with what needs the
// newsroom's attention.
type KeyCheck struct {
	Verified *keys.Verified
	// Warnings name keys that expire within ExpiryWarning and provisioning
	// keys due for renewal.
	Warnings []string
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
		case left < ExpiryWarning:
			kc.Warnings = append(kc.Warnings, fmt.Sprintf("WARNING: the %s key %s%s expires in %s", RoleWords(k.Role), k.Prefix(), ownerWords(k.Owner), Days(left)))
		case (k.Role == keys.CoverNodeProvisioning || k.Role == keys.JournalistProvisioning) && left < k.Role.ValidFor()-k.Role.RotateAfter():
			kc.Warnings = append(kc.Warnings, fmt.Sprintf("WARNING: the %s key %s is due for renewal (it expires in %s): create a new one with the organisation key", RoleWords(k.Role), k.Prefix(), Days(left)))
		}
	}
	return kc, nil
}

func ownerWords(owner string) string {
	if owner == "" {
		return ""
	}
	return " of " + owner
}

// Days says a duration in hours below two days, else in days.
func Days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%.0f hours", d.Hours())
	}
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}
