package api

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/chaffhq/chaff/apiclient"
	"net/http"
	"sort"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// provisioningRotation is the least time between two provisioning keys of
// a kind (upstream refuses more frequent rotation).
const provisioningRotation = 26 * keys.Week

// postProvisioningKey: POST …/{covernode,journalists}/provisioning-public-key,
// signed by the organisation key; the new key must be certified by it.
func (s *Server) postProvisioningKey(role keys.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var k keys.SignedPublicKey
		req, ok := s.readForm(w, r, keys.Organization, &k)
		if !ok {
			return
		}
		if err := k.Verify(&req.signer.SignedPublicKey, req.now); err != nil {
			s.fail(w, req, http.StatusUnauthorized, apiclient.MsgSignature)
			return
		}
		for _, rec := range req.view.records {
			if rec.Role != role {
				continue
			}
			if rec.Key.Key == k.Key {
				writeEmpty(w) // already stored: idempotent
				return
			}
			if d := req.now.Sub(rec.AddedAt); d < provisioningRotation && d > -provisioningRotation {
				s.fail(w, req, http.StatusBadRequest, apiclient.MsgRotatedTooSoon)
				return
			}
		}
		s.storeKey(w, r, req, store.KeyRecord{Role: role, Parent: req.signer.Hex(), Key: k}, false)
	}
}

// postCoverNodeIdentityKey: POST …/covernode/identity-public-key, signed by
// a CoverNode provisioning key. Answers the epoch.
func (s *Server) postCoverNodeIdentityKey(w http.ResponseWriter, r *http.Request) {
	var body apiclient.CoverNodeIdentityKey
	req, ok := s.readForm(w, r, keys.CoverNodeProvisioning, &body)
	if !ok {
		return
	}
	if err := protocol.ValidateCoverNodeID(body.CoverNodeID); err != nil {
		s.fail(w, req, http.StatusBadRequest, err.Error())
		return
	}
	parent, ok := s.checkIdentityKey(w, req, keys.CoverNodeIdentity, &body.Key, body.CoverNodeID, req.view.verified.CoverNodeProvisioning)
	if !ok {
		return
	}
	s.storeKey(w, r, req, store.KeyRecord{Role: keys.CoverNodeIdentity, Owner: body.CoverNodeID, Parent: parent.Hex(), Key: body.Key}, true)
}

// checkIdentityKey checks a new identity key for owner: it must be
// certified by one of the provisioning keys, and must not be another
// owner's identity key. It returns the certifying key, or answers the
// request and returns false.
func (s *Server) checkIdentityKey(w http.ResponseWriter, req *signedRequest, role keys.Role, k *keys.SignedPublicKey, owner string, provisioning []keys.VerifiedKey) (keys.VerifiedKey, bool) {
	parent, err := certifiedBy(k, provisioning, req.now)
	if err != nil {
		s.fail(w, req, http.StatusUnauthorized, apiclient.MsgSignature)
		return keys.VerifiedKey{}, false
	}
	if current, taken := s.identityOwner(req.view, role, k.Key[:]); taken && current != owner {
		what := "CoverNode"
		if role == keys.JournalistIdentity {
			what = "journalist"
		}
		s.fail(w, req, http.StatusBadRequest, "this identity key belongs to another "+what)
		return keys.VerifiedKey{}, false
	}
	return parent, true
}

// identityOwner returns the owner of a stored identity key, if any.
func (s *Server) identityOwner(view *hierarchyView, role keys.Role, key []byte) (string, bool) {
	for _, rec := range view.records {
		if rec.Role == role && string(rec.Key.Key[:]) == string(key) {
			return rec.Owner, true
		}
	}
	return "", false
}

