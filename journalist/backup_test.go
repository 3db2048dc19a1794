package journalist_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/journalist"
)

func readAll(t *testing.T, paths ...string) [][]byte {
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestBackup: any K of N shares restore the vault, which opens with its
// passphrase and holds the conversations; fewer are refused in plain
// words and write nothing; shares of another backup, or one share twice,
// are refused.
func TestBackup(t *testing.T) {
	m := newMessaged(t)
	dir := filepath.Join(t.TempDir(), "bk")
	res, err := journalist.CreateBackup(m.v, dir, 3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(res.Backup) != "backup.chaff" || len(res.Shares) != 3 || filepath.Base(res.Shares[2]) != "share-3-of-3.json" {
		t.Fatalf("wrote %+v", res)
	}
	backup := readAll(t, res.Backup)[0]
	shares := readAll(t, res.Shares...)
	restored := filepath.Join(t.TempDir(), "restored.vault")
	err = journalist.RestoreBackup(backup, shares[1:2], restored)
	if !errors.Is(err, journalist.ErrTooFewShares) || !strings.Contains(err.Error(), "needs 2 shares and 1 was given") {
		t.Fatalf("one share of two: %v", err)
	}
	if _, err := os.Stat(restored); err == nil {
		t.Fatal("a vault was written from too few shares")
	}
	if err := journalist.RestoreBackup(backup, [][]byte{shares[0], shares[0]}, restored); err == nil || !strings.Contains(err.Error(), "again") {
		t.Fatalf("one share twice: %v", err)
	}
	other, err := journalist.CreateBackup(m.v, filepath.Join(t.TempDir(), "bk2"), 3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := journalist.RestoreBackup(backup, [][]byte{shares[0], readAll(t, other.Shares[1])[0]}, restored); err == nil || !strings.Contains(err.Error(), "another backup") {
		t.Fatalf("a share of another backup: %v", err)
	}
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {2, 1}} {
		p := filepath.Join(t.TempDir(), "restored.vault")
		if err := journalist.RestoreBackup(backup, [][]byte{shares[pair[0]], shares[pair[1]]}, p); err != nil {
			t.Fatalf("shares %v: %v", pair, err)
		}
		v, err := journalist.Open(p, "pw")
		if err != nil {
			t.Fatal(err)
		}
		if cs := v.Conversations(); len(cs) != 1 || cs[0].Messages[0].Text != messageText {
			t.Fatalf("restored conversations %+v", cs)
		}
		v.Close()
	}
	if ev := m.v.Events(); len(ev) == 0 || ev[0].Event != "backup" {
		t.Fatalf("the vault's log: %+v", ev)
	}
}

// TestBackupSealedShares: with contacts, each share is sealed to the
// colleague's published messaging key, as upstream seals its shares; a
// sealed share is useless to a restore until its holder opens it.
func TestBackupSealedShares(t *testing.T) {
	m := newMessaged(t)
	if _, err := journalist.CreateBackup(m.v, t.TempDir(), 2, 2, []string{"bob"}); err == nil {
		t.Fatal("one contact for two shares was taken")
	}
	if _, err := journalist.CreateBackup(m.v, t.TempDir(), 1, 1, []string{"carol"}); err == nil {
		t.Fatal("a share for oneself was taken")
	}
	res, err := journalist.CreateBackup(m.v, filepath.Join(t.TempDir(), "bk"), 1, 1, []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	sealed := readAll(t, res.Shares[0])[0]
	if strings.Contains(string(sealed), `"y"`) {
		t.Fatalf("a sealed share holds its value in the clear: %s", sealed)
	}
	backup := readAll(t, res.Backup)[0]
	restored := filepath.Join(t.TempDir(), "restored.vault")
	if err := journalist.RestoreBackup(backup, [][]byte{sealed}, restored); err == nil || !strings.Contains(err.Error(), "sealed to bob") {
		t.Fatalf("restoring from a sealed share: %v", err)
	}
	// carol's own vault cannot open it; bob's messaging key can.
	if _, err := m.v.OpenShare(sealed); err == nil {
		t.Fatal("carol opened bob's share")
	}
	var sf journalist.ShareFile
	json.Unmarshal(sealed, &sf)
	sk, err := m.d.n.Journalists["bob"].Msg[0].PrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := crypto.OpenAnonymous(sk, sf.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := journalist.RestoreBackup(backup, [][]byte{plain}, restored); err != nil {
		t.Fatal(err)
	}
}

// TestBackupPadded: a backup's size says nothing about the number of
// messages: vaults of different sizes give backups of one size. The
// negative control pads to one byte, and the sizes differ.
func TestBackupPadded(t *testing.T) {
	m := newMessaged(t)
	size := func() int64 {
		res, err := journalist.CreateBackup(m.v, filepath.Join(t.TempDir(), "bk"), 2, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(res.Backup)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	conv := m.v.Conversations()[0].ID
	grow := func(n int) {
		// Notes stand in for messages: both are text in the vault.
		if err := m.v.SetNotes(conv, strings.Repeat("n", n)); err != nil {
			t.Fatal(err)
		}
	}
	small := size()
	grow(journalist.MaxNotesRunes)
	if big := size(); big != small {
		t.Fatalf("backups of %d and %d bytes", small, big)
	}
	defer journalist.SetBackupPadding(1)()
	grow(0)
	small = size()
	grow(journalist.MaxNotesRunes)
	if big := size(); big == small {
		t.Fatal("negative control: unpadded backups of different vaults have one size")
	}
}
