package keys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// pqChain is a pq deployment's keys: an organisation in the pq form, one
// CoverNode and one journalist with X-Wing messaging keys, and a backup.
func pqChain(t *testing.T, mode string, now time.Time) (*keys.KeyPair, *keys.Hierarchy) {
	org, _, h := pqChainWithIdentity(t, mode, now)
	return org, h
}

// pqChainWithIdentity is pqChain, also returning the journalist's identity
// key pair.
func pqChainWithIdentity(t *testing.T, mode string, now time.Time) (org, jID *keys.KeyPair, h *keys.Hierarchy) {
	t.Helper()
	g := func(role keys.Role, parent *keys.KeyPair) *keys.KeyPair {
		kp, err := keys.GenerateIn(mode, role, parent, now)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		return kp
	}
	org = g(keys.Organization, nil)
	cnProv, jProv, bID := g(keys.CoverNodeProvisioning, org), g(keys.JournalistProvisioning, org), g(keys.BackupIdentity, org)
	cnID := g(keys.CoverNodeIdentity, cnProv)
	jID = g(keys.JournalistIdentity, jProv)
	return org, jID, &keys.Hierarchy{
		JournalistProfiles: []keys.JournalistProfile{{ID: "alice", Tag: protocol.TagFor("alice").String(), Status: keys.StatusVisible}},
		Keys: []keys.OrganizationFamily{{
			OrgPK: org.Public,
			CoverNodes: []keys.CoverNodeProvisioningFamily{{ProvisioningPK: cnProv.Public, CoverNodes: map[string][]keys.IdentityFamily{
				"covernode_001": {{IDPK: cnID.Public, MsgPKs: []keys.SignedPublicKey{g(keys.CoverNodeMessaging, cnID).Public}}},
			}}},
			Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{
				"alice": {{IDPK: jID.Public, MsgPKs: []keys.SignedPublicKey{g(keys.JournalistMessaging, jID).Public}}},
			}}},
			Backup: []keys.IdentityFamily{{IDPK: bID.Public, MsgPKs: []keys.SignedPublicKey{g(keys.BackupMessaging, bID).Public}}},
		}},
		MaxEpoch: 4,
	}
}

// roundTrip publishes h as JSON and parses it back, as a client reads it.
func roundTrip(t *testing.T, h *keys.Hierarchy) (*keys.Hierarchy, []byte) {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := keys.ParseHierarchy(b)
	if err != nil {
		t.Fatalf("published pq hierarchy does not parse: %v", err)
	}
	return back, b
}

// TestPQHierarchy checks docs/PQ.md §3 and §8 in package keys: a pq
// organisation key carries "protocol": "pq" and signs the pq form, the
// messaging keys are X-Wing keys in the KEM form, and a hierarchy verified
// from the pq anchor gives the X-Wing keys and no X25519 key.
func TestPQHierarchy(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	org, h := pqChain(t, keys.ModePQ, now)
	h, body := roundTrip(t, h)
	if n := strings.Count(string(body), `"protocol":"pq"`); n != 1 {
		t.Fatalf(`"protocol":"pq" %d times in the published hierarchy, want once (org_pk)`, n)
	}
	v, err := keys.VerifyIn(keys.ModePQ, h, []keys.SignedPublicKey{org.Public}, now.Add(time.Minute))
	if err != nil || len(v.Dropped) != 0 || v.Mode != keys.ModePQ {
		t.Fatalf("pq hierarchy: mode %q, %v, dropped %v", v.Mode, err, v.Dropped)
	}
	msg := h.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs[0]
	if msg.KEM == nil || len(msg.KEM.Bytes()) != 1216 || len(msg.CertificateData()) != keys.KEMCertificateDataSize {
		t.Fatalf("journalist messaging key is not an X-Wing key in the KEM form")
	}
	jk, err := v.JournalistKEMKey("alice")
	if err != nil || !jk.Equal(msg.KEM) {
		t.Fatalf("journalist X-Wing key: %v", err)
	}
	cks, err := v.CoverNodeKEMWrappingKeys()
	if err != nil || len(cks) != protocol.CoverNodeWrappingKeyCount || !cks[0].Equal(cks[1]) {
		t.Fatalf("CoverNode X-Wing keys %d, %v", len(cks), err)
	}
	if _, err := v.BackupKEMKey(); err != nil {
		t.Fatal(err)
	}
	if len(v.AllCoverNodeKEMKeys()) != 1 || len(v.CoverNodeIdentityKeys()) != 1 {
		t.Fatal("CoverNode keys missing")
	}
	// No path seals to X25519 in pq mode.
	if _, err := v.JournalistKey("alice"); !errors.Is(err, keys.ErrNoKey) {
		t.Fatalf("an X25519 journalist key from a pq hierarchy: %v", err)
	}
	if _, err := v.CoverNodeKeys(); !errors.Is(err, keys.ErrNoKey) {
		t.Fatalf("X25519 CoverNode keys from a pq hierarchy: %v", err)
	}
	if _, err := msg.PublicKey(); err == nil {
		t.Fatal("an X-Wing key read as an X25519 key")
	}
	// The trusted part renders back to the same JSON (what the API serves).
	again, _ := json.Marshal(v.Trusted)
	if string(again) != string(body) {
		t.Fatalf("trusted pq hierarchy renders differently:\n%s\n%s", again, body)
	}
	// And a coverdrop hierarchy gives no X-Wing key.
	cdOrg, cd := pqChain(t, keys.ModeCoverDrop, now)
	cdv, err := keys.Verify(cd, []keys.SignedPublicKey{cdOrg.Public}, now)
	if err != nil || cdv.Mode != keys.ModeCoverDrop || len(cdv.Dropped) != 0 {
		t.Fatalf("coverdrop: %v %v", err, cdv.Dropped)
	}
	if _, err := cdv.JournalistKEMKey("alice"); !errors.Is(err, keys.ErrNoKey) {
		t.Fatalf("an X-Wing key from a coverdrop hierarchy: %v", err)
	}
}

