package api

import (
	"encoding/json"
	"fmt"
	"github.com/chaffhq/chaff/apiclient"
	"log/slog"
	"net/http"
	"strings"

	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

func validStatus(s string) bool {
	return s == keys.StatusVisible || s == keys.StatusHiddenFromUI || s == keys.StatusHiddenFromResponse
}

func checkProfile(p *keys.JournalistProfile) (int, string) {
	if err := protocol.ValidateJournalistID(p.ID); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if !validStatus(p.Status) {
		return http.StatusBadRequest, fmt.Sprintf("status must be %s, %s or %s", keys.StatusVisible, keys.StatusHiddenFromUI, keys.StatusHiddenFromResponse)
	}
	if !p.IsDesk && len(p.Description) > keys.MaxDescription {
		return http.StatusBadRequest, apiclient.MsgDescription
	}
	return 0, ""
}

// putProfile stores a profile and waits until this replica sees it.
func (s *Server) putProfile(w http.ResponseWriter, r *http.Request, req *signedRequest, p keys.JournalistProfile) {
	p.Tag = protocol.TagFor(p.ID).String()
	b, err := json.Marshal(p)
	if err == nil {
		var rev uint64
		rev, err = s.st.Put(r.Context(), store.BucketProfiles, profileKey(p.ID), b)
		if err == nil {
			err = s.profiles.WaitRevision(r.Context(), rev)
		}
	}
	if err != nil {
		s.log.Error("storing a profile", "err", err)
		s.fail(w, req, http.StatusInternalServerError, "database error")
		return
	}
	s.log.Info("journalist profile stored", "journalist", p.ID)
	writeEmpty(w)
}

// postJournalistProfile: POST /v1/public-keys/journalists registers or
// overwrites a profile; signed by a journalist provisioning key.
func (s *Server) postJournalistProfile(w http.ResponseWriter, r *http.Request) {
	var p apiclient.NewJournalist
	req, ok := s.readForm(w, r, keys.JournalistProvisioning, &p)
	if !ok {
		return
	}
	prof := keys.JournalistProfile{ID: p.ID, DisplayName: p.DisplayName, SortName: p.SortName, Description: p.Description, IsDesk: p.IsDesk, Status: p.Status}
	if code, msg := checkProfile(&prof); code != 0 {
		s.fail(w, req, code, msg)
		return
	}
	s.putProfile(w, r, req, prof)
}

// patchJournalistProfile: PATCH …/update-profile changes the given fields.
func (s *Server) patchJournalistProfile(w http.ResponseWriter, r *http.Request) {
	var p apiclient.ProfileUpdate
	req, ok := s.readForm(w, r, keys.JournalistProvisioning, &p)
	if !ok {
		return
	}
	prof, exists := s.profile(p.JournalistID)
	if !exists {
		s.fail(w, req, http.StatusNotFound, fmt.Sprintf("journalist %q is not registered", p.JournalistID))
		return
	}
	if p.DisplayName != nil {
		prof.DisplayName = *p.DisplayName
	}
	if p.SortName != nil {
		prof.SortName = *p.SortName
	}
	if p.IsDesk != nil {
		prof.IsDesk = *p.IsDesk
	}
	if p.Description != nil {
		prof.Description = *p.Description
	}
	if code, msg := checkProfile(&prof); code != 0 {
		s.fail(w, req, code, msg)
		return
	}
	s.putProfile(w, r, req, prof)
}

// patchJournalistStatus: PATCH …/update-status, signed by the journalist's
// own identity key.
func (s *Server) patchJournalistStatus(w http.ResponseWriter, r *http.Request) {
	var p apiclient.JournalistStatusUpdate
	req, ok := s.readForm(w, r, keys.JournalistIdentity, &p)
	if !ok {
		return
	}
	if req.signer.Owner != p.JournalistID {
		s.fail(w, req, http.StatusUnauthorized, apiclient.MsgUnauthorized)
		return
	}
	prof, exists := s.profile(p.JournalistID)
	if !exists {
		s.fail(w, req, http.StatusNotFound, fmt.Sprintf("journalist %q is not registered", p.JournalistID))
		return
	}
	prof.Status = p.Status
	if code, msg := checkProfile(&prof); code != 0 {
		s.fail(w, req, code, msg)
		return
	}
	s.putProfile(w, r, req, prof)
}

// deleteJournalist: DELETE …/journalists/delete removes a journalist's
// profile and keys; the body is the id as a JSON string.
func (s *Server) deleteJournalist(w http.ResponseWriter, r *http.Request) {
	var id string
	req, ok := s.readForm(w, r, keys.JournalistProvisioning, &id)
	if !ok {
		return
	}
	if _, exists := s.profile(id); !exists {
		s.fail(w, req, http.StatusNotFound, fmt.Sprintf("journalist %q is not registered", id))
		return
	}
	for _, rec := range req.view.records {
		if (rec.Role == keys.JournalistIdentity || rec.Role == keys.JournalistMessaging) && rec.Owner == id {
			if err := s.st.DeleteKey(r.Context(), rec); err != nil {
				s.fail(w, req, http.StatusInternalServerError, "database error")
				return
			}
		}
	}
	if err := s.st.Purge(r.Context(), store.BucketProfiles, profileKey(id)); err != nil {
		s.fail(w, req, http.StatusInternalServerError, "database error")
		return
	}
	// Wait until this replica no longer shows the journalist.
	if err := s.sync(r.Context(), s.profiles, store.BucketProfiles); err == nil {
		_ = s.sync(r.Context(), s.keys, store.BucketKeys)
	}
	s.log.Info("journalist removed", "journalist", id)
	writeEmpty(w)
}

const statusKey = "current"

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	ev := apiclient.StatusEvent{Status: "NO_INFORMATION", Description: "No information available", Timestamp: protocol.Time{Time: s.cfg.Now()}}
	if e, ok := s.status.Get(statusKey); ok {
		_ = json.Unmarshal(e.Value, &ev)
	}
	w.Header().Set("Cache-Control", "max-age=5")
	writeJSON(w, http.StatusOK, ev)
}

