package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/protocol"
)

// deadDropIndex serves one kind of dead drop. It follows the stream's last
// id (headers only) so that the common poll, "anything after the newest I
// have?", needs no round trip to NATS, and keeps rendered dead drops in a
// bounded cache.
type deadDropIndex struct {
	kind  deaddrop.Kind
	st    *store.Store
	limit int

	mu      sync.Mutex
	grew    *sync.Cond
	last    uint64
	first   uint64
	firstAt time.Time
	cache   map[uint64]renderedDrop
	order   []uint64
	bytes   int
}

type renderedDrop struct {
	json      []byte
	createdAt time.Time
}

// cacheBudget bounds the rendered dead drops kept per kind.
const cacheBudget = 64 << 20

// testHookTakeUnactionable makes the API store signed dead drops whatever
// their epoch and date, as it did before; set only by tests (the negative
// control of TestAPIRefusesUnactionableDeadDrops).
var testHookTakeUnactionable bool

func newDeadDropIndex(ctx context.Context, st *store.Store, kind deaddrop.Kind, limit int) (*deadDropIndex, error) {
	x := &deadDropIndex{kind: kind, st: st, limit: limit, cache: map[uint64]renderedDrop{}}
	x.grew = sync.NewCond(&x.mu)
	first, last, err := st.DeadDropBounds(ctx, kind)
	if err != nil {
		return nil, err
	}
	x.first, x.last, x.firstAt = first, last, time.Now()
	err = st.WatchDeadDrops(ctx, kind, func(id uint64) {
		x.mu.Lock()
		if id > x.last {
			x.last = id
			x.grew.Broadcast()
		}
		x.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { x.mu.Lock(); x.grew.Broadcast(); x.mu.Unlock() })
	return x, nil
}

// waitFor waits until id is visible to this replica.
func (x *deadDropIndex) waitFor(ctx context.Context, id uint64) error {
	stop := context.AfterFunc(ctx, func() { x.mu.Lock(); x.grew.Broadcast(); x.mu.Unlock() })
	defer stop()
	x.mu.Lock()
	defer x.mu.Unlock()
	for x.last < id {
		if err := ctx.Err(); err != nil {
			return err
		}
		x.grew.Wait()
	}
	return nil
}

// bounds returns the first and last ids, refreshing the first (which moves
// as dead drops expire) every ten seconds.
func (x *deadDropIndex) bounds(ctx context.Context) (uint64, uint64) {
	x.mu.Lock()
	stale := time.Since(x.firstAt) > 10*time.Second
	x.mu.Unlock()
	if stale {
		if first, _, err := x.st.DeadDropBounds(ctx, x.kind); err == nil {
			x.mu.Lock()
			x.first, x.firstAt = first, time.Now()
			x.mu.Unlock()
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.first, x.last
}

func (x *deadDropIndex) get(ctx context.Context, id uint64) (renderedDrop, error) {
	x.mu.Lock()
	r, ok := x.cache[id]
	x.mu.Unlock()
	if ok {
		return r, nil
	}
	d, err := x.st.DeadDrop(ctx, x.kind, id)
	if err != nil {
		return renderedDrop{}, err
	}
	b, err := json.Marshal(d)
	if err != nil {
		return renderedDrop{}, err
	}
	r = renderedDrop{json: b, createdAt: d.CreatedAt}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.cache[id]; !ok {
		x.cache[id] = r
		x.order = append(x.order, id)
		x.bytes += len(b)
		for x.bytes > cacheBudget && len(x.order) > 0 {
			old := x.order[0]
			x.order = x.order[1:]
			x.bytes -= len(x.cache[old].json)
			delete(x.cache, old)
		}
	}
	return r, nil
}

// page returns up to limit dead drops with ids greater than after.
func (x *deadDropIndex) page(ctx context.Context, after uint64, limit int) ([]uint64, [][]byte, error) {
	first, last := x.bounds(ctx)
	start := max(after+1, first, 1)
	var ids []uint64
	var items [][]byte
	for id := start; id <= last && len(ids) < limit; id++ {
		r, err := x.get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // expired, or a gap
		}
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		items = append(items, r.json)
	}
	return ids, items, nil
}

// parseDeadDropQuery reads ids_greater_than (required) and limit, refusing
// any other parameter as upstream does.
func parseDeadDropQuery(r *http.Request, max int) (uint64, int, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, 0, fmt.Errorf("bad query string: %v", err)
	}
	for k, vs := range q {
		if k != "ids_greater_than" && k != "limit" {
			return 0, 0, fmt.Errorf("unknown query parameter %q", k)
		}
		if len(vs) != 1 {
			return 0, 0, fmt.Errorf("%s is given %d times", k, len(vs))
		}
	}
	raw := q.Get("ids_greater_than")
	if raw == "" {
		return 0, 0, errors.New("ids_greater_than is required")
	}
	after, err := strconv.ParseInt(raw, 10, 32)
	if err != nil {
		return 0, 0, errors.New("ids_greater_than must be a 32-bit integer")
	}
	limit := max
	if l, given := q["limit"]; given {
		n, err := strconv.ParseUint(l[0], 10, 32)
		if err != nil || n < 1 {
			return 0, 0, errors.New("limit must be a positive integer")
		}
		limit = int(min(n, uint64(max)))
	}
	return uint64(maxInt64(after, 0)), limit, nil
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// getDeadDrops: GET /v1/{user,journalist}/dead-drops?ids_greater_than=N[&limit=M].
func (s *Server) getDeadDrops(kind deaddrop.Kind) http.HandlerFunc {
	x := s.deadDrops[kind]
	return func(w http.ResponseWriter, r *http.Request) {
		after, limit, err := parseDeadDropQuery(r, x.limit)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ids, items, err := x.page(r.Context(), after, limit)
		if err != nil {
			s.log.Error("reading dead drops", "kind", kind.String(), "err", err)
			writeError(w, http.StatusInternalServerError, "database error")
			return
		}
		var body bytes.Buffer
		body.WriteString(`{"dead_drops":[`)
		h := sha256.New()
		for i, item := range items {
			if i > 0 {
				body.WriteByte(',')
			}
			body.Write(item)
			h.Write(binary.BigEndian.AppendUint64(nil, ids[i]))
		}
		body.WriteString(`]}`)
		// Dead drops never change, so their ids name the page.
		etag := `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
		writeCached(w, r, body.Bytes(), etag, 300)
	}
}

// getRecentSummary: GET …/dead-drops/recent-summary, the ten newest ids
// and times, newest first (camelCase createdAt, as upstream).
func (s *Server) getRecentSummary(kind deaddrop.Kind) http.HandlerFunc {
	x := s.deadDrops[kind]
	return func(w http.ResponseWriter, r *http.Request) {
		first, last := x.bounds(r.Context())
		out := []apiclient.DeadDropSummary{}
		for id := last; id >= max(first, 1) && id > 0 && len(out) < 10; id-- {
			d, err := x.get(r.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				writeError(w, http.StatusInternalServerError, "database error")
				return
			}
			out = append(out, apiclient.DeadDropSummary{ID: id, CreatedAt: protocol.Time{Time: d.createdAt}})
		}
		w.Header().Set("Cache-Control", "max-age=300")
		writeJSON(w, http.StatusOK, out)
	}
}

// parseDeadDrop reads a posted dead drop of the deployment's mode: in
// coverdrop mode SPEC §4's, in pq mode a pq.DeadDrop (chunks of 553 and
// 2,817 bytes, the pq signed digest, docs/PQ.md §6). It returns the dead
// drop as the store keeps it (the JSON and stream forms are the same in
// both modes) and the check of its signature in its mode's form.
func (s *Server) parseDeadDrop(kind deaddrop.Kind, body []byte) (*deaddrop.DeadDrop, func([]*crypto.VerifyingKey) error, error) {
	if s.mode != keys.ModePQ {
		d, err := deaddrop.Parse(kind, body, true)
		if err != nil {
			return nil, nil, err
		}
		return d, d.Verify, nil
	}
	p, err := pq.ParseDeadDrop(kind, body)
	if err != nil {
		return nil, nil, err
	}
	d := &deaddrop.DeadDrop{Kind: p.Kind, ID: p.ID, CreatedAt: p.CreatedAt, Data: p.Data, Signature: p.Signature, Epoch: p.Epoch}
	return d, p.Verify, nil
}

// chunkSize is the size of one message in a dead drop of kind.
func (s *Server) chunkSize(kind deaddrop.Kind) int {
	if kind == deaddrop.User {
		return s.sizes.UserChunk
	}
	return s.sizes.JournalistChunk
}

// postDeadDrop: POST /v1/{user,journalist}/dead-drops from a CoverNode. The
// dead drop must be signed by a CoverNode identity key valid now. An
// identical re-post is a no-op that answers 200.
func (s *Server) postDeadDrop(kind deaddrop.Kind) http.HandlerFunc {
	x := s.deadDrops[kind]
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, s.cfg.MaxBody)
		if !ok {
			return
		}
		d, verify, err := s.parseDeadDrop(kind, body)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ver := s.hierarchy().verified
		if err := verify(ver.CoverNodeIdentityKeys()); err != nil {
			writeError(w, http.StatusUnauthorized, apiclient.MsgSignature)
			return
		}
		// Even signed by a CoverNode, a dead drop no client could act on
		// is refused: an epoch above the keys published (a journalist's
		// client would wait for keys that never come) or a date in the
		// future beyond clock skew (clients would skip it until then).
		// A CoverNode takes its epoch from the keys this API published, so
		// a genuine dead drop passes (a replica behind by a key is caught
		// up by the CoverNode's retry).
		if kind == deaddrop.Journalist && int64(d.Epoch) > ver.MaxEpoch && !testHookTakeUnactionable {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("epoch %d is above the published keys' max_epoch %d", d.Epoch, ver.MaxEpoch))
			return
		}
		if ahead := d.CreatedAt.Sub(s.cfg.Now()); ahead > deaddrop.MaxClockSkew && !testHookTakeUnactionable {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("created_at is %s in the future, more than the %s of clock skew allowed", ahead.Round(time.Second), deaddrop.MaxClockSkew))
			return
		}
		// Served with at most microseconds, as upstream's database keeps
		// them (an upstream CoverNode sends nanoseconds); the signature
		// covers whole seconds only.
		d.CreatedAt = d.CreatedAt.Truncate(time.Microsecond)
		id, dup, err := s.st.PublishDeadDrop(r.Context(), d)
		if err == nil {
			err = x.waitFor(r.Context(), id)
		}
		if err != nil {
			s.log.Error("storing a dead drop", "kind", kind.String(), "err", err)
			writeError(w, http.StatusInternalServerError, "database error")
			return
		}
		if !dup {
			s.metrics.published.WithLabelValues(kind.String()).Inc()
			s.log.Info("dead drop stored", "kind", kind.String(), "id", id, "messages", len(d.Data)/s.chunkSize(kind))
		}
		writeEmpty(w)
	}
}
