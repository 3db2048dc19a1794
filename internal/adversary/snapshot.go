package adversary

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// FileMeta is what a seized device shows of one file.
type FileMeta struct {
	Name    string // relative to the snapshot's directory
	Size    int64
	Mode    fs.FileMode
	ModTime time.Time
	// AccessTime is zero where the platform does not report it.
	AccessTime time.Time
	SHA256     [32]byte
	Bytes      []byte
}

// Snapshot is a directory as a seized device shows it at one moment.
type Snapshot struct {
	Dir   string
	At    time.Time
	Files []FileMeta // by name
}

// SnapshotDir records every regular file under dir: bytes, size, mode,
// modification and access times. Reading the bytes does not change the
// access time recorded (it is taken first); it may change what the next
// snapshot records where the file system updates access times.
func SnapshotDir(t testing.TB, dir string) Snapshot {
	t.Helper()
	s := Snapshot{Dir: dir, At: time.Now()}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		fm := FileMeta{Name: rel, Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime(), AccessTime: accessTime(fi)}
		if fm.Bytes, err = os.ReadFile(path); err != nil {
			return err
		}
		fm.SHA256 = sha256.Sum256(fm.Bytes)
		s.Files = append(s.Files, fm)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Name < s.Files[j].Name })
	return s
}

// File returns a file's metadata by name.
func (s Snapshot) File(name string) (FileMeta, bool) {
	for _, f := range s.Files {
		if f.Name == name {
			return f, true
		}
	}
	return FileMeta{}, false
}

// Names returns the files' names, sorted.
func (s Snapshot) Names() []string {
	var out []string
	for _, f := range s.Files {
		out = append(out, f.Name)
	}
	return out
}

// WriteOrder returns the files' names in the order they were last
// written (by modification time; ties by name).
func (s Snapshot) WriteOrder() []string {
	fs := append([]FileMeta(nil), s.Files...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].ModTime.Before(fs[j].ModTime) })
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// ModTimeSpread is the time between the first and the last file's
// modification: how long the last write of all the files took, as a
// seized device shows it.
func (s Snapshot) ModTimeSpread() time.Duration {
	if len(s.Files) == 0 {
		return 0
	}
	lo, hi := s.Files[0].ModTime, s.Files[0].ModTime
	for _, f := range s.Files[1:] {
		if f.ModTime.Before(lo) {
			lo = f.ModTime
		}
		if f.ModTime.After(hi) {
			hi = f.ModTime
		}
	}
	return hi.Sub(lo)
}

// Gaps returns, in write order, the time from each file's modification to
// the next one's: len(Files)-1 durations.
func (s Snapshot) Gaps() []time.Duration {
	fs := append([]FileMeta(nil), s.Files...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].ModTime.Before(fs[j].ModTime) })
	var out []time.Duration
	for i := 1; i < len(fs); i++ {
		out = append(out, fs[i].ModTime.Sub(fs[i-1].ModTime))
	}
	return out
}

// Shape is what a snapshot shows beyond contents that are random-looking
// by design: names, sizes and modes, and the write order.
type Shape struct {
	Names      []string
	Sizes      []int64
	Modes      []fs.FileMode
	WriteOrder []string
}

// Shape returns the snapshot's shape.
func (s Snapshot) Shape() Shape {
	sh := Shape{Names: s.Names(), WriteOrder: s.WriteOrder()}
	for _, f := range s.Files {
		sh.Sizes = append(sh.Sizes, f.Size)
		sh.Modes = append(sh.Modes, f.Mode)
	}
	return sh
}
