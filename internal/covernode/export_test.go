package covernode

// DisableReplayGuard turns the replay guard off until the test ends, for
// negative controls: a replay must then show.
func DisableReplayGuard(t interface{ Cleanup(func()) }) {
	guardDisabled = true
	t.Cleanup(func() { guardDisabled = false })
}
