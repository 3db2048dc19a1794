package keys

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chaffhq/chaff/form"
)

// A setup bundle carries a new CoverNode's or journalist's secret identity
// key from the newsroom's key ceremony to where it is used. It is written
// readable by its owner only, never over another file, and fsynced; it is
// secret and belongs deleted once imported.

// CoverNodeBundle is what a new CoverNode needs on first start: its
// identity key and the registration form signed by a CoverNode
// provisioning key (valid for form.CoverNodeIdentityTTL).
type CoverNodeBundle struct {
	CoverNodeID string     `json:"covernode_id"`
	IdentityKey *KeyPair   `json:"identity_key_pair"`
	Form        *form.Form `json:"form"`
}

// JournalistBundle is what a new journalist's vault is created from.
type JournalistBundle struct {
	JournalistID string          `json:"journalist_id"`
	API          string          `json:"api"`
	TrustAnchor  SignedPublicKey `json:"trust_anchor"`
	IdentityKey  *KeyPair        `json:"identity_key_pair"`
}

// CoverNodeBundleName and JournalistBundleName are the file names chaff
// admin gives setup bundles.
func CoverNodeBundleName(coverNodeID string) string { return coverNodeID + ".setup-bundle.json" }

// JournalistBundleName: see CoverNodeBundleName.
func JournalistBundleName(journalistID string) string {
	return "journalist-" + journalistID + ".bundle.json"
}

// WriteBundle writes a setup bundle to path: readable by its owner only,
// never over an existing file, fsynced.
func WriteBundle(path string, bundle any) error {
	b, err := json.MarshalIndent(bundle, "", "  ")
	if err != nil {
		return err
	}
	return writeNew(path, append(b, '\n'), 0o600)
}

// ReadCoverNodeBundle reads and checks a CoverNode setup bundle.
func ReadCoverNodeBundle(path string) (*CoverNodeBundle, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b CoverNodeBundle
	if err := json.Unmarshal(raw, &b); err != nil || b.IdentityKey == nil || b.Form == nil {
		return nil, fmt.Errorf("%s is not a CoverNode setup bundle", path)
	}
	if _, err := b.IdentityKey.SigningKey(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &b, nil
}

// ReadJournalistBundle reads and checks a journalist setup bundle.
func ReadJournalistBundle(path string) (*JournalistBundle, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b JournalistBundle
	if err := json.Unmarshal(raw, &b); err != nil || b.IdentityKey == nil || b.JournalistID == "" {
		return nil, fmt.Errorf("%s is not a journalist setup bundle", path)
	}
	if _, err := b.IdentityKey.SigningKey(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &b, nil
}

// DeleteBundle deletes a setup bundle once its key is imported: it
// overwrites the file with zeros, syncs, removes it and syncs its folder.
// (A journaling or copy-on-write file system, or flash storage, may still
// keep the old blocks: keep bundles on storage that is itself wiped or
// encrypted.) When it cannot, the error says that the file holds a secret
// key and must be deleted by hand.
func DeleteBundle(path string) error {
	err := overwriteAndRemove(path)
	if err != nil {
		return fmt.Errorf("the setup bundle %s holds a secret identity key in plaintext and could not be deleted (%v): delete it yourself", path, err)
	}
	return nil
}

func overwriteAndRemove(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(make([]byte, fi.Size()), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := removeFile(path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// removeFile is os.Remove, replaced by tests that show what happens when
// a bundle cannot be deleted.
var removeFile = os.Remove
