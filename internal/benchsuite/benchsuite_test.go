package benchsuite

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/keys"
)

// TestRun runs the suite briefly and checks that every figure is there,
// positive and beside its bound (the figures themselves are benchmarks,
// not test assertions).
func TestRun(t *testing.T) {
	rows, err := Run(context.Background(), Options{Duration: 200 * time.Millisecond, Conns: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bare X25519", "open one U2C (CoverNode)", "build one cover U2C (client)", "CoverNode U2C processing, 1 worker",
		"CoverNode U2C processing, 2 workers", "CoverNode U2C processing, coverdrop", "CoverNode U2C processing, pq", "raw JetStream async publish", "raw publish with de-dup id", "HTTP floor (framing only)", "bare HTTP handler", "ingest, durable append", "ingest, durable append, pq (4,037-byte U2C)", "GET user dead drops (empty poll)",
		"phone: cover U2C, coverdrop", "phone: cover U2C, pq", "phone: user dead drop, coverdrop", "phone: user dead drop, pq",
		"reader uploads a day, coverdrop", "reader uploads a day, pq", "reader downloads a day, coverdrop", "reader downloads a day, pq",
		"reader downloads a day, keys, coverdrop", "reader downloads a day, keys, pq (readers' view)",
		"journalist downloads a day, 1M readers, coverdrop", "journalist downloads a day, 1M readers, pq",
		"journalist downloads a day, 10M readers, coverdrop", "journalist downloads a day, 10M readers, pq"}
	var buf bytes.Buffer
	Print(&buf, rows)
	for _, name := range want {
		found := false
		for _, r := range rows {
			if r.Name == name {
				found = true
				if r.Value <= 0 || r.Ratio <= 0 {
					t.Errorf("%s: value %v, ratio %v", name, r.Value, r.Ratio)
				}
			}
		}
		if !found || !strings.Contains(buf.String(), name) {
			t.Errorf("no %q in:\n%s", name, buf.String())
		}
	}
}

// TestReadersViewSize measures docs/PQ.md §10.2's key download for the
// newsroom of MeasureKeySizes: a pq reader's view must be a small
// fraction of the whole pq hierarchy, and no larger than twice what a
// coverdrop reader downloads (the whole coverdrop hierarchy).
func TestReadersViewSize(t *testing.T) {
	now := time.Now()
	cd, err := MeasureKeySizes(keys.ModeCoverDrop, now)
	if err != nil {
		t.Fatal(err)
	}
	pq, err := MeasureKeySizes(keys.ModePQ, now)
	if err != nil {
		t.Fatal(err)
	}
	for mode, s := range map[string]KeySizes{keys.ModeCoverDrop: cd, keys.ModePQ: pq} {
		t.Logf("%s: the whole hierarchy %d bytes, the readers' view %d bytes (%.1f times smaller); a day at %d refreshes: %.2f MB against %.2f MB",
			mode, s.Whole, s.Readers, float64(s.Whole)/float64(s.Readers), keyRefreshesPerDay, float64(keyRefreshesPerDay*s.Whole)/1e6, float64(keyRefreshesPerDay*s.Readers)/1e6)
	}
	if pq.Readers*10 > pq.Whole {
		t.Errorf("a pq reader's view is %d bytes, more than a tenth of the whole %d", pq.Readers, pq.Whole)
	}
	if pq.Readers > 2*cd.Whole {
		t.Errorf("a pq reader downloads %d bytes a refresh, more than twice a coverdrop reader's %d", pq.Readers, cd.Whole)
	}
}
