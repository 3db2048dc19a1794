package journalist_test

import (
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/journalist"
)

// FuzzParseShare: a share file from anywhere is refused or parsed, never
// a panic; what parses says a threshold it can hold to.
func FuzzParseShare(f *testing.F) {
	f.Add([]byte(`{"chaff_backup_share":"1","backup":"00112233445566778899aabbccddeeff","threshold":2,"shares":3,"x":1,"y":"` + "0011223344556677889900112233445566778899001122334455667788990011" + `"}`))
	f.Add([]byte(`{"chaff_backup_share":"1","backup":"00112233445566778899aabbccddeeff","threshold":1,"shares":1,"for":"bob","sealed":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := journalist.ParseShare(b)
		if err == nil && (s.Threshold < 1 || s.Threshold > s.Shares) {
			t.Fatalf("parsed a share needing %d of %d", s.Threshold, s.Shares)
		}
	})
}

// FuzzRestoreBackup: a backup file from anywhere, with a share from
// anywhere, is refused or restored, never a panic.
func FuzzRestoreBackup(f *testing.F) {
	f.Add([]byte("CHAFF-BACKUP-1\n0123456789abcdef"+string(make([]byte, 64))), []byte(`{"chaff_backup_share":"1","backup":"30313233343536373839616263646566","threshold":1,"shares":1,"x":1,"y":"0011223344556677889900112233445566778899001122334455667788990011"}`))
	f.Fuzz(func(t *testing.T, backup, share []byte) {
		journalist.RestoreBackup(backup, [][]byte{share}, filepath.Join(t.TempDir(), "v"))
	})
}
