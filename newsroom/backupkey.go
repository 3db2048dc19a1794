package newsroom

import (
	"context"
	"fmt"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/keys"
)

// BackupKeys is what CreateBackupKeys made: the key pairs' files by role.
type BackupKeys struct {
	Files map[keys.Role]string
	// Messaging is the backup messaging key pair, the one whose public
	// half journalists' backups seal every recovery share under.
	Messaging *keys.KeyPair
}

// CreateBackupKeys makes the organisation's backup keys as upstream does
// (common/src/backup/keys.rs): a backup identity key certified by the
// organisation key and a backup messaging key (X25519) certified by it,
// both valid 52 weeks, in the organisation key's protocol mode (the
// messaging key is X-Wing in pq mode); writes them beside the other key pairs and uploads
// them (POST /v1/backups/signing-public-key, signed by the organisation
// key, and …/encryption-public-key, signed by the backup identity key),
// so that the hierarchy publishes them under the organisation key.
//
// Every journalist backup seals each recovery share under the newest
// published backup messaging key, inside the layer sealed to the
// colleague who keeps it (journalist.CreateBackup): a restore needs the
// colleagues and the holder of this key pair. Keep it on the newsroom's
// offline machine; keep old ones too, since a backup made under one needs
// it to restore.
func (n *Newsroom) CreateBackupKeys(ctx context.Context) (*BackupKeys, error) {
	c, err := n.api()
	if err != nil {
		return nil, err
	}
	org, err := n.key(keys.Organization)
	if err != nil {
		return nil, err
	}
	now, mode := n.now(), org.Public.Mode()
	id, err := keys.GenerateIn(mode, keys.BackupIdentity, org, now)
	if err != nil {
		return nil, err
	}
	msg, err := keys.GenerateIn(mode, keys.BackupMessaging, id, now)
	if err != nil {
		return nil, err
	}
	b := &BackupKeys{Files: map[keys.Role]string{}, Messaging: msg}
	for _, step := range []struct {
		role   keys.Role
		kp     *keys.KeyPair
		signer *keys.KeyPair
		route  apiclient.Route
	}{
		{keys.BackupIdentity, id, org, apiclient.PostBackupSigningKey},
		{keys.BackupMessaging, msg, id, apiclient.PostBackupEncryptionKey},
	} {
		if b.Files[step.role], err = keys.WriteKeyPairFile(n.KeysDir, step.role, step.kp); err != nil {
			return nil, fmt.Errorf("writing the %s key: %w", RoleWords(step.role), err)
		}
		if _, err := keys.WritePublicKeyFile(n.KeysDir, step.role, step.kp); err != nil {
			return nil, fmt.Errorf("writing the %s key: %w", RoleWords(step.role), err)
		}
		if err := c.UploadKey(ctx, step.route, step.signer, step.kp.Public); err != nil {
			return nil, fmt.Errorf("uploading the %s key: %w", RoleWords(step.role), err)
		}
	}
	return b, nil
}
