package keys_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/vectors"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

func anchor(t *testing.T) keys.SignedPublicKey {
	t.Helper()
	k, err := keys.ReadPublicKeyFile(filepath.Join(vectors.Dir(t), vectors.AnchorFile))
	if err != nil {
		t.Fatal(err)
	}
	return *k
}

func scenarioTime(t *testing.T, s vectors.Scenario) time.Time {
	t.Helper()
	var ts protocol.Time
	if err := json.Unmarshal(s.Timestamp, &ts); err != nil {
		t.Fatalf("%s/%s timestamp: %v", s.Name, s.Step, err)
	}
	return ts.Time
}

// countKeys counts the signed keys in a hierarchy.
func countKeys(h *keys.Hierarchy) int {
	n := 0
	h.Walk(func(*keys.SignedPublicKey, keys.Role, string) { n++ })
	return n
}

func TestCertificateDataVector(t *testing.T) {
	pk := vectors.Read(t, filepath.Join(vectors.Common, "certificate_data/01_pk"))
	nva, err := protocol.ParseTime(string(vectors.Read(t, filepath.Join(vectors.Common, "certificate_data/02_not_valid_after"))))
	if err != nil {
		t.Fatal(err)
	}
	want := vectors.Read(t, filepath.Join(vectors.Common, "certificate_data/04_certificate_data"))
	if got := keys.CertificateData(pk, nva); !bytes.Equal(got, want) {
		t.Fatalf("certificate data %x, want %x", got, want)
	}
	// Sub-second precision is not signed: floor, never round.
	if got := keys.CertificateData(pk, nva.Add(999*time.Millisecond)); !bytes.Equal(got, want) {
		t.Fatalf("certificate data of nva+0.999s %x, want %x", got, want)
	}
}

// TestVectors verifies every published hierarchy of the upstream scenarios
// at its scenario's instant, under the organisation key of the test keys.
func TestVectors(t *testing.T) {
	anchors := []keys.SignedPublicKey{anchor(t)}
	scenarios := vectors.LoadScenarios(t, "minimal_scenario", "key_rotations", "set_system_status")
	for _, s := range scenarios {
		t.Run(s.Name+"/"+s.Step, func(t *testing.T) {
			h, err := keys.ParseHierarchy(s.PublishedKeys)
			if err != nil {
				t.Fatal(err)
			}
			now := scenarioTime(t, s)
			v, err := keys.Verify(h, anchors, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Dropped) != 0 {
				t.Fatalf("dropped: %v", v.Dropped)
			}
			if got, want := len(v.All()), countKeys(h); got != want || want < 6 {
				t.Fatalf("verified %d keys of %d", got, want)
			}
			if v.MaxEpoch != h.MaxEpoch || v.MaxEpoch == 0 {
				t.Fatalf("max epoch %d, published %d", v.MaxEpoch, h.MaxEpoch)
			}
			// Re-encoding gives the same JSON, field for field.
			again, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if err := json.Unmarshal(s.PublishedKeys, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("re-encoded hierarchy differs:\n%s\nvs\n%s", s.PublishedKeys, again)
			}
			// Selection: the keys a reader encrypts to.
			if _, err := v.CoverNodeKeys(); err != nil {
				t.Fatal(err)
			}
			for _, p := range v.Profiles {
				if p.Tag != protocol.TagFor(p.ID).String() {
					t.Fatalf("profile %s has tag %s, want %s", p.ID, p.Tag, protocol.TagFor(p.ID))
				}
				if _, err := v.JournalistKey(p.ID); err != nil {
					t.Fatal(err)
				}
			}
			// A moment after the organisation key expires, nothing is trusted.
			late := h.Keys[0].OrgPK.NotValidAfter.Add(time.Second)
			if _, err := keys.Verify(h, anchors, late); !errors.Is(err, keys.ErrNoTrustedKeys) {
				t.Fatalf("verify after the anchor's expiry: %v", err)
			}
		})
	}
}

