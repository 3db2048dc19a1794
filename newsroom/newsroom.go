// Package newsroom is the key ceremony and the newsroom's operations, as
// chaff admin runs them and a newsroom may script them: creating the
// organisation's keys, uploading the provisioning and admin keys, adding,
// changing and removing CoverNodes and journalists (with their setup
// bundles), setting the system status and checking the published keys.
//
// Secret key pairs and setup bundles are written readable by their owner
// only, never over another file, and fsynced; nothing here prints or logs
// a secret.
package newsroom

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// InitRoles are the key pairs Init creates, the organisation key first.
var InitRoles = []keys.Role{keys.Organization, keys.CoverNodeProvisioning, keys.JournalistProvisioning, keys.Admin}

// Created is what Init made.
type Created struct {
	Dir string
	// Org is the organisation key pair, the trust anchor's secret half.
	Org *keys.KeyPair
	// Anchor is the path of the organisation's public key file.
	Anchor string
	// Files are the secret key-pair files by role.
	Files map[keys.Role]string
}

// Init creates a coverdrop deployment's keys (see InitIn).
func Init(dir string, now time.Time) (*Created, error) { return InitIn(dir, keys.ModeCoverDrop, now) }

// InitIn creates the organisation key (the trust anchor) of a deployment in
// a protocol mode, the provisioning keys and an admin key in dir. The mode
// is what the organisation key signs about itself (docs/PQ.md §8): in pq
// mode its public key file, the anchor, has "protocol": "pq", and every
// key below it is made in that mode (keys.GenerateIn). It refuses a
// directory that already holds an organisation key pair.
func InitIn(dir, mode string, now time.Time) (*Created, error) {
	if err := keys.CheckMode(mode); err != nil {
		return nil, err
	}
	if existing, _ := filepath.Glob(filepath.Join(dir, keys.Organization.String()+"-*.keypair.json")); len(existing) > 0 {
		return nil, fmt.Errorf("%s already holds an organisation key pair (%s): refusing to create another", dir, filepath.Base(existing[0]))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	org, err := keys.GenerateIn(mode, keys.Organization, nil, now)
	if err != nil {
		return nil, err
	}
	made := map[keys.Role]*keys.KeyPair{keys.Organization: org}
	for _, role := range InitRoles[1:] {
		if made[role], err = keys.GenerateIn(mode, role, org, now); err != nil {
			return nil, err
		}
	}
	c := &Created{Dir: dir, Org: org, Files: map[keys.Role]string{}}
	for _, role := range InitRoles {
		if c.Files[role], err = keys.WriteKeyPairFile(dir, role, made[role]); err != nil {
			return nil, err
		}
		if _, err := keys.WritePublicKeyFile(dir, role, made[role]); err != nil {
			return nil, err
		}
	}
	c.Anchor = filepath.Join(dir, keys.FileName(keys.Organization, org.Public.Key[:], false))
	return c, nil
}

// LoadKeyPair finds the key pair of role in dir that expires last (of
// those, the one written last), and refuses it if it has expired.
func LoadKeyPair(dir string, role keys.Role, now time.Time) (*keys.KeyPair, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, role.String()+"-*.keypair.json"))
	if len(paths) == 0 {
		hint := "run chaff admin init first, or point --keys at the newsroom's key directory"
		if role == keys.Organization {
			hint = "it belongs offline once the ceremony is done: bring it back for this step"
		}
		return nil, fmt.Errorf("no %s key pair (%s-*.keypair.json) in %s: %s", RoleWords(role), role, dir, hint)
	}
	var best *keys.KeyPair
	var bestMod time.Time
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		kp, err := keys.ReadKeyPairFile(p)
		if err != nil {
			return nil, err
		}
		if !kp.Signed {
			return nil, fmt.Errorf("%s holds no certificate", p)
		}
		if _, err := kp.SigningKey(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		// Certificates carry no start date; keys capped at the organisation
		// key's expiry tie, and the one written last (a renewal) wins.
		if best == nil || kp.Public.NotValidAfter.After(best.Public.NotValidAfter) ||
			(kp.Public.NotValidAfter.Equal(best.Public.NotValidAfter) && fi.ModTime().After(bestMod)) {
			best, bestMod = kp, fi.ModTime()
		}
	}
	if best.Public.Expired(now) {
		return nil, fmt.Errorf("the %s key in %s expired on %s: renew it with the organisation key", RoleWords(role), dir, best.Public.NotValidAfter.UTC().Format(time.RFC3339))
	}
	return best, nil
}

// Anchor reads the organisation's public key file from the key directory
// (the newest by name when there are several) and returns it with its
// path.
func Anchor(dir string) (*keys.SignedPublicKey, string, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, keys.Organization.String()+"-*.pub.json"))
	if len(paths) == 0 {
		return nil, "", fmt.Errorf("no organisation public key (organization-*.pub.json) in %s", dir)
	}
	sort.Strings(paths)
	k, err := keys.ReadPublicKeyFile(paths[len(paths)-1])
	return k, paths[len(paths)-1], err
}

// Mode returns the protocol mode of the deployment whose keys are in dir:
// the one its organisation key (the anchor file) signed.
func Mode(dir string) (string, error) {
	k, _, err := Anchor(dir)
	if err != nil {
		return "", err
	}
	return k.Mode(), nil
}

