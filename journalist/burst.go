package journalist

import (
	"context"
	"errors"
	"fmt"
)

// MaxBurst bounds one burst of cover messages.
const MaxBurst = 200

// Burst sends n messages back to back, each a queued reply while any wait
// and cover otherwise, as SendOne does, and reports how many were real.
// Sent together, they fill the CoverNode's journalist-to-user mix (whose
// threshold is upstream's 50 messages in production) so that a queued
// reply leaves in the next round instead of waiting for the mix's
// timeout.
//
// What it reveals: the API and anyone watching the network see this
// journalist send n messages at once instead of one per send interval,
// at the moment the journalist asked for it. What it does not: whether any
// of them is real, how many, or for which source; every message of the
// burst is the same size and goes the same way as cover.
//
// Sends take turns (sendMu), and the vault's state is held only between
// requests, never while one is in flight: the web UI stays usable while a
// burst runs, and a cancelled ctx stops the burst at once, abandoning the
// request in flight (a reply in it stays queued and leaves again; should
// the API have taken it, the CoverNode's replay guard takes the second
// copy as cover). progress, when not nil, is called with the number sent
// after each message.
func (v *Vault) Burst(ctx context.Context, n int, progress func(sent int)) (int, error) {
	if n < 1 || n > MaxBurst {
		return 0, fmt.Errorf("a burst is 1 to %d messages", MaxBurst)
	}
	real := 0
	for i := range n {
		if err := v.burstOne(ctx, i, n, &real); err != nil {
			return real, err
		}
		if progress != nil {
			progress(i + 1)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.logLocked("burst", fmt.Sprintf("sent a burst of %s", count(n, "message", "messages")))
	return real, v.save()
}

// burstOne sends message i of a burst of n.
func (v *Vault) burstOne(ctx context.Context, i, n int, real *int) error {
	v.sendMu.Lock()
	defer v.sendMu.Unlock()
	r, err := false, ctx.Err()
	if err == nil {
		r, err = v.sendOne(ctx)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.logLocked("error", fmt.Sprintf("cover burst stopped after %d of %d messages: %v", i, n, err))
		return errors.Join(err, v.save())
	}
	if r {
		*real++
		// Saved at once, so that a reply that left is never sent again
		// after a crash.
		return v.save()
	}
	return nil
}
