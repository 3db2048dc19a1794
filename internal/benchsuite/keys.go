package benchsuite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// A newsroom's published keys as docs/PQ.md §10.2 sizes them: 20
// journalists and 2 CoverNodes, each identity with 14 messaging keys
// (daily rotation, two weeks' validity), refreshed once a background run,
// at most once an hour.
const (
	newsroomJournalists = 20
	newsroomCoverNodes  = 2
	messagingKeysEach   = 14
	keyRefreshesPerDay  = 24
)

// KeySizes are the bytes of one mode's published keys as the API serves
// them (JSON), for the newsroom above.
type KeySizes struct {
	// Whole is GET /v1/public-keys: what journalists, CoverNodes, and
	// coverdrop readers download.
	Whole int
	// Readers is the readers' view (keys.Hierarchy.ReadersView), what a
	// pq reader downloads.
	Readers int
}

// MeasureKeySizes builds the newsroom's key hierarchy in mode, checks
// that its readers' view verifies whole, and returns both sizes.
func MeasureKeySizes(mode string, now time.Time) (KeySizes, error) {
	var err error
	gen := func(role keys.Role, parent *keys.KeyPair, at time.Time) *keys.KeyPair {
		var kp *keys.KeyPair
		if err == nil {
			kp, err = keys.GenerateIn(mode, role, parent, at)
		}
		if kp == nil {
			kp = &keys.KeyPair{}
		}
		return kp
	}
	family := func(id *keys.KeyPair, role keys.Role) []keys.IdentityFamily {
		f := keys.IdentityFamily{IDPK: id.Public}
		for d := range messagingKeysEach {
			f.MsgPKs = append(f.MsgPKs, gen(role, id, now.Add(-time.Duration(d)*24*time.Hour)).Public)
		}
		return []keys.IdentityFamily{f}
	}
	org := gen(keys.Organization, nil, now)
	cnProv, jProv := gen(keys.CoverNodeProvisioning, org, now), gen(keys.JournalistProvisioning, org, now)
	h := &keys.Hierarchy{Keys: []keys.OrganizationFamily{{OrgPK: org.Public,
		CoverNodes:  []keys.CoverNodeProvisioningFamily{{ProvisioningPK: cnProv.Public, CoverNodes: map[string][]keys.IdentityFamily{}}},
		Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{}}},
	}}}
	for i := range newsroomCoverNodes {
		h.Keys[0].CoverNodes[0].CoverNodes[fmt.Sprintf("covernode_%03d", i+1)] = family(gen(keys.CoverNodeIdentity, cnProv, now), keys.CoverNodeMessaging)
	}
	for i := range newsroomJournalists {
		id := fmt.Sprintf("journalist_%02d", i)
		h.Keys[0].Journalists[0].Journalists[id] = family(gen(keys.JournalistIdentity, jProv, now), keys.JournalistMessaging)
		h.JournalistProfiles = append(h.JournalistProfiles, keys.JournalistProfile{ID: id, DisplayName: "Journalist " + id, SortName: id, Description: "Investigations", Tag: protocol.TagFor(id).String(), Status: keys.StatusVisible})
	}
	if err != nil {
		return KeySizes{}, err
	}
	whole, err := json.Marshal(h)
	if err != nil {
		return KeySizes{}, err
	}
	readers, err := json.Marshal(h.ReadersView())
	if err != nil {
		return KeySizes{}, err
	}
	view, err := keys.ParseHierarchy(readers)
	if err != nil {
		return KeySizes{}, err
	}
	v, err := keys.VerifyIn(mode, view, []keys.SignedPublicKey{org.Public}, now)
	if err != nil {
		return KeySizes{}, err
	}
	if len(v.Dropped) > 0 || len(v.Journalists) != newsroomJournalists || len(v.CoverNodes) != newsroomCoverNodes {
		return KeySizes{}, fmt.Errorf("%s: the readers' view does not verify whole (%d keys dropped)", mode, len(v.Dropped))
	}
	return KeySizes{Whole: len(whole), Readers: len(readers)}, nil
}

// keyDownloads returns the bytes a reader downloads a day in keys: the
// whole hierarchy in coverdrop mode (a coverdrop reader opens replies
// under older journalist keys too), the readers' view in pq mode.
func keyDownloads() ([]Row, error) {
	now := time.Now()
	cd, err := MeasureKeySizes(keys.ModeCoverDrop, now)
	if err != nil {
		return nil, err
	}
	pq, err := MeasureKeySizes(keys.ModePQ, now)
	if err != nil {
		return nil, err
	}
	c, q := float64(keyRefreshesPerDay*cd.Whole), float64(keyRefreshesPerDay*pq.Readers)
	return []Row{
		{Name: "reader downloads a day, keys, coverdrop", Value: c / 1e3, Unit: "KB/day", Bound: "-", Ratio: 1},
		{Name: "reader downloads a day, keys, pq (readers' view)", Value: q / 1e3, Unit: "KB/day", Bound: "coverdrop", Ratio: q / c},
	}, nil
}
