package keys

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/crypto/xwing"
	"github.com/chaffhq/chaff/protocol"
)

// Hierarchy is the body of GET /v1/public-keys (SPEC §5.4.5), as published
// and not yet trusted. Parse it with ParseHierarchy; trust it only through
// Verify.
type Hierarchy struct {
	JournalistProfiles  []JournalistProfile  `json:"journalist_profiles"`
	DefaultJournalistID *string              `json:"default_journalist_id"`
	Keys                []OrganizationFamily `json:"keys"`
	MaxEpoch            int64                `json:"max_epoch"`
}

// JournalistProfile is a journalist or desk as the apps list them.
type JournalistProfile struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	SortName    string `json:"sort_name"`
	Description string `json:"description"`
	IsDesk      bool   `json:"is_desk"`
	Tag         string `json:"tag"`
	Status      string `json:"status"`
}

// MaxDescription is the longest description of a journalist who is not a
// desk, in bytes (upstream's limit); a desk's may be longer.
const MaxDescription = 40

// Journalist profile statuses.
const (
	StatusVisible            = "VISIBLE"
	StatusHiddenFromUI       = "HIDDEN_FROM_UI"
	StatusHiddenFromResponse = "HIDDEN_FROM_RESPONSE"
)

// OrganizationFamily is one organisation key and everything below it.
type OrganizationFamily struct {
	OrgPK       SignedPublicKey                `json:"org_pk"`
	CoverNodes  []CoverNodeProvisioningFamily  `json:"covernodes"`
	Journalists []JournalistProvisioningFamily `json:"journalists"`
	Backup      []IdentityFamily               `json:"backup,omitzero"`
}

// CoverNodeProvisioningFamily is a CoverNode provisioning key and the identity
// families it certified, by CoverNode id.
type CoverNodeProvisioningFamily struct {
	ProvisioningPK SignedPublicKey             `json:"provisioning_pk"`
	CoverNodes     map[string][]IdentityFamily `json:"covernodes"`
}

// JournalistProvisioningFamily is a journalist provisioning key and the identity
// families it certified, by journalist id.
type JournalistProvisioningFamily struct {
	ProvisioningPK SignedPublicKey             `json:"provisioning_pk"`
	Journalists    map[string][]IdentityFamily `json:"journalists"`
}

// IdentityFamily is an identity key and the messaging keys it certified.
type IdentityFamily struct {
	IDPK   SignedPublicKey   `json:"id_pk"`
	MsgPKs []SignedPublicKey `json:"msg_pks"`
}

// ParseHierarchy parses a GET /v1/public-keys body, refusing unknown fields
// at every level as upstream's clients do.
func ParseHierarchy(b []byte) (*Hierarchy, error) {
	var h Hierarchy
	if err := strictUnmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("public keys: %w", err)
	}
	return &h, nil
}

// VerifiedKey is a key that verified, with its place in the hierarchy.
type VerifiedKey struct {
	SignedPublicKey
	Role Role
	// Owner is the CoverNode or journalist id; empty for organisation,
	// provisioning and backup keys.
	Owner string
}

// Algorithm names the kind of key: Ed25519 (signing roles), X25519 (a
// coverdrop messaging key) or X-Wing (a pq messaging key).
func (k *VerifiedKey) Algorithm() string {
	switch {
	case k.KEM != nil:
		return "X-Wing"
	case k.Role.Signing():
		return "Ed25519"
	}
	return "X25519"
}

// VerifiedFamily is a verified identity key and its verified messaging
// keys, latest expiry first.
type VerifiedFamily struct {
	Identity  VerifiedKey
	Messaging []VerifiedKey
}

// KeyError says which key of a hierarchy failed verification, and why.
type KeyError struct {
	Role  Role
	Owner string
	Key   string // hex prefix
	Err   error
}

