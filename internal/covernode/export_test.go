package covernode

import "time"

// DisableReplayGuard turns the replay guard off until the test ends, for
// negative controls: a replay must then show.
func DisableReplayGuard(t interface{ Cleanup(func()) }) {
	guardDisabled = true
	t.Cleanup(func() { guardDisabled = false })
}

// DisableTagCheck lets readers' messages whose tag names no journalist
// queue as real until the test ends, for negative controls.
func DisableTagCheck(t interface{ Cleanup(func()) }) {
	tagCheckDisabled = true
	t.Cleanup(func() { tagCheckDisabled = false })
}

// SetPassOn shortens the schedule by which inputs no key of a node opens
// are handed on to other nodes (first delay, longest delay, deliveries
// before giving up) until the test ends.
func SetPassOn(t interface{ Cleanup(func()) }, first, most time.Duration, deliveries uint64) {
	old := passOn
	passOn = passOnSchedule{first: first, most: most, deliveries: deliveries}
	t.Cleanup(func() { passOn = old })
}

// DisablePassOn makes nodes take every input they cannot open as cover at
// once, as they did before, until the test ends, for negative controls.
func DisablePassOn(t interface{ Cleanup(func()) }) {
	passOnDisabled = true
	t.Cleanup(func() { passOnDisabled = false })
}

// CrashAfterLogging makes every direction stop right after it logged a
// batch, before acknowledging it, as a crash would, until the test ends
// or the returned function is called; Run then returns ErrCrashed.
func CrashAfterLogging(t interface{ Cleanup(func()) }) (off func()) {
	crashAfterLogging.Store(true)
	off = func() { crashAfterLogging.Store(false) }
	t.Cleanup(off)
	return off
}

// ErrCrashed is what Run returns after CrashAfterLogging stopped it.
var ErrCrashed = errCrashed

// KeepBundle leaves setup bundles behind until the test ends, for
// negative controls.
func KeepBundle(t interface{ Cleanup(func()) }) {
	testHookKeepBundle = true
	t.Cleanup(func() { testHookKeepBundle = false })
}
