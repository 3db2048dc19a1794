package keys_test

import (
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/chaffhq/chaff/keys"
)

// generatedPairs makes a key pair of every role at now in a protocol mode,
// each certified by its parent's (the fuzz targets' seeds when the vectors
// are absent).
func generatedPairs(f *testing.F, mode string, now time.Time) map[keys.Role]*keys.KeyPair {
	out := map[keys.Role]*keys.KeyPair{}
	for _, role := range []keys.Role{
		keys.Organization,
		keys.CoverNodeProvisioning, keys.CoverNodeIdentity, keys.CoverNodeMessaging,
		keys.JournalistProvisioning, keys.JournalistIdentity, keys.JournalistMessaging,
		keys.Admin, keys.BackupIdentity, keys.BackupMessaging,
		keys.User, keys.UnsignedCoverNodeIdentity, keys.UnsignedJournalistIdentity,
	} {
		kp, err := keys.GenerateIn(mode, role, out[role.Parent()], now)
		if err != nil {
			f.Fatalf("%s: %v", role, err)
		}
		out[role] = kp
	}
	return out
}

// seedKeyFiles adds the key-pair files (or, with public, the public key
// files) of a key of every role, in both protocol modes.
func seedKeyFiles(f *testing.F, public bool) {
	pairs := generatedPairs(f, keys.ModeCoverDrop, time.Now())
	for r, kp := range generatedPairs(f, keys.ModePQ, time.Now()) {
		pairs[r+100] = kp
	}
	for _, kp := range pairs {
		var v any = kp
		if public {
			v = &kp.Public
			if !kp.Signed {
				v = map[string]string{"key": hex.EncodeToString(kp.Public.Key[:])}
			}
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// publishedHierarchy returns a GET /v1/public-keys body valid at now in a
// protocol mode: an organisation with two CoverNodes, two journalists (one
// with a second identity), and backup keys.
func publishedHierarchy(f *testing.F, mode string, now time.Time) []byte {
	at := now.Add(-time.Hour)
	gen := func(role keys.Role, parent *keys.KeyPair) *keys.KeyPair {
		kp, err := keys.GenerateIn(mode, role, parent, at)
		if err != nil {
			f.Fatalf("%s: %v", role, err)
		}
		return kp
	}
	family := func(idRole, msgRole keys.Role, parent *keys.KeyPair, msgs int) keys.IdentityFamily {
		id := gen(idRole, parent)
		fam := keys.IdentityFamily{IDPK: id.Public, MsgPKs: []keys.SignedPublicKey{}}
		for range msgs {
			fam.MsgPKs = append(fam.MsgPKs, gen(msgRole, id).Public)
		}
		return fam
	}
	org := gen(keys.Organization, nil)
	cnProv, jProv := gen(keys.CoverNodeProvisioning, org), gen(keys.JournalistProvisioning, org)
	desk := "news_desk"
	h := keys.Hierarchy{
		JournalistProfiles: []keys.JournalistProfile{
			{ID: "alice", DisplayName: "Alice", SortName: "alice", Description: "Reporter", Tag: "a1b2c3d4", Status: keys.StatusVisible},
			{ID: "news_desk", DisplayName: "News desk", SortName: "news desk", IsDesk: true, Tag: "0badf00d", Status: keys.StatusHiddenFromUI},
		},
		DefaultJournalistID: &desk,
		Keys: []keys.OrganizationFamily{{
			OrgPK: org.Public,
			CoverNodes: []keys.CoverNodeProvisioningFamily{{ProvisioningPK: cnProv.Public, CoverNodes: map[string][]keys.IdentityFamily{
				"covernode_001": {family(keys.CoverNodeIdentity, keys.CoverNodeMessaging, cnProv, 2)},
				"covernode_002": {family(keys.CoverNodeIdentity, keys.CoverNodeMessaging, cnProv, 1)},
			}}},
			Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{
				"alice": {
					family(keys.JournalistIdentity, keys.JournalistMessaging, jProv, 1),
					family(keys.JournalistIdentity, keys.JournalistMessaging, jProv, 2),
				},
				"news_desk": {family(keys.JournalistIdentity, keys.JournalistMessaging, jProv, 1)},
			}}},
			Backup: []keys.IdentityFamily{family(keys.BackupIdentity, keys.BackupMessaging, org, 1)},
		}},
		MaxEpoch: 12,
	}
	b, err := json.Marshal(h)
	if err != nil {
		f.Fatal(err)
	}
	parsed, err := keys.ParseHierarchy(b)
	if err != nil {
		f.Fatalf("the published hierarchy does not parse: %v", err)
	}
	v, err := keys.Verify(parsed, []keys.SignedPublicKey{org.Public}, now)
	if err != nil || len(v.CoverNodeIDs()) != 2 || len(v.JournalistIDs()) != 2 || len(v.Dropped) != 0 {
		f.Fatalf("the published hierarchy does not verify whole: %v", err)
	}
	return b
}