func (e *KeyError) Error() string {
	owner := ""
	if e.Owner != "" {
		owner = " of " + e.Owner
	}
	return fmt.Sprintf("%s key %s%s: %v", e.Role, e.Key, owner, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// ErrNoTrustedKeys is returned by Verify when no organisation key of the
// hierarchy verifies under a trust anchor: nothing in it can be used.
var ErrNoTrustedKeys = errors.New("no organisation key verifies under the trust anchors")

// Verified is a key hierarchy that verified from trust anchors at one
// instant. Everything that failed or had expired is left out and listed in
// Dropped (the item that failed, not its descendants).
type Verified struct {
	At time.Time
	// Mode is the protocol mode of the trust anchors, and so of every key
	// that verified (ModeCoverDrop or ModePQ).
	Mode                   string
	MaxEpoch               int64
	Profiles               []JournalistProfile
	DefaultJournalistID    string
	Organizations          []VerifiedKey
	CoverNodeProvisioning  []VerifiedKey
	JournalistProvisioning []VerifiedKey
	// CoverNodes and Journalists map an id to its identity families, latest
	// identity expiry first.
	CoverNodes  map[string][]VerifiedFamily
	Journalists map[string][]VerifiedFamily
	Backup      []VerifiedFamily
	Dropped     []*KeyError
	// Trusted is the verified part of the hierarchy in published form:
	// what a server serves at GET /v1/public-keys.
	Trusted *Hierarchy
}

// ErrMixedModes is returned when trust anchors of both protocol modes are
// given: an install, a server or a vault speaks one mode.
var ErrMixedModes = errors.New("keys: trust anchors of two protocol modes")

// Verify checks a published hierarchy against the trust anchors at now
// (SPEC §2.4). An organisation key is trusted only if it equals an anchor
// in key, certificate, expiry and protocol mode and self-verifies in that
// mode's form (docs/PQ.md §8). Below it, every key must verify under the
// key it is listed under and be of the anchors' mode (X25519 messaging
// keys in coverdrop mode, X-Wing ones in pq mode, ErrWrongMode otherwise);
// a failing key is dropped with its subtree and reported in Dropped.
// Verify fails only when no organisation key is trusted, or the anchors
// are of two modes.
func Verify(h *Hierarchy, anchors []SignedPublicKey, now time.Time) (*Verified, error) {
	mode, err := AnchorsMode(anchors)
	if err != nil {
		return nil, err
	}
	return verify(h, mode, anchors, now)
}

// VerifyIn is Verify for a holder pinned to a protocol mode (a client, a
// vault, a CoverNode): it refuses anchors of another mode before looking
// at the hierarchy, so that no hierarchy of the other mode is ever used
// (no downgrade).
func VerifyIn(mode string, h *Hierarchy, anchors []SignedPublicKey, now time.Time) (*Verified, error) {
	if err := CheckMode(mode); err != nil {
		return nil, err
	}
	for i := range anchors {
		if anchors[i].Mode() != mode {
			return nil, fmt.Errorf("keys: a trust anchor of a %s deployment, where %s is pinned: %w", anchors[i].Mode(), mode, ErrWrongMode)
		}
	}
	return verify(h, mode, anchors, now)
}

func verify(h *Hierarchy, mode string, anchors []SignedPublicKey, now time.Time) (*Verified, error) {
	v := &Verified{
		At:          now,
		Mode:        mode,
		MaxEpoch:    h.MaxEpoch,
		Profiles:    h.JournalistProfiles,
		CoverNodes:  map[string][]VerifiedFamily{},
		Journalists: map[string][]VerifiedFamily{},
		Trusted:     &Hierarchy{JournalistProfiles: h.JournalistProfiles, Keys: []OrganizationFamily{}, MaxEpoch: h.MaxEpoch},
	}
	for i := range h.Keys {
		org := &h.Keys[i]
		if err := verifyOrganization(&org.OrgPK, mode, anchors, now); err != nil {
			v.drop(Organization, "", &org.OrgPK, err)
			continue
		}
		v.Organizations = append(v.Organizations, VerifiedKey{org.OrgPK, Organization, ""})
		trusted := OrganizationFamily{OrgPK: org.OrgPK, CoverNodes: []CoverNodeProvisioningFamily{}, Journalists: []JournalistProvisioningFamily{}, Backup: []IdentityFamily{}}
		for j := range org.CoverNodes {
			p := &org.CoverNodes[j]
			if fams, ok := v.provisioning(CoverNodeProvisioning, &p.ProvisioningPK, &org.OrgPK, p.CoverNodes, &v.CoverNodeProvisioning, v.CoverNodes); ok {
				trusted.CoverNodes = append(trusted.CoverNodes, CoverNodeProvisioningFamily{p.ProvisioningPK, fams})
			}
		}
		for j := range org.Journalists {
			p := &org.Journalists[j]
			if fams, ok := v.provisioning(JournalistProvisioning, &p.ProvisioningPK, &org.OrgPK, p.Journalists, &v.JournalistProvisioning, v.Journalists); ok {
				trusted.Journalists = append(trusted.Journalists, JournalistProvisioningFamily{p.ProvisioningPK, fams})
			}
		}
		for _, f := range org.Backup {
			if vf, tf, ok := v.family(BackupIdentity, BackupMessaging, "", &f, &org.OrgPK); ok {
				v.Backup = append(v.Backup, vf)
				trusted.Backup = append(trusted.Backup, tf)
			}
		}
		v.Trusted.Keys = append(v.Trusted.Keys, trusted)
	}
	for _, m := range []map[string][]VerifiedFamily{v.CoverNodes, v.Journalists} {
		for _, fams := range m {
			sortFamilies(fams)
		}
	}
	sortFamilies(v.Backup)
	if h.DefaultJournalistID != nil && len(v.Journalists[*h.DefaultJournalistID]) > 0 {
		v.DefaultJournalistID = *h.DefaultJournalistID
		v.Trusted.DefaultJournalistID = &v.DefaultJournalistID
	}
	sort.Slice(v.Dropped, func(i, j int) bool { return v.Dropped[i].Error() < v.Dropped[j].Error() })
	if len(v.Organizations) == 0 {
		return v, fmt.Errorf("keys: %w", ErrNoTrustedKeys)
	}
	return v, nil
}

func verifyOrganization(k *SignedPublicKey, mode string, anchors []SignedPublicKey, now time.Time) error {
	if err := CheckKeyMode(mode, Organization, k); err != nil {
		return err
	}
	if err := k.Verify(k, now); err != nil {
		return err
	}
	for i := range anchors {
		if anchors[i].Equal(k) && anchors[i].Verify(&anchors[i], now) == nil {
			return nil
		}
	}
	return ErrNotTrustAnchor
}

// provisioning verifies a provisioning key and the identity families listed
// under it, adding what verifies to list and families. It returns the
// families that verified, in published form.
func (v *Verified) provisioning(role Role, pk, org *SignedPublicKey, listed map[string][]IdentityFamily, list *[]VerifiedKey, families map[string][]VerifiedFamily) (map[string][]IdentityFamily, bool) {
	if !v.check(role, "", pk, org) {
		return nil, false
	}
	trusted := map[string][]IdentityFamily{}
	*list = append(*list, VerifiedKey{*pk, role, ""})
	idRole := CoverNodeIdentity
	if role == JournalistProvisioning {
		idRole = JournalistIdentity
	}
	msgRole := idRole + 1 // the messaging role follows its identity role
	for id, fams := range listed {
		for i := range fams {
			if vf, tf, ok := v.family(idRole, msgRole, id, &fams[i], pk); ok {
				families[id] = append(families[id], vf)
				trusted[id] = append(trusted[id], tf)
			}
		}
	}
	return trusted, true
}

func (v *Verified) drop(role Role, owner string, k *SignedPublicKey, err error) {
	v.Dropped = append(v.Dropped, &KeyError{Role: role, Owner: owner, Key: k.Prefix(), Err: err})
}

func (v *Verified) check(role Role, owner string, k, parent *SignedPublicKey) bool {
	if err := CheckKeyMode(v.Mode, role, k); err != nil {
		v.drop(role, owner, k, err)
		return false
	}
	if err := k.Verify(parent, v.At); err != nil {
		if errors.Is(err, ErrBadCertificate) {
			err = fmt.Errorf("%w under the %s key %s it is listed under", err, role.Parent(), parent.Prefix())
		}
		v.drop(role, owner, k, err)
		return false
	}
	return true
}

func (v *Verified) family(idRole, msgRole Role, owner string, f *IdentityFamily, parent *SignedPublicKey) (VerifiedFamily, IdentityFamily, bool) {
	if !v.check(idRole, owner, &f.IDPK, parent) {
		return VerifiedFamily{}, IdentityFamily{}, false
	}
	vf := VerifiedFamily{Identity: VerifiedKey{f.IDPK, idRole, owner}}
	tf := IdentityFamily{IDPK: f.IDPK, MsgPKs: []SignedPublicKey{}}
	for i := range f.MsgPKs {
		if v.check(msgRole, owner, &f.MsgPKs[i], &f.IDPK) {
			vf.Messaging = append(vf.Messaging, VerifiedKey{f.MsgPKs[i], msgRole, owner})
			tf.MsgPKs = append(tf.MsgPKs, f.MsgPKs[i])
		}
	}
	sortKeys(vf.Messaging)
	return vf, tf, true
}

// sortKeys orders keys latest expiry first (ties by key, for determinism).
func sortKeys(ks []VerifiedKey) {
	sort.SliceStable(ks, func(i, j int) bool { return later(&ks[i].SignedPublicKey, &ks[j].SignedPublicKey) })
}

func sortFamilies(fs []VerifiedFamily) {
	sort.SliceStable(fs, func(i, j int) bool {
		return later(&fs[i].Identity.SignedPublicKey, &fs[j].Identity.SignedPublicKey)
	})
}

func later(a, b *SignedPublicKey) bool {
	if !a.NotValidAfter.Equal(b.NotValidAfter) {
		return a.NotValidAfter.After(b.NotValidAfter)
	}
	return string(a.Key[:]) < string(b.Key[:])
}

// All returns every verified key in a stable order: organisation,
// provisioning, then CoverNodes and journalists by id (identity, then its
// messaging keys), then backup.
func (v *Verified) All() []VerifiedKey {
	var out []VerifiedKey
	out = append(out, v.Organizations...)
	out = append(out, v.CoverNodeProvisioning...)
	out = append(out, v.JournalistProvisioning...)
	for _, m := range []map[string][]VerifiedFamily{v.CoverNodes, v.Journalists} {
		for _, id := range slices.Sorted(maps.Keys(m)) {
			for _, f := range m[id] {
				out = append(out, f.Identity)
				out = append(out, f.Messaging...)
			}
		}
	}
	for _, f := range v.Backup {
		out = append(out, f.Identity)
		out = append(out, f.Messaging...)
	}
	return out
}

// CoverNodeIDs returns the ids of CoverNodes with a verified identity key.
func (v *Verified) CoverNodeIDs() []string { return slices.Sorted(maps.Keys(v.CoverNodes)) }

// JournalistIDs returns the ids of journalists with a verified identity key.
func (v *Verified) JournalistIDs() []string { return slices.Sorted(maps.Keys(v.Journalists)) }

// CoverNodeIdentityKeys returns every verified CoverNode identity key, of
// all CoverNodes: the keys that may sign dead drops.
func (v *Verified) CoverNodeIdentityKeys() []*crypto.VerifyingKey {
	var out []*crypto.VerifyingKey
	for _, id := range v.CoverNodeIDs() {
		for _, f := range v.CoverNodes[id] {
			if vk, err := f.Identity.VerifyingKey(); err == nil {
				out = append(out, vk)
			}
		}
	}
	return out
}

// messagingKeys returns the verified X25519 messaging keys of an id,
// latest expiry first, across its identity families: none in pq mode.
func messagingKeys(fams []VerifiedFamily) []*crypto.PublicKey {
	return messagingKeysAs(fams, (*SignedPublicKey).PublicKey)
}

// kemKeys returns the verified X-Wing messaging keys of an id, latest
// expiry first, across its identity families: none in coverdrop mode.
func kemKeys(fams []VerifiedFamily) []*xwing.PublicKey {
	return messagingKeysAs(fams, func(k *SignedPublicKey) (*xwing.PublicKey, error) {
		if k.KEM == nil {
			return nil, errNotX25519
		}
		return k.KEM, nil
	})
}

func messagingKeysAs[K any](fams []VerifiedFamily, as func(*SignedPublicKey) (K, error)) []K {
	var ks []VerifiedKey
	for _, f := range fams {
		ks = append(ks, f.Messaging...)
	}
	sortKeys(ks)
	var out []K
	for i := range ks {
		if pk, err := as(&ks[i].SignedPublicKey); err == nil {
			out = append(out, pk)
		}
	}
	return out
}

// CoverNodeMessagingKeys returns a CoverNode's verified messaging keys,
// latest expiry first.
func (v *Verified) CoverNodeMessagingKeys(id string) []*crypto.PublicKey {
	return messagingKeys(v.CoverNodes[id])
}

// AllCoverNodeMessagingKeys returns every CoverNode's verified messaging
// keys: the senders a journalist tries on C2J messages.
func (v *Verified) AllCoverNodeMessagingKeys() []*crypto.PublicKey {
	return allCoverNodeKeys(v, v.CoverNodeMessagingKeys)
}

func allCoverNodeKeys[K any](v *Verified, of func(id string) []K) []K {
	var out []K
	for _, id := range v.CoverNodeIDs() {
		out = append(out, of(id)...)
	}
	return out
}

// JournalistMessagingKeys returns a journalist's verified messaging keys,
// latest expiry first: the senders a reader tries on J2U messages.
func (v *Verified) JournalistMessagingKeys(id string) []*crypto.PublicKey {
	return messagingKeys(v.Journalists[id])
}

// ErrNoKey is returned when the hierarchy has no valid key to encrypt to.
var ErrNoKey = errors.New("keys: no valid key to encrypt to")

// JournalistKey returns the key to encrypt to a journalist: its messaging
// key with the latest expiry (SPEC §6.3).
func (v *Verified) JournalistKey(id string) (*crypto.PublicKey, error) {
	ks := v.JournalistMessagingKeys(id)
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w for journalist %q", ErrNoKey, id)
	}
	return ks[0], nil
}

// CoverNodeKeys returns the keys that wrap a U2C or J2C message: per
// CoverNode, its messaging key with the latest expiry, for the first
// protocol.CoverNodeWrappingKeyCount CoverNodes by id, the first repeated when fewer exist
// (SPEC §6.3).
func (v *Verified) CoverNodeKeys() ([]*crypto.PublicKey, error) {
	return wrappingKeys(v, v.CoverNodeMessagingKeys)
}

func wrappingKeys[K any](v *Verified, of func(id string) []K) ([]K, error) {
	var out []K
	for _, id := range v.CoverNodeIDs() {
		if ks := of(id); len(ks) > 0 && len(out) < protocol.CoverNodeWrappingKeyCount {
			out = append(out, ks[0])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w for any CoverNode", ErrNoKey)
	}
	for len(out) < protocol.CoverNodeWrappingKeyCount {
		out = append(out, out[0])
	}
	return out, nil
}

// CoverNodeKEMKeys returns a CoverNode's verified X-Wing messaging keys,
// latest expiry first (pq mode; none in coverdrop mode).
func (v *Verified) CoverNodeKEMKeys(id string) []*xwing.PublicKey { return kemKeys(v.CoverNodes[id]) }

// AllCoverNodeKEMKeys returns every CoverNode's verified X-Wing messaging
// keys (pq mode).
func (v *Verified) AllCoverNodeKEMKeys() []*xwing.PublicKey {
	return allCoverNodeKeys(v, v.CoverNodeKEMKeys)
}

// JournalistKEMKeys returns a journalist's verified X-Wing messaging keys,
// latest expiry first (pq mode; none in coverdrop mode).
func (v *Verified) JournalistKEMKeys(id string) []*xwing.PublicKey {
	return kemKeys(v.Journalists[id])
}

// JournalistKEMKey returns the X-Wing key to seal to a journalist: its
// messaging key with the latest expiry (docs/PQ.md §3's key selection).
func (v *Verified) JournalistKEMKey(id string) (*xwing.PublicKey, error) {
	ks := v.JournalistKEMKeys(id)
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w for journalist %q", ErrNoKey, id)
	}
	return ks[0], nil
}

// CoverNodeKEMWrappingKeys returns the X-Wing keys that wrap a U2C or J2C
// message in pq mode, chosen as CoverNodeKeys chooses (docs/PQ.md §3).
func (v *Verified) CoverNodeKEMWrappingKeys() ([]*xwing.PublicKey, error) {
	return wrappingKeys(v, v.CoverNodeKEMKeys)
}

// BackupKEMKey returns the backup messaging X-Wing key with the latest
// expiry (pq mode).
func (v *Verified) BackupKEMKey() (*xwing.PublicKey, error) {
	ks := kemKeys(v.Backup)
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w for backups", ErrNoKey)
	}
	return ks[0], nil
}