// TestVectorsBitFlips flips every bit of every key and certificate of the
// minimal scenario's hierarchy in turn: exactly that key fails, with a
// clear error naming it, and its subtree goes with it; everything else
// still verifies.
func TestVectorsBitFlips(t *testing.T) {
	anchors := []keys.SignedPublicKey{anchor(t)}
	s := vectors.LoadScenarios(t, "minimal_scenario")[0]
	now := scenarioTime(t, s)
	h, err := keys.ParseHierarchy(s.PublishedKeys)
	if err != nil {
		t.Fatal(err)
	}
	total := countKeys(h)
	subtree := map[keys.Role]int{}
	h.Walk(func(_ *keys.SignedPublicKey, r keys.Role, _ string) {
		for p := r; p != 0; p = p.Parent() {
			subtree[p]++
		}
	})
	idx := 0
	h.Walk(func(k *keys.SignedPublicKey, role keys.Role, owner string) {
		target := idx
		idx++
		for field, b := range map[string][]byte{"key": k.Key[:], "certificate": k.Certificate[:]} {
			bits := len(b) * 8
			step := 1
			if testing.Short() {
				step = 7
			}
			for bit := 0; bit < bits; bit += step {
				fresh, _ := keys.ParseHierarchy(s.PublishedKeys)
				i := 0
				var flipped *keys.SignedPublicKey
				fresh.Walk(func(k2 *keys.SignedPublicKey, _ keys.Role, _ string) {
					if i == target {
						flipped = k2
						if field == "key" {
							k2.Key[bit/8] ^= 1 << (bit % 8)
						} else {
							k2.Certificate[bit/8] ^= 1 << (bit % 8)
						}
					}
					i++
				})
				v, err := keys.Verify(fresh, anchors, now)
				if role == keys.Organization {
					if !errors.Is(err, keys.ErrNoTrustedKeys) || len(v.Dropped) != 1 {
						t.Fatalf("org %s bit %d: err %v, dropped %v", field, bit, err, v.Dropped)
					}
				} else if err != nil {
					t.Fatalf("%s %s bit %d: %v", role, field, bit, err)
				}
				if len(v.Dropped) != 1 {
					t.Fatalf("%s %s bit %d: dropped %v, want exactly the flipped key", role, field, bit, v.Dropped)
				}
				d := v.Dropped[0]
				if d.Role != role || d.Owner != owner || d.Key != flipped.Prefix() || !errors.Is(d.Err, keys.ErrBadCertificate) {
					t.Fatalf("%s %s bit %d: dropped %v", role, field, bit, d)
				}
				msg := d.Error()
				if !strings.Contains(msg, role.String()) || !strings.Contains(msg, flipped.Prefix()) || !strings.Contains(msg, "certificate does not verify") {
					t.Fatalf("unclear error %q", msg)
				}
				if role != keys.Organization {
					if got, want := len(v.All()), total-subtree[role]/countRole(h, role); got != want {
						t.Fatalf("%s %s bit %d: %d keys verified, want %d", role, field, bit, got, want)
					}
				}
			}
		}
	})
}

// countRole counts the keys of one role, so that subtree[role]/count is the
// size of one key's subtree in these single-branch scenarios.
func countRole(h *keys.Hierarchy, role keys.Role) int {
	n := 0
	h.Walk(func(_ *keys.SignedPublicKey, r keys.Role, _ string) {
		if r == role {
			n++
		}
	})
	return n
}

func TestAnchorMustMatchExactly(t *testing.T) {
	s := vectors.LoadScenarios(t, "minimal_scenario")[0]
	now := scenarioTime(t, s)
	h, err := keys.ParseHierarchy(s.PublishedKeys)
	if err != nil {
		t.Fatal(err)
	}
	// An anchor of another organisation: nothing is trusted.
	other, err := keys.Generate(keys.Organization, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{other.Public}, now)
	if !errors.Is(err, keys.ErrNoTrustedKeys) || len(v.Dropped) != 1 || !errors.Is(v.Dropped[0], keys.ErrNotTrustAnchor) {
		t.Fatalf("foreign anchor: err %v dropped %v", err, v.Dropped)
	}
	// Same key, different expiry: not the anchor.
	a := anchor(t)
	a.NotValidAfter = a.NotValidAfter.Add(time.Second)
	if _, err := keys.Verify(h, []keys.SignedPublicKey{a}, now); !errors.Is(err, keys.ErrNoTrustedKeys) {
		t.Fatalf("anchor with another expiry: %v", err)
	}
}