// postStatus: POST /v1/status, signed by an admin key.
func (s *Server) postStatus(w http.ResponseWriter, r *http.Request) {
	var body apiclient.StatusUpdate
	req, ok := s.readForm(w, r, keys.Admin, &body)
	if !ok {
		return
	}
	avail, known := apiclient.SystemStatuses[body.Status.Status]
	if !known {
		s.fail(w, req, http.StatusBadRequest, "status must be AVAILABLE, UNAVAILABLE, DEGRADED_PERFORMANCE, SCHEDULED_MAINTENANCE or NO_INFORMATION")
		return
	}
	if body.Status.Timestamp.IsZero() { // required upstream too
		s.fail(w, req, http.StatusBadRequest, "the status needs a timestamp")
		return
	}
	// The latest event by timestamp is served, as upstream serves it; so
	// an event dated in the future would hide every later one until then.
	if body.Status.Timestamp.After(req.now.Add(clockSkew)) {
		s.fail(w, req, http.StatusBadRequest, "the status is dated in the future")
		return
	}
	if e, ok := s.status.Get(statusKey); ok {
		var cur apiclient.StatusEvent
		if json.Unmarshal(e.Value, &cur) == nil && cur.Timestamp.After(body.Status.Timestamp.Time) {
			s.fail(w, req, http.StatusConflict, fmt.Sprintf("a newer status (%s, %s) is already set", cur.Status, protocol.FormatTime(cur.Timestamp.Time)))
			return
		}
	}
	b, _ := json.Marshal(apiclient.StatusEvent{Status: body.Status.Status, IsAvailable: avail, Description: body.Status.Description, Timestamp: body.Status.Timestamp})
	rev, err := s.st.Put(r.Context(), store.BucketStatus, statusKey, b)
	if err == nil {
		err = s.status.WaitRevision(r.Context(), rev)
	}
	if err != nil {
		s.fail(w, req, http.StatusInternalServerError, "database error")
		return
	}
	s.log.Info("system status set", "status", body.Status.Status)
	writeEmpty(w)
}

// postLogging: POST /v1/logging sets the log level; signed by an admin key.
// Upstream takes a Rust log directive; the level word in it is used.
func (s *Server) postLogging(w http.ResponseWriter, r *http.Request) {
	var body apiclient.LoggingDirective
	req, ok := s.readForm(w, r, keys.Admin, &body)
	if !ok {
		return
	}
	levels := map[string]slog.Level{"trace": slog.LevelDebug, "debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	d := strings.ToLower(body.Directive)
	if i := strings.LastIndex(d, "="); i >= 0 {
		d = d[i+1:]
	}
	lvl, known := levels[strings.TrimSpace(d)]
	if !known {
		s.fail(w, req, http.StatusBadRequest, "rust_log_directive must name a level: trace, debug, info, warn or error")
		return
	}
	if s.cfg.LogLevel != nil {
		s.cfg.LogLevel.Set(lvl)
	}
	s.log.Info("log level set", "level", lvl.String())
	writeEmpty(w)
}

// postJournalistMessage: POST /v1/journalist-messages, a J2C message of
// the deployment's size (730 bytes in coverdrop mode, 2,906 in pq) in a
// form signed by a journalist identity key, appended for the CoverNodes.
func (s *Server) postJournalistMessage(w http.ResponseWriter, r *http.Request) {
	var b64 string
	req, ok := s.readForm(w, r, keys.JournalistIdentity, &b64)
	if !ok {
		return
	}
	msg, err := protocol.DecodeBase64(b64)
	if err != nil {
		s.fail(w, req, http.StatusBadRequest, "the form body must be a JSON string of base64: "+err.Error())
		return
	}
	if len(msg) != s.sizes.J2C {
		s.fail(w, req, http.StatusBadRequest, fmt.Sprintf("J2C message is %d bytes, want %d", len(msg), s.sizes.J2C))
		return
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.AppendTimeout)
	defer cancel()
	if err := s.appendTimed(ctx, "j2c", s.st.AppendJ2C, msg); err != nil {
		s.log.Error("appending a journalist message", "err", err)
		s.fail(w, req, http.StatusInternalServerError, apiclient.MsgStreamPut)
		return
	}
	writeEmpty(w)
}
