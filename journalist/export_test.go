package journalist

import (
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
)

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

// PQNet is mode_pq_test.go's pq deployment, for the browser tests.
type PQNet struct{ n *pqNet }

// NewPQNet starts a pq deployment (see pqNet).
func NewPQNet(t *testing.T) *PQNet { return &PQNet{newPQNet(t, keys.ModePQ)} }

// VaultPath makes journalist id's vault, syncs it once and closes it.
func (p *PQNet) VaultPath(id string) string {
	v := p.n.vault(id, time.Now)
	v.Close()
	return v.path
}

// Write is a reader's message to journalist id through the CoverNode, in
// a journalist dead drop; it returns the reply key the reader keeps.
func (p *PQNet) Write(id string, reader pq.ReaderID, text string) *pq.ReplyKey {
	c2j, rk := p.n.send(id, reader, text)
	p.n.publish(deaddrop.Journalist, time.Now(), c2j)
	return rk
}

// Replies returns the J2U of every real J2C journalist id sent, as a
// CoverNode opens them.
func (p *PQNet) Replies(id string) [][]byte {
	p.n.mu.Lock()
	sent := append([][]byte(nil), p.n.sent[id]...)
	p.n.mu.Unlock()
	var out [][]byte
	for _, msg := range sent {
		if m, _, err := pq.OpenJ2C(p.n.cn[0], msg, 0); err == nil && m.Real {
			out = append(out, m.J2U)
		}
	}
	return out
}