// Walk calls fn for every signed key in the hierarchy, with its role and
// owner, parents before children. fn may modify the key in place.
func (h *Hierarchy) Walk(fn func(k *SignedPublicKey, role Role, owner string)) {
	fam := func(f *IdentityFamily, idRole, msgRole Role, owner string) {
		fn(&f.IDPK, idRole, owner)
		for i := range f.MsgPKs {
			fn(&f.MsgPKs[i], msgRole, owner)
		}
	}
	owned := func(m map[string][]IdentityFamily, idRole, msgRole Role) {
		for _, id := range slices.Sorted(maps.Keys(m)) {
			for k := range m[id] {
				fam(&m[id][k], idRole, msgRole, id)
			}
		}
	}
	for i := range h.Keys {
		org := &h.Keys[i]
		fn(&org.OrgPK, Organization, "")
		for j := range org.CoverNodes {
			p := &org.CoverNodes[j]
			fn(&p.ProvisioningPK, CoverNodeProvisioning, "")
			owned(p.CoverNodes, CoverNodeIdentity, CoverNodeMessaging)
		}
		for j := range org.Journalists {
			p := &org.Journalists[j]
			fn(&p.ProvisioningPK, JournalistProvisioning, "")
			owned(p.Journalists, JournalistIdentity, JournalistMessaging)
		}
		for k := range org.Backup {
			fam(&org.Backup[k], BackupIdentity, BackupMessaging, "")
		}
	}
}

