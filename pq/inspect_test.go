package pq_test

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// TestInspect checks chaff inspect's pq dead-drop inspection: a page of pq
// journalist dead drops verifies under a pq hierarchy's CoverNode identity
// key, the journalist's X-Wing key finds its message (with the reader id,
// never the reply key), a dead drop signed in the coverdrop form is
// reported, and a hierarchy verified in coverdrop mode is refused.
func TestInspect(t *testing.T) {
	now := time.Now()
	g := func(role keys.Role, parent *keys.KeyPair) *keys.KeyPair {
		kp, err := keys.GenerateIn(keys.ModePQ, role, parent, now)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	org := g(keys.Organization, nil)
	cnProv, jProv := g(keys.CoverNodeProvisioning, org), g(keys.JournalistProvisioning, org)
	cnID, jID := g(keys.CoverNodeIdentity, cnProv), g(keys.JournalistIdentity, jProv)
	jMsg := g(keys.JournalistMessaging, jID)
	h := &keys.Hierarchy{JournalistProfiles: []keys.JournalistProfile{{ID: "alice", Tag: protocol.TagFor("alice").String(), Status: keys.StatusVisible}},
		Keys: []keys.OrganizationFamily{{OrgPK: org.Public,
			CoverNodes:  []keys.CoverNodeProvisioningFamily{{ProvisioningPK: cnProv.Public, CoverNodes: map[string][]keys.IdentityFamily{"covernode_001": {{IDPK: cnID.Public, MsgPKs: []keys.SignedPublicKey{}}}}}},
			Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{"alice": {{IDPK: jID.Public, MsgPKs: []keys.SignedPublicKey{jMsg.Public}}}}}},
		}}, MaxEpoch: 5}
	v, err := keys.VerifyIn(keys.ModePQ, h, []keys.SignedPublicKey{org.Public}, now)
	if err != nil {
		t.Fatal(err)
	}
	jk, _ := v.JournalistKEMKey("alice")
	reader, _ := pq.NewReaderID()
	u2j, rk, err := pq.SealU2J(jk, reader, "hello")
	if err != nil {
		t.Fatal(err)
	}
	c2j, err := pq.SealC2J(jk, u2j)
	if err != nil {
		t.Fatal(err)
	}
	cnSK, _ := cnID.SigningKey()
	good := &pq.DeadDrop{Kind: deaddrop.Journalist, ID: 1, CreatedAt: now, Data: c2j, Epoch: 5}
	good.Sign(cnSK)
	// The same bytes signed in coverdrop's form do not verify as pq.
	forged := &deaddrop.DeadDrop{Kind: deaddrop.Journalist, ID: 2, CreatedAt: now, Data: c2j, Epoch: 5}
	forged.Sign(cnSK)
	page, _ := json.Marshal(map[string]any{"dead_drops": []any{good, forged}})
	sk, err := jMsg.KEMPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	in, err := pq.Inspect(page, v, []*pq.PrivateKey{sk})
	if err != nil {
		t.Fatal(err)
	}
	if in.Total != 2 || in.Verified != 1 || len(in.Problems) != 1 || !strings.HasPrefix(in.Problems[0], "dead drop 2:") {
		t.Fatalf("inspection: %+v", in)
	}
	if len(in.Found) != 1 || *in.Found[0].Text != "hello" || in.Found[0].ReaderID == "" || in.Found[0].ReplyKey != "" {
		t.Fatalf("found %+v", in.Found)
	}
	out, _ := json.Marshal(in.Found)
	if strings.Contains(string(out), hex.EncodeToString(rk[:])) {
		t.Fatal("the reply key was printed")
	}
	v.Mode = keys.ModeCoverDrop
	if _, err := pq.Inspect(page, v, nil); err == nil {
		t.Fatal("a coverdrop hierarchy inspected pq dead drops")
	}
}