// chain builds a whole hierarchy the way an organisation would.
type chain struct {
	org, cnProv, jProv, cnID, jID *keys.KeyPair
	cnMsg, jMsg                   []*keys.KeyPair
}

func gen(t *testing.T, role keys.Role, parent *keys.KeyPair, now time.Time) *keys.KeyPair {
	t.Helper()
	kp, err := keys.Generate(role, parent, now)
	if err != nil {
		t.Fatalf("generate %s: %v", role, err)
	}
	return kp
}

func newChain(t *testing.T, now time.Time) *chain {
	c := &chain{}
	c.org = gen(t, keys.Organization, nil, now)
	c.cnProv = gen(t, keys.CoverNodeProvisioning, c.org, now)
	c.jProv = gen(t, keys.JournalistProvisioning, c.org, now)
	c.cnID = gen(t, keys.CoverNodeIdentity, c.cnProv, now)
	c.jID = gen(t, keys.JournalistIdentity, c.jProv, now)
	for i := range 3 {
		at := now.Add(time.Duration(i) * 24 * time.Hour)
		c.cnMsg = append(c.cnMsg, gen(t, keys.CoverNodeMessaging, c.cnID, at))
		c.jMsg = append(c.jMsg, gen(t, keys.JournalistMessaging, c.jID, at))
	}
	return c
}

func (c *chain) hierarchy() *keys.Hierarchy {
	pubs := func(kps []*keys.KeyPair) []keys.SignedPublicKey {
		var out []keys.SignedPublicKey
		for _, kp := range kps {
			out = append(out, kp.Public)
		}
		return out
	}
	return &keys.Hierarchy{
		JournalistProfiles: []keys.JournalistProfile{{ID: "alice", Tag: protocol.TagFor("alice").String(), Status: keys.StatusVisible}},
		Keys: []keys.OrganizationFamily{{
			OrgPK: c.org.Public,
			CoverNodes: []keys.CoverNodeProvisioningFamily{{
				ProvisioningPK: c.cnProv.Public,
				CoverNodes:     map[string][]keys.IdentityFamily{"covernode_001": {{IDPK: c.cnID.Public, MsgPKs: pubs(c.cnMsg)}}},
			}},
			Journalists: []keys.JournalistProvisioningFamily{{
				ProvisioningPK: c.jProv.Public,
				Journalists:    map[string][]keys.IdentityFamily{"alice": {{IDPK: c.jID.Public, MsgPKs: pubs(c.jMsg)}}},
			}},
		}},
		MaxEpoch: 9,
	}
}