// ReadersView returns a copy of h with only what a reader of a pq
// deployment uses (docs/PQ.md §3): every key but the backup families
// (only journalists seal to them) and, of each identity's messaging keys,
// all but the latest. The key selection only ever picks a journalist's or
// CoverNode's latest messaging key, and a pq reader opens replies with its
// reply keys, never with a journalist's key, so a reader choosing from the
// view chooses what it would from h. A coverdrop reader needs h whole: it
// opens replies sealed under older journalist keys too.
func (h *Hierarchy) ReadersView() *Hierarchy {
	latest := func(fams []IdentityFamily) []IdentityFamily {
		out := make([]IdentityFamily, len(fams))
		for i, f := range fams {
			out[i] = IdentityFamily{IDPK: f.IDPK, MsgPKs: []SignedPublicKey{}}
			for j := range f.MsgPKs {
				if len(out[i].MsgPKs) == 0 || later(&f.MsgPKs[j], &out[i].MsgPKs[0]) {
					out[i].MsgPKs = []SignedPublicKey{f.MsgPKs[j]}
				}
			}
		}
		return out
	}
	byOwner := func(m map[string][]IdentityFamily) map[string][]IdentityFamily {
		out := make(map[string][]IdentityFamily, len(m))
		for owner, fams := range m {
			out[owner] = latest(fams)
		}
		return out
	}
	v := *h
	v.Keys = make([]OrganizationFamily, len(h.Keys))
	for i, org := range h.Keys {
		o := OrganizationFamily{OrgPK: org.OrgPK, CoverNodes: make([]CoverNodeProvisioningFamily, len(org.CoverNodes)), Journalists: make([]JournalistProvisioningFamily, len(org.Journalists))}
		for j, p := range org.CoverNodes {
			o.CoverNodes[j] = CoverNodeProvisioningFamily{ProvisioningPK: p.ProvisioningPK, CoverNodes: byOwner(p.CoverNodes)}
		}
		for j, p := range org.Journalists {
			o.Journalists[j] = JournalistProvisioningFamily{ProvisioningPK: p.ProvisioningPK, Journalists: byOwner(p.Journalists)}
		}
		v.Keys[i] = o
	}
	return &v
}
