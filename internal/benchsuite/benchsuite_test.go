package benchsuite

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
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
