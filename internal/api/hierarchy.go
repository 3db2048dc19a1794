package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
)

// hierarchyView is the verified key hierarchy at one instant, with the
// rendered GET /v1/public-keys body.
type hierarchyView struct {
	at       time.Time
	revs     [3]uint64
	verified *keys.Verified
	records  []store.KeyRecord // everything stored, verified or not
	body     []byte
	etag     string
	admin    []store.KeyRecord
	// readers is GET /v1/public-keys/readers's body and etag (pq mode).
	readers     []byte
	readersETag string
}

// hierarchy returns the verified hierarchy now. It is rebuilt when a
// bucket changed or a second has passed (keys expire with time).
func (s *Server) hierarchy() *hierarchyView {
	now := s.cfg.Now()
	revs := [3]uint64{s.keys.Revision(), s.adminKeys.Revision(), s.profiles.Revision()}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if h := s.hier; h != nil && h.revs == revs && now.Sub(h.at) < time.Second && !now.Before(h.at) {
		return h
	}
	h := s.buildHierarchy(now, revs)
	s.hier = h
	return h
}

func (s *Server) records(m *store.Mirror) []store.KeyRecord {
	entries, _ := m.Snapshot()
	out := make([]store.KeyRecord, 0, len(entries))
	for name, e := range entries {
		rec, err := store.DecodeKeyRecord(name, e.Value, e.Revision)
		if err != nil {
			s.log.Error("unreadable key record", "err", err)
			continue
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Epoch < out[j].Epoch })
	return out
}

func (s *Server) buildHierarchy(now time.Time, revs [3]uint64) *hierarchyView {
	recs := s.records(s.keys)
	admin := s.records(s.adminKeys)
	all := append(append([]store.KeyRecord{}, recs...), admin...)
	children := map[string][]store.KeyRecord{}
	for _, r := range all {
		children[r.Parent] = append(children[r.Parent], r)
	}
	of := func(parent *keys.SignedPublicKey, role keys.Role) []store.KeyRecord {
		var out []store.KeyRecord
		for _, r := range children[parent.Hex()] {
			if r.Role == role {
				out = append(out, r)
			}
		}
		return out
	}
	families := func(prov *keys.SignedPublicKey, idRole, msgRole keys.Role) map[string][]keys.IdentityFamily {
		out := map[string][]keys.IdentityFamily{}
		for _, id := range of(prov, idRole) {
			f := keys.IdentityFamily{IDPK: id.Key, MsgPKs: []keys.SignedPublicKey{}}
			for _, m := range of(&id.Key, msgRole) {
				f.MsgPKs = append(f.MsgPKs, m.Key)
			}
			out[id.Owner] = append(out[id.Owner], f)
		}
		return out
	}
	h := &keys.Hierarchy{JournalistProfiles: []keys.JournalistProfile{}, Keys: []keys.OrganizationFamily{}}
	for _, org := range all {
		if org.Role != keys.Organization {
			continue
		}
		fam := keys.OrganizationFamily{OrgPK: org.Key, CoverNodes: []keys.CoverNodeProvisioningFamily{}, Journalists: []keys.JournalistProvisioningFamily{}, Backup: []keys.IdentityFamily{}}
		for _, p := range of(&org.Key, keys.CoverNodeProvisioning) {
			fam.CoverNodes = append(fam.CoverNodes, keys.CoverNodeProvisioningFamily{ProvisioningPK: p.Key, CoverNodes: families(&p.Key, keys.CoverNodeIdentity, keys.CoverNodeMessaging)})
		}
		for _, p := range of(&org.Key, keys.JournalistProvisioning) {
			fam.Journalists = append(fam.Journalists, keys.JournalistProvisioningFamily{ProvisioningPK: p.Key, Journalists: families(&p.Key, keys.JournalistIdentity, keys.JournalistMessaging)})
		}
		for _, b := range of(&org.Key, keys.BackupIdentity) {
			f := keys.IdentityFamily{IDPK: b.Key, MsgPKs: []keys.SignedPublicKey{}}
			for _, m := range of(&b.Key, keys.BackupMessaging) {
				f.MsgPKs = append(f.MsgPKs, m.Key)
			}
			fam.Backup = append(fam.Backup, f)
		}
		h.Keys = append(h.Keys, fam)
	}
	for _, p := range s.profileList() {
		if p.Status != keys.StatusHiddenFromResponse {
			h.JournalistProfiles = append(h.JournalistProfiles, p)
		}
	}
	if s.cfg.DefaultJournalistID != "" {
		h.DefaultJournalistID = &s.cfg.DefaultJournalistID
	}
	maxEpoch := revs[0] // the key bucket's last revision; admin and backup keys do not count
	for _, r := range recs {
		maxEpoch = max(maxEpoch, r.Epoch)
	}
	h.MaxEpoch = int64(maxEpoch)
	v, _ := keys.Verify(h, s.cfg.Anchors, now)
	// A verified hierarchy with no trusted organisation still renders, as
	// upstream's does: {"keys": [], ...}.
	out := v.Trusted
	out.JournalistProfiles = h.JournalistProfiles
	out.MaxEpoch = h.MaxEpoch
	out.DefaultJournalistID = nil
	if v.DefaultJournalistID != "" {
		out.DefaultJournalistID = &v.DefaultJournalistID
	}
	view := &hierarchyView{at: now, revs: revs, verified: v, records: all, admin: admin}
	view.body, view.etag = s.render(out)
	if s.mode == keys.ModePQ {
		view.readers, view.readersETag = s.render(out.ReadersView())
	}
	return view
}

