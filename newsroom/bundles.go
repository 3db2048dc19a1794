package newsroom

import (
	"path/filepath"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
)

// CoverNodeBundle makes the setup bundle of a CoverNode: its new identity
// key pair (certified by the provisioning key prov) and the registration
// form, signed by prov at now, that the node posts on first start. It
// writes it to dir under keys.CoverNodeBundleName and returns its path.
// The bundle holds a secret key: it goes to the CoverNode only.
func CoverNodeBundle(dir, id string, prov *keys.KeyPair, now time.Time) (*keys.CoverNodeBundle, string, error) {
	idKey, err := keys.Generate(keys.CoverNodeIdentity, prov, now)
	if err != nil {
		return nil, "", err
	}
	f, err := apiclient.CoverNodeIdentityForm(prov, apiclient.CoverNodeIdentityKey{CoverNodeID: id, Key: idKey.Public}, now, form.CoverNodeIdentityTTL)
	if err != nil {
		return nil, "", err
	}
	b := &keys.CoverNodeBundle{CoverNodeID: id, IdentityKey: idKey, Form: f}
	path := filepath.Join(dir, keys.CoverNodeBundleName(id))
	if err := keys.WriteBundle(path, b); err != nil {
		return nil, "", err
	}
	return b, path, nil
}

// JournalistBundle writes the setup bundle of a registered journalist
// (what chaff journalist init turns into a vault) to dir under
// keys.JournalistBundleName and returns its path. It holds the identity
// key pair: it goes to the journalist only.
func JournalistBundle(dir, id, api string, anchor keys.SignedPublicKey, identity *keys.KeyPair) (*keys.JournalistBundle, string, error) {
	b := &keys.JournalistBundle{JournalistID: id, API: api, TrustAnchor: anchor, IdentityKey: identity}
	path := filepath.Join(dir, keys.JournalistBundleName(id))
	if err := keys.WriteBundle(path, b); err != nil {
		return nil, "", err
	}
	return b, path, nil
}
