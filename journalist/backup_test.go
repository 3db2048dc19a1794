package journalist_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
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

// backedUp is carol's vault with a message, backed up in three shares
// (two restore it) for her colleagues dave, erin and frank, whose vaults
// are open.
type backedUp struct {
	*messaged
	colleagues map[string]*journalist.Vault
	res        journalist.BackupResult
	backup     []byte
	shares     [][]byte // as written, for dave, erin and frank
	admin      []journalist.BackupOpener
}

func newBackedUp(t *testing.T) *backedUp {
	m := newMessaged(t)
	b := &backedUp{messaged: m, colleagues: map[string]*journalist.Vault{}}
	for _, id := range []string{"dave", "erin", "frank"} {
		b.colleagues[id] = m.d.colleague(t, id)
	}
	if _, err := m.v.Sync(context.Background()); err != nil { // learns the colleagues' keys
		t.Fatal(err)
	}
	var err error
	if b.res, err = journalist.CreateBackup(m.v, filepath.Join(t.TempDir(), "bk"), 3, 2, []string{"dave", "erin", "frank"}); err != nil {
		t.Fatal(err)
	}
	b.backup = readAll(t, b.res.Backup)[0]
	b.shares = readAll(t, b.res.Shares...)
	if b.admin, err = journalist.BackupAdminKeys(m.d.backupKeys); err != nil {
		t.Fatal(err)
	}
	return b
}

