// Package api serves CoverDrop's public API and the message ingest (SPEC
// §4.4–§4.9, §5.4, §5.5) over the JetStream store.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/chaffhq/chaff/pq"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/keys"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the API.
type Config struct {
	// Anchors are the organisation keys the API serves families for. Their
	// protocol mode is the deployment's (docs/PQ.md §8): the API accepts
	// only that mode's message, key and dead-drop sizes.
	Anchors []keys.SignedPublicKey
	// DefaultJournalistID is published when that journalist has keys.
	DefaultJournalistID string
	// Page limits of the dead-drop GETs (upstream 360 and 24).
	UserDeadDropLimit, JournalistDeadDropLimit int
	// Ingest limits per client, applied before the body is read:
	// requests a second, and at once (defaults: DefaultIngestRate,
	// DefaultIngestBurst).
	IngestRate  float64
	IngestBurst int
	// ClientIPHeader names a header set by a trusted CDN in front of the
	// ingest (such as Fastly-Client-IP) to key the rate limit on; by
	// default the peer address is used. Client addresses are never logged.
	ClientIPHeader string
	// Body caps: the ingest's (default 4 KiB, 8 KiB in pq mode), and
	// every other endpoint's.
	MaxIngestBody, MaxBody int64
	// AppendTimeout bounds how long the ingest waits for a durable append.
	AppendTimeout time.Duration
	Logger        *slog.Logger
	LogLevel      *slog.LevelVar
	Registry      prometheus.Registerer
	Now           func() time.Time
	Commit        string
	Branch        string
}

// Defaults of Config's fields (a zero or negative field takes them); the
// command's flags show the same values.
const (
	DefaultUserDeadDropLimit       = 360 // upstream's
	DefaultJournalistDeadDropLimit = 24  // upstream's
)

func (c *Config) defaults(mode string) {
	if c.UserDeadDropLimit <= 0 {
		c.UserDeadDropLimit = DefaultUserDeadDropLimit
	}
	if c.JournalistDeadDropLimit <= 0 {
		c.JournalistDeadDropLimit = DefaultJournalistDeadDropLimit
	}
	if c.IngestRate <= 0 {
		c.IngestRate = DefaultIngestRate
	}
	if c.IngestBurst <= 0 {
		c.IngestBurst = DefaultIngestBurst
	}
	if c.MaxIngestBody <= 0 {
		c.MaxIngestBody = 4 << 10
		if mode == keys.ModePQ {
			c.MaxIngestBody = 8 << 10 // a 4,037-byte U2C is 5,387 bytes of JSON
		}
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 2 << 20
	}
	if c.AppendTimeout <= 0 {
		c.AppendTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is one API replica. Replicas share nothing but the store.
type Server struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	metrics *metrics
	limiter *clientLimiter
	// mode is the deployment's protocol mode, and sizes its sizes.
	mode  string
	sizes pq.Sizes

	keys, adminKeys, profiles, status, idForms *store.Mirror
	deadDrops                                  map[deaddrop.Kind]*deadDropIndex

	hmu  sync.Mutex
	hier *hierarchyView // cached; see hierarchy()
}

// New starts an API replica over st: it mirrors the buckets, follows the
// dead-drop streams, and stores the trust anchors as organisation keys.
// It runs until ctx ends. When New fails (JetStream not answering yet),
// ending ctx stops what it started, and New may be called again.
func New(ctx context.Context, st *store.Store, cfg Config) (*Server, error) {
	mode, err := keys.AnchorsMode(cfg.Anchors)
	if err != nil {
		return nil, fmt.Errorf("api: %w: a deployment is in one mode", err)
	}
	cfg.defaults(mode)
	s := &Server{cfg: cfg, st: st, log: cfg.Logger, deadDrops: map[deaddrop.Kind]*deadDropIndex{}, mode: mode}
	if s.sizes, err = pq.SizesOf(mode); err != nil {
		return nil, err
	}
	s.limiter = newClientLimiter(cfg.IngestRate, cfg.IngestBurst)
	if s.keys, err = st.Mirror(ctx, store.BucketKeys); err != nil {
		return nil, err
	}
	if s.adminKeys, err = st.Mirror(ctx, store.BucketAdminKeys); err != nil {
		return nil, err
	}
	if s.profiles, err = st.Mirror(ctx, store.BucketProfiles); err != nil {
		return nil, err
	}
	if s.status, err = st.Mirror(ctx, store.BucketStatus); err != nil {
		return nil, err
	}
	if s.idForms, err = st.Mirror(ctx, store.BucketIDForms); err != nil {
		return nil, err
	}
	for kind, limit := range map[deaddrop.Kind]int{deaddrop.User: cfg.UserDeadDropLimit, deaddrop.Journalist: cfg.JournalistDeadDropLimit} {
		idx, err := newDeadDropIndex(ctx, st, kind, limit)
		if err != nil {
			return nil, err
		}
		s.deadDrops[kind] = idx
	}
	now := cfg.Now()
	for _, a := range cfg.Anchors {
		if err := a.Verify(&a, now); err != nil {
			s.log.Warn("trust anchor not stored", "key", a.Prefix(), "err", err)
			continue
		}
		epoch, err := st.PutKey(ctx, store.KeyRecord{Role: keys.Organization, Key: a, AddedAt: now})
		if err != nil {
			return nil, fmt.Errorf("storing trust anchor: %w", err)
		}
		if err := s.keys.WaitRevision(ctx, epoch); err != nil {
			return nil, err
		}
	}
	// Registered last, once nothing can fail but this: a New that failed
	// (JetStream not answering yet) registered nothing, and the caller
	// may call it again with the same registry.
	if s.metrics, err = newMetrics(cfg.Registry, s); err != nil {
		return nil, err
	}
	go s.removeExpiredKeys(ctx)
	return s, nil
}

// Handler serves the API: every /v1 endpoint, and the ingest unless it is
// served on its own listener.
func (s *Server) Handler(withIngest bool) http.Handler {
	mux := http.NewServeMux()
	handle := func(r apiclient.Route, h http.HandlerFunc) { mux.Handle(r.Pattern(), s.instrument(r.Pattern(), h)) }
	handle(apiclient.Healthcheck, s.healthcheck("api"))
	handle(apiclient.GetStatus, s.getStatus)
	handle(apiclient.PostStatus, s.postStatus)
	handle(apiclient.PostAdminKey, s.postAdminKey)
	handle(apiclient.PostLogging, s.postLogging)
	handle(apiclient.GetPublicKeys, s.getPublicKeys)
	if s.mode == keys.ModePQ {
		handle(apiclient.GetReaderPublicKeys, s.getReaderPublicKeys)
	}
	handle(apiclient.PostJournalistProfile, s.postJournalistProfile)
	handle(apiclient.PatchJournalistProfile, s.patchJournalistProfile)
	handle(apiclient.PatchJournalistStatus, s.patchJournalistStatus)
	handle(apiclient.DeleteJournalist, s.deleteJournalist)
	handle(apiclient.PostCoverNodeProvisioningKey, s.postProvisioningKey(keys.CoverNodeProvisioning))
	handle(apiclient.PostJournalistProvisioningKey, s.postProvisioningKey(keys.JournalistProvisioning))
	handle(apiclient.PostCoverNodeIdentityKey, s.postCoverNodeIdentityKey)
	handle(apiclient.PostCoverNodeMessagingKey, s.postMessagingKey(keys.CoverNodeIdentity))
	handle(apiclient.PostJournalistIdentityKey, s.postJournalistIdentityKey)
	handle(apiclient.GetJournalistIdentityKey, s.getJournalistIdentityKey)
	handle(apiclient.PostIdentityKeyForm, s.postIdentityKeyForm)
	handle(apiclient.GetIdentityKeyForms, s.getIdentityKeyForms)
	handle(apiclient.PostJournalistMessagingKey, s.postMessagingKey(keys.JournalistIdentity))
	handle(apiclient.PostJournalistMessage, s.postJournalistMessage)
	handle(apiclient.PostBackupSigningKey, s.postBackupKey(keys.Organization))
	handle(apiclient.PostBackupEncryptionKey, s.postBackupKey(keys.BackupIdentity))
	for _, kind := range []deaddrop.Kind{deaddrop.User, deaddrop.Journalist} {
		r := apiclient.DeadDrops(kind)
		handle(r.Get, s.getDeadDrops(kind))
		handle(r.Post, s.postDeadDrop(kind))
		handle(r.RecentSummary, s.getRecentSummary(kind))
	}
	if withIngest {
		s.ingestRoutes(mux)
	}
	mux.HandleFunc("/", noRoute(mux))
	return mux
}

// noRoute answers what no route takes: 405 with an Allow header when the
// path has routes for other methods (as upstream's router does), else 404;
// JSON errors either way.
func noRoute(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			other := r.WithContext(r.Context())
			other.Method = m
			if _, pattern := mux.Handler(other); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			writeError(w, http.StatusNotFound, "no such endpoint")
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(allow, " or ")))
	}
}

