package loadgen

import (
	"context"
	"testing"
	"time"
)

// TestHandOutSpreadsOverRun: items are handed at their share of the run,
// not all at its start, and one refused is offered again.
func TestHandOutSpreadsOverRun(t *testing.T) {
	const d = 400 * time.Millisecond
	start := time.Now()
	var at []time.Duration
	refused := false
	handOut(context.Background(), start, d, []int{0, 1, 2, 3}, func(i int) bool {
		if i == 2 && !refused {
			refused = true
			return false
		}
		at = append(at, time.Since(start))
		return true
	})
	if len(at) != 4 {
		t.Fatalf("handed %d items, want 4", len(at))
	}
	for k, got := range at {
		if due := d * time.Duration(k) / 4; got < due {
			t.Errorf("item %d handed at %v, before its time %v", k, got, due)
		}
	}
	if !refused {
		t.Error("the refused item was not offered again")
	}
}

// TestHandOutStopsWithContext: a run that ends stops the handing out.
func TestHandOutStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	handOut(ctx, time.Now(), time.Hour, []int{0, 1, 2}, func(int) bool { n++; return true })
	if n > 1 {
		t.Errorf("handed %d items after the run ended", n)
	}
}
