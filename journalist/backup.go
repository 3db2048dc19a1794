package journalist

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/journalist/shamir"
)

// Vault backups, after upstream's (docs/backups.md in CoverDrop): the
// vault file as it is on disk (still sealed under the passphrase) is
// padded to the next multiple of BackupPadding and sealed
// (XChaCha20-Poly1305) under a fresh random backup key; the key is split
// into N shares with Shamir's scheme, any K of which rebuild it. As
// upstream does, a share can be sealed to one recovery contact, a
// colleague, under their newest published messaging key, so that the
// file alone is of no use to whoever holds it; the colleague opens it
// with their own vault (OpenShare) when a restore is needed.
//
// What a backup reveals: its size, a multiple of BackupPadding, says how
// big the vault is only to within a mebibyte (upstream's step), not how
// many messages it holds; the shares name the backup they belong to, the
// threshold and the number of shares. A restore needs the K shares and
// then the vault's passphrase: the backup holds the vault still sealed.

// BackupPadding is the step the sealed vault is padded to (upstream's
// SteppingPaddedByteVector step, 1 MiB).
const BackupPadding = 1 << 20

// backupPadding is BackupPadding; tests change it.
var backupPadding = BackupPadding

// MaxBackupSize bounds what a restore reads.
const MaxBackupSize = 256 << 20

// The files a backup writes into its folder.
const (
	BackupFile  = "backup.chaff"
	shareFormat = "share-%d-of-%d.json"
)

var backupMagic = []byte("CHAFF-BACKUP-1\n")

// backupIDSize is the size of a backup's random id, which ties its shares
// to it.
const backupIDSize = 16

// ShareFile is a recovery share as written to disk: either Y in the
// clear, or Sealed to a colleague's messaging key (For), holding the
// JSON of the same ShareFile with Y in the clear.
type ShareFile struct {
	Format    string `json:"chaff_backup_share"`
	Backup    string `json:"backup"` // the backup's id, hex
	Threshold int    `json:"threshold"`
	Shares    int    `json:"shares"`
	X         int    `json:"x,omitempty"`
	Y         string `json:"y,omitempty"` // hex
	For       string `json:"for,omitempty"`
	Sealed    []byte `json:"sealed,omitempty"`
}

const shareFormatName = "1"

// BackupResult says what CreateBackup wrote.
type BackupResult struct {
	Backup string
	Shares []string
}

