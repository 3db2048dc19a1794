package covernode

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
)

// The fuzz targets of the round log and key state run with a fixed log key
// and clock, so that seeds made here open and a crash reproduces.
var (
	fuzzLogKey = [crypto.SecretBoxKeySize]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
	fuzzNow    = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)
)

// fuzzInputs returns entries of the given kinds with payloads and reply
// subjects as the node stores them (deterministic, unlike inputs).
func fuzzInputs(kinds ...byte) []entry {
	var es []entry
	for i, k := range kinds {
		p := bytes.Repeat([]byte{byte(i + 1)}, 100+i)
		es = append(es, entry{seq: uint64(100 + i), kind: k, payload: p, reply: "$JS.ACK.CHAFF_U2C.covernode.1.100.1.1764000000000000000.0"})
	}
	return es
}

func entriesEqual(a, b []entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].seq != b[i].seq || a[i].kind != b[i].kind || !bytes.Equal(a[i].payload, b[i].payload) || a[i].reply != b[i].reply {
			return false
		}
	}
	return true
}

// FuzzParseEntries: the plaintext of a record's entries parses without
// panicking, into entries that fit their slots, and what parses re-encodes
// to a plaintext that parses to the same entries; entries built from the
// input survive encoding.
func FuzzParseEntries(f *testing.F) {
	f.Add(encodeEntries(nil, entryPayloadSize))
	f.Add(encodeEntries(fuzzInputs(kindCover, kindReal, kindUnopened), entryPayloadSize))
	full := fuzzInputs(kindReal)
	full[0].payload = bytes.Repeat([]byte{0xff}, entryPayloadSize)
	f.Add(encodeEntries(full, entryPayloadSize))
	snapshot := make([]entry, 4)
	for i := range snapshot {
		snapshot[i] = entry{kind: kindPadding}
	}
	snapshot[0] = entry{kind: kindReal, payload: []byte("waiting")}
	f.Add(encodeEntries(snapshot, entryPayloadSize))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		es, err := parseEntries(p, entryPayloadSize)
		if err == nil {
			if want := binary.BigEndian.Uint32(p); uint32(len(es)) != want {
				t.Fatalf("%d entries parsed, the record says %d", len(es), want)
			}
			for _, e := range es {
				if len(e.payload) > entryPayloadSize {
					t.Fatalf("an entry of %d bytes, the most is %d", len(e.payload), entryPayloadSize)
				}
			}
			again := encodeEntries(es, entryPayloadSize)
			back, err := parseEntries(again, entryPayloadSize)
			if err != nil || !entriesEqual(back, es) {
				t.Fatalf("re-encoded entries do not parse back: %v", err)
			}
			if !bytes.Equal(encodeEntries(back, entryPayloadSize), again) {
				t.Fatal("encoding is not stable")
			}
		}
		// An entry made of the input: seq, kind, payload, reply.
		if len(p) < 9 {
			return
		}
		e := entry{seq: binary.BigEndian.Uint64(p), kind: p[8]}
		rest := p[9:]
		n := min(len(rest)/2, entryPayloadSize)
		e.payload, e.reply = rest[:n], string(rest[n:])
		if len(e.reply) > 0xffff {
			return
		}
		back, err := parseEntries(encodeEntries([]entry{e, e}, entryPayloadSize), entryPayloadSize)
		if err != nil || !entriesEqual(back, []entry{e, e}) {
			t.Fatalf("entries do not survive encoding: %v", err)
		}
	})
}

// fixCRCs returns b with the checksum of every whole record it frames
// recomputed, so that mutations reach past the checksums.
func fixCRCs(b []byte) []byte {
	b = bytes.Clone(b)
	for off := 0; off+9 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n < 1 || off+4+n+4 > len(b) {
			break
		}
		binary.BigEndian.PutUint32(b[off+4+n:], crc32.ChecksumIEEE(b[off+4:off+4+n]))
		off += 4 + n + 4
	}
	return b
}

