package keys

// Key health: which of a newsroom's published keys need a person or a
// process to act, a key about to expire or a provisioning or organisation
// key due for renewal. `chaff admin keys --check` (newsroom.CheckKeys) and
// the API's key metrics both read it, so that cron and the alerts agree.
//
// It looks only at published (public) keys, and at the newest key of each
// role and owner: an old key expiring while a newer one is published is
// rotation working, not a problem. Owners are journalist and CoverNode
// ids; nothing here is per reader.

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// ExpiryWarning is how long before its expiry the newest key of a role and
// owner is a problem: the automatic rotation (messaging and identity keys)
// has failed for that long, or a person must act (organisation,
// provisioning and admin keys).
const ExpiryWarning = 7 * 24 * time.Hour

// Newest returns, for each role and owner, the published key with the
// latest expiry, sorted by role then owner.
func (v *Verified) Newest() []VerifiedKey {
	type slot struct {
		role  Role
		owner string
	}
	best := map[slot]VerifiedKey{}
	for _, k := range v.All() {
		s := slot{k.Role, k.Owner}
		if b, ok := best[s]; !ok || k.NotValidAfter.After(b.NotValidAfter) {
			best[s] = k
		}
	}
	out := make([]VerifiedKey, 0, len(best))
	for _, k := range best {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b VerifiedKey) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Owner, b.Owner))
	})
	return out
}

// RenewedByPerson reports whether keys of the role are renewed by a
// person on a schedule (the organisation and provisioning keys, 26 weeks
// into their 52), rather than rotated by the software.
func (r Role) RenewedByPerson() bool {
	return r == Organization || r == CoverNodeProvisioning || r == JournalistProvisioning
}

// RenewalDue is when the key is due for renewal: RotateAfter into its
// validity. ok is false for roles that are not renewed by a person.
func (k VerifiedKey) RenewalDue() (due time.Time, ok bool) {
	if !k.Role.RenewedByPerson() || k.Role.RotateAfter() == 0 {
		return time.Time{}, false
	}
	return k.NotValidAfter.Add(-(k.Role.ValidFor() - k.Role.RotateAfter())), true
}

// RenewalHint says how a key of the role is renewed.
func (r Role) RenewalHint() string {
	if r == Organization {
		return "make a new organisation key and ship it to the apps as a trust anchor beside the old one"
	}
	return "create a new one with the organisation key"
}

// Problem is one published key that needs action.
type Problem struct {
	Key VerifiedKey
	// Renewal is true when the key is due for renewal; otherwise it
	// expires within ExpiryWarning.
	Renewal bool
	Left    time.Duration // until expiry
}

func (p Problem) String() string {
	owner := ""
	if p.Key.Owner != "" {
		owner = " of " + p.Key.Owner
	}
	if p.Renewal {
		return fmt.Sprintf("the %s key %s%s is due for renewal (it expires in %s): %s", p.Key.Role, p.Key.Prefix(), owner, Days(p.Left), p.Key.Role.RenewalHint())
	}
	return fmt.Sprintf("the newest %s key %s%s expires in %s", p.Key.Role, p.Key.Prefix(), owner, Days(p.Left))
}

// Problems returns the newest keys that need action at now: those
// expiring within ExpiryWarning, and renewed keys past their renewal date.
func (v *Verified) Problems(now time.Time) []Problem {
	var out []Problem
	for _, k := range v.Newest() {
		left := k.NotValidAfter.Sub(now)
		if left < ExpiryWarning {
			out = append(out, Problem{Key: k, Left: left})
			continue
		}
		if due, ok := k.RenewalDue(); ok && !now.Before(due) {
			out = append(out, Problem{Key: k, Renewal: true, Left: left})
		}
	}
	return out
}

// Days renders a duration for people: hours under two days, days above.
func Days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%.0f hours", d.Hours())
	}
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}
