package deaddrop

// InspectEpochFirst makes Inspect look at a dead drop's epoch before its
// signature, as before, until the test ends, for negative controls.
func InspectEpochFirst(t interface{ Cleanup(func()) }) {
	testHookEpochFirst = true
	t.Cleanup(func() { testHookEpochFirst = false })
}