// postMessagingKey: POST …/{covernode,journalists}/messaging-public-key,
// signed by an identity key; the new key must be certified by one of the
// same owner's identity keys. Answers the epoch.
func (s *Server) postMessagingKey(signerRole keys.Role) http.HandlerFunc {
	msgRole := keys.CoverNodeMessaging
	if signerRole == keys.JournalistIdentity {
		msgRole = keys.JournalistMessaging
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var k keys.SignedPublicKey
		req, ok := s.readForm(w, r, signerRole, &k)
		if !ok {
			return
		}
		var ids []keys.VerifiedKey
		fams := req.view.verified.CoverNodes
		if signerRole == keys.JournalistIdentity {
			fams = req.view.verified.Journalists
		}
		for _, f := range fams[req.signer.Owner] {
			ids = append(ids, f.Identity)
		}
		parent, err := certifiedBy(&k, ids, req.now)
		if err != nil {
			s.fail(w, req, http.StatusUnauthorized, apiclient.MsgSignature)
			return
		}
		s.storeKey(w, r, req, store.KeyRecord{Role: msgRole, Owner: req.signer.Owner, Parent: parent.Hex(), Key: k}, true)
	}
}

// postJournalistIdentityKey: POST …/journalists/identity-public-key, signed
// by a journalist provisioning key. Answers the epoch.
func (s *Server) postJournalistIdentityKey(w http.ResponseWriter, r *http.Request) {
	var body apiclient.JournalistIdentityKey
	req, ok := s.readForm(w, r, keys.JournalistProvisioning, &body)
	if !ok {
		return
	}
	if _, exists := s.profile(body.JournalistID); !exists {
		s.fail(w, req, http.StatusNotFound, fmt.Sprintf("journalist %q is not registered", body.JournalistID))
		return
	}
	parent, ok := s.checkIdentityKey(w, req, keys.JournalistIdentity, &body.Key, body.JournalistID, req.view.verified.JournalistProvisioning)
	if !ok {
		return
	}
	if body.FromQueue {
		q, ok := s.queuedForm(body.JournalistID)
		var newPK apiclient.NewKey
		if !ok || q.Form.Decode(&newPK) != nil || !sameHexKey(newPK.NewPK.Key, body.Key.Key[:]) {
			s.fail(w, req, http.StatusBadRequest, "the key is not the one queued for this journalist")
			return
		}
	}
	var dequeue func() error
	if body.FromQueue {
		dequeue = func() error {
			if err := s.st.Purge(r.Context(), store.BucketIDForms, profileKey(body.JournalistID)); err != nil {
				return err
			}
			return s.sync(r.Context(), s.idForms, store.BucketIDForms)
		}
	}
	s.storeKeyThen(w, r, req, store.KeyRecord{Role: keys.JournalistIdentity, Owner: body.JournalistID, Parent: parent.Hex(), Key: body.Key}, true, dequeue)
}

// getJournalistIdentityKey: GET …/journalists/identity-public-key/{pk}:
// null, or the stored key with its epoch.
func (s *Server) getJournalistIdentityKey(w http.ResponseWriter, r *http.Request) {
	pk, err := hex.DecodeString(r.PathValue("pk"))
	if err != nil || len(pk) != 32 {
		writeError(w, http.StatusBadRequest, "the key must be 64 hex digits")
		return
	}
	var out any
	for _, rec := range s.hierarchy().records {
		if rec.Role == keys.JournalistIdentity && string(rec.Key.Key[:]) == string(pk) {
			out = apiclient.KeyEpoch{Epoch: rec.Epoch, Key: rec.Key}
		}
	}
	w.Header().Set("Cache-Control", "max-age=60")
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) queuedForm(id string) (*apiclient.QueuedIdentityKeyForm, bool) {
	e, ok := s.idForms.Get(profileKey(id))
	if !ok {
		return nil, false
	}
	var q apiclient.QueuedIdentityKeyForm
	if err := json.Unmarshal(e.Value, &q); err != nil || q.Form == nil {
		return nil, false
	}
	return &q, true
}

