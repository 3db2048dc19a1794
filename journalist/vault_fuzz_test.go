package journalist

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/chaffhq/chaff/crypto"
)

// withinBounds reports whether Argon2id parameters are ones a vault may
// ask for, written out again here rather than through check.
func withinBounds(p KDFParams) bool {
	return p.Time >= 1 && p.Time <= MaxKDFTime && p.Threads >= 1 && p.Threads <= MaxKDFThreads &&
		p.Memory >= 8*uint32(p.Threads) && p.Memory <= MaxKDFMemory
}

// FuzzParseVaultFile: a vault file's header parses without panicking and
// without running the KDF; parameters beyond MaxKDFTime, MaxKDFMemory or
// MaxKDFThreads are refused; what parses lays out again (vaultFile) to the
// very same bytes.
func FuzzParseVaultFile(f *testing.F) {
	path := filepath.Join(f.TempDir(), "vault")
	// A real vault; the KDF runs here once, with fixed small parameters.
	if err := sealVault(path, "pass word", KDFParams{Time: 1, Memory: 64, Threads: 1}, map[string]string{"a": "b"}); err != nil {
		f.Fatal(err)
	}
	sealed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	salt := bytes.Repeat([]byte{0x5a}, vaultSaltSize)
	box := make([]byte, crypto.SecretBoxOverhead+2)
	for _, p := range []KDFParams{
		DefaultKDF,
		{Time: MaxKDFTime, Memory: MaxKDFMemory, Threads: MaxKDFThreads},
		{Time: MaxKDFTime + 1, Memory: 64, Threads: 1},
		{Time: 1, Memory: MaxKDFMemory + 1, Threads: 1},
		{Time: 1, Memory: 64, Threads: MaxKDFThreads + 1},
		{Time: 1, Memory: 7, Threads: 1},
		{Time: 0xffffffff, Memory: 0xffffffff, Threads: 0xff},
	} {
		f.Add(vaultFile(salt, p, box))
	}
	f.Add(vaultMagic)
	f.Fuzz(func(t *testing.T, b []byte) {
		salt, kdf, box, err := parseVaultFile(b)
		// The parameters as the header holds them.
		if off := len(vaultMagic) + vaultSaltSize; len(b) >= off+9 {
			raw := KDFParams{Time: binary.BigEndian.Uint32(b[off:]), Memory: binary.BigEndian.Uint32(b[off+4:]), Threads: b[off+8]}
			if err == nil && (!withinBounds(raw) || raw != kdf) {
				t.Fatalf("header asks for %+v; parsed %+v without error", raw, kdf)
			}
		}
		if err != nil {
			return
		}
		if !withinBounds(kdf) {
			t.Fatalf("accepted Argon2id parameters %+v", kdf)
		}
		if len(salt) != vaultSaltSize || len(box) < crypto.SecretBoxOverhead {
			t.Fatalf("%d bytes of salt, a box of %d", len(salt), len(box))
		}
		if !bytes.Equal(vaultFile(salt, kdf, box), b) {
			t.Fatal("a parsed vault does not lay out again to its bytes")
		}
	})
}

// FuzzVaultKDFParams: a vault laid out with any parameters parses back to
// them exactly when they are within bounds, and is refused otherwise.
func FuzzVaultKDFParams(f *testing.F) {
	f.Add(DefaultKDF.Time, DefaultKDF.Memory, DefaultKDF.Threads, []byte("salt"), []byte("box"))
	f.Add(uint32(MaxKDFTime), uint32(MaxKDFMemory+1), uint8(MaxKDFThreads), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, time, memory uint32, threads uint8, salt, box []byte) {
		salt = append(bytes.Repeat([]byte{0}, vaultSaltSize), salt...)[len(salt):]
		box = append(make([]byte, crypto.SecretBoxOverhead), box...)
		kdf := KDFParams{Time: time, Memory: memory, Threads: threads}
		s, p, b, err := parseVaultFile(vaultFile(salt, kdf, box))
		if !withinBounds(kdf) {
			if err == nil {
				t.Fatalf("accepted Argon2id parameters %+v", kdf)
			}
			return
		}
		if err != nil || p != kdf || !bytes.Equal(s, salt) || !bytes.Equal(b, box) {
			t.Fatalf("a vault with %+v parses to %+v: %v", kdf, p, err)
		}
	})
}