// CreateBackup writes a backup of the vault file at vaultPath into dir,
// with n shares of which threshold rebuild it. With contacts (n
// journalist ids, in share order), each share is sealed to that
// journalist's newest messaging key among the published keys kept in
// the open vault v; without, the shares are in the clear and must be
// handed over as such. It refuses to overwrite files.
func CreateBackup(v *Vault, dir string, n, threshold int, contacts []string) (BackupResult, error) {
	if len(contacts) != 0 && len(contacts) != n {
		return BackupResult{}, fmt.Errorf("%d contacts for %d shares: name one contact per share, or none", len(contacts), n)
	}
	if _, err := shamir.Split([]byte{0}, n, threshold); err != nil {
		return BackupResult{}, fmt.Errorf("%d shares with a threshold of %d: %w", n, threshold, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var sealTo []func(share []byte) ([]byte, error)
	if len(contacts) > 0 {
		ver, err := v.cachedVerified()
		if err != nil {
			return BackupResult{}, err
		}
		for _, c := range contacts {
			if c == v.d.JournalistID {
				return BackupResult{}, errors.New("a share for yourself would let you restore alone: name colleagues")
			}
			seal, err := ver.shareSealer(c)
			if err != nil {
				return BackupResult{}, fmt.Errorf("no published messaging key for %q: %w", c, err)
			}
			sealTo = append(sealTo, seal)
		}
	}
	vaultBytes, err := os.ReadFile(v.path)
	if err != nil {
		return BackupResult{}, err
	}
	var key [crypto.SecretBoxKeySize]byte
	defer clear(key[:])
	id := make([]byte, backupIDSize)
	if _, err := rand.Read(key[:]); err != nil {
		return BackupResult{}, err
	}
	if _, err := rand.Read(id); err != nil {
		return BackupResult{}, err
	}
	box, err := crypto.SealSecret(&key, padBackup(vaultBytes))
	if err != nil {
		return BackupResult{}, err
	}
	shares, err := shamir.Split(key[:], n, threshold)
	if err != nil {
		return BackupResult{}, err
	}
	res := BackupResult{Backup: filepath.Join(dir, BackupFile)}
	files := map[string][]byte{res.Backup: append(append(slices.Clone(backupMagic), id...), box...)}
	for i, s := range shares {
		sf := ShareFile{Format: shareFormatName, Backup: hex.EncodeToString(id), Threshold: threshold, Shares: n, X: int(s.X), Y: hex.EncodeToString(s.Y)}
		clear(s.Y)
		if sealTo != nil {
			plain, _ := json.Marshal(sf)
			sealed, err := sealTo[i](plain)
			clear(plain)
			if err != nil {
				return BackupResult{}, err
			}
			sf = ShareFile{Format: shareFormatName, Backup: sf.Backup, Threshold: threshold, Shares: n, For: contacts[i], Sealed: sealed}
		}
		b, _ := json.MarshalIndent(sf, "", "  ")
		p := filepath.Join(dir, fmt.Sprintf(shareFormat, i+1, n))
		files[p] = append(b, '\n')
		res.Shares = append(res.Shares, p)
	}
	for p := range files {
		if _, err := os.Stat(p); err == nil {
			return BackupResult{}, fmt.Errorf("%s exists: refusing to replace it (use an empty folder)", p)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return BackupResult{}, err
	}
	for p, b := range files {
		if err := atomicfile.Write(p, b, 0o600); err != nil {
			return BackupResult{}, err
		}
	}
	v.logLocked("backup", fmt.Sprintf("wrote a backup with %d shares, %d needed to restore", n, threshold))
	return res, v.save()
}

// padBackup lays out the plaintext of a backup: the vault file's length
// (u64), the file, and zeros up to the next multiple of BackupPadding.
func padBackup(b []byte) []byte {
	size := (8 + len(b) + backupPadding - 1) / backupPadding * backupPadding
	out := make([]byte, 8, size)
	binary.BigEndian.PutUint64(out, uint64(len(b)))
	out = append(out, b...)
	return out[:size]
}

func unpadBackup(b []byte) ([]byte, error) {
	if len(b)%backupPadding != 0 {
		return nil, errors.New("the backup's padding is wrong")
	}
	return unpadLength(b)
}

// unpadLength returns what padBackup padded, by its length field (the
// padding step is not checked: it may have changed since).
func unpadLength(b []byte) ([]byte, error) {
	if len(b) < 8 {
		return nil, errors.New("the padding is wrong")
	}
	n := binary.BigEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, errors.New("the length field is wrong")
	}
	return b[8 : 8+n], nil
}

// ErrTooFewShares: a restore was given fewer shares than the backup needs.
var ErrTooFewShares = errors.New("too few shares")

// ParseShare reads a share file.
func ParseShare(b []byte) (*ShareFile, error) {
	var s ShareFile
	if err := json.Unmarshal(b, &s); err != nil || s.Format != shareFormatName {
		return nil, errors.New("not a Chaff backup share")
	}
	if id, err := hex.DecodeString(s.Backup); err != nil || len(id) != backupIDSize {
		return nil, errors.New("the share names no backup")
	}
	if s.Threshold < 1 || s.Threshold > s.Shares || s.Shares > shamir.MaxShares {
		return nil, fmt.Errorf("the share says %d of %d shares are needed, which cannot be", s.Threshold, s.Shares)
	}
	if s.Sealed == nil {
		if y, err := hex.DecodeString(s.Y); err != nil || len(y) != crypto.SecretBoxKeySize || s.X < 1 || s.X > s.Shares {
			return nil, errors.New("the share's value is damaged")
		}
	}
	return &s, nil
}

// OpenShare opens a share sealed to this journalist (with any messaging
// key the vault still holds) and returns the share file in the clear.
func (v *Vault) OpenShare(b []byte) ([]byte, error) {
	s, err := ParseShare(b)
	if err != nil {
		return nil, err
	}
	if s.Sealed == nil {
		return nil, errors.New("this share is not sealed: it can be used as it is")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if plain, err := v.mode.openShare(v, s.Sealed, v.now()); err == nil {
		inner, err := ParseShare(plain)
		if err != nil || inner.Sealed != nil || inner.Backup != s.Backup {
			return nil, errors.New("the sealed share is damaged")
		}
		v.logLocked("backup", "opened a recovery share for a colleague's backup")
		return plain, v.save()
	}
	return nil, fmt.Errorf("this share is sealed to %s, and no messaging key in this vault opens it (it was sealed to a key published before this vault's oldest)", s.For)
}

// RestoreBackup rebuilds a vault from a backup file's bytes and share
// files' bytes (in the clear), writing it to vaultPath (which must not
// exist). The restored vault opens with the passphrase it had.
func RestoreBackup(backup []byte, shares [][]byte, vaultPath string) error {
	if !bytes.HasPrefix(backup, backupMagic) || len(backup) < len(backupMagic)+backupIDSize+crypto.SecretBoxOverhead {
		return errors.New("that is not a Chaff vault backup")
	}
	id := hex.EncodeToString(backup[len(backupMagic) : len(backupMagic)+backupIDSize])
	box := backup[len(backupMagic)+backupIDSize:]
	var parts []shamir.Share
	threshold := 0
	seen := map[int]bool{}
	for i, b := range shares {
		s, err := ParseShare(b)
		if err != nil {
			return fmt.Errorf("share %d: %w", i+1, err)
		}
		switch {
		case s.Sealed != nil:
			return fmt.Errorf("share %d is sealed to %s: they open it first with chaff journalist backup open-share", i+1, s.For)
		case s.Backup != id:
			return fmt.Errorf("share %d belongs to another backup", i+1)
		case seen[s.X]:
			return fmt.Errorf("share %d is share %d again", i+1, s.X)
		}
		seen[s.X] = true
		threshold = s.Threshold
		y, _ := hex.DecodeString(s.Y)
		parts = append(parts, shamir.Share{X: byte(s.X), Y: y})
	}
	if len(parts) == 0 || len(parts) < threshold {
		return fmt.Errorf("%w: this backup needs %d shares and %s given", ErrTooFewShares, max(threshold, 1), count(len(parts), "was", "were"))
	}
	k, err := shamir.Combine(parts)
	if err != nil {
		return err
	}
	var key [crypto.SecretBoxKeySize]byte
	copy(key[:], k)
	clear(k)
	defer clear(key[:])
	plain, err := crypto.OpenSecret(&key, box)
	if err != nil {
		return errors.New("the shares do not open this backup (a share or the backup is damaged)")
	}
	vaultBytes, err := unpadBackup(plain)
	if err != nil {
		return err
	}
	if _, _, _, err := parseVaultFile(vaultBytes); err != nil {
		return fmt.Errorf("the backup does not hold a vault: %w", err)
	}
	if _, err := os.Stat(vaultPath); err == nil {
		return fmt.Errorf("%s already exists: refusing to replace a vault", vaultPath)
	}
	return WriteNewFile(vaultPath, vaultBytes)
}

// ReadBackupFiles reads a backup and its share files for RestoreBackup,
// each bounded in size.
func ReadBackupFiles(backupPath string, sharePaths []string) ([]byte, [][]byte, error) {
	read := func(p string, limit int64) ([]byte, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, limit+1))
		if err == nil && int64(len(b)) > limit {
			err = fmt.Errorf("%s is larger than a backup can be", p)
		}
		return b, err
	}
	backup, err := read(backupPath, MaxBackupSize)
	if err != nil {
		return nil, nil, err
	}
	var shares [][]byte
	for _, p := range sharePaths {
		b, err := read(p, 1<<16)
		if err != nil {
			return nil, nil, err
		}
		shares = append(shares, b)
	}
	return backup, shares, nil
}

// WriteNewFile writes b to path (mode 0600), refusing to replace a file.
func WriteNewFile(path string, b []byte) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: refusing to replace it", path)
	}
	return atomicfile.Write(path, b, 0o600)
}

// ShareNames parses a comma-separated list of contacts.
func ShareNames(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
