package canary

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig: no canary.json makes LoadConfig panic, and one it
// accepts names everything a round needs.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{"api":"http://127.0.0.1:1","anchor":"a","journalist_id":"canary","vault":"v","reader_dir":"r","reader_every":"1h0m0s","journalist_every":"1m0s","u2j_timeout":"1h0m0s","j2u_timeout":"1h0m0s"}`))
	f.Add([]byte(`{"reader_every":"-1s"}`))
	f.Add([]byte(`{"reader_every":5}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"api":"x","anchor":"a","journalist_id":"c","vault":"v","reader_dir":"r","reader_every":"2562047h","journalist_every":"2562047h","u2j_timeout":"2562047h","j2u_timeout":"1h"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(dir)
		if err != nil {
			return
		}
		if c.API == "" || c.Vault == "" || c.ReaderDir == "" || c.ReaderEvery <= 0 || c.JournalistEvery <= 0 || c.Deadline() <= 0 {
			t.Fatalf("accepted an incomplete config: %+v", c)
		}
	})
}
