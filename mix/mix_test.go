package mix_test

import (
	crand "crypto/rand"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chaffhq/chaff/mix"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestReleaseAtMax(t *testing.T) {
	p := mix.Params{ThresholdMin: 3, ThresholdMax: 5, Timeout: time.Hour, OutputSize: 4}
	m := mix.New[int](p, t0)
	for i := range 4 {
		if m.Add(i, i%2 == 0, t0.Add(time.Minute)) {
			t.Fatalf("release due after %d inputs, before the timeout", i+1)
		}
	}
	if !m.Add(4, true, t0.Add(time.Minute)) {
		t.Fatal("no release at threshold_max")
	}
	real, padding := m.Release(t0.Add(time.Minute))
	if len(real) != 3 || real[0] != 0 || real[1] != 2 || real[2] != 4 || padding != 1 {
		t.Fatalf("released %v with %d cover", real, padding)
	}
	if m.Seen() != 0 || len(m.Buffered()) != 0 {
		t.Fatalf("after release: seen %d, buffered %v", m.Seen(), m.Buffered())
	}
}

func TestReleaseAtMinAfterTimeout(t *testing.T) {
	p := mix.Params{ThresholdMin: 3, ThresholdMax: 100, Timeout: 15 * time.Minute, OutputSize: 2}
	m := mix.New[string](p, t0)
	m.Add("a", true, t0)
	// The timeout has passed, but fewer than threshold_min inputs: no.
	if m.Add("cover", false, t0.Add(time.Hour)) {
		t.Fatal("released below threshold_min")
	}
	// threshold_min reached, timeout passed: yes.
	if !m.Add("b", true, t0.Add(time.Hour)) {
		t.Fatal("no release at threshold_min after the timeout")
	}
	real, padding := m.Release(t0.Add(time.Hour))
	if len(real) != 2 || padding != 0 {
		t.Fatalf("released %v, %d cover", real, padding)
	}
	// The timeout restarts at the release.
	for range 3 {
		if m.Add("cover", false, t0.Add(time.Hour+14*time.Minute)) {
			t.Fatal("released before the restarted timeout")
		}
	}
	if !m.Due(t0.Add(time.Hour + 15*time.Minute)) {
		t.Fatal("not due once the restarted timeout passed")
	}
}

func TestOverflowWaitsOldestFirst(t *testing.T) {
	p := mix.Params{ThresholdMin: 1, ThresholdMax: 6, Timeout: time.Hour, OutputSize: 4}
	m := mix.New[int](p, t0)
	for i := range 6 {
		m.Add(i, true, t0)
	}
	real, padding := m.Release(t0)
	if len(real) != 4 || real[0] != 0 || real[3] != 3 || padding != 0 {
		t.Fatalf("first release %v, %d cover", real, padding)
	}
	if b := m.Buffered(); len(b) != 2 || b[0] != 4 || b[1] != 5 {
		t.Fatalf("waiting %v", b)
	}
	m.Add(6, false, t0.Add(2*time.Hour))
	real, padding = m.Release(t0.Add(2 * time.Hour))
	if len(real) != 2 || real[0] != 4 || padding != 2 {
		t.Fatalf("second release %v, %d cover", real, padding)
	}
}

