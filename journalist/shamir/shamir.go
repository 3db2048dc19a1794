// Package shamir splits a secret into shares so that any threshold of
// them rebuilds it and fewer reveal nothing about it (Shamir, "How to
// share a secret", CACM 1979): each byte of the secret is the constant
// term of a random polynomial of degree threshold−1 over GF(2^8) (the AES
// field, polynomial x^8+x^4+x^3+x+1), and share i holds the polynomials'
// values at x = i.
//
// Arithmetic on secret bytes runs in constant time (no tables indexed by
// secret data, no branches on it). Randomness comes from crypto/rand.
package shamir

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// MaxShares is the most shares a secret can be split into: x runs over
// the non-zero elements of GF(2^8).
const MaxShares = 255

// Share is one share: X is its non-zero x-coordinate, Y the polynomials'
// values there, one byte per byte of the secret.
type Share struct {
	X byte
	Y []byte
}

// mul multiplies in GF(2^8) modulo x^8+x^4+x^3+x+1, in constant time.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= -(b & 1) & a
		hi := -(a >> 7)
		a = a<<1 ^ hi&0x1b
		b >>= 1
	}
	return p
}

// inv is a's multiplicative inverse, a^254 (inv(0) = 0), in constant time.
func inv(a byte) byte {
	r, p := byte(1), a
	for e := 254; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mul(r, p)
		}
		p = mul(p, p)
	}
	return r
}

// Split splits secret into n shares, any threshold of which rebuild it.
func Split(secret []byte, n, threshold int) ([]Share, error) {
	switch {
	case len(secret) == 0:
		return nil, errors.New("shamir: empty secret")
	case threshold < 1 || threshold > n:
		return nil, fmt.Errorf("shamir: a threshold of %d out of %d shares: it must be between 1 and the number of shares", threshold, n)
	case n > MaxShares:
		return nil, fmt.Errorf("shamir: %d shares: at most %d", n, MaxShares)
	}
	shares := make([]Share, n)
	for i := range shares {
		shares[i] = Share{X: byte(i + 1), Y: make([]byte, len(secret))}
	}
	coef := make([]byte, threshold)
	defer clear(coef)
	for j, s := range secret {
		coef[0] = s
		if _, err := rand.Read(coef[1:]); err != nil {
			return nil, err
		}
		for i := range shares {
			// Horner's rule at x.
			x, y := shares[i].X, byte(0)
			for d := threshold - 1; d >= 0; d-- {
				y = mul(y, x) ^ coef[d]
			}
			shares[i].Y[j] = y
		}
	}
	return shares, nil
}

// Combine rebuilds the secret from shares by Lagrange interpolation at 0.
// Given fewer shares than the threshold, or shares of different secrets,
// it returns a wrong secret without knowing it: callers check the result
// (a backup's key opens the backup, or does not).
func Combine(shares []Share) ([]byte, error) {
	if len(shares) == 0 {
		return nil, errors.New("shamir: no shares")
	}
	size := len(shares[0].Y)
	seen := map[byte]bool{}
	for _, s := range shares {
		switch {
		case s.X == 0:
			return nil, errors.New("shamir: a share at x = 0")
		case seen[s.X]:
			return nil, fmt.Errorf("shamir: two shares at x = %d", s.X)
		case len(s.Y) != size || size == 0:
			return nil, errors.New("shamir: shares of different lengths")
		}
		seen[s.X] = true
	}
	out := make([]byte, size)
	for i, si := range shares {
		// The Lagrange basis polynomial of si at 0: the product over the
		// other shares of x_j / (x_j − x_i) (subtraction is XOR).
		num, den := byte(1), byte(1)
		for j, sj := range shares {
			if i != j {
				num = mul(num, sj.X)
				den = mul(den, sj.X^si.X)
			}
		}
		l := mul(num, inv(den))
		for k := range out {
			out[k] ^= mul(l, si.Y[k])
		}
	}
	return out, nil
}