// TestNoDowngrade checks docs/PQ.md §8: a client pinned to one mode never
// trusts the other mode's organisation key, even the same Ed25519 key
// self-signed in the other form, and refuses keys of the wrong mode inside
// a trusted hierarchy. Negative control: the same hierarchy verifies under
// the anchor of its own mode.
func TestNoDowngrade(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	org, jID, pqH := pqChainWithIdentity(t, keys.ModePQ, now)
	sk, err := org.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	// The same organisation key, certified in the coverdrop form.
	cdAnchor, err := keys.CertifyOrganization(sk, keys.ModeCoverDrop, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Verify(pqH, []keys.SignedPublicKey{*cdAnchor}, now); !errors.Is(err, keys.ErrNoTrustedKeys) {
		t.Fatalf("a coverdrop client trusted a pq hierarchy: %v", err)
	}
	if _, err := keys.Verify(pqH, []keys.SignedPublicKey{org.Public}, now); err != nil {
		t.Fatalf("control: the pq hierarchy under its own anchor: %v", err)
	}
	// A coverdrop hierarchy under the pq anchor of the same key: refused.
	cdH := *pqH
	cdH.Keys = []keys.OrganizationFamily{pqH.Keys[0]}
	cdH.Keys[0].OrgPK = *cdAnchor
	if _, err := keys.Verify(&cdH, []keys.SignedPublicKey{org.Public}, now); !errors.Is(err, keys.ErrNoTrustedKeys) {
		t.Fatalf("a pq client trusted a coverdrop organisation key: %v", err)
	}
	// The pq org key with its field stripped claims coverdrop: its
	// signature is over the pq form and does not verify in the other.
	stripped := org.Public
	stripped.Protocol = ""
	if err := stripped.Verify(&stripped, now); !errors.Is(err, keys.ErrBadCertificate) {
		t.Fatalf("pq self-signature verified in the coverdrop form: %v", err)
	}
	// A pinned mode refuses anchors of the other one before anything else.
	if _, err := keys.VerifyIn(keys.ModeCoverDrop, pqH, []keys.SignedPublicKey{org.Public}, now); !errors.Is(err, keys.ErrWrongMode) {
		t.Fatalf("coverdrop-pinned verification with a pq anchor: %v", err)
	}
	if _, err := keys.VerifyIn(keys.ModePQ, pqH, []keys.SignedPublicKey{*cdAnchor}, now); !errors.Is(err, keys.ErrWrongMode) {
		t.Fatalf("pq-pinned verification with a coverdrop anchor: %v", err)
	}
	if _, err := keys.Verify(pqH, []keys.SignedPublicKey{org.Public, *cdAnchor}, now); !errors.Is(err, keys.ErrMixedModes) {
		t.Fatalf("anchors of two modes: %v", err)
	}

	// Inside a trusted pq hierarchy, an X25519 messaging key certified by
	// the right identity key is dropped, and so is a "protocol" field on a
	// provisioning key.
	jFam := &pqH.Keys[0].Journalists[0]
	idSK, err := jID.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	x, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	idPub := jFam.Journalists["alice"][0].IDPK
	x25519Msg, err := keys.Certify(idSK, &idPub, x.PublicKey().Bytes(), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	jFam.Journalists["alice"][0].MsgPKs = append(jFam.Journalists["alice"][0].MsgPKs, *x25519Msg)
	pqH.Keys[0].CoverNodes[0].ProvisioningPK.Protocol = keys.ModePQ
	h, _ := roundTrip(t, pqH)
	v, err := keys.Verify(h, []keys.SignedPublicKey{org.Public}, now)
	if err != nil || len(v.Dropped) != 2 || !errors.Is(v.Dropped[0], keys.ErrWrongMode) || !errors.Is(v.Dropped[1], keys.ErrWrongMode) {
		t.Fatalf("wrong-mode keys in a pq hierarchy: %v, dropped %v", err, v.Dropped)
	}
	if n := len(v.JournalistKEMKeys("alice")); n != 1 {
		t.Fatalf("%d journalist X-Wing keys, want 1", n)
	}
	// The same in coverdrop mode: an X-Wing messaging key is dropped.
	cdOrg, cd := pqChain(t, keys.ModeCoverDrop, now)
	pqMsg := pqH.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs[0]
	cd.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs = append(cd.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs, pqMsg)
	v, err = keys.Verify(cd, []keys.SignedPublicKey{cdOrg.Public}, now)
	if err != nil || len(v.Dropped) != 1 || !errors.Is(v.Dropped[0], keys.ErrWrongMode) {
		t.Fatalf("an X-Wing key in a coverdrop hierarchy: %v, dropped %v", err, v.Dropped)
	}
}

// TestKEMKeyFiles checks that an X-Wing pair is stored as its 32-byte seed
// in upstream's key-file format and comes back whole, and that it is never
// taken for an X25519 or Ed25519 pair.
func TestKEMKeyFiles(t *testing.T) {
	now := time.Now()
	id, err := keys.GenerateIn(keys.ModePQ, keys.Organization, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	bID, err := keys.GenerateIn(keys.ModePQ, keys.BackupIdentity, id, now)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := keys.GenerateIn(keys.ModePQ, keys.BackupMessaging, bID, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := keys.WriteKeyPairFile(dir, keys.BackupMessaging, kp)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != keys.FileName(keys.BackupMessaging, kp.Public.Key[:], true) {
		t.Fatalf("file name %s", path)
	}
	back, err := keys.ReadKeyPairFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		SecretKey string `json:"secret_key"`
	}
	b, _ := json.Marshal(back)
	json.Unmarshal(b, &raw)
	if len(raw.SecretKey) != 64 || !back.Signed || !back.Public.Equal(&kp.Public) {
		t.Fatalf("X-Wing key file: secret %d hex digits, signed %v", len(raw.SecretKey), back.Signed)
	}
	sk, err := back.KEMPrivateKey()
	if err != nil || !sk.PublicKey().Equal(kp.Public.KEM) {
		t.Fatalf("X-Wing private key: %v", err)
	}
	if err := back.Public.Verify(&bID.Public, now); err != nil {
		t.Fatal(err)
	}
	if _, err := back.PrivateKey(); err == nil {
		t.Fatal("an X-Wing pair gave an X25519 key")
	}
	if _, err := back.SigningKey(); err == nil {
		t.Fatal("an X-Wing pair gave a signing key")
	}
	if _, err := bID.KEMPrivateKey(); err == nil {
		t.Fatal("a signing pair gave an X-Wing key")
	}
	// An unsigned X-Wing public key file round-trips too.
	pub, err := keys.WritePublicKeyFile(dir, keys.BackupMessaging, keys.NewKEMKeyPair(sk, nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err := keys.ReadPublicKeyFile(pub)
	if err == nil || got != nil {
		t.Fatalf("an unsigned key read as a signed one: %v", err)
	}
	// The organisation's public key file is the pq anchor.
	org, err := keys.WritePublicKeyFile(dir, keys.Organization, id)
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := keys.ReadPublicKeyFile(org)
	if err != nil || anchor.Mode() != keys.ModePQ || !anchor.Equal(&id.Public) {
		t.Fatalf("pq anchor file: %v", err)
	}
}

// TestRingPQ checks that the one key ring holds X-Wing messaging keys and
// rotates them on the coverdrop cadences.
func TestRingPQ(t *testing.T) {
	now := time.Now()
	org, err := keys.GenerateIn(keys.ModePQ, keys.Organization, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	prov, _ := keys.GenerateIn(keys.ModePQ, keys.JournalistProvisioning, org, now)
	id, _ := keys.GenerateIn(keys.ModePQ, keys.JournalistIdentity, prov, now)
	var r keys.Ring
	k, created, err := r.NextIn(keys.ModePQ, keys.JournalistMessaging, id, now)
	if err != nil || !created || k.Pair.Public.KEM == nil {
		t.Fatalf("first pq messaging key: %v %v", created, err)
	}
	if err := k.Published(1, nil, now); err != nil {
		t.Fatal(err)
	}
	if l := r.Latest(now); l != k {
		t.Fatal("latest is not the published key")
	}
	if next, _, _ := r.NextIn(keys.ModePQ, keys.JournalistMessaging, id, now.Add(time.Hour)); next != nil {
		t.Fatal("a new key within the day")
	}
	k2, created, err := r.NextIn(keys.ModePQ, keys.JournalistMessaging, id, now.Add(keys.JournalistMessaging.RotateAfter()))
	if err != nil || !created {
		t.Fatalf("daily rotation: %v %v", created, err)
	}
	dks := r.KEMDecryptionKeys(now.Add(25 * time.Hour))
	if len(dks) != 2 || !dks[0].PublicKey().Equal(k2.Pair.Public.KEM) {
		t.Fatalf("%d X-Wing decryption keys, newest first", len(dks))
	}
	if n := len(r.DecryptionKeys(now)); n != 0 {
		t.Fatalf("%d X25519 keys from a pq ring", n)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back keys.Ring
	if err := json.Unmarshal(b, &back); err != nil || len(back.KEMDecryptionKeys(now.Add(25*time.Hour))) != 2 {
		t.Fatalf("pq ring does not round-trip: %v", err)
	}
}

// TestModeFields checks the JSON edge cases of docs/PQ.md §8.
func TestModeFields(t *testing.T) {
	now := time.Now()
	org, err := keys.GenerateIn(keys.ModePQ, keys.Organization, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(org.Public)
	for _, bad := range []string{`"coverdrop"`, `""`, `"PQ"`, `1`, `null`} {
		var k keys.SignedPublicKey
		if err := json.Unmarshal([]byte(strings.Replace(string(b), `"pq"`, bad, 1)), &k); err == nil {
			t.Errorf("protocol %s accepted", bad)
		}
	}
	if _, err := keys.GenerateIn("quantum", keys.Organization, nil, now); err == nil {
		t.Fatal("unknown mode accepted")
	}
	cd, _ := keys.Generate(keys.Organization, nil, now)
	cb, _ := json.Marshal(cd.Public)
	if strings.Contains(string(cb), "protocol") || cd.Public.Mode() != keys.ModeCoverDrop {
		t.Fatalf("coverdrop organisation key: %s", cb)
	}
}

// TestKeyTypesAndDigests checks what chaff inspect keys shows of each
// verified key in both modes: its type, and a digest over the whole
// published key (an X-Wing key's 1,216 bytes, not its 32-byte id), so that
// two X-Wing keys are told apart by digest as X25519 keys are.
func TestKeyTypesAndDigests(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, mode := range []string{keys.ModeCoverDrop, keys.ModePQ} {
		org, h := pqChain(t, mode, now)
		v, err := keys.VerifyIn(mode, h, []keys.SignedPublicKey{org.Public}, now)
		if err != nil {
			t.Fatal(err)
		}
		digests := map[string]bool{}
		msgType := map[string]string{keys.ModeCoverDrop: "X25519", keys.ModePQ: "X-Wing"}[mode]
		for _, k := range v.All() {
			want := "Ed25519"
			if !k.Role.Signing() {
				want = msgType
			}
			if got := k.Algorithm(); got != want {
				t.Errorf("%s: %s key %s is %s, want %s", mode, k.Role, k.Prefix(), got, want)
			}
			pub := k.Published()
			if size := map[string]int{"Ed25519": 32, "X25519": 32, "X-Wing": 1216}[want]; len(pub) != size {
				t.Errorf("%s: %s key published as %d bytes, want %d", mode, k.Role, len(pub), size)
			}
			d := k.HumanDigest()
			if d != crypto.HumanDigest(pub) || len(d) != 25 {
				t.Errorf("%s: %s digest %q is not the published key's", mode, k.Role, d)
			}
			if k.KEM != nil && d == crypto.HumanDigest(k.Key[:]) {
				t.Errorf("%s: the X-Wing key's digest is its id's", k.Role)
			}
			digests[d] = true
		}
		if len(digests) != len(v.All()) {
			t.Errorf("%s: %d distinct digests for %d keys", mode, len(digests), len(v.All()))
		}
		// The Ed25519 keys' digest is the one the journalist app shows.
		vk, _ := org.Public.VerifyingKey()
		if v.Organizations[0].HumanDigest() != vk.HumanDigest() {
			t.Errorf("%s: the organisation key's digest differs from crypto.VerifyingKey's", mode)
		}
	}
}

// TestPublishedKeySizes checks the sizes docs/PQ.md §10.2 gives for the
// JSON of a signed messaging key (with a microsecond not_valid_after, as
// keys are made): 2,635 bytes in pq mode against 267 in coverdrop mode.
func TestPublishedKeySizes(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 123456000, time.UTC)
	for mode, want := range map[string]int{keys.ModeCoverDrop: 267, keys.ModePQ: 2635} {
		_, h := pqChain(t, mode, now)
		for _, k := range []keys.SignedPublicKey{h.Keys[0].Journalists[0].Journalists["alice"][0].MsgPKs[0], h.Keys[0].CoverNodes[0].CoverNodes["covernode_001"][0].MsgPKs[0]} {
			b, err := json.Marshal(k)
			if err != nil || len(b) != want {
				t.Errorf("%s: a signed messaging key is %d bytes of JSON, want %d (%v)", mode, len(b), want, err)
			}
		}
	}
}

// TestReadersViewChoosesAlike checks keys.Hierarchy.ReadersView on random
// pq hierarchies (1-3 identity families per journalist and CoverNode,
// 1-4 messaging keys each, some expiring together): verified at any time
// over the keys' life, the view gives a reader the same choices as the
// whole (the key to seal to for each journalist, the CoverNode wrapping
// keys, the identity keys dead drops verify under, the default
// journalist). The control is a view that keeps each identity's first
// key instead of its latest: the same check must catch it.
func TestReadersViewChoosesAlike(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	gen := func(role keys.Role, parent *keys.KeyPair, at time.Time) *keys.KeyPair {
		kp, err := keys.GenerateIn(keys.ModePQ, role, parent, at)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	families := func(parent *keys.KeyPair, idRole, msgRole keys.Role) []keys.IdentityFamily {
		var out []keys.IdentityFamily
		for range 1 + r.IntN(3) {
			id := gen(idRole, parent, now.Add(-time.Duration(r.IntN(3))*24*time.Hour))
			f := keys.IdentityFamily{IDPK: id.Public}
			at := now.Add(-time.Duration(r.IntN(10)) * 24 * time.Hour)
			for range 1 + r.IntN(4) {
				f.MsgPKs = append(f.MsgPKs, gen(msgRole, id, at).Public)
				if r.IntN(2) == 0 { // else the next key expires with this one
					at = at.Add(-time.Duration(1+r.IntN(48)) * time.Hour)
				}
			}
			r.Shuffle(len(f.MsgPKs), func(i, j int) { f.MsgPKs[i], f.MsgPKs[j] = f.MsgPKs[j], f.MsgPKs[i] })
			out = append(out, f)
		}
		return out
	}
	keepFirst := func(h *keys.Hierarchy) *keys.Hierarchy {
		v := h.ReadersView()
		first := func(m map[string][]keys.IdentityFamily, whole map[string][]keys.IdentityFamily) {
			for owner, fams := range m {
				for i := range fams {
					fams[i].MsgPKs = whole[owner][i].MsgPKs[:1]
				}
			}
		}
		first(v.Keys[0].CoverNodes[0].CoverNodes, h.Keys[0].CoverNodes[0].CoverNodes)
		first(v.Keys[0].Journalists[0].Journalists, h.Keys[0].Journalists[0].Journalists)
		return v
	}
	// differ names the first choice a reader would make differently from
	// view than from whole, verified at at ("" if none).
	differ := func(org *keys.KeyPair, whole, view *keys.Hierarchy, at time.Time) string {
		w, werr := keys.VerifyIn(keys.ModePQ, whole, []keys.SignedPublicKey{org.Public}, at)
		v, verr := keys.VerifyIn(keys.ModePQ, view, []keys.SignedPublicKey{org.Public}, at)
		if (werr == nil) != (verr == nil) {
			return fmt.Sprintf("verification: %v against %v", werr, verr)
		}
		if werr != nil {
			return ""
		}
		hex := func(ks ...interface{ Bytes() []byte }) string {
			var s []string
			for _, k := range ks {
				s = append(s, fmt.Sprintf("%x", k.Bytes()))
			}
			return strings.Join(s, ",")
		}
		for id := range whole.Keys[0].Journalists[0].Journalists {
			wk, werr := w.JournalistKEMKey(id)
			vk, verr := v.JournalistKEMKey(id)
			if (werr == nil) != (verr == nil) || werr == nil && hex(wk) != hex(vk) {
				return "the key to seal to for " + id
			}
		}
		wc, werr := w.CoverNodeKEMWrappingKeys()
		vc, verr := v.CoverNodeKEMWrappingKeys()
		if (werr == nil) != (verr == nil) || len(wc) != len(vc) {
			return "the CoverNode wrapping keys"
		}
		for i := range wc {
			if hex(wc[i]) != hex(vc[i]) {
				return "the CoverNode wrapping keys"
			}
		}
		var wi, vi []interface{ Bytes() []byte }
		for _, k := range w.CoverNodeIdentityKeys() {
			wi = append(wi, k)
		}
		for _, k := range v.CoverNodeIdentityKeys() {
			vi = append(vi, k)
		}
		if hex(wi...) != hex(vi...) {
			return "the CoverNode identity keys"
		}
		if w.DefaultJournalistID != v.DefaultJournalistID {
			return "the default journalist"
		}
		return ""
	}
	caught := 0
	for trial := range 12 {
		org := gen(keys.Organization, nil, now.Add(-30*24*time.Hour))
		cnProv, jProv := gen(keys.CoverNodeProvisioning, org, now.Add(-7*24*time.Hour)), gen(keys.JournalistProvisioning, org, now.Add(-7*24*time.Hour))
		def := "j0"
		h := &keys.Hierarchy{DefaultJournalistID: &def, Keys: []keys.OrganizationFamily{{OrgPK: org.Public,
			CoverNodes:  []keys.CoverNodeProvisioningFamily{{ProvisioningPK: cnProv.Public, CoverNodes: map[string][]keys.IdentityFamily{}}},
			Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{}}},
		}}}
		for i := range 2 {
			h.Keys[0].CoverNodes[0].CoverNodes[fmt.Sprintf("covernode_%03d", i+1)] = families(cnProv, keys.CoverNodeIdentity, keys.CoverNodeMessaging)
		}
		for i := range 3 {
			h.Keys[0].Journalists[0].Journalists[fmt.Sprintf("j%d", i)] = families(jProv, keys.JournalistIdentity, keys.JournalistMessaging)
		}
		for d := 0; d <= 16; d += 2 {
			at := now.Add(time.Duration(d)*24*time.Hour + time.Duration(r.IntN(24))*time.Hour)
			if why := differ(org, h, h.ReadersView(), at); why != "" {
				t.Fatalf("trial %d, %s: a reader chooses %s differently from the readers' view", trial, at.Format(time.DateTime), why)
			}
			if differ(org, h, keepFirst(h), at) != "" {
				caught++
			}
		}
	}
	if caught == 0 {
		t.Fatal("control: a view keeping each identity's first key was never caught")
	}
	t.Logf("control: a view keeping each identity's first key chose differently at %d of 108 checks", caught)
}