// RoleWords names a role in plain words.
func RoleWords(r keys.Role) string {
	switch r {
	case keys.Organization:
		return "organisation"
	case keys.CoverNodeProvisioning:
		return "CoverNode provisioning"
	case keys.CoverNodeIdentity:
		return "CoverNode identity"
	case keys.CoverNodeMessaging:
		return "CoverNode messaging"
	case keys.JournalistIdentity:
		return "journalist identity"
	case keys.JournalistMessaging:
		return "journalist messaging"
	case keys.BackupIdentity:
		return "backup identity"
	case keys.BackupMessaging:
		return "backup messaging"
	}
	return strings.ReplaceAll(r.String(), "_", " ")
}

// Newsroom runs the ceremony's steps against an API with the key pairs in
// a key directory.
type Newsroom struct {
	// KeysDir holds the newsroom's key files.
	KeysDir string
	// API is the Chaff API; steps that work offline leave it nil.
	API *apiclient.Client
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

func (n *Newsroom) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

func (n *Newsroom) key(role keys.Role) (*keys.KeyPair, error) {
	return LoadKeyPair(n.KeysDir, role, n.now())
}

// signer returns the key pair of role, and the API to send with it.
func (n *Newsroom) signer(role keys.Role) (*keys.KeyPair, *apiclient.Client, error) {
	kp, err := n.key(role)
	if err != nil {
		return nil, nil, err
	}
	c, err := n.api()
	return kp, c, err
}

func (n *Newsroom) api() (*apiclient.Client, error) {
	if n.API == nil {
		return nil, errors.New("this step needs the API: give its URL")
	}
	return n.API, nil
}

// ProvisioningUploads are the keys Bootstrap uploads, with their routes.
var ProvisioningUploads = []struct {
	Role  keys.Role
	Route apiclient.Route
}{
	{keys.CoverNodeProvisioning, apiclient.PostCoverNodeProvisioningKey},
	{keys.JournalistProvisioning, apiclient.PostJournalistProvisioningKey},
	{keys.Admin, apiclient.PostAdminKey},
}

// ErrAnchorNotServed: the API does not publish the organisation key.
var ErrAnchorNotServed = errors.New("the API does not publish this organisation's key")

// Bootstrap uploads the provisioning and admin keys, signed by the
// organisation key, after checking that the API publishes that key. It
// calls uploaded after each upload.
func (n *Newsroom) Bootstrap(ctx context.Context, uploaded func(keys.Role, *keys.KeyPair)) error {
	c, err := n.api()
	if err != nil {
		return err
	}
	org, err := n.key(keys.Organization)
	if err != nil {
		return err
	}
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return err
	}
	if !publishes(h, &org.Public) {
		anchor := filepath.Join(n.KeysDir, keys.FileName(keys.Organization, org.Public.Key[:], false))
		return &kindError{ErrAnchorNotServed, fmt.Sprintf("the API at %s does not publish this organisation's key %s: start it with --anchor %s", c.Base, org.Public.Prefix(), anchor)}
	}
	for _, step := range ProvisioningUploads {
		kp, err := n.key(step.Role)
		if err != nil {
			return err
		}
		if err := c.UploadKey(ctx, step.Route, org, kp.Public); err != nil {
			return fmt.Errorf("uploading the %s key: %w", RoleWords(step.Role), err)
		}
		if uploaded != nil {
			uploaded(step.Role, kp)
		}
	}
	return nil
}

// publishes reports whether the hierarchy holds the organisation key.
func publishes(h *keys.Hierarchy, org *keys.SignedPublicKey) bool {
	for _, f := range h.Keys {
		if f.OrgPK.Equal(org) {
			return true
		}
	}
	return false
}

// AddedCoverNode is what AddCoverNode made.
type AddedCoverNode struct {
	Bundle *keys.CoverNodeBundle
	Path   string // of the setup bundle
	Epoch  uint64 // 0 unless registered now
}

// AddCoverNode creates a CoverNode's identity key and its setup bundle in
// outDir; with register, it also registers the key with the API now (else
// the CoverNode does on first start).
func (n *Newsroom) AddCoverNode(ctx context.Context, id, outDir string, register bool) (*AddedCoverNode, error) {
	if err := protocol.ValidateCoverNodeID(id); err != nil {
		return nil, fmt.Errorf("%q is not a CoverNode id: use covernode_001, covernode_002, …", id)
	}
	if err := n.checkNotRetired(id); err != nil {
		return nil, err
	}
	now := n.now()
	prov, err := n.key(keys.CoverNodeProvisioning)
	if err != nil {
		return nil, err
	}
	b, path, err := CoverNodeBundle(outDir, id, prov, now)
	if err != nil {
		return nil, err
	}
	out := &AddedCoverNode{Bundle: b, Path: path}
	if register {
		c, err := n.api()
		if err != nil {
			return out, err
		}
		if out.Epoch, err = c.RegisterCoverNodeIdentity(ctx, b.Form); err != nil {
			return out, fmt.Errorf("registering %s's identity key: %w", id, err)
		}
	}
	return out, nil
}