// release has the colleague keep their share and release it.
func (b *backedUp) release(t *testing.T, id string, share []byte) []byte {
	t.Helper()
	v := b.colleagues[id]
	k, err := v.KeepShare(share)
	if err != nil {
		t.Fatalf("%s keeping their share: %v", id, err)
	}
	out, err := v.ReleaseShare(k.Backup, k.X)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackup: any K of N shares, each kept and released by its colleague,
// restore the vault with the backup admin's key; it opens with its
// passphrase and holds the conversations. Fewer are refused in plain
// words and write nothing; shares of another backup, or one share twice,
// are refused.
func TestBackup(t *testing.T) {
	b := newBackedUp(t)
	if filepath.Base(b.res.Backup) != "backup.chaff" || len(b.res.Shares) != 3 || filepath.Base(b.res.Shares[2]) != "share-3-of-3.json" {
		t.Fatalf("wrote %+v", b.res)
	}
	released := [][]byte{b.release(t, "dave", b.shares[0]), b.release(t, "erin", b.shares[1]), b.release(t, "frank", b.shares[2])}
	restored := filepath.Join(t.TempDir(), "restored.vault")
	err := journalist.RestoreBackup(b.backup, released[1:2], b.admin, restored)
	if !errors.Is(err, journalist.ErrTooFewShares) || !strings.Contains(err.Error(), "needs 2 shares and 1 was given") {
		t.Fatalf("one share of two: %v", err)
	}
	if _, err := os.Stat(restored); err == nil {
		t.Fatal("a vault was written from too few shares")
	}
	if err := journalist.RestoreBackup(b.backup, [][]byte{released[0], released[0]}, b.admin, restored); err == nil || !strings.Contains(err.Error(), "again") {
		t.Fatalf("one share twice: %v", err)
	}
	other, err := journalist.CreateBackup(b.v, filepath.Join(t.TempDir(), "bk2"), 3, 2, []string{"dave", "erin", "frank"})
	if err != nil {
		t.Fatal(err)
	}
	otherShare := b.release(t, "erin", readAll(t, other.Shares[1])[0])
	if err := journalist.RestoreBackup(b.backup, [][]byte{released[0], otherShare}, b.admin, restored); err == nil || !strings.Contains(err.Error(), "another backup") {
		t.Fatalf("a share of another backup: %v", err)
	}
	// A backup changed anywhere is refused, nothing written: a byte of
	// the sealed vault (its authenticator fails under the rebuilt key), or
	// the backup id (the shares name another backup).
	for _, at := range []int{len(b.backup) / 2, len(b.backup) - 1, len("CHAFF-BACKUP-1\n")} {
		tampered := bytes.Clone(b.backup)
		tampered[at] ^= 1
		if err := journalist.RestoreBackup(tampered, released[:2], b.admin, restored); err == nil {
			t.Fatalf("a backup changed at byte %d of %d was restored", at, len(b.backup))
		}
		if _, err := os.Stat(restored); err == nil {
			t.Fatal("a vault was written from a changed backup")
		}
	}
	// erin keeps shares of two backups: the newest is released by default.
	if k, err := b.colleagues["erin"].FindKept("carol", ""); err != nil || k.Backup != hexID(t, readAll(t, other.Backup)[0]) {
		t.Fatalf("erin's newest kept share: %+v %v", k, err)
	}
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {2, 1}} {
		p := filepath.Join(t.TempDir(), "restored.vault")
		if err := journalist.RestoreBackup(b.backup, [][]byte{released[pair[0]], released[pair[1]]}, b.admin, p); err != nil {
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
	if ev := b.v.Events(); len(ev) == 0 || ev[0].Event != "backup" {
		t.Fatalf("the vault's log: %+v", ev)
	}
}

func hexID(t *testing.T, backup []byte) string {
	t.Helper()
	const magic = len("CHAFF-BACKUP-1\n")
	return hex.EncodeToString(backup[magic : magic+16])
}

// TestBackupSharesNeedColleagueAndAdmin: a share is sealed to its
// colleague and to the backup admin, as upstream seals its shares, and
// neither opens it alone: the colleague's vault yields only what the
// admin's key opens, the admin's key does not open a share as written,
// and shares the colleagues kept and released do not restore without the
// admin's key (nor with another key). Other colleagues cannot keep a
// share that is not theirs.
func TestBackupSharesNeedColleagueAndAdmin(t *testing.T) {
	b := newBackedUp(t)
	restored := filepath.Join(t.TempDir(), "restored.vault")
	for i, s := range b.shares {
		var sf journalist.ShareFile
		if err := json.Unmarshal(s, &sf); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(s), `"y"`) || sf.Layer != journalist.LayerColleague || sf.For != []string{"dave", "erin", "frank"}[i] || sf.Owner != "carol" || !sf.KeepBefore.After(time.Now()) {
			t.Fatalf("share %d as written: %s", i+1, s)
		}
	}
	// As written, the shares are refused by a restore, even with the
	// admin's key; relabelled as released, the admin's key does not open
	// the colleague's box.
	if err := journalist.RestoreBackup(b.backup, b.shares[:2], b.admin, restored); err == nil || !strings.Contains(err.Error(), "still sealed to dave") {
		t.Fatalf("restoring from shares as written: %v", err)
	}
	relabel := func(s []byte) []byte {
		var sf journalist.ShareFile
		json.Unmarshal(s, &sf)
		sf.Layer = journalist.LayerAdmin
		out, _ := json.Marshal(sf)
		return out
	}
	if err := journalist.RestoreBackup(b.backup, [][]byte{relabel(b.shares[0]), relabel(b.shares[1])}, b.admin, restored); err == nil || !strings.Contains(err.Error(), "none of the backup admin keys") {
		t.Fatalf("the admin alone: %v", err)
	}
	// Only the colleague a share is for keeps it.
	if _, err := b.colleagues["erin"].KeepShare(b.shares[0]); err == nil || !strings.Contains(err.Error(), "is for dave") {
		t.Fatalf("erin keeping dave's share: %v", err)
	}
	var sf journalist.ShareFile
	json.Unmarshal(b.shares[0], &sf)
	sf.For = "erin"
	forged, _ := json.Marshal(sf)
	if _, err := b.colleagues["erin"].KeepShare(forged); err == nil || !strings.Contains(err.Error(), "no messaging key") {
		t.Fatalf("erin keeping dave's share relabelled for her: %v", err)
	}
	// The colleagues alone: released shares without the admin's key, or
	// with another one, restore nothing.
	released := [][]byte{b.release(t, "dave", b.shares[0]), b.release(t, "erin", b.shares[1])}
	if _, err := b.colleagues["dave"].KeepShare(b.shares[0]); err == nil || !strings.Contains(err.Error(), "kept already") {
		t.Fatalf("keeping a share twice: %v", err)
	}
	if err := journalist.RestoreBackup(b.backup, released, nil, restored); err == nil || !strings.Contains(err.Error(), "backup admin's key") {
		t.Fatalf("restoring without the admin's key: %v", err)
	}
	stranger, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	strangerOpens := func(s []byte) ([]byte, error) { return crypto.OpenAnonymous(stranger, s) }
	if err := journalist.RestoreBackup(b.backup, released, []journalist.BackupOpener{strangerOpens}, restored); err == nil || !strings.Contains(err.Error(), "none of the backup admin keys") {
		t.Fatalf("restoring with another key: %v", err)
	}
	if _, err := os.Stat(restored); err == nil {
		t.Fatal("a vault was written without the admin")
	}
	// The positive control: the same released shares with the admin's
	// key restore.
	if err := journalist.RestoreBackup(b.backup, released, b.admin, restored); err != nil {
		t.Fatal(err)
	}
}

// TestBackupShareOutlivesRotation: a colleague keeps a share after forcing
// a new messaging key (old keys stay until they expire), and a kept share
// is released long after every key it was sealed to has expired. The
// negative control: a share not kept before its key expired cannot be
// kept any more, and the error says so.
func TestBackupShareOutlivesRotation(t *testing.T) {
	b := newBackedUp(t)
	ctx := context.Background()
	dave, erin := b.colleagues["dave"], b.colleagues["erin"]
	if err := dave.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	k, err := dave.KeepShare(b.shares[0])
	if err != nil {
		t.Fatalf("keeping a share after a rotation: %v", err)
	}
	later := time.Now().Add(keys.JournalistMessaging.ValidFor() + 30*24*time.Hour)
	dave.SetClock(func() time.Time { return later })
	erin.SetClock(func() time.Time { return later })
	if _, err := erin.KeepShare(b.shares[1]); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("keeping a share after its key expired: %v", err)
	}
	r1, err := dave.ReleaseShare(k.Backup, k.X)
	if err != nil {
		t.Fatal(err)
	}
	erin.SetClock(time.Now)
	r2 := b.release(t, "erin", b.shares[1])
	if err := journalist.RestoreBackup(b.backup, [][]byte{r1, r2}, b.admin, filepath.Join(t.TempDir(), "restored.vault")); err != nil {
		t.Fatal(err)
	}
}