// seedRoundLogs adds logs the node writes: batches, releases (current and
// earlier format), publications, acknowledgements, a compaction, and a
// torn tail.
func seedRoundLogs(f *testing.F) {
	dir := f.TempDir()
	write := func(name string, steps func(l *roundLog) error) []byte {
		path := filepath.Join(dir, name)
		l, _, err := openRoundLog(path, fuzzLogKey, entryPayloadSize, fuzzNow)
		if err != nil {
			f.Fatal(err)
		}
		if err := steps(l); err != nil {
			f.Fatal(err)
		}
		l.close()
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	at := func(s int) time.Time { return fuzzNow.Add(time.Duration(s) * time.Second) }
	deadDrop := []byte(`{"created_at":"2025-03-14T15:09:30Z","data":"AAAA","signature":"00"}`)
	batches := write("batches.log", func(l *roundLog) error {
		if err := l.appendBatch(at(1), fuzzInputs(kindCover, kindReal, kindReal, kindUnopened)); err != nil {
			return err
		}
		if err := l.appendAcked(); err != nil {
			return err
		}
		if err := l.appendRelease(at(2), 1, deadDrop); err != nil {
			return err
		}
		if err := l.appendPublished(); err != nil {
			return err
		}
		return l.appendBatch(at(3), fuzzInputs(kindReal, kindCover))
	})
	f.Add(batches, false)
	f.Add(batches, true)
	f.Add(batches[:len(batches)-7], false) // torn
	compacted := write("compacted.log", func(l *roundLog) error {
		if err := l.compact(at(4), 3, at(2), fuzzInputs(kindReal, kindReal)); err != nil {
			return err
		}
		if err := l.appendBatch(at(5), fuzzInputs(kindReal)); err != nil {
			return err
		}
		old := binary.BigEndian.AppendUint64(nil, uint64(at(6).UnixNano()))
		old = binary.BigEndian.AppendUint32(old, 2)
		return l.append(recReleaseOld, append(old, "{}"...))
	})
	f.Add(compacted, false)
	f.Add(compacted, true)
	f.Add([]byte{}, false)
	f.Add(frame(recPublished, nil), false)
	f.Add(frame(recAcked, nil), true)
}

// FuzzOpenRoundLog: a round log file of any content opens without
// panicking; one it accepts is cut to the records it read, holds inputs
// that fit their slots, and opens again to the very same state. With
// reframe set, the checksums are fixed first so that the records
// themselves are fuzzed.
func FuzzOpenRoundLog(f *testing.F) {
	seedRoundLogs(f)
	path := filepath.Join(f.TempDir(), "fuzz.log")
	f.Fuzz(func(t *testing.T, b []byte, reframe bool) {
		if reframe {
			b = fixCRCs(b)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, st, err := openRoundLog(path, fuzzLogKey, entryPayloadSize, fuzzNow)
		if err != nil {
			return
		}
		size := l.size
		if err := l.close(); err != nil {
			t.Fatal(err)
		}
		kept, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(kept)) != size || !bytes.HasPrefix(b, kept) {
			t.Fatalf("the log kept %d bytes (size %d) that are not a prefix of the %d it held", len(kept), size, len(b))
		}
		for _, es := range [][]entry{st.buffer, st.unacked} {
			for _, e := range es {
				if len(e.payload) > entryPayloadSize {
					t.Fatalf("an input of %d bytes", len(e.payload))
				}
			}
		}
		if st.seen < 0 {
			t.Fatalf("%d inputs seen", st.seen)
		}
		l2, st2, err := openRoundLog(path, fuzzLogKey, entryPayloadSize, fuzzNow)
		if err != nil {
			t.Fatalf("an accepted log does not open again: %v", err)
		}
		l2.close()
		if !reflect.DeepEqual(st, st2) {
			t.Fatalf("the log opens to another state the second time:\n%+v\n%+v", st, st2)
		}
	})
}

// seedKeyStates adds key states as the node saves them: a published
// identity key, an identity key waiting for its certificate, published
// and candidate messaging keys, and the log key.
func seedKeyStates(f *testing.F) {
	n := testnet.NewNewsroom(f, fuzzNow.Add(-time.Hour))
	gen := n.Gen
	id := gen(keys.CoverNodeIdentity, n.CNProv)
	msg := gen(keys.CoverNodeMessaging, id)
	candidate := gen(keys.CoverNodeMessaging, id)
	sk, err := crypto.GenerateSigningKey()
	if err != nil {
		f.Fatal(err)
	}
	ks := &keyState{
		CoverNodeID: "covernode_001",
		Identity: []*ownKey{
			{Pair: id, Epoch: 3, CreatedAt: fuzzNow.Add(-time.Hour)},
			{Pair: keys.NewSigningKeyPair(sk, nil), CreatedAt: fuzzNow},
		},
		Messaging: []*ownKey{
			{Pair: msg, Epoch: 4, CreatedAt: fuzzNow.Add(-time.Hour)},
			{Pair: candidate, CreatedAt: fuzzNow},
		},
		LogKey: fuzzLogKey[:],
	}
	b, err := json.Marshal(ks)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	ks.Identity, ks.Messaging = ks.Identity[:1], nil
	b, err = json.Marshal(ks)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	// Once decoded without error, then panicked in latest.
	f.Add([]byte(`{"identity":[{"pair":null,"epoch":1}],"messaging":[null]}`))
	f.Add([]byte(`{"log_key":"AAAA"}`))
}

// FuzzKeyState: the JSON of a key state (as it is once unsealed) decodes
// without panicking, or gives an error; a key state that decodes has a key
// pair for every key and a whole log key, serves the node without
// panicking, and re-encodes to JSON that decodes to the same state.
func FuzzKeyState(f *testing.F) {
	seedKeyStates(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ks := &keyState{}
		if err := ks.decode(b); err != nil {
			return
		}
		for _, list := range [][]*ownKey{ks.Identity, ks.Messaging} {
			for _, k := range list {
				if k == nil || k.Pair == nil {
					t.Fatal("a key without a key pair decoded")
				}
			}
		}
		if n := len(ks.LogKey); n != 0 && n != crypto.SecretBoxKeySize {
			t.Fatalf("a log key of %d bytes decoded", n)
		}
		again, err := json.Marshal(ks)
		if err != nil {
			t.Fatal(err)
		}
		back := &keyState{}
		if err := back.decode(again); err != nil {
			t.Fatalf("a re-encoded key state does not decode: %v\n%s", err, again)
		}
		if b2, err := json.Marshal(back); err != nil || !bytes.Equal(b2, again) {
			t.Fatalf("a key state does not survive re-encoding: %v\n%s\n%s", err, again, b2)
		}
		// What the node does with its keys.
		_ = ks.Identity.Latest(fuzzNow)
		_ = ks.decryptionKeys(fuzzNow)
		_, _, _ = ks.signer(fuzzNow)
		ks.forgetExpired(fuzzNow)
	})
}

// entryPayloadSize is the room of an entry's payload in the logs the fuzz
// targets read: coverdrop mode's.
const entryPayloadSize = coverDropEntryPayloadSize