// IngestHandler serves the ingest on its own listener, as upstream's
// u2j-appender does: /healthcheck and /user/messages, without /v1.
func (s *Server) IngestHandler() http.Handler {
	mux := http.NewServeMux()
	s.ingestRoutes(mux)
	mux.HandleFunc("/", noRoute(mux))
	return mux
}

func (s *Server) ingestRoutes(mux *http.ServeMux) {
	for r, h := range map[apiclient.Route]http.HandlerFunc{apiclient.IngestHealthcheck: s.healthcheck("u2j-appender"), apiclient.PostUserMessage: s.postUserMessage} {
		mux.Handle(r.Pattern(), s.instrument(r.Pattern(), h))
	}
}

func (s *Server) healthcheck(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var commit, branch *string
		if s.cfg.Commit != "" {
			commit = &s.cfg.Commit
		}
		if s.cfg.Branch != "" {
			branch = &s.cfg.Branch
		}
		w.Header().Set("Cache-Control", "max-age=1")
		writeJSON(w, http.StatusOK, apiclient.Health{Name: name, Status: "ok", Commit: commit, Branch: branch})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiclient.ErrorBody{Error: msg})
}

// writeEmpty answers 200 with an empty body, as upstream does for
// mutations without a documented response.
func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// preallocLimit bounds what readBody sets aside for a body before it has
// arrived (the ingest's bodies are about 1 KiB).
const preallocLimit = 8 << 10

// readBody reads a request body up to limit bytes, refusing larger ones
// before reading when the length is declared.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is %d bytes, more than the %d allowed", r.ContentLength, limit))
		return nil, false
	}
	// Sized by the declared length, so that the usual body is read into
	// one allocation rather than a growing series; but only up to a small
	// size, since a declared length is only a claim until the bytes come.
	size := int64(512)
	if r.ContentLength > 0 {
		size = min(r.ContentLength+1, preallocLimit) // +1: the read that finds the end
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	b := buf.Bytes()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is more than the %d bytes allowed", limit))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "could not read the request body")
		return nil, false
	}
	return b, true
}
