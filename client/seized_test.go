package client_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/distinguishers"
)

// seizedKDF makes the passphrase stretch slow enough (tens of
// milliseconds) to stand out among the files' writes if it ran between
// them, as the default one (seconds on a phone) would.
var seizedKDF = client.KDFParams{Time: 1, Memory: 32 << 10, Threads: 1}

// installFiles is the order in which every write of the install's files
// happens.
var installFiles = []string{"public.json", "queue.bin", "storage.bin"}

// seizure is what a seized phone shows after one kind of use of the app.
type seizure struct {
	spread []float64 // seconds from the first file's mtime to the last's
	order  [][]string
	sizes  map[string][]int64
}

// useAndSeize uses one install in every way the app can be used, rounds
// times, in turn, and snapshots its directory after each use: uses in
// which a mailbox is opened or sealed (creating a mailbox, unlocking it
// with the right passphrase, sending) and uses in which none is (an app
// start, a background run, an unlock with a wrong passphrase).
func useAndSeize(t *testing.T, rounds int, install func(dir string) client.Config) (mailbox, none *seizure) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := install(dir)
	cfg.KDF = seizedKDF
	app, err := client.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	mailbox = &seizure{sizes: map[string][]int64{}}
	none = &seizure{sizes: map[string][]int64{}}
	seize := func(into *seizure) {
		s := adversary.SnapshotDir(t, dir)
		into.spread = append(into.spread, s.ModTimeSpread().Seconds())
		into.order = append(into.order, s.WriteOrder())
		for _, f := range s.Files {
			into.sizes[f.Name] = append(into.sizes[f.Name], f.Size)
			if f.Mode.Perm() != 0o600 {
				t.Fatalf("%s has mode %v", f.Name, f.Mode)
			}
		}
	}
	for range rounds {
		if app, err = client.Start(cfg); err != nil { // an app start
			t.Fatal(err)
		}
		seize(none)
		if _, err := app.BackgroundRun(ctx); err != nil {
			t.Fatal(err)
		}
		seize(none)
		if _, err := app.Unlock("not the passphrase"); !errors.Is(err, client.ErrNoMailbox) {
			t.Fatalf("a wrong passphrase: %v", err)
		}
		seize(none)
		pass, _, err := app.CreateMailbox()
		if err != nil {
			t.Fatal(err)
		}
		seize(mailbox)
		s, err := app.Unlock(pass)
		if err != nil {
			t.Fatal(err)
		}
		seize(mailbox)
		if err := s.Send("alice", "the planning office takes bribes"); err != nil {
			t.Fatal(err)
		}
		seize(mailbox)
	}
	return mailbox, none
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[len(s)/2]
}

// seizedRounds is how many times each use is made; 6 rounds give 18
// seizures a side, enough for the KS test to see a stretch between the
// writes at p < 10⁻⁶.
const seizedRounds = 6

// install is an install of a whole in-process deployment of the protocol
// mode (internal/adversary: JetStream, the API, a CoverNode, alice).
func install(t *testing.T, mode string) func(dir string) client.Config {
	return adversary.Start(t, adversary.Options{Mode: mode}).ReaderConfig
}

// TestSeizedPhoneShowsNoUse: after any use of the app, a seized phone
// shows the same files, of the same sizes and modes, written in the same
// order and with the same time between the writes (same distribution,
// two-sample KS test), whether or not the use opened a mailbox, in both
// protocol modes (in pq mode the mailbox holds a reader id and reply keys
// instead of an X25519 key, and a send adds a reply key).
// The negative control brings back the old write order, in which sealing
// a mailbox stretched the passphrase between the writes, and the test
// must see it.
func TestSeizedPhoneShowsNoUse(t *testing.T) {
	adversary.InModes(t, func(t *testing.T, mode string) { seizedPhoneShowsNoUse(t, install(t, mode)) })
}

func seizedPhoneShowsNoUse(t *testing.T, install func(dir string) client.Config) {
	mb, none := useAndSeize(t, seizedRounds, install)
	for _, s := range []*seizure{mb, none} {
		for _, o := range s.order {
			if !slices.Equal(o, installFiles) {
				t.Fatalf("files written in the order %v, want %v", o, installFiles)
			}
		}
	}
	for _, name := range installFiles[1:] { // public.json's size follows the public state
		for _, n := range append(slices.Clone(mb.sizes[name]), none.sizes[name]...) {
			if n != mb.sizes[name][0] {
				t.Fatalf("%s has sizes %v and %v", name, mb.sizes[name], none.sizes[name])
			}
		}
	}
	d, p := distinguishers.KS(mb.spread, none.spread)
	t.Logf("mtime spread: median %.1f ms after a mailbox use, %.1f ms after other uses; KS D=%.2f p=%.3g",
		1e3*median(mb.spread), 1e3*median(none.spread), d, p)
	if p < 1e-4 {
		t.Fatalf("the time between the files' writes tells a mailbox use from others: KS D=%.2f p=%.3g", d, p)
	}

	t.Run("negative control", func(t *testing.T) {
		defer client.SetStretchBetweenWrites(true)()
		mb, none := useAndSeize(t, seizedRounds, install)
		d, p := distinguishers.KS(mb.spread, none.spread)
		t.Logf("old write order: median %.1f ms after a mailbox use, %.1f ms after other uses; KS D=%.2f p=%.3g",
			1e3*median(mb.spread), 1e3*median(none.spread), d, p)
		if p >= 1e-3 {
			t.Fatalf("the test did not see the passphrase stretch between the writes: KS D=%.2f p=%.3g", d, p)
		}
	})
}
