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
	"time"

	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/journalist/shamir"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
)

// Vault backups, after upstream's (docs/backups.md and
// common/src/protocol/backup.rs in CoverDrop): the vault file as it is on
// disk (still sealed under the passphrase) is padded to the next multiple
// of BackupPadding and sealed (XChaCha20-Poly1305) under a fresh random
// backup key; the key is split into N shares with Shamir's scheme, any K
// of which rebuild it.
//
// Each share is protected as upstream protects its shares, by two
// anonymous boxes (CoverDrop's X25519 sealed box): one under the
// organisation's newest published backup messaging key (the backup admin's
// key, certified by a backup identity key under the organisation key; see
// newsroom.CreateBackupKeys), and one under the newest published messaging
// key of the colleague the share is for. Neither alone opens it: a restore
// needs K colleagues and the backup admin, as upstream's does.
//
// Upstream seals the colleague's box inside the admin's, because its
// shares wait in the cloud until a restore. Chaff's share files are handed
// to the colleagues themselves, so the colleague's box is the outer one:
// on receiving the file the colleague keeps the share (KeepShare), which
// opens their box at once, while the messaging key it was sealed to is
// still in their vault (messaging keys are kept until they expire, two
// weeks after they are published, however often they rotate), and keeps
// what is inside, still sealed to the backup admin, in their own vault,
// where later rotations cannot touch it. At a restore they release it
// (ReleaseShare) to the backup admin, whose key opens K released shares
// (RestoreBackup). This is upstream's own sequence (the colleague opens
// their box, then hands over a share only the admin opens) with the
// colleague's step taken when the share is handed over instead of at the
// restore. A share not kept before its colleague's key expires cannot be
// opened any more: the file says by when (KeepBefore).
//
// What a backup reveals: its size, a multiple of BackupPadding, says how
// big the vault is only to within a mebibyte (upstream's step), not how
// many messages it holds; a share names the backup it belongs to, whose
// backup it is, the colleague it is for, the threshold and the number of
// shares. A restore needs the K shares, the backup admin's key and then
// the vault's passphrase: the backup holds the vault still sealed.

// BackupPadding is the step the sealed vault is padded to (upstream's
// SteppingPaddedByteVector step, 1 MiB).
const BackupPadding = 1 << 20

// backupPadding is BackupPadding; tests change it.
var backupPadding = BackupPadding

// MaxBackupSize bounds what a restore reads.
const MaxBackupSize = 256 << 20

// maxShareSize bounds a share file a restore or KeepShare reads.
const maxShareSize = 1 << 16

// The files a backup writes into its folder.
const (
	BackupFile  = "backup.chaff"
	shareFormat = "share-%d-of-%d.json"
)

var backupMagic = []byte("CHAFF-BACKUP-1\n")

// backupIDSize is the size of a backup's random id, which ties its shares
// to it.
const backupIDSize = 16

// The layers a share file can be in (ShareFile.Layer).
const (
	// LayerColleague: as CreateBackup writes it, sealed to the colleague
	// (outside) and the backup admin (inside); the colleague keeps it.
	LayerColleague = "colleague"
	// LayerAdmin: as ReleaseShare writes it, sealed to the backup admin
	// only; a restore opens it with the backup admin's key.
	LayerAdmin = "admin"
)

// ShareFile is a recovery share as written to disk. Sealed holds the
// share's value (shareValue) sealed as Layer says. The other fields say
// what the share is, for people and for checks; the sealed value repeats
// the backup id, position and threshold, and a restore holds to those.
type ShareFile struct {
	Format    string `json:"chaff_backup_share"`
	Backup    string `json:"backup"` // the backup's id, hex
	Owner     string `json:"owner"`  // whose vault the backup holds
	For       string `json:"for"`    // the colleague who keeps the share
	Threshold int    `json:"threshold"`
	Shares    int    `json:"shares"`
	X         int    `json:"x"`
	Layer     string `json:"layer"`
	// KeepBefore is when the messaging key a colleague-layer share is
	// sealed to expires: the colleague keeps it before then.
	KeepBefore time.Time `json:"keep_before,omitzero"`
	Sealed     []byte    `json:"sealed"`
}

// shareValue is a share's value, what the backup admin's box holds.
type shareValue struct {
	Backup    string `json:"backup"`
	Threshold int    `json:"threshold"`
	Shares    int    `json:"shares"`
	X         int    `json:"x"`
	Y         string `json:"y"` // hex
}

