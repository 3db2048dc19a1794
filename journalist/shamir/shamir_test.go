package shamir

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestField checks GF(2^8) multiplication against the worked examples of
// FIPS-197 §4.2 ({57}•{83} = {c1}, {57}•{13} = {fe}, and the xtime chain
// {57}•{02} = {ae}, •{04} = {47}, •{08} = {8e}, •{10} = {07}) and the
// inverse against its definition for every element.
func TestField(t *testing.T) {
	for _, c := range []struct{ a, b, want byte }{
		{0x57, 0x83, 0xc1}, {0x57, 0x13, 0xfe}, {0x57, 0x02, 0xae},
		{0x57, 0x04, 0x47}, {0x57, 0x08, 0x8e}, {0x57, 0x10, 0x07},
		{0x53, 0xca, 0x01}, // FIPS-197 §5.1.1: {53} and {ca} are inverses
	} {
		if got := mul(c.a, c.b); got != c.want {
			t.Fatalf("{%02x}•{%02x} = {%02x}, want {%02x}", c.a, c.b, got, c.want)
		}
	}
	for a := 1; a < 256; a++ {
		if mul(byte(a), inv(byte(a))) != 1 {
			t.Fatalf("inv(%02x) = %02x is not its inverse", a, inv(byte(a)))
		}
	}
}

// TestVector: a secret split by hand. With threshold 2, secret byte s and
// the polynomial s + a·x, the share at x is s ^ a•x; interpolating the
// shares at x = 1 and x = 2 of f(x) = {57} + {83}x ({83}•{02} = {1d}):
// f(1) = {d4}, f(2) = {4a}.
func TestVector(t *testing.T) {
	got, err := Combine([]Share{{X: 1, Y: []byte{0xd4}}, {X: 2, Y: []byte{0x4a}}})
	if err != nil || !bytes.Equal(got, []byte{0x57}) {
		t.Fatalf("combine = %x, %v; want 57", got, err)
	}
}

// TestSplitCombine: every subset of at least the threshold rebuilds the
// secret; every smaller subset gives something else (with overwhelming
// probability for a 32-byte secret).
func TestSplitCombine(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	for _, c := range []struct{ n, k int }{{1, 1}, {3, 2}, {5, 3}, {5, 5}, {7, 1}} {
		shares, err := Split(secret, c.n, c.k)
		if err != nil {
			t.Fatal(err)
		}
		for mask := 1; mask < 1<<c.n; mask++ {
			var sub []Share
			for i := range c.n {
				if mask&(1<<i) != 0 {
					sub = append(sub, shares[i])
				}
			}
			got, err := Combine(sub)
			if err != nil {
				t.Fatal(err)
			}
			if (len(sub) >= c.k) != bytes.Equal(got, secret) {
				t.Fatalf("%d of %d (threshold %d): rebuilt %v", len(sub), c.n, c.k, bytes.Equal(got, secret))
			}
		}
	}
	for _, bad := range []struct{ n, k int }{{3, 0}, {3, 4}, {256, 2}} {
		if _, err := Split(secret, bad.n, bad.k); err == nil {
			t.Fatalf("split %d of %d accepted", bad.k, bad.n)
		}
	}
}

// TestBelowThresholdUniform: with threshold 2, one share's byte is
// uniform whatever the secret: over many splits of the secret {00} and
// of {ff}, every value turns up about as often (a check that the
// polynomial's coefficients are random, not that Shamir is secure).
func TestBelowThresholdUniform(t *testing.T) {
	const splits = 256 * 64
	for _, s := range []byte{0x00, 0xff} {
		var counts [256]int
		for range splits {
			sh, _ := Split([]byte{s}, 2, 2)
			counts[sh[0].Y[0]]++
		}
		for v, c := range counts {
			if c < 16 || c > 160 { // mean 64: far outside any plausible spread
				t.Fatalf("secret %02x: share value %02x came %d times in %d", s, v, c, splits)
			}
		}
	}
}

func FuzzCombine(f *testing.F) {
	f.Add([]byte{1, 0xd4, 2, 0x4a}, byte(2))
	f.Add([]byte{1, 2, 3, 1, 5, 6}, byte(3))
	f.Fuzz(func(t *testing.T, b []byte, width byte) {
		w := int(width%8) + 1
		var shares []Share
		for len(b) >= w+1 {
			shares = append(shares, Share{X: b[0], Y: b[1 : w+1]})
			b = b[w+1:]
		}
		got, err := Combine(shares)
		if err == nil && len(got) != w {
			t.Fatalf("combined %d bytes from shares of %d", len(got), w)
		}
		// Whatever came in, splitting the result again and combining
		// any threshold of the shares gives it back.
		if err == nil && len(shares) <= MaxShares {
			again, err := Split(got, len(shares), len(shares))
			if err != nil {
				t.Fatal(err)
			}
			back, err := Combine(again)
			if err != nil || !bytes.Equal(back, got) {
				t.Fatalf("round trip: %x != %x", back, got)
			}
		}
	})
}
