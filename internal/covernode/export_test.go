package covernode

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