// KeptShare is a colleague's share kept in this vault (see KeepShare):
// its value is still sealed to the backup admin.
type KeptShare struct {
	Backup    string    `json:"backup"`
	Owner     string    `json:"owner"`
	Threshold int       `json:"threshold"`
	Shares    int       `json:"shares"`
	X         int       `json:"x"`
	Kept      time.Time `json:"kept"`
	Admin     []byte    `json:"admin"` // the value under the backup admin's box
}

const shareFormatName = "2"

// BackupResult says what CreateBackup wrote.
type BackupResult struct {
	Backup string
	Shares []string
	// KeepBefore is when the first colleague's messaging key expires:
	// every colleague keeps their share before then.
	KeepBefore time.Time
}

// Errors of a backup that cannot be made.
var (
	ErrNoBackupKey = errors.New("the newsroom publishes no backup key yet: an admin runs chaff admin backup-key first")
	ErrContacts    = errors.New("name one colleague per share")
)

// CreateBackup writes a backup of the vault file of the open vault v into
// dir, with n shares of which threshold rebuild it, one for each of the
// colleagues in contacts (journalist ids, in share order, all different,
// not v's own). Each share is sealed under the newest published backup
// messaging key and then under that colleague's newest published
// messaging key, both from the keys kept in the vault (no request is
// made). It refuses to overwrite files.
func CreateBackup(v *Vault, dir string, n, threshold int, contacts []string) (BackupResult, error) {
	if len(contacts) != n {
		return BackupResult{}, fmt.Errorf("%w: %d named for %d shares", ErrContacts, len(contacts), n)
	}
	if _, err := shamir.Split([]byte{0}, n, threshold); err != nil {
		return BackupResult{}, fmt.Errorf("%d shares with a threshold of %d: %w", n, threshold, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ver, err := v.cachedVerified()
	if err != nil {
		return BackupResult{}, err
	}
	admin, err := ver.backupSealer()
	if err != nil {
		return BackupResult{}, err
	}
	res := BackupResult{Backup: filepath.Join(dir, BackupFile)}
	sealTo := make([]func([]byte) ([]byte, error), n)
	expires := make([]time.Time, n)
	for i, c := range contacts {
		switch {
		case c == v.d.JournalistID:
			return BackupResult{}, errors.New("a share for yourself would let you restore alone: name colleagues")
		case slices.Index(contacts, c) != i:
			return BackupResult{}, fmt.Errorf("%s is named twice: each share goes to a different colleague", c)
		}
		if sealTo[i], err = ver.shareSealer(c); err != nil {
			return BackupResult{}, fmt.Errorf("%q has no published messaging key (is the id right, and has their app published one?): %w", c, err)
		}
		expires[i] = ver.messagingKeyExpiry(c)
		if !expires[i].IsZero() && (res.KeepBefore.IsZero() || expires[i].Before(res.KeepBefore)) {
			res.KeepBefore = expires[i]
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
	files := map[string][]byte{res.Backup: append(append(slices.Clone(backupMagic), id...), box...)}
	for i, s := range shares {
		val, _ := json.Marshal(shareValue{Backup: hex.EncodeToString(id), Threshold: threshold, Shares: n, X: int(s.X), Y: hex.EncodeToString(s.Y)})
		clear(s.Y)
		inner, err := admin(val)
		clear(val)
		if err != nil {
			return BackupResult{}, err
		}
		outer, err := sealTo[i](inner)
		if err != nil {
			return BackupResult{}, err
		}
		sf := ShareFile{Format: shareFormatName, Backup: hex.EncodeToString(id), Owner: v.d.JournalistID, For: contacts[i],
			Threshold: threshold, Shares: n, X: int(s.X), Layer: LayerColleague, KeepBefore: expires[i], Sealed: outer}
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
	v.logLocked("backup", fmt.Sprintf("wrote a backup with %d shares for %s, %d needed to restore", n, strings.Join(contacts, ", "), threshold))
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
	if s.Threshold < 1 || s.Threshold > s.Shares || s.Shares > shamir.MaxShares || s.X < 1 || s.X > s.Shares {
		return nil, fmt.Errorf("the share says it is share %d of %d, %d needed, which cannot be", s.X, s.Shares, s.Threshold)
	}
	if (s.Layer != LayerColleague && s.Layer != LayerAdmin) || len(s.Sealed) == 0 {
		return nil, errors.New("the share's sealed value is missing")
	}
	return &s, nil
}

// KeepShare takes a share a colleague gave this journalist (a share file
// as CreateBackup wrote it, for this vault's journalist): it opens the
// colleague's box with a messaging key this vault still holds and keeps
// what is inside, still sealed to the backup admin, in the vault, where
// key rotations cannot touch it. The share file can then be deleted.
func (v *Vault) KeepShare(b []byte) (KeptShare, error) {
	s, err := ParseShare(b)
	if err != nil {
		return KeptShare{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case s.Layer != LayerColleague:
		return KeptShare{}, errors.New("this share has been released already: it goes to the backup admin, not into a vault")
	case s.For != v.d.JournalistID:
		return KeptShare{}, fmt.Errorf("this share is for %s, not for %s", s.For, v.d.JournalistID)
	}
	for _, k := range v.d.KeptShares {
		if k.Backup == s.Backup && k.X == s.X {
			return KeptShare{}, fmt.Errorf("share %d of %s's backup is kept already", s.X, s.Owner)
		}
	}
	if inner, err := v.mode.openShare(v, s.Sealed, v.now()); err == nil {
		k := KeptShare{Backup: s.Backup, Owner: s.Owner, Threshold: s.Threshold, Shares: s.Shares, X: s.X, Kept: v.now().UTC(), Admin: inner}
		v.d.KeptShares = append(v.d.KeptShares, k)
		v.logLocked("backup", fmt.Sprintf("kept share %d of %s's backup (%d of %d needed)", s.X, s.Owner, s.Threshold, s.Shares))
		return k, v.save()
	}
	expired := "that has expired"
	if !s.KeepBefore.IsZero() {
		expired = "that expired on " + s.KeepBefore.UTC().Format(time.DateOnly)
	}
	return KeptShare{}, fmt.Errorf("no messaging key in this vault opens this share: it was sealed to a key of yours %s, or is not yours (ask %s for a new backup)", expired, s.Owner)
}

// KeptShares lists the colleagues' shares kept in this vault.
func (v *Vault) KeptShares() []KeptShare {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.d.KeptShares)
}

// FindKept returns the kept share of owner's backup whose id starts with
// backup, or, with backup empty, of owner's newest backup kept.
func (v *Vault) FindKept(owner, backup string) (KeptShare, error) {
	var found []KeptShare
	for _, k := range v.KeptShares() {
		if k.Owner == owner && strings.HasPrefix(k.Backup, backup) {
			found = append(found, k)
		}
	}
	switch {
	case len(found) == 0:
		return KeptShare{}, fmt.Errorf("no share of %s's backup%s is kept in this vault", owner, map[bool]string{true: "", false: " " + backup}[backup == ""])
	case backup != "" && len(found) > 1:
		return KeptShare{}, fmt.Errorf("%d kept shares match backup %s: give more of its id", len(found), backup)
	}
	return slices.MaxFunc(found, func(a, b KeptShare) int { return a.Kept.Compare(b.Kept) }), nil
}

// ReleaseShare writes a kept share as a file for the backup admin
// restoring its owner's backup: sealed to the backup admin only, as
// upstream's recovery contact hands a share back. It stays kept.
func (v *Vault) ReleaseShare(backup string, x int) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range v.d.KeptShares {
		if k.Backup == backup && k.X == x {
			sf := ShareFile{Format: shareFormatName, Backup: k.Backup, Owner: k.Owner, For: v.d.JournalistID,
				Threshold: k.Threshold, Shares: k.Shares, X: k.X, Layer: LayerAdmin, Sealed: k.Admin}
			b, _ := json.MarshalIndent(sf, "", "  ")
			v.logLocked("backup", fmt.Sprintf("released share %d of %s's backup for a restore", k.X, k.Owner))
			return append(b, '\n'), v.save()
		}
	}
	return nil, fmt.Errorf("no share %d of backup %s is kept in this vault", x, backup)
}

// BackupOpener opens a share sealed to one backup admin key
// (crypto.ErrDecrypt, or another error, when it does not).
type BackupOpener func(sealed []byte) ([]byte, error)

// BackupAdminKeys reads the backup messaging key pairs (X25519 in
// coverdrop mode, X-Wing in pq mode) from the newsroom's key directory (or one key-pair file), expired
// ones included: a backup made under an old key needs it.
func BackupAdminKeys(path string) ([]BackupOpener, error) {
	paths := []string{path}
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if fi.IsDir() {
		paths, _ = filepath.Glob(filepath.Join(path, keys.BackupMessaging.String()+"-*.keypair.json"))
	}
	var out []BackupOpener
	for _, p := range paths {
		kp, err := keys.ReadKeyPairFile(p)
		if err != nil {
			return nil, err
		}
		if kp.Public.KEM != nil { // pq mode: an X-Wing key (docs/PQ.md §5.8)
			sk, err := kp.KEMPrivateKey()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			out = append(out, func(b []byte) ([]byte, error) { return pq.OpenBackupShare(sk, b) })
			continue
		}
		sk, err := kp.PrivateKey()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, func(b []byte) ([]byte, error) { return crypto.OpenAnonymous(sk, b) })
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no backup messaging key pair (%s-*.keypair.json) in %s: the backup admin's key directory is needed", keys.BackupMessaging, path)
	}
	return out, nil
}

// RestoreBackup rebuilds a vault from a backup file's bytes and released
// share files' bytes (see ReleaseShare), opening the shares with the
// backup admin's keys (BackupAdminKeys), and writes it to vaultPath
// (which must not exist). The restored vault opens with the passphrase
// it had.
func RestoreBackup(backup []byte, shares [][]byte, admin []BackupOpener, vaultPath string) error {
	if !bytes.HasPrefix(backup, backupMagic) || len(backup) < len(backupMagic)+backupIDSize+crypto.SecretBoxOverhead {
		return errors.New("that is not a Chaff vault backup")
	}
	id := hex.EncodeToString(backup[len(backupMagic) : len(backupMagic)+backupIDSize])
	box := backup[len(backupMagic)+backupIDSize:]
	var parts []shamir.Share
	threshold := 0
	seen := map[int]bool{}
	for i, b := range shares {
		val, err := openShare(b, id, admin)
		if err != nil {
			return fmt.Errorf("share %d: %w", i+1, err)
		}
		if seen[val.X] {
			return fmt.Errorf("share %d is share %d again", i+1, val.X)
		}
		seen[val.X] = true
		threshold = val.Threshold
		y, _ := hex.DecodeString(val.Y)
		parts = append(parts, shamir.Share{X: byte(val.X), Y: y})
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

// openShare opens a released share of the backup id with the backup
// admin's keys.
func openShare(b []byte, id string, admin []BackupOpener) (*shareValue, error) {
	s, err := ParseShare(b)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Layer == LayerColleague:
		return nil, fmt.Errorf("it is still sealed to %s: they keep it in their vault and release it (chaff journalist backup keep-share, then release-share)", s.For)
	case s.Backup != id:
		return nil, errors.New("it belongs to another backup")
	case len(admin) == 0:
		return nil, errors.New("it is sealed to the backup admin: give the backup admin's key")
	}
	for _, open := range admin {
		plain, err := open(s.Sealed)
		if err != nil {
			continue
		}
		var val shareValue
		err = json.Unmarshal(plain, &val)
		clear(plain)
		y, yerr := hex.DecodeString(val.Y)
		if err != nil || yerr != nil || len(y) != crypto.SecretBoxKeySize || val.Backup != id ||
			val.X != s.X || val.Threshold != s.Threshold || val.Shares != s.Shares {
			return nil, errors.New("it is damaged, or not what its file says it is")
		}
		clear(y)
		return &val, nil
	}
	return nil, errors.New("none of the backup admin keys given opens it")
}

// RestoreBackupFiles is RestoreBackup from files: the backup, the released
// shares, and the backup admin's key directory or key-pair file.
func RestoreBackupFiles(backupPath string, sharePaths []string, adminKeys, vaultPath string) error {
	if adminKeys == "" {
		return errors.New("give the backup admin's key directory: the shares are sealed to it")
	}
	admin, err := BackupAdminKeys(adminKeys)
	if err != nil {
		return err
	}
	b, sh, err := ReadBackupFiles(backupPath, sharePaths)
	if err != nil {
		return err
	}
	return RestoreBackup(b, sh, admin, vaultPath)
}

// ReadBackupFiles reads a backup and its share files for RestoreBackup,
// each bounded in size.
func ReadBackupFiles(backupPath string, sharePaths []string) ([]byte, [][]byte, error) {
	backup, err := readBounded(backupPath, MaxBackupSize)
	if err != nil {
		return nil, nil, err
	}
	var shares [][]byte
	for _, p := range sharePaths {
		b, err := readBounded(p, maxShareSize)
		if err != nil {
			return nil, nil, err
		}
		shares = append(shares, b)
	}
	return backup, shares, nil
}

// ReadShareFile reads a share file, bounded in size.
func ReadShareFile(path string) ([]byte, error) { return readBounded(path, maxShareSize) }

// readBounded reads a file of at most limit bytes.
func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s is larger than a backup file can be", p)
	}
	return b, err
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
