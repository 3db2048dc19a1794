// Package mix is the CoverNode's threshold mixing strategy (SPEC §7.3):
// when to release a batch, which real messages go in it, how much cover
// pads it, and the order of its messages. It is pure: no I/O, no clock,
// randomness only from the reader it is given.
package mix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Params are the thresholds of one direction.
type Params struct {
	// A release happens once ThresholdMax inputs were seen, or once
	// ThresholdMin were seen and Timeout has passed since the last release.
	ThresholdMin, ThresholdMax int
	Timeout                    time.Duration
	// OutputSize is the number of messages in every dead drop.
	OutputSize int
	// MaxWaiting is the most real messages held for later releases;
	// beyond it the CoverNode takes further real inputs as cover. A
	// message it holds therefore leaves within MaxWaiting/OutputSize
	// releases, however many others flood it. 0 means
	// DefaultWaitReleases × OutputSize.
	MaxWaiting int
}

// DefaultWaitReleases is how many releases' worth of real messages a
// mixer holds by default (Params.MaxWaiting): with production thresholds,
// releases at least hourly, a message waits at most a day.
const DefaultWaitReleases = 24

// maxWaiting is MaxWaiting with its default.
func (p Params) maxWaiting() int {
	if p.MaxWaiting > 0 {
		return p.MaxWaiting
	}
	return DefaultWaitReleases * p.OutputSize
}

// Upstream's parameter sets (SPEC §7.3).
var (
	ProductionU2J = Params{ThresholdMin: 100_000, ThresholdMax: 500_000, Timeout: time.Hour, OutputSize: 500}
	ProductionJ2U = Params{ThresholdMin: 50, ThresholdMax: 100, Timeout: time.Hour, OutputSize: 20}
	TestU2J       = Params{ThresholdMin: 2, ThresholdMax: 10, Timeout: 15 * time.Minute, OutputSize: 10}
	TestJ2U       = Params{ThresholdMin: 10, ThresholdMax: 40, Timeout: 15 * time.Minute, OutputSize: 5}
)

// Validate checks that the parameters make sense.
func (p Params) Validate() error {
	switch {
	case p.ThresholdMin < 1:
		return errors.New("mix: threshold_min must be at least 1")
	case p.ThresholdMax < p.ThresholdMin:
		return fmt.Errorf("mix: threshold_max (%d) is below threshold_min (%d)", p.ThresholdMax, p.ThresholdMin)
	case p.OutputSize < 1:
		return errors.New("mix: output_size must be at least 1")
	case p.Timeout < 0:
		return errors.New("mix: timeout must not be negative")
	case p.MaxWaiting < 0:
		return errors.New("mix: max_waiting must not be negative")
	}
	return nil
}

// Mixer counts inputs and holds real messages until a release. The
// timeout is only looked at when an input arrives, as upstream's: a steady
// flow of cover is what drives releases.
type Mixer[T any] struct {
	p           Params
	seen        int
	lastRelease time.Time
	buffer      []T
}

// New returns a mixer whose first timeout runs from now.
func New[T any](p Params, now time.Time) *Mixer[T] {
	return &Mixer[T]{p: p, lastRelease: now}
}

// Add records one input that opened, real or cover, and reports whether a
// release is due.
func (m *Mixer[T]) Add(msg T, real bool, now time.Time) bool {
	m.seen++
	if real {
		m.buffer = append(m.buffer, msg)
	}
	return m.Due(now)
}

// Due reports whether a release is due at now.
func (m *Mixer[T]) Due(now time.Time) bool {
	return m.seen >= m.p.ThresholdMax || (m.seen >= m.p.ThresholdMin && now.Sub(m.lastRelease) >= m.p.Timeout)
}

// Release takes the oldest real messages, up to the output size (the rest
// wait for the next release), and returns them with the number of cover
// messages that pad the dead drop to its size. It restarts the count and
// the timeout.
func (m *Mixer[T]) Release(now time.Time) (real []T, padding int) {
	n := min(m.p.OutputSize, len(m.buffer))
	real = append([]T(nil), m.buffer[:n]...)
	m.buffer = append(m.buffer[:0], m.buffer[n:]...)
	m.seen = 0
	m.lastRelease = now
	return real, m.p.OutputSize - n
}

// Room is how many more real messages the mixer may hold
// (Params.MaxWaiting). Add still takes what it is given: the caller
// decides, before it records an input, whether it is taken as real.
func (m *Mixer[T]) Room() int { return max(0, m.p.maxWaiting()-len(m.buffer)) }

// Seen is the number of inputs since the last release.
func (m *Mixer[T]) Seen() int { return m.seen }

// LastRelease is when the last release happened (or the mixer started).
func (m *Mixer[T]) LastRelease() time.Time { return m.lastRelease }

// Buffered returns the real messages waiting, oldest first.
func (m *Mixer[T]) Buffered() []T { return append([]T(nil), m.buffer...) }

// Restore sets the state after a restart: inputs seen since the last
// release, when that was, and the real messages waiting.
func (m *Mixer[T]) Restore(seen int, lastRelease time.Time, buffered []T) {
	m.seen, m.lastRelease, m.buffer = seen, lastRelease, append([]T(nil), buffered...)
}

// Shuffle puts xs in a uniformly random order, with randomness from r
// (crypto/rand.Reader in production).
//
// Upstream does not shuffle: real messages come first, in arrival order,
// then cover. To outsiders the order leaks nothing, since all chunks look
// alike; but whoever can open one chunk learns from its position how many
// real messages preceded it in the batch (a reader finding their reply at
// position k of a user dead drop learns that k other replies went out),
// which is exactly the volume of real traffic that mixing is meant to hide.
// A random order makes the position carry no information.
func Shuffle[T any](xs []T, r io.Reader) error {
	for i := len(xs) - 1; i > 0; i-- {
		j, err := uniform(r, uint64(i+1))
		if err != nil {
			return err
		}
		xs[i], xs[j] = xs[j], xs[i]
	}
	return nil
}

// uniform returns a uniformly random integer in [0, n), by rejection so
// that no value is more likely than another.
func uniform(r io.Reader, n uint64) (uint64, error) {
	limit := ^uint64(0) - (^uint64(0)%n+1)%n // largest multiple of n, minus one
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("mix: reading randomness: %w", err)
		}
		if v := binary.LittleEndian.Uint64(b[:]); v <= limit {
			return v % n, nil
		}
	}
}
