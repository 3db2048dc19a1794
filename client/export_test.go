package client

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