func TestGeneratedHierarchy(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	c := newChain(t, now)
	if got := c.org.Public.NotValidAfter; !got.Equal(now.Add(52 * keys.Week)) {
		t.Fatalf("organisation expiry %v", got)
	}
	if got := c.cnID.Public.NotValidAfter; !got.Equal(now.Add(4 * keys.Week)) {
		t.Fatalf("CoverNode identity expiry %v", got)
	}
	// A messaging key made three weeks later would outlive its 4-week
	// identity key: it is clamped to the parent's expiry.
	late := gen(t, keys.CoverNodeMessaging, c.cnID, now.Add(3*keys.Week))
	if !late.Public.NotValidAfter.Equal(c.cnID.Public.NotValidAfter) {
		t.Fatalf("child expiry %v not clamped to parent %v", late.Public.NotValidAfter, c.cnID.Public.NotValidAfter)
	}
	if _, err := keys.Generate(keys.CoverNodeMessaging, c.cnID, now.Add(5*keys.Week)); !errors.Is(err, keys.ErrParentExpired) {
		t.Fatalf("certifying with an expired parent: %v", err)
	}
	if _, err := keys.Generate(keys.JournalistIdentity, nil, now); err == nil {
		t.Fatal("generated a journalist identity key without a parent")
	}

	h := c.hierarchy()
	v, err := keys.Verify(h, []keys.SignedPublicKey{c.org.Public}, now.Add(time.Hour))
	if err != nil || len(v.Dropped) != 0 {
		t.Fatalf("verify: %v %v", err, v.Dropped)
	}
	// The key to encrypt to is the latest; the single CoverNode's is doubled.
	jk, err := v.JournalistKey("alice")
	if err != nil || !bytes.Equal(jk.Bytes(), c.jMsg[2].Public.Key[:]) {
		t.Fatalf("journalist key %v, %v", jk, err)
	}
	cks, err := v.CoverNodeKeys()
	if err != nil || len(cks) != 2 || !cks[0].Equal(cks[1]) || !bytes.Equal(cks[0].Bytes(), c.cnMsg[2].Public.Key[:]) {
		t.Fatalf("CoverNode keys %v, %v", cks, err)
	}
	if n := len(v.CoverNodeIdentityKeys()); n != 1 {
		t.Fatalf("%d CoverNode identity keys", n)
	}
	// Two weeks on, the first messaging keys have expired: dropped, the
	// others still there.
	v, err = keys.Verify(h, []keys.SignedPublicKey{c.org.Public}, now.Add(2*keys.Week+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Dropped) != 2 || !errors.Is(v.Dropped[0], keys.ErrExpired) || !errors.Is(v.Dropped[1], keys.ErrExpired) {
		t.Fatalf("dropped %v, want the two first messaging keys as expired", v.Dropped)
	}
	if n := len(v.JournalistMessagingKeys("alice")); n != 2 {
		t.Fatalf("%d journalist messaging keys left", n)
	}
	// A key listed under the wrong parent fails.
	h.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs = append(h.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs, c.cnMsg[0].Public)
	v, _ = keys.Verify(h, []keys.SignedPublicKey{c.org.Public}, now.Add(time.Hour))
	if len(v.Dropped) != 1 || v.Dropped[0].Role != keys.JournalistMessaging || !errors.Is(v.Dropped[0], keys.ErrBadCertificate) {
		t.Fatalf("misplaced key: dropped %v", v.Dropped)
	}
}

func TestKeyFiles(t *testing.T) {
	// The upstream user key pair: unsigned, and its halves match.
	kp, err := keys.ReadKeyPairFile(filepath.Join(vectors.Dir(t), vectors.UserKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if kp.Signed {
		t.Fatal("user key pair read as signed")
	}
	sk, err := kp.PrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if name := keys.FileName(keys.User, sk.PublicKey().Bytes(), true); name != "user-4511b55a.keypair.json" {
		t.Fatalf("file name %s", name)
	}
	if _, err := kp.SigningKey(); err == nil {
		t.Fatal("an X25519 key pair passed as a signing key")
	}
	// Round trip of signed pairs through files, secret ones 0600.
	dir := t.TempDir()
	c := newChain(t, time.Now())
	for _, tc := range []struct {
		role keys.Role
		kp   *keys.KeyPair
	}{{keys.Organization, c.org}, {keys.CoverNodeMessaging, c.cnMsg[0]}, {keys.User, gen(t, keys.User, nil, time.Now())}} {
		path, err := keys.WriteKeyPairFile(dir, tc.role, tc.kp)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", path, fi.Mode())
		}
		if _, err := keys.WriteKeyPairFile(dir, tc.role, tc.kp); err == nil {
			t.Fatal("overwrote a key file")
		}
		back, err := keys.ReadKeyPairFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if back.Signed != tc.kp.Signed || !back.Public.Equal(&tc.kp.Public) {
			t.Fatalf("%s: read back %+v", tc.role, back.Public)
		}
		if tc.role.Signing() {
			_, err = back.SigningKey()
		} else {
			_, err = back.PrivateKey()
		}
		if err != nil {
			t.Fatal(err)
		}
		pub, err := keys.WritePublicKeyFile(dir, tc.role, tc.kp)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(pub); bytes.Contains(b, []byte("secret")) {
			t.Fatalf("public key file holds a secret: %s", b)
		}
	}
}

func TestBadJSON(t *testing.T) {
	good := `{"key":"` + strings.Repeat("ab", 32) + `","certificate":"` + strings.Repeat("cd", 64) + `","not_valid_after":"2023-10-18T19:06:19Z"}`
	var k keys.SignedPublicKey
	if err := json.Unmarshal([]byte(good), &k); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"extra field":   strings.Replace(good, `{`, `{"epoch":1,`, 1),
		"missing field": `{"key":"` + strings.Repeat("ab", 32) + `","not_valid_after":"2023-10-18T19:06:19Z"}`,
		"short key":     strings.Replace(good, strings.Repeat("ab", 32), strings.Repeat("ab", 31), 1),
		"not hex":       strings.Replace(good, "abab", "zzzz", 1),
		"bad time":      strings.Replace(good, "2023-10-18T19:06:19Z", "yesterday", 1),
		"not json":      `{"key":`,
	} {
		if err := json.Unmarshal([]byte(in), &k); err == nil {
			t.Errorf("%s: accepted %s", name, in)
		}
	}
	if _, err := keys.ParseHierarchy([]byte(`{"journalist_profiles":[],"keys":[],"max_epoch":1,"extra":1}`)); err == nil {
		t.Error("hierarchy with an unknown field accepted")
	}
	var kp keys.KeyPair
	if err := json.Unmarshal([]byte(`{"public_key":{"key":"`+strings.Repeat("ab", 32)+`"}}`), &kp); err == nil {
		t.Error("key pair without secret accepted")
	}
}

func TestRoles(t *testing.T) {
	for r := keys.Organization; r <= keys.UnsignedJournalistIdentity; r++ {
		back, ok := keys.RoleByEntity(r.String())
		if !ok || back != r {
			t.Fatalf("role %d: entity %q reads back as %d", r, r, back)
		}
		if p := r.Parent(); p != 0 && r.ValidFor() > p.ValidFor() {
			t.Fatalf("%s outlives its parent %s", r, p)
		}
	}
	if keys.JournalistMessaging.RotateAfter() != 24*time.Hour || keys.CoverNodeIdentity.ValidFor() != 4*keys.Week {
		t.Fatal("lifetimes differ from SPEC §2.3")
	}
	if _, ok := keys.RoleByEntity("nobody"); ok {
		t.Fatal("unknown entity name accepted")
	}
}

// TestTrusted checks that Verify's published form of what verified is the
// whole hierarchy when everything verifies, and drops what does not.
func TestTrusted(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	c := newChain(t, now)
	h := c.hierarchy()
	v, err := keys.Verify(h, []keys.SignedPublicKey{c.org.Public}, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(h)
	h.Keys[0].Backup = []keys.IdentityFamily{} // always present in what a server publishes
	want, _ := json.Marshal(h)
	if got, _ := json.Marshal(v.Trusted); string(got) != string(want) {
		t.Fatalf("trusted hierarchy\n%s\nwant\n%s\n(from %s)", got, want, a)
	}
	// Two weeks on, the first messaging keys have expired (CoverNode and
	// journalist): they are left out.
	v, _ = keys.Verify(h, []keys.SignedPublicKey{c.org.Public}, now.Add(2*keys.Week+time.Hour))
	if n := len(v.Trusted.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs); n != 2 {
		t.Fatalf("%d journalist messaging keys published, want 2", n)
	}
	if n := countKeys(v.Trusted); n != countKeys(h)-2 {
		t.Fatalf("%d keys published, want %d", n, countKeys(h)-2)
	}
}