// render marshals a hierarchy and gives its ETag.
func (s *Server) render(h *keys.Hierarchy) ([]byte, string) {
	body, err := json.Marshal(h)
	if err != nil {
		s.log.Error("rendering public keys", "err", err)
	}
	sum := sha256.Sum256(body)
	return body, `"` + hex.EncodeToString(sum[:16]) + `"`
}

func (s *Server) profileList() []keys.JournalistProfile {
	entries, _ := s.profiles.Snapshot()
	out := make([]keys.JournalistProfile, 0, len(entries))
	for _, e := range entries {
		var p keys.JournalistProfile
		if err := json.Unmarshal(e.Value, &p); err == nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) profile(id string) (keys.JournalistProfile, bool) {
	e, ok := s.profiles.Get(profileKey(id))
	if !ok {
		return keys.JournalistProfile{}, false
	}
	var p keys.JournalistProfile
	return p, json.Unmarshal(e.Value, &p) == nil
}

func profileKey(id string) string { return hex.EncodeToString([]byte(id)) }

func (s *Server) getPublicKeys(w http.ResponseWriter, r *http.Request) {
	h := s.hierarchy()
	writeCached(w, r, h.body, h.etag, 60)
}

func (s *Server) getReaderPublicKeys(w http.ResponseWriter, r *http.Request) {
	h := s.hierarchy()
	writeCached(w, r, h.readers, h.readersETag, 60)
}

// writeCached answers a GET that CDNs and apps cache: an ETag, a max-age,
// and 304 when the client holds the same body.
func writeCached(w http.ResponseWriter, r *http.Request, body []byte, etag string, maxAge int) {
	w.Header().Set("Cache-Control", "max-age="+itoa(maxAge))
	w.Header().Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// removeExpiredKeys deletes expired keys every minute, as upstream does.
// (A child never outlives its parent, so no subtree is orphaned.)
func (s *Server) removeExpiredKeys(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.removeExpiredOnce(ctx)
	}
}

func (s *Server) removeExpiredOnce(ctx context.Context) int {
	now := s.cfg.Now()
	n := 0
	for _, rec := range s.hierarchy().records {
		if !rec.Key.Expired(now) {
			continue
		}
		if err := s.st.DeleteKey(ctx, rec); err != nil {
			s.log.Warn("removing expired key", "role", rec.Role.String(), "key", rec.Key.Prefix(), "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		s.log.Info("removed expired keys", "count", n)
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
