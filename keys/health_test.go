package keys

import (
	"strings"
	"testing"
	"time"
)

func healthKey(role Role, owner string, b byte, expires time.Time) VerifiedKey {
	var k VerifiedKey
	k.Role, k.Owner, k.NotValidAfter = role, owner, expires
	k.Key[0] = b
	return k
}

func TestProblems(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	v := &Verified{
		// Fresh organisation key: 50 weeks left, not due.
		Organizations: []VerifiedKey{healthKey(Organization, "", 1, now.Add(50*Week))},
		// Provisioning key 30 weeks into its 52: due for renewal.
		JournalistProvisioning: []VerifiedKey{healthKey(JournalistProvisioning, "", 2, now.Add(22*Week))},
		// Two CoverNode provisioning keys: the old one is due, the new one
		// is not, so nothing is to be done.
		CoverNodeProvisioning: []VerifiedKey{
			healthKey(CoverNodeProvisioning, "", 3, now.Add(10*Week)),
			healthKey(CoverNodeProvisioning, "", 4, now.Add(51*Week)),
		},
		Journalists: map[string][]VerifiedFamily{
			// alice's newest messaging key expires in 3 days: rotation failed.
			"alice": {{Identity: healthKey(JournalistIdentity, "alice", 5, now.Add(6*Week)),
				Messaging: []VerifiedKey{healthKey(JournalistMessaging, "alice", 6, now.Add(3*day)), healthKey(JournalistMessaging, "alice", 7, now.Add(day))}}},
			// bob rotated: an old key expiring tomorrow is fine.
			"bob": {{Identity: healthKey(JournalistIdentity, "bob", 8, now.Add(6*Week)),
				Messaging: []VerifiedKey{healthKey(JournalistMessaging, "bob", 9, now.Add(13*day)), healthKey(JournalistMessaging, "bob", 10, now.Add(day))}}},
		},
	}
	ps := v.Problems(now)
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if len(ps) != 2 {
		t.Fatalf("problems = %q, want the journalist provisioning renewal and alice's messaging key", got)
	}
	if p := ps[0]; p.Key.Role != JournalistProvisioning || !p.Renewal || !strings.Contains(p.String(), "due for renewal") {
		t.Errorf("first problem %q", p)
	}
	if p := ps[1]; p.Key.Role != JournalistMessaging || p.Key.Owner != "alice" || p.Renewal || p.Key.Key[0] != 6 || !strings.Contains(p.String(), "expires in 3 days") {
		t.Errorf("second problem %q", p)
	}
	// Newest keeps one key per role and owner, the latest expiry.
	for _, k := range v.Newest() {
		if k.Role == CoverNodeProvisioning && k.Key[0] != 4 {
			t.Errorf("newest CoverNode provisioning key is %d", k.Key[0])
		}
	}
	if n := len(v.Newest()); n != 7 {
		t.Errorf("Newest has %d keys, want 7", n)
	}
	// A day before the renewal date nothing is due.
	v.JournalistProvisioning[0].NotValidAfter = now.Add(26*Week + day)
	if ps := v.Problems(now); len(ps) != 1 {
		t.Errorf("after renewing, problems = %v", ps)
	}
}
