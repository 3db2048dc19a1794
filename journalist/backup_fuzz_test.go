package journalist_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/journalist"
)

// FuzzParseShare: a share file from anywhere is refused or parsed, never
// a panic; what parses says a threshold it can hold to.
func FuzzParseShare(f *testing.F) {
	f.Add([]byte(`{"chaff_backup_share":"2","backup":"00112233445566778899aabbccddeeff","owner":"carol","for":"bob","threshold":2,"shares":3,"x":1,"layer":"admin","sealed":"AAAA"}`))
	f.Add([]byte(`{"chaff_backup_share":"2","backup":"00112233445566778899aabbccddeeff","owner":"carol","for":"bob","threshold":1,"shares":1,"x":1,"layer":"colleague","keep_before":"2026-01-01T00:00:00Z","sealed":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := journalist.ParseShare(b)
		if err == nil && (s.Threshold < 1 || s.Threshold > s.Shares) {
			t.Fatalf("parsed a share needing %d of %d", s.Threshold, s.Shares)
		}
	})
}

// FuzzRestoreBackup: a backup file from anywhere, with a released share
// from anywhere (its sealed value from anywhere too, sealed to the
// admin's key so that the fuzzer reaches past the box), is refused or
// restored, never a panic.
func FuzzRestoreBackup(f *testing.F) {
	admin, err := crypto.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("CHAFF-BACKUP-1\n0123456789abcdef"+string(make([]byte, 64))), []byte(`{"chaff_backup_share":"2","backup":"30313233343536373839616263646566","owner":"carol","for":"bob","threshold":1,"shares":1,"x":1,"layer":"admin","sealed":"AAAA"}`),
		[]byte(`{"backup":"30313233343536373839616263646566","threshold":1,"shares":1,"x":1,"y":"0011223344556677889900112233445566778899001122334455667788990011"}`))
	f.Fuzz(func(t *testing.T, backup, share, value []byte) {
		var sf journalist.ShareFile
		if json.Unmarshal(share, &sf) == nil {
			if sealed, err := crypto.SealAnonymous(admin.PublicKey(), value); err == nil {
				sf.Sealed = sealed
				share, _ = json.Marshal(sf)
			}
		}
		open := func(b []byte) ([]byte, error) { return crypto.OpenAnonymous(admin, b) }
		journalist.RestoreBackup(backup, [][]byte{share}, []journalist.BackupOpener{open}, filepath.Join(t.TempDir(), "v"))
	})
}
