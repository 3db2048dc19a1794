package client

import "github.com/chaffhq/chaff/deaddrop"

// SetStretchBetweenWrites brings back (on) the old write order, in which
// storage.bin's bytes (the passphrase stretch of a seal) were computed
// between the writes of the other files and its own: the negative control
// of the seized-device tests. It returns a function restoring the setting.
func SetStretchBetweenWrites(on bool) (restore func()) {
	old := testHookStretchBetweenWrites
	testHookStretchBetweenWrites = on
	return func() { testHookStretchBetweenWrites = old }
}

// SetSendAtOnce makes Send post at once (on), the negative control of the
// wire tests; it returns a function restoring the setting.
func SetSendAtOnce(on bool) (restore func()) {
	old := testHookSendAtOnce
	testHookSendAtOnce = on
	return func() { testHookSendAtOnce = old }
}

// SetWriteRefusedKeys, SetKeepUnchecked and SetKeepReplyCopies turn off,
// until the test ends, the protections the hostile-API tests check: a key
// set that does not verify leaves the install untouched; dead drops that
// do not verify, or are dated beyond the skew, are not kept; a reply
// served again (a dead drop renumbered) is shown once.
func SetWriteRefusedKeys(t interface{ Cleanup(func()) }) {
	testHookWriteRefusedKeys = true
	t.Cleanup(func() { testHookWriteRefusedKeys = false })
}

func SetKeepUnchecked(t interface{ Cleanup(func()) }) {
	testHookKeepUnchecked = true
	t.Cleanup(func() { testHookKeepUnchecked = false })
}

func SetKeepReplyCopies(t interface{ Cleanup(func()) }) {
	testHookKeepReplyCopies = true
	t.Cleanup(func() { testHookKeepReplyCopies = false })
}

// CachedDeadDropIDs lists the ids of the user dead drops an install keeps.
func CachedDeadDropIDs(a *App) []int64 {
	l, err := deaddrop.ParseList(deaddrop.User, a.deadDropsJSON())
	if err != nil {
		return nil
	}
	var ids []int64
	for _, d := range l.DeadDrops {
		ids = append(ids, d.ID)
	}
	return ids
}
