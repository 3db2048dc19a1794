package journalist

import "time"

// SetClock replaces a vault's clock.
func (v *Vault) SetClock(now func() time.Time) { v.mu.Lock(); v.now = now; v.mu.Unlock() }

// SetOnLoginToken sets a hook called with every login token issued
// (nil removes it).
func SetOnLoginToken(f func(string)) { onLoginToken = f }

// SetBackupPadding changes the backup padding step; the returned func
// restores it.
func SetBackupPadding(n int) func() {
	old := backupPadding
	backupPadding = n
	return func() { backupPadding = old }
}

// SetCheckPublishedOnlyWhenWaiting turns on the leak TestPublishedCheck's
// negative control catches; the returned func turns it off.
func SetCheckPublishedOnlyWhenWaiting() func() {
	testOnlyWhenWaiting = true
	return func() { testOnlyWhenWaiting = false }
}

// SetEpochFirst brings back (on) the old Sync that stopped at a dead
// drop's epoch before checking its signature: the negative control of
// the hostile dead-drop tests. It returns a function restoring the
// setting.
func SetEpochFirst(on bool) (restore func()) {
	old := testHookEpochFirst
	testHookEpochFirst = on
	return func() { testHookEpochFirst = old }
}

// SetKeepCopies turns off (on) the record of messages seen, so that every
// copy of a message is kept: the negative control of the replay tests. It
// returns a function restoring the setting.
func SetKeepCopies(on bool) (restore func()) {
	old := testHookKeepCopies
	testHookKeepCopies = on
	return func() { testHookKeepCopies = old }
}

// SetUnpaddedVault seals vaults without padding (on): the negative control
// of the seized-laptop test. It returns a function restoring the setting.
func SetUnpaddedVault(on bool) (restore func()) {
	old := testHookUnpaddedVault
	testHookUnpaddedVault = on
	return func() { testHookUnpaddedVault = old }
}
