package api

import (
	"context"
	"errors"
	"fmt"
	"github.com/chaffhq/chaff/apiclient"
	"net/http"
	"time"

	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
)

// clockSkew is how far ahead of ours a signer's clock may be.
const clockSkew = 5 * time.Minute

// signedRequest is a verified signed form and who signed it.
type signedRequest struct {
	form   *form.Form
	signer keys.VerifiedKey
	view   *hierarchyView
	now    time.Time
}

// findSigner returns the key of role with the given bytes that is valid at
// the view's instant: from the verified hierarchy, or for admin keys from
// the admin keys certified by a trusted organisation key.
func (h *hierarchyView) findSigner(role keys.Role, pk []byte) (keys.VerifiedKey, bool) {
	if role == keys.Admin {
		for _, rec := range h.admin {
			if rec.Role != keys.Admin || string(rec.Key.Key[:]) != string(pk) {
				continue
			}
			for _, org := range h.verified.Organizations {
				if org.Hex() == rec.Parent && rec.Key.Verify(&org.SignedPublicKey, h.at) == nil {
					return keys.VerifiedKey{SignedPublicKey: rec.Key, Role: keys.Admin}, true
				}
			}
		}
		return keys.VerifiedKey{}, false
	}
	for _, k := range h.verified.All() {
		if k.Role == role && string(k.Key[:]) == string(pk) {
			return k, true
		}
	}
	return keys.VerifiedKey{}, false
}

// readForm reads and verifies a signed form signed by a key of role, and
// decodes its body into body. It records the form in the replay guard: a
// form is accepted once. On failure it has answered the request. If the
// request then fails, call release so that the form may be retried.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, role keys.Role, body any) (*signedRequest, bool) {
	raw, ok := readBody(w, r, s.cfg.MaxBody)
	if !ok {
		return nil, false
	}
	f, err := form.Parse(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	view := s.hierarchy()
	signer, found := view.findSigner(role, f.SigningPK[:])
	if !found {
		writeError(w, http.StatusNotFound, apiclient.MsgSignerNotFound)
		return nil, false
	}
	vk, err := signer.VerifyingKey()
	if err != nil {
		writeError(w, http.StatusUnauthorized, apiclient.MsgSignature)
		return nil, false
	}
	if err := f.Verify(vk, view.at); err != nil {
		writeError(w, http.StatusUnauthorized, apiclient.MsgSignature)
		return nil, false
	}
	// Upstream does not check the creation time; we refuse forms dated in
	// the future or valid for longer than any form should be, which would
	// otherwise hold a place in the replay guard for as long as they claim.
	if f.CreatedAt.After(view.at.Add(clockSkew)) {
		writeError(w, http.StatusUnauthorized, apiclient.MsgSignature+": the form is dated in the future")
		return nil, false
	}
	if f.NotValidAfter.After(view.at.Add(form.BundleTTL + clockSkew)) {
		writeError(w, http.StatusUnauthorized, apiclient.MsgSignature+": the form claims a validity longer than four weeks")
		return nil, false
	}
	if err := f.Decode(body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	fresh, err := s.st.SeenForm(r.Context(), f.Signature[:], f.NotValidAfter, view.at)
	if err != nil {
		s.log.Error("replay guard", "err", err)
		writeError(w, http.StatusInternalServerError, apiclient.MsgInternal)
		return nil, false
	}
	if !fresh {
		writeError(w, http.StatusConflict, "this signed form was already used; sign a new one")
		return nil, false
	}
	return &signedRequest{form: f, signer: signer, view: view, now: view.at}, true
}

// release forgets a form whose request failed, so that it may be retried.
func (s *Server) release(req *signedRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.st.ForgetForm(ctx, req.form.Signature[:]); err != nil {
		s.log.Warn("releasing a failed form", "err", err)
	}
}

// fail answers a failed request after its form was accepted.
func (s *Server) fail(w http.ResponseWriter, req *signedRequest, code int, msg string) {
	s.release(req)
	writeError(w, code, msg)
}

// storeKey stores a key record and waits until this replica sees it, so
// that the caller's next read includes it. It answers the epoch.
func (s *Server) storeKey(w http.ResponseWriter, r *http.Request, req *signedRequest, rec store.KeyRecord, answerEpoch bool) {
	s.storeKeyThen(w, r, req, rec, answerEpoch, nil)
}

// storeKeyThen is storeKey with a step run after the key is stored and
// before the answer.
func (s *Server) storeKeyThen(w http.ResponseWriter, r *http.Request, req *signedRequest, rec store.KeyRecord, answerEpoch bool, then func() error) {
	// A key of the other protocol mode (an X25519 messaging key in a pq
	// deployment, an X-Wing one in coverdrop) would never be published:
	// refuse it rather than store it.
	if err := keys.CheckKeyMode(s.mode, rec.Role, &rec.Key); err != nil {
		s.fail(w, req, http.StatusBadRequest, fmt.Sprintf("a %s key of the wrong protocol mode: %v", rec.Role, err))
		return
	}
	rec.AddedAt = req.now
	epoch, err := s.st.PutKey(r.Context(), rec)
	if err == nil {
		m := s.keys
		if rec.Role == keys.Admin || rec.Role == keys.BackupIdentity || rec.Role == keys.BackupMessaging {
			m = s.adminKeys
		}
		err = m.WaitRevision(r.Context(), epoch)
	}
	if err == nil && then != nil {
		err = then()
	}
	if err != nil {
		s.log.Error("storing key", "role", rec.Role.String(), "err", err)
		s.fail(w, req, http.StatusInternalServerError, "database error")
		return
	}
	s.log.Info("key stored", "role", rec.Role.String(), "owner", rec.Owner, "key", rec.Key.Prefix(), "epoch", epoch)
	if answerEpoch {
		writeJSON(w, http.StatusOK, epoch)
		return
	}
	writeEmpty(w)
}

var errNoParent = errors.New("the key's certificate verifies under none of the keys it may be certified by")

// certifiedBy returns the first of parents that certifies k at now.
func certifiedBy(k *keys.SignedPublicKey, parents []keys.VerifiedKey, now time.Time) (keys.VerifiedKey, error) {
	for _, p := range parents {
		if k.Verify(&p.SignedPublicKey, now) == nil {
			return p, nil
		}
	}
	if k.Expired(now) {
		return keys.VerifiedKey{}, keys.ErrExpired
	}
	return keys.VerifiedKey{}, errNoParent
}

// sync waits until mirror reflects every change made to kv so far.
func (s *Server) sync(ctx context.Context, m *store.Mirror, bucket string) error {
	rev, err := s.st.MaxRevision(ctx, bucket)
	if err != nil {
		return err
	}
	return m.WaitRevision(ctx, rev)
}