// TestBackupRefusals: a backup names one colleague per share, never its
// own journalist nor one colleague twice, nor one without a published
// key; without a published backup key it is refused in plain words.
func TestBackupRefusals(t *testing.T) {
	b := newBackedUp(t)
	for _, c := range []struct {
		contacts []string
		n        int
		want     string
	}{
		{nil, 2, "one colleague per share"},
		{[]string{"dave"}, 2, "one colleague per share"},
		{[]string{"carol", "dave"}, 2, "yourself"},
		{[]string{"dave", "dave"}, 2, "named twice"},
		{[]string{"dave", "nobody"}, 2, "no published messaging key"},
	} {
		if _, err := journalist.CreateBackup(b.v, t.TempDir(), c.n, 2, c.contacts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%v: %v", c.contacts, err)
		}
	}
	d := deployWith(t, false)
	path := d.publishedVault(t, "carol", "pw")
	v, err := journalist.Open(path, "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := journalist.CreateBackup(v, t.TempDir(), 1, 1, []string{"bob"}); !errors.Is(err, journalist.ErrNoBackupKey) {
		t.Fatalf("without a backup key: %v", err)
	}
}

// TestBackupPadded: a backup's size says nothing about the number of
// messages: vaults of different sizes give backups of one size. The
// negative control pads to one byte, and the sizes differ.
func TestBackupPadded(t *testing.T) {
	m := newMessaged(t)
	size := func() int64 {
		res, err := journalist.CreateBackup(m.v, filepath.Join(t.TempDir(), "bk"), 1, 1, []string{"bob"})
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