func TestParams(t *testing.T) {
	for _, p := range []mix.Params{mix.ProductionU2J, mix.ProductionJ2U, mix.TestU2J, mix.TestJ2U} {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if mix.ProductionU2J.OutputSize != 500 || mix.ProductionJ2U.OutputSize != 20 || mix.TestU2J.ThresholdMax != 10 || mix.TestJ2U.ThresholdMin != 10 {
		t.Fatal("parameters differ from SPEC §7.3")
	}
	for _, bad := range []mix.Params{
		{ThresholdMin: 0, ThresholdMax: 1, OutputSize: 1},
		{ThresholdMin: 5, ThresholdMax: 4, OutputSize: 1},
		{ThresholdMin: 1, ThresholdMax: 1, OutputSize: 0},
		{ThresholdMin: 1, ThresholdMax: 1, OutputSize: 1, Timeout: -1},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestRestore(t *testing.T) {
	m := mix.New[int](mix.TestU2J, t0)
	m.Restore(9, t0, []int{7, 8})
	if !m.Add(1, false, t0) {
		t.Fatal("restored count not used")
	}
	if real, _ := m.Release(t0); len(real) != 2 || real[0] != 7 {
		t.Fatalf("restored buffer %v", real)
	}
}

// chiSquare is Pearson's statistic of counts against a uniform expectation.
func chiSquare(counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	exp := float64(total) / float64(len(counts))
	var x float64
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	return x
}

// permIndex numbers the permutations of 0..3.
func permIndex(p []int) int {
	idx, fact := 0, []int{6, 2, 1, 1}
	used := [4]bool{}
	for i, v := range p {
		smaller := 0
		for u := 0; u < v; u++ {
			if !used[u] {
				smaller++
			}
		}
		used[v] = true
		idx += smaller * fact[i]
	}
	return idx
}

// shuffleCounts shuffles [0 1 2 3] n times and counts each permutation.
func shuffleCounts(t *testing.T, n int, r interface{ Read([]byte) (int, error) }) []int {
	counts := make([]int, 24)
	for range n {
		xs := []int{0, 1, 2, 3}
		if err := mix.Shuffle(xs, r); err != nil {
			t.Fatal(err)
		}
		counts[permIndex(xs)]++
	}
	return counts
}

// TestShuffleUniform: all 24 orders of four messages come out equally
// often. Chi-square with 23 degrees of freedom; 49.73 is the critical value
// at p = 0.001. Seeded sources keep the test deterministic.
func TestShuffleUniform(t *testing.T) {
	for seed := range uint64(5) {
		var key [32]byte
		key[0] = byte(seed)
		counts := shuffleCounts(t, 48000, rand.NewChaCha8(key))
		for i, c := range counts {
			if c == 0 {
				t.Fatalf("seed %d: permutation %d never appeared", seed, i)
			}
		}
		if x := chiSquare(counts); x > 49.73 {
			t.Fatalf("seed %d: chi-square %.1f over 23 degrees of freedom: not uniform (%v)", seed, x, counts)
		}
	}
	// And with the production source, a looser bound (p < 1e-6: 72.0) so
	// that the test cannot flake.
	if x := chiSquare(shuffleCounts(t, 24000, crand.Reader)); x > 72.0 {
		t.Fatalf("crypto/rand: chi-square %.1f", x)
	}
}

// A biased shuffle (taking v % n without rejection from a single byte) is
// caught by the same statistic: the test can fail.
func TestChiSquareDetectsBias(t *testing.T) {
	var key [32]byte
	src := rand.NewChaCha8(key)
	counts := make([]int, 24)
	for range 48000 {
		xs := []int{0, 1, 2, 3}
		for i := len(xs) - 1; i > 0; i-- {
			var b [1]byte
			src.Read(b[:])
			j := int(b[0]) % (i + 1) * int(b[0]&1) // biased towards 0
			xs[i], xs[j] = xs[j], xs[i]
		}
		counts[permIndex(xs)]++
	}
	if x := chiSquare(counts); x < 49.73 {
		t.Fatalf("a biased shuffle passed: chi-square %.1f", x)
	}
}

func FuzzShuffleIsPermutation(f *testing.F) {
	f.Add([]byte("some random bytes for the shuffle to use"), uint8(7))
	f.Fuzz(func(t *testing.T, seed []byte, n uint8) {
		xs := make([]int, n)
		for i := range xs {
			xs[i] = i
		}
		var key [32]byte
		copy(key[:], seed)
		if err := mix.Shuffle(xs, rand.NewChaCha8(key)); err != nil {
			t.Fatal(err)
		}
		seen := make([]bool, n)
		for _, x := range xs {
			if seen[x] {
				t.Fatalf("%d twice", x)
			}
			seen[x] = true
		}
	})
}
