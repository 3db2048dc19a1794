package covernode

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
)

func testLog(t *testing.T) (*roundLog, [crypto.SecretBoxKeySize]byte, string) {
	t.Helper()
	var key [crypto.SecretBoxKeySize]byte
	rand.Read(key[:])
	path := filepath.Join(t.TempDir(), "u2j.log")
	l, _, err := openRoundLog(path, key, entryPayloadSize, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.close() })
	return l, key, path
}

func inputs(kinds ...byte) []entry {
	var es []entry
	for i, k := range kinds {
		p := make([]byte, 100)
		rand.Read(p)
		es = append(es, entry{seq: uint64(100 + i), kind: k, payload: p, reply: "$JS.ACK.CHAFF_U2C.covernode.1.100.1.1764000000000000000.0"})
	}
	return es
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestRoundLogHidesRealCounts: logs of the same traffic shape, one with no
// real input and one with three, are the same size after every step, and
// replaying each gives back its own state.
func TestRoundLogHidesRealCounts(t *testing.T) {
	now := time.Now()
	allCover, _, coverPath := testLog(t)
	someReal, key, realPath := testLog(t)
	batches := [][2][]entry{
		{inputs(kindCover, kindCover, kindCover, kindCover), inputs(kindCover, kindReal, kindReal, kindCover)},
		{inputs(kindCover, kindUnopened), inputs(kindReal, kindUnopened)},
	}
	for i, b := range batches {
		if err := allCover.appendBatch(now, b[0]); err != nil {
			t.Fatal(err)
		}
		if err := someReal.appendBatch(now, b[1]); err != nil {
			t.Fatal(err)
		}
		if a, b := fileSize(t, coverPath), fileSize(t, realPath); a != b {
			t.Fatalf("after batch %d: %d bytes without real inputs, %d with", i, a, b)
		}
	}
	deadDrop := []byte(`{"data":"…"}`)
	allCover.appendRelease(now, 0, deadDrop)
	someReal.appendRelease(now, 2, deadDrop)
	if a, b := fileSize(t, coverPath), fileSize(t, realPath); a != b {
		t.Fatalf("after a release: %d bytes when it takes no real input, %d when it takes two", a, b)
	}
	// The release took two of the three real inputs; one waits.
	_, st, err := openRoundLog(realPath, key, entryPayloadSize, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.buffer) != 1 || st.seen != 0 || !bytes.Equal(st.pending, deadDrop) {
		t.Fatalf("replayed: %d waiting, %d seen, pending %q", len(st.buffer), st.seen, st.pending)
	}
	// Snapshots of 0 and of 1..64 waiting inputs are the same size, and
	// keep no stream sequence or acknowledgement subject.
	allCover.appendPublished()
	someReal.appendPublished()
	if err := allCover.compact(now, 0, now, nil); err != nil {
		t.Fatal(err)
	}
	if err := someReal.compact(now, 0, now, st.buffer); err != nil {
		t.Fatal(err)
	}
	if a, b := fileSize(t, coverPath), fileSize(t, realPath); a != b {
		t.Fatalf("snapshots: %d bytes with nothing waiting, %d with one", a, b)
	}
	_, st2, err := openRoundLog(realPath, key, entryPayloadSize, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(st2.buffer) != 1 || st2.buffer[0].seq != 0 || st2.buffer[0].reply != "" || !bytes.Equal(st2.buffer[0].payload, st.buffer[0].payload) {
		t.Fatalf("after compaction: %+v", st2.buffer)
	}
	if st2.pending != nil || st2.unacked != nil {
		t.Fatal("a compacted log still has a pending dead drop or unacknowledged inputs")
	}
}

// TestRoundLogReadsOldReleases: a release record of the earlier format
// (the count unsealed) still replays.
func TestRoundLogReadsOldReleases(t *testing.T) {
	now := time.Now()
	l, key, path := testLog(t)
	if err := l.appendBatch(now, inputs(kindReal, kindReal, kindCover)); err != nil {
		t.Fatal(err)
	}
	p := []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}
	if err := l.append(recReleaseOld, append(p, "{}"...)); err != nil {
		t.Fatal(err)
	}
	_, st, err := openRoundLog(path, key, entryPayloadSize, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.buffer) != 1 || string(st.pending) != "{}" {
		t.Fatalf("replayed %d waiting, pending %q", len(st.buffer), st.pending)
	}
}

// TestRoundLogCompactsBetweenReleases: a log is due for compaction a
// minute after the last, or once large.
func TestRoundLogCompactsBetweenReleases(t *testing.T) {
	l, _, _ := testLog(t)
	now := l.compacted
	if l.compactDue(now) {
		t.Fatal("due at once")
	}
	if !l.compactDue(now.Add(compactEvery)) {
		t.Fatal("not due after compactEvery")
	}
	if err := l.compact(now.Add(compactEvery), 3, now, nil); err != nil {
		t.Fatal(err)
	}
	if l.compactDue(now.Add(compactEvery + time.Second)) {
		t.Fatal("due right after compacting")
	}
	l.size = compactSize
	if !l.compactDue(now.Add(compactEvery + time.Second)) {
		t.Fatal("not due at compactSize")
	}
}
