package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chaffhq/chaff/keys"
	"github.com/nats-io/nats.go/jetstream"
)

// KeyRecord is a stored public key: where it sits in the hierarchy and
// when it was added. Its epoch is the revision of its bucket entry.
type KeyRecord struct {
	Role    keys.Role            `json:"-"`
	RoleStr string               `json:"role"`
	Owner   string               `json:"owner,omitempty"`
	Parent  string               `json:"parent,omitempty"` // hex of the certifying key
	Key     keys.SignedPublicKey `json:"key"`
	AddedAt time.Time            `json:"added_at"`
	Epoch   uint64               `json:"-"`
}

// entryName is the bucket key of a record: role, owner (hex, since ids may
// hold characters bucket keys may not) and key.
func entryName(role keys.Role, owner string, key []byte) string {
	o := "_"
	if owner != "" {
		o = hex.EncodeToString([]byte(owner))
	}
	return fmt.Sprintf("%s.%s.%s", role, o, hex.EncodeToString(key))
}

// bucketFor returns the bucket a role's keys live in: admin and backup keys
// apart, so that they do not count towards max_epoch (SPEC §5.4.5).
func (s *Store) bucketFor(role keys.Role) jetstream.KeyValue {
	switch role {
	case keys.Admin, keys.BackupIdentity, keys.BackupMessaging:
		return s.adminKeys
	}
	return s.keys
}

// PutKey stores a key record and returns its epoch. Storing a key that is
// already there returns its existing epoch (upload endpoints are
// idempotent).
func (s *Store) PutKey(ctx context.Context, rec KeyRecord) (uint64, error) {
	rec.RoleStr = rec.Role.String()
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	kv := s.bucketFor(rec.Role)
	name := entryName(rec.Role, rec.Owner, rec.Key.Key[:])
	rev, err := kv.Create(ctx, name, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := kv.Get(ctx, name)
		if gerr != nil {
			return 0, gerr
		}
		return e.Revision(), nil
	}
	return rev, err
}

// DeleteKey removes a key record (an expired key).
func (s *Store) DeleteKey(ctx context.Context, rec KeyRecord) error {
	return s.bucketFor(rec.Role).Purge(ctx, entryName(rec.Role, rec.Owner, rec.Key.Key[:]))
}

// DecodeKeyRecord reads a record from a bucket entry.
func DecodeKeyRecord(name string, value []byte, rev uint64) (KeyRecord, error) {
	var rec KeyRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		return rec, fmt.Errorf("key record %s: %w", name, err)
	}
	role, ok := keys.RoleByEntity(rec.RoleStr)
	if !ok || !strings.HasPrefix(name, rec.RoleStr+".") {
		return rec, fmt.Errorf("key record %s: bad role %q", name, rec.RoleStr)
	}
	rec.Role, rec.Epoch = role, rev
	return rec, nil
}

// MaxEpoch is the last revision of the key bucket: the highest epoch ever
// given, expired and removed keys included.
func (s *Store) MaxEpoch(ctx context.Context) (uint64, error) {
	return s.MaxRevision(ctx, BucketKeys)
}

// MaxRevision returns the last revision of the bucket named name.
func (s *Store) MaxRevision(ctx context.Context, name string) (uint64, error) {
	kv, err := s.bucket(name)
	if err != nil {
		return 0, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq, nil
}
