// Package journalist is what a reporter uses every day (upstream's
// journalist client): an encrypted vault, sync of journalist dead drops,
// replies and handovers sent among steady cover, key rotation, and a web
// UI on localhost.
package journalist

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/crypto"
	"golang.org/x/crypto/argon2"
)

// The vault file: magic, salt, Argon2id parameters, then the vault's JSON
// sealed with XChaCha20-Poly1305 under the stretched passphrase.
var vaultMagic = []byte("CHAFF-VAULT-1\n")

// KDFParams are the Argon2id parameters of a vault.
type KDFParams struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultKDF stretches the passphrase with Argon2id over 256 MiB, 3
// passes: a newsroom laptop unlocks in about a second, while each guess
// costs an attacker the same memory-hard work; with a five-word passphrase
// (64 bits) guessing is out of reach.
var DefaultKDF = KDFParams{Time: 3, Memory: 256 << 10, Threads: 4}

// The largest Argon2id parameters a vault may ask for: four times
// DefaultKDF's passes and memory, and four times its threads. The
// parameters sit in the vault's header before anything is authenticated
// (changing them only changes the key, so a forged header fails to open),
// and Open runs the KDF with them: without these bounds a damaged or
// hostile vault file could make Open allocate gigabytes or run for
// minutes before finding out.
const (
	MaxKDFTime    = 4 * 3
	MaxKDFMemory  = 4 * 256 << 10 // KiB: 1 GiB
	MaxKDFThreads = 4 * 4
)

// check reports whether Open would accept p. Argon2id needs at least 8 KiB
// per thread.
func (p KDFParams) check() error {
	if p.Time < 1 || p.Time > MaxKDFTime || p.Threads < 1 || p.Threads > MaxKDFThreads ||
		p.Memory < 8*uint32(p.Threads) || p.Memory > MaxKDFMemory {
		return fmt.Errorf("Argon2id with %d pass(es) over %d KiB in %d thread(s) is outside what a vault may use "+
			"(1 to %d passes, 8 KiB per thread to %d MiB, 1 to %d threads)",
			p.Time, p.Memory, p.Threads, MaxKDFTime, MaxKDFMemory>>10, MaxKDFThreads)
	}
	return nil
}

// Errors opening a vault.
var (
	ErrWrongPassphrase = errors.New("the passphrase does not open this vault (or the vault file was altered)")
	ErrDamaged         = errors.New("the vault file is damaged")
	ErrInUse           = errors.New("the vault is open elsewhere (the web UI, or another chaff journalist command): lock it there first")
)

// The header after the magic: salt, then Argon2id passes, memory (u32
// each) and threads (u8).
const (
	vaultSaltSize = 16
	vaultHeader   = vaultSaltSize + 4 + 4 + 1
)

func sealVault(path, passphrase string, kdf KDFParams, v any) error {
	if err := kdf.check(); err != nil {
		return err
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if !testHookUnpaddedVault {
		plain = padBackup(plain)
	}
	salt := make([]byte, vaultSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	key := stretch(passphrase, salt, kdf)
	box, err := crypto.SealSecret(&key, plain)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, vaultFile(salt, kdf, box), 0o600)
}

// vaultFile lays out a vault file: magic, header, box.
func vaultFile(salt []byte, kdf KDFParams, box []byte) []byte {
	out := make([]byte, 0, len(vaultMagic)+vaultHeader+len(box))
	out = append(append(out, vaultMagic...), salt...)
	out = binary.BigEndian.AppendUint32(out, kdf.Time)
	out = binary.BigEndian.AppendUint32(out, kdf.Memory)
	out = append(out, kdf.Threads)
	return append(out, box...)
}

// parseVaultFile reads a vault file up to the KDF: its salt, its Argon2id
// parameters (refused beyond MaxKDFTime, MaxKDFMemory and MaxKDFThreads,
// before anything runs them) and the sealed vault.
func parseVaultFile(b []byte) (salt []byte, kdf KDFParams, box []byte, err error) {
	if !bytes.HasPrefix(b, vaultMagic) || len(b) < len(vaultMagic)+vaultHeader+crypto.SecretBoxOverhead {
		return nil, KDFParams{}, nil, fmt.Errorf("%w (it does not start like a Chaff vault)", ErrDamaged)
	}
	hdr := b[len(vaultMagic) : len(vaultMagic)+vaultHeader]
	kdf = KDFParams{Time: binary.BigEndian.Uint32(hdr[vaultSaltSize:]), Memory: binary.BigEndian.Uint32(hdr[vaultSaltSize+4:]), Threads: hdr[vaultSaltSize+8]}
	// Checked before stretching: see MaxKDFMemory.
	if err := kdf.check(); err != nil {
		return nil, KDFParams{}, nil, fmt.Errorf("%w: refusing to unlock it: %v", ErrDamaged, err)
	}
	return hdr[:vaultSaltSize], kdf, b[len(vaultMagic)+vaultHeader:], nil
}

func openVault(path, passphrase string, v any) (KDFParams, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return KDFParams{}, err
	}
	salt, kdf, box, err := parseVaultFile(b)
	if err != nil {
		return KDFParams{}, fmt.Errorf("%s: %w", path, err)
	}
	key := stretch(passphrase, salt, kdf)
	plain, err := crypto.OpenSecret(&key, box)
	if err != nil {
		return KDFParams{}, ErrWrongPassphrase
	}
	if len(plain) > 0 && plain[0] != '{' { // padded (a vault from before padding is bare JSON)
		if plain, err = unpadLength(plain); err != nil {
			return KDFParams{}, fmt.Errorf("%s: %w (%v)", path, ErrDamaged, err)
		}
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return KDFParams{}, fmt.Errorf("%s: %w (%v)", path, ErrDamaged, err)
	}
	return kdf, nil
}

// The vault's plaintext is padded as a backup's is (padBackup: its length,
// then zeros up to a multiple of BackupPadding), so that the vault file's
// size says how much it holds only to within a mebibyte: a laptop seized
// twice, or its backups, do not show each message the journalist
// received, as the size of bare JSON would.

// testHookUnpaddedVault seals the vault without padding, for the negative
// control of the seized-laptop test.
var testHookUnpaddedVault bool

// checkPassphrase reports whether passphrase opens the vault at path,
// without taking its lock (the web UI checks it this way while it holds
// the vault open).
func checkPassphrase(path, passphrase string) error {
	var d data
	_, err := openVault(path, passphrase, &d)
	return err
}

func stretch(passphrase string, salt []byte, p KDFParams) [crypto.SecretBoxKeySize]byte {
	var k [crypto.SecretBoxKeySize]byte
	copy(k[:], argon2.IDKey([]byte(passphrase), salt, p.Time, p.Memory, p.Threads, crypto.SecretBoxKeySize))
	return k
}
