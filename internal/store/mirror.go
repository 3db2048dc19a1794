package store

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Entry is one value of a mirrored bucket.
type Entry struct {
	Value    []byte
	Revision uint64
}

// Mirror keeps an in-memory copy of a bucket, following its changes, so
// that readers never wait for NATS. After a write, WaitRevision makes the
// writer's own change visible before it answers.
type Mirror struct {
	mu      sync.RWMutex
	changed *sync.Cond
	entries map[string]Entry
	rev     uint64 // highest revision applied
	ready   bool
}

// NewMirror starts mirroring kv until ctx ends, and returns once the
// current contents are loaded.
func NewMirror(ctx context.Context, kv jetstream.KeyValue) (*Mirror, error) {
	m := &Mirror{entries: map[string]Entry{}}
	m.changed = sync.NewCond(&m.mu)
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, err
	}
	loaded := make(chan struct{})
	go func() {
		defer w.Stop()
		for e := range w.Updates() {
			m.mu.Lock()
			if e == nil {
				if !m.ready {
					m.ready = true
					close(loaded)
				}
			} else {
				switch e.Operation() {
				case jetstream.KeyValuePut:
					m.entries[e.Key()] = Entry{Value: e.Value(), Revision: e.Revision()}
				default:
					delete(m.entries, e.Key())
				}
				m.rev = max(m.rev, e.Revision())
			}
			m.changed.Broadcast()
			m.mu.Unlock()
		}
		// The watcher ended (ctx done): release waiters.
		m.mu.Lock()
		m.ready = true
		m.changed.Broadcast()
		m.mu.Unlock()
	}()
	select {
	case <-loaded:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Snapshot returns a copy of the current entries and the revision they
// reflect.
func (m *Mirror) Snapshot() (map[string]Entry, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]Entry, len(m.entries))
	for k, v := range m.entries {
		out[k] = v
	}
	return out, m.rev
}

// Get returns one entry.
func (m *Mirror) Get(key string) (Entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.entries[key]
	return e, ok
}

// Revision returns the highest revision applied.
func (m *Mirror) Revision() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rev
}

// WaitRevision waits until the mirror has applied revision rev, or ctx ends.
func (m *Mirror) WaitRevision(ctx context.Context, rev uint64) error {
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.changed.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.rev < rev {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.changed.Wait()
	}
	return nil
}
