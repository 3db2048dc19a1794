package journalist_test

import (
	"context"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/journalist"
)

func (p *proxy) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.requests)
}

// syncRequests unlocks the vault at path in a web UI, presses Sync now
// and returns the requests that made, by path.
func syncRequests(t *testing.T, p *proxy, path string) map[string]int {
	web := journalist.NewWeb(journalist.WebConfig{VaultPath: path})
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	u := newUI(t, srv.URL)
	if code, page := u.unlock("pw"); code != 200 {
		t.Fatalf("unlock: %d %s", code, page)
	}
	before := p.snapshot()
	if code, page := u.post("/sync", nil); code != 200 {
		t.Fatalf("sync: %d %s", code, page)
	}
	after := p.snapshot()
	u.post("/lock", nil)
	for k, n := range before {
		after[k] -= n
		if after[k] == 0 {
			delete(after, k)
		}
	}
	return after
}

// TestPublishedCheck: a sync in the web UI makes the same requests
// whether or not a sent reply waits to be seen in a user dead drop, so
// the API cannot tell from the download that the journalist replied. The
// negative control downloads only when a reply waits, and the test sees
// the difference.
func TestPublishedCheck(t *testing.T) {
	m := newMessaged(t)
	conv := m.v.Conversations()[0].ID
	m.v.Close()
	snapshot := func() []byte {
		b, err := os.ReadFile(m.path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fresh := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "carol.vault")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	quiet := snapshot()
	v, err := journalist.Open(m.path, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Reply(context.Background(), conv, "who else has it?"); err != nil {
		t.Fatal(err)
	}
	if real, err := v.SendOne(context.Background()); err != nil || !real {
		t.Fatalf("send: %v %v", real, err)
	}
	v.Close()
	replied := snapshot()
	// Each sync starts from the snapshot, against the same API.
	check := func() (quietReqs, repliedReqs map[string]int) {
		return syncRequests(t, m.p, fresh(quiet)), syncRequests(t, m.p, fresh(replied))
	}
	q, r := check()
	if !maps.Equal(q, r) || q["/v1/user/dead-drops"] == 0 {
		t.Fatalf("a sync with nothing waiting made %v; with a reply waiting %v", q, r)
	}
	defer journalist.SetCheckPublishedOnlyWhenWaiting()()
	if q, r = check(); maps.Equal(q, r) {
		t.Fatalf("negative control: the same requests (%v) whether a reply waits or not", q)
	}
}