// postIdentityKeyForm: POST …/identity-public-key-form, an outer form
// signed by a journalist identity key around an inner form, signed by the
// same key, asking for new_pk to be certified.
func (s *Server) postIdentityKeyForm(w http.ResponseWriter, r *http.Request) {
	var body apiclient.IdentityKeyForm
	req, ok := s.readForm(w, r, keys.JournalistIdentity, &body)
	if !ok {
		return
	}
	vk, err := req.signer.VerifyingKey()
	if err != nil || body.Form == nil || body.Form.Verify(vk, req.now) != nil {
		s.fail(w, req, http.StatusUnauthorized, apiclient.MsgSignature)
		return
	}
	var inner apiclient.NewKey
	if err := body.Form.Decode(&inner); err != nil {
		s.fail(w, req, http.StatusBadRequest, err.Error())
		return
	}
	newPK, err := inner.Bytes()
	if err != nil {
		s.fail(w, req, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := crypto.NewVerifyingKey(newPK); err != nil {
		s.fail(w, req, http.StatusBadRequest, "new_pk.key is not an Ed25519 public key")
		return
	}
	// The inner form waits in the queue for as long as it is valid: hold it
	// to the limits of the outer one.
	if body.Form.CreatedAt.After(req.now.Add(clockSkew)) || body.Form.NotValidAfter.After(req.now.Add(form.BundleTTL+clockSkew)) {
		s.fail(w, req, http.StatusUnauthorized, apiclient.MsgSignature+": the inner form is dated in the future or claims a validity longer than four weeks")
		return
	}
	if _, taken := s.identityOwner(req.view, keys.JournalistIdentity, newPK); taken {
		s.fail(w, req, http.StatusBadRequest, "new_pk is already a published identity key")
		return
	}
	b, err := json.Marshal(apiclient.QueuedIdentityKeyForm{JournalistID: req.signer.Owner, Form: body.Form})
	if err == nil {
		var rev uint64
		rev, err = s.st.Put(r.Context(), store.BucketIDForms, profileKey(req.signer.Owner), b)
		if err == nil {
			err = s.idForms.WaitRevision(r.Context(), rev)
		}
	}
	if err != nil {
		s.log.Error("queueing a rotation form", "err", err)
		s.fail(w, req, http.StatusInternalServerError, "database error")
		return
	}
	writeEmpty(w)
}

// getIdentityKeyForms: GET …/identity-public-key-form, the queued forms
// that have not expired.
func (s *Server) getIdentityKeyForms(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	entries, _ := s.idForms.Snapshot()
	out := []apiclient.QueuedIdentityKeyForm{}
	for _, e := range entries {
		var q apiclient.QueuedIdentityKeyForm
		if json.Unmarshal(e.Value, &q) == nil && q.Form != nil && !now.After(q.Form.NotValidAfter) {
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JournalistID < out[j].JournalistID })
	w.Header().Set("Cache-Control", "max-age=5")
	writeJSON(w, http.StatusOK, out)
}

// postAdminKey: POST /v1/status/public-key, an admin key certified by the
// signing organisation key.
func (s *Server) postAdminKey(w http.ResponseWriter, r *http.Request) {
	var k keys.SignedPublicKey
	req, ok := s.readForm(w, r, keys.Organization, &k)
	if !ok {
		return
	}
	if err := k.Verify(&req.signer.SignedPublicKey, req.now); err != nil {
		s.fail(w, req, http.StatusUnauthorized, apiclient.MsgSignature)
		return
	}
	s.storeKey(w, r, req, store.KeyRecord{Role: keys.Admin, Parent: req.signer.Hex(), Key: k}, false)
}

// postBackupKey: POST /v1/backups/signing-public-key (organisation signs a
// backup identity key) and …/encryption-public-key (a backup identity key
// signs a backup messaging key).
func (s *Server) postBackupKey(signerRole keys.Role) http.HandlerFunc {
	role := keys.BackupIdentity
	if signerRole == keys.BackupIdentity {
		role = keys.BackupMessaging
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var k keys.SignedPublicKey
		req, ok := s.readForm(w, r, signerRole, &k)
		if !ok {
			return
		}
		if err := k.Verify(&req.signer.SignedPublicKey, req.now); err != nil {
			s.fail(w, req, http.StatusUnauthorized, apiclient.MsgSignature)
			return
		}
		// Upstream answers these with an empty 200, not an epoch.
		s.storeKey(w, r, req, store.KeyRecord{Role: role, Parent: req.signer.Hex(), Key: k}, false)
	}
}

// sameHexKey reports whether hexKey (in either case, as upstream's hex
// decoding accepts) encodes key.
func sameHexKey(hexKey string, key []byte) bool {
	b, err := hex.DecodeString(hexKey)
	return err == nil && bytes.Equal(b, key)
}
