package keyhealth

import (
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/keys"
)

func key(role keys.Role, owner string, b byte, expires time.Time) keys.VerifiedKey {
	var k keys.VerifiedKey
	k.Role, k.Owner, k.NotValidAfter = role, owner, expires
	k.Key[0] = b
	return k
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	v := &keys.Verified{
		// Fresh organisation key: 50 weeks left, not due.
		Organizations: []keys.VerifiedKey{key(keys.Organization, "", 1, now.Add(50*keys.Week))},
		// Provisioning key 30 weeks into its 52: due for renewal.
		JournalistProvisioning: []keys.VerifiedKey{key(keys.JournalistProvisioning, "", 2, now.Add(22*keys.Week))},
		// Two CoverNode provisioning keys: the old one is due, the new one
		// is not, so nothing is to be done.
		CoverNodeProvisioning: []keys.VerifiedKey{
			key(keys.CoverNodeProvisioning, "", 3, now.Add(10*keys.Week)),
			key(keys.CoverNodeProvisioning, "", 4, now.Add(51*keys.Week)),
		},
		Journalists: map[string][]keys.VerifiedFamily{
			// alice's newest messaging key expires in 3 days: rotation failed.
			"alice": {{Identity: key(keys.JournalistIdentity, "alice", 5, now.Add(6*keys.Week)),
				Messaging: []keys.VerifiedKey{key(keys.JournalistMessaging, "alice", 6, now.Add(3*day)), key(keys.JournalistMessaging, "alice", 7, now.Add(day))}}},
			// bob rotated: an old key expiring tomorrow is fine.
			"bob": {{Identity: key(keys.JournalistIdentity, "bob", 8, now.Add(6*keys.Week)),
				Messaging: []keys.VerifiedKey{key(keys.JournalistMessaging, "bob", 9, now.Add(13*day)), key(keys.JournalistMessaging, "bob", 10, now.Add(day))}}},
		},
	}
	ps := Check(v, now)
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if len(ps) != 2 {
		t.Fatalf("problems = %q, want the journalist provisioning renewal and alice's messaging key", got)
	}
	if p := ps[0]; p.Key.Role != keys.JournalistProvisioning || !p.Renewal || !strings.Contains(p.String(), "due for renewal") {
		t.Errorf("first problem %q", p)
	}
	if p := ps[1]; p.Key.Role != keys.JournalistMessaging || p.Key.Owner != "alice" || p.Renewal || p.Key.Key[0] != 6 || !strings.Contains(p.String(), "expires in 3 days") {
		t.Errorf("second problem %q", p)
	}
	// Newest keeps one key per role and owner, the latest expiry.
	for _, k := range Newest(v) {
		if k.Role == keys.CoverNodeProvisioning && k.Key[0] != 4 {
			t.Errorf("newest CoverNode provisioning key is %d", k.Key[0])
		}
	}
	if n := len(Newest(v)); n != 7 {
		t.Errorf("Newest has %d keys, want 7", n)
	}
	// A day before the renewal date nothing is due.
	v.JournalistProvisioning[0].NotValidAfter = now.Add(26*keys.Week + day)
	if ps := Check(v, now); len(ps) != 1 {
		t.Errorf("after renewing, problems = %v", ps)
	}
}
