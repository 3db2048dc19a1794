package apiclient

import (
	"encoding/hex"
	"fmt"

	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// The bodies of requests and answers, defined once for the server's
// handlers and for every caller. Field order matters where the server
// writes a type: it fixes the bytes of the answer.

// Health is the answer of Healthcheck and IngestHealthcheck.
type Health struct {
	Branch *string `json:"branch"`
	Commit *string `json:"commit"`
	Name   string  `json:"name"`
	Status string  `json:"status"`
}

// ErrorBody is the body of every answer other than 2xx.
type ErrorBody struct {
	Error string `json:"error"`
}

// SystemStatus is a status an admin sets (the inner object of
// StatusUpdate).
type SystemStatus struct {
	Status      string        `json:"status"`
	Description string        `json:"description"`
	Timestamp   protocol.Time `json:"timestamp"`
}

// StatusUpdate is the body of PostStatus, signed by an admin key.
type StatusUpdate struct {
	Status SystemStatus `json:"status"`
}

// StatusEvent is the published system status, the answer of GetStatus
// (SPEC §5.4.2).
type StatusEvent struct {
	Status      string        `json:"status"`
	IsAvailable bool          `json:"is_available"`
	Description string        `json:"description"`
	Timestamp   protocol.Time `json:"timestamp"`
}

// The system statuses, and whether readers may send in each.
var SystemStatuses = map[string]bool{
	"AVAILABLE": true, "UNAVAILABLE": false, "DEGRADED_PERFORMANCE": true, "SCHEDULED_MAINTENANCE": false, "NO_INFORMATION": false,
}

// SettableStatuses are the statuses an admin sets.
var SettableStatuses = []string{"AVAILABLE", "UNAVAILABLE", "DEGRADED_PERFORMANCE", "SCHEDULED_MAINTENANCE"}

// LoggingDirective is the body of PostLogging, signed by an admin key.
type LoggingDirective struct {
	Directive string `json:"rust_log_directive"`
}

// NewJournalist is the body of PostJournalistProfile, signed by a
// journalist provisioning key.
type NewJournalist struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	SortName    string `json:"sort_name"`
	Description string `json:"description"`
	IsDesk      bool   `json:"is_desk"`
	Status      string `json:"status"`
}

// ProfileUpdate is the body of PatchJournalistProfile: nil fields are
// left as they are.
type ProfileUpdate struct {
	JournalistID string  `json:"journalist_id"`
	DisplayName  *string `json:"display_name"`
	SortName     *string `json:"sort_name"`
	IsDesk       *bool   `json:"is_desk"`
	Description  *string `json:"description"`
}

// JournalistStatusUpdate is the body of PatchJournalistStatus.
type JournalistStatusUpdate struct {
	JournalistID string `json:"journalist_id"`
	Status       string `json:"status"`
}

// CoverNodeIdentityKey is the body of PostCoverNodeIdentityKey, signed by
// a CoverNode provisioning key.
type CoverNodeIdentityKey struct {
	CoverNodeID string               `json:"covernode_id"`
	Key         keys.SignedPublicKey `json:"covernode_id_pk"`
}

// JournalistIdentityKey is the body of PostJournalistIdentityKey, signed
// by a journalist provisioning key.
type JournalistIdentityKey struct {
	JournalistID string               `json:"journalist_id"`
	Key          keys.SignedPublicKey `json:"journalist_id_pk"`
	FromQueue    bool                 `json:"from_queue"`
}

// KeyEpoch is a published key with its epoch: the answer of
// GetJournalistIdentityKey (or null) and of RotateCoverNodeIdentityKey.
type KeyEpoch struct {
	Epoch uint64               `json:"epoch"`
	Key   keys.SignedPublicKey `json:"key"`
}

// NewKey asks for a new identity key to be certified: the inner form of
// PostIdentityKeyForm, and the body of RotateCoverNodeIdentityKey.
type NewKey struct {
	NewPK struct {
		Key string `json:"key"`
	} `json:"new_pk"`
}

// NewKeyFor returns the NewKey asking for k.
func NewKeyFor(k *keys.SignedPublicKey) NewKey {
	var n NewKey
	n.NewPK.Key = k.Hex()
	return n
}

// Bytes returns the 32 bytes of the new key.
func (n NewKey) Bytes() ([]byte, error) {
	b, err := hex.DecodeString(n.NewPK.Key)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("new_pk.key must be 64 hex digits")
	}
	return b, nil
}

// IdentityKeyForm is the body of PostIdentityKeyForm: a form signed by the
// journalist's identity key around a NewKey, itself in a form signed by
// the same key.
type IdentityKeyForm struct {
	Form *form.Form `json:"form"`
}

// QueuedIdentityKeyForm is one journalist's queued rotation form, as
// GetIdentityKeyForms lists them.
type QueuedIdentityKeyForm struct {
	JournalistID string     `json:"journalist_id"`
	Form         *form.Form `json:"form"`
}

// IdentityAPIKeys is the identity API's answer to GetPublicKeys: the
// organisation keys it trusts and the provisioning keys it certifies with
// (null when it holds none that is valid).
type IdentityAPIKeys struct {
	AnchorOrgPKs             []keys.SignedPublicKey `json:"anchor_org_pks"`
	CoverNodeProvisioningPK  *keys.SignedPublicKey  `json:"covernode_provisioning_pk"`
	JournalistProvisioningPK *keys.SignedPublicKey  `json:"journalist_provisioning_pk"`
}

// DeadDropSummary is one item of a dead-drop kind's RecentSummary.
type DeadDropSummary struct {
	ID        uint64        `json:"id"`
	CreatedAt protocol.Time `json:"createdAt"`
}
