// Package keys holds CoverDrop's key hierarchy: roles and lifetimes,
// certificates, key files, and verification of a published hierarchy from a
// trust anchor (SPEC §2).
package keys

import (
	"fmt"
	"time"
)

// Week is seven days, the unit of most key lifetimes.
const Week = 7 * 24 * time.Hour

// Role is the place of a key in the hierarchy. The role is not part of the
// signed bytes: it is implied by where the key sits.
type Role uint8

// The roles of SPEC §2.3.
const (
	Organization Role = iota + 1
	CoverNodeProvisioning
	CoverNodeIdentity
	CoverNodeMessaging
	JournalistProvisioning
	JournalistIdentity
	JournalistMessaging
	Admin
	BackupIdentity
	BackupMessaging
	User
	UnsignedCoverNodeIdentity
	UnsignedJournalistIdentity
)

type roleInfo struct {
	entity      string
	signing     bool // Ed25519; otherwise X25519
	parent      Role // 0: self-signed (organisation) or unsigned
	validFor    time.Duration
	rotateAfter time.Duration // 0: no rotation schedule
}

var roles = [...]roleInfo{
	Organization:               {"organization", true, 0, 52 * Week, 26 * Week},
	CoverNodeProvisioning:      {"covernode_provisioning", true, Organization, 52 * Week, 26 * Week},
	CoverNodeIdentity:          {"covernode_id", true, CoverNodeProvisioning, 4 * Week, 2 * Week},
	CoverNodeMessaging:         {"covernode_msg", false, CoverNodeIdentity, 2 * Week, 1 * Week},
	JournalistProvisioning:     {"journalist_provisioning", true, Organization, 52 * Week, 26 * Week},
	JournalistIdentity:         {"journalist_id", true, JournalistProvisioning, 8 * Week, 4 * Week},
	JournalistMessaging:        {"journalist_msg", false, JournalistIdentity, 2 * Week, 24 * time.Hour},
	Admin:                      {"admin", true, Organization, 52 * Week, 0},
	BackupIdentity:             {"backup_id", true, Organization, 52 * Week, 0},
	BackupMessaging:            {"backup_msg", false, BackupIdentity, 52 * Week, 0},
	User:                       {"user", false, 0, 0, 0},
	UnsignedCoverNodeIdentity:  {"unsigned_covernode_id", true, 0, 0, 0},
	UnsignedJournalistIdentity: {"unsigned_journalist_id", true, 0, 0, 0},
}

func (r Role) info() roleInfo {
	if r == 0 || int(r) >= len(roles) {
		return roleInfo{entity: fmt.Sprintf("role(%d)", r)}
	}
	return roles[r]
}

// String returns upstream's entity name, used in key file names.
func (r Role) String() string { return r.info().entity }

// Signing reports whether keys of this role are Ed25519 signing keys
// (otherwise they are X25519 encryption keys).
func (r Role) Signing() bool { return r.info().signing }

// Parent is the role that certifies keys of this role; 0 for the
// self-signed organisation key and for unsigned keys.
func (r Role) Parent() Role { return r.info().parent }

// Certified reports whether keys of this role carry a certificate.
func (r Role) Certified() bool { return r == Organization || r.Parent() != 0 }

// ValidFor is how long a new key of this role is valid, before the parent's
// expiry clamps it.
func (r Role) ValidFor() time.Duration { return r.info().validFor }

// RotateAfter is how long after its creation a key of this role should be
// replaced; 0 when the role has no schedule.
func (r Role) RotateAfter() time.Duration { return r.info().rotateAfter }

// RoleByEntity returns the role with the given upstream entity name.
func RoleByEntity(name string) (Role, bool) {
	for r := Organization; int(r) < len(roles); r++ {
		if roles[r].entity == name {
			return r, true
		}
	}
	return 0, false
}
