package covernode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"

	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/crypto"
)

// The round log is the CoverNode's memory across crashes, one file per
// direction. Every input it takes from the stream is written there (and
// fsynced) before the input is acknowledged, so that acknowledging never
// loses a message; every dead drop is written there, signed, before it is
// posted, so that after a crash the very same bytes are posted again and
// the API recognises them. Replaying the log rebuilds the mixer exactly.
//
// Records: u32 length, u8 type, payload, u32 CRC-32 of type and payload.
// A torn last record (a crash mid-write) is dropped on open.
//
// Nothing in the file says how many inputs were real: entries of every
// kind take the same room and are sealed, the count a release takes is
// sealed, and a snapshot (which keeps only the real inputs still waiting,
// and the replay guard's set of real inputs taken) is padded to a size
// that does not follow their number unless they are many (a power of two
// above snapshotMinEntries).
const (
	recSnapshot   = 1 // seen u32, last release i64 ns, entries
	recBatch      = 2 // time i64 ns, entries
	recReleaseOld = 3 // time i64 ns, reals u32, dead-drop JSON (read, never written)
	recPublished  = 4 // (empty)
	recAcked      = 5 // the last batch's acknowledgements reached JetStream
	recRelease    = 6 // time i64 ns, sealed reals u32, dead-drop JSON
	recSeen       = 7 // the replay guard's set, sealed (seen.go); follows a snapshot
)

// Kinds of input.
const (
	kindCover    = 0
	kindReal     = 1
	kindUnopened = 2 // no key of ours opened it: not counted, as upstream
	kindPadding  = 3 // fills a snapshot; not an input
	kindPassed   = 4 // no key of ours opened it: handed back for another node (passon.go)
)

// snapshotMinEntries is the least number of entries a snapshot holds, real
// or padding; beyond it a snapshot holds a power of two. Its size then
// says nothing about the real inputs waiting unless more than this many
// wait.
const snapshotMinEntries = 64

// entry is one input. On disk every entry takes the same room whatever its
// kind (the mode's payloadSize, room for a U2C plaintext), and a record's
// entries are sealed together under the node's log key.
type entry struct {
	seq     uint64
	kind    byte
	payload []byte
	reply   string // the subject that acknowledges it
	id      seenID // names the input for the replay guard; not written
	// delivered is how often JetStream has delivered the input, this
	// delivery included (passon.go); not written.
	delivered uint64
}

// entryPlainSize is the room of one entry with payloads of payloadSize.
func entryPlainSize(payloadSize int) int { return 8 + 1 + 2 + payloadSize }

func putEntry(dst []byte, e entry, payloadSize int) []byte {
	p := make([]byte, entryPlainSize(payloadSize))
	binary.BigEndian.PutUint64(p[:8], e.seq)
	p[8] = e.kind
	binary.BigEndian.PutUint16(p[9:11], uint16(len(e.payload)))
	copy(p[11:], e.payload)
	return append(dst, p...)
}

func (l *roundLog) sealEntries(dst []byte, es []entry) ([]byte, error) {
	box, err := crypto.SealSecret(&l.key, encodeEntries(es, l.payloadSize))
	if err != nil {
		return nil, err
	}
	return append(dst, box...), nil
}

// encodeEntries gives the plaintext a record's entries are sealed as: u32
// count, the entries (putEntry), then each entry's reply subject (u16
// length, bytes). parseEntries reads it.
func encodeEntries(es []entry, payloadSize int) []byte {
	plain := make([]byte, 0, 4+len(es)*(entryPlainSize(payloadSize)+64))
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(es)))
	for _, e := range es {
		plain = putEntry(plain, e, payloadSize)
	}
	for _, e := range es {
		plain = binary.BigEndian.AppendUint16(plain, uint16(len(e.reply)))
		plain = append(plain, e.reply...)
	}
	return plain
}

func (l *roundLog) openEntries(box []byte) ([]entry, error) {
	p, err := crypto.OpenSecret(&l.key, box)
	if err != nil {
		return nil, errors.New("covernode: round log entries do not open with the log key")
	}
	return parseEntries(p, l.payloadSize)
}

// parseEntries reads the plaintext of a record's entries (encodeEntries).
func parseEntries(p []byte, payloadSize int) ([]entry, error) {
	if len(p) < 4 {
		return nil, errors.New("covernode: round log record has no entry count")
	}
	count := int(binary.BigEndian.Uint32(p))
	p = p[4:]
	size := entryPlainSize(payloadSize)
	if count > len(p)/size {
		return nil, errors.New("covernode: round log record has a bad count")
	}
	replies := p[count*size:]
	var out []entry
	for i := 0; i < count*size; i += size {
		q := p[i : i+size]
		n := int(binary.BigEndian.Uint16(q[9:11]))
		if n > payloadSize {
			return nil, errors.New("covernode: round log entry has a bad length")
		}
		out = append(out, entry{seq: binary.BigEndian.Uint64(q[:8]), kind: q[8], payload: append([]byte(nil), q[11:11+n]...)})
	}
	for i := range out {
		if len(replies) < 2 {
			return nil, errors.New("covernode: round log record is missing reply subjects")
		}
		n := int(binary.BigEndian.Uint16(replies))
		if len(replies) < 2+n {
			return nil, errors.New("covernode: round log record has a bad reply subject")
		}
		out[i].reply = string(replies[2 : 2+n])
		replies = replies[2+n:]
	}
	return out, nil
}

// roundLog is an append-only log file.
type roundLog struct {
	path string
	key  [crypto.SecretBoxKeySize]byte
	// payloadSize is the room of an entry's payload (the mode's).
	payloadSize int
	f           *os.File
	// seen is the replay guard's set of the real inputs taken.
	seen *seenSet
	// size is the file's length; compacted when it was last compacted.
	size      int64
	compacted time.Time
}

// A log is compacted after every release, and between releases (which
// can be hours apart) once a minute or once it holds 64 MiB, so that
// the acknowledgement subjects and stream sequences of a round's inputs,
// and the inputs of cover, do not stay on disk for long.
const (
	compactEvery = time.Minute
	compactSize  = 64 << 20
)

// compactDue reports whether the log should be compacted between
// releases.
func (l *roundLog) compactDue(now time.Time) bool {
	return l.size >= compactSize || now.Sub(l.compacted) >= compactEvery
}

// replayed is the state a log describes.
type replayed struct {
	seen        int
	lastRelease time.Time
	buffer      []entry // real inputs not yet released, oldest first
	pending     []byte  // a dead drop written but not known to be published
	// unacked are the inputs of the last batch when its acknowledgements
	// were not known to have reached JetStream.
	unacked []entry
}

func openRoundLog(path string, key [crypto.SecretBoxKeySize]byte, payloadSize int, now time.Time) (*roundLog, *replayed, error) {
	l := &roundLog{path: path, key: key, payloadSize: payloadSize, seen: newSeenSet(&key)}
	st := &replayed{lastRelease: now}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	good := 0
	for off := 0; off+9 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n < 1 || off+4+n+4 > len(b) {
			break
		}
		body := b[off+4 : off+4+n]
		if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(b[off+4+n:]) {
			break
		}
		if err := l.apply(st, body[0], body[1:]); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		off += 4 + n + 4
		good = off
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	// Drop a torn tail.
	if err := f.Truncate(int64(good)); err != nil {
		f.Close()
		return nil, nil, err
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	l.f, l.size, l.compacted = f, int64(good), now
	l.seen.forget(now)
	return l, st, nil
}

func (l *roundLog) apply(st *replayed, typ byte, p []byte) error {
	readEntries := l.openEntries
	switch typ {
	case recSnapshot:
		if len(p) < 12 {
			return errors.New("covernode: short snapshot record")
		}
		st.seen = int(binary.BigEndian.Uint32(p))
		st.lastRelease = time.Unix(0, int64(binary.BigEndian.Uint64(p[4:])))
		es, err := readEntries(p[12:])
		if err != nil {
			return err
		}
		st.buffer, st.pending, st.unacked = nil, nil, nil
		l.seen.until = map[seenID]int64{}
		for _, e := range es {
			if e.kind != kindPadding {
				st.buffer = append(st.buffer, e)
			}
		}
	case recBatch:
		if len(p) < 8 {
			return errors.New("covernode: short batch record")
		}
		es, err := readEntries(p[8:])
		if err != nil {
			return err
		}
		st.unacked = es
		at := time.Unix(0, int64(binary.BigEndian.Uint64(p)))
		for _, e := range es {
			switch e.kind {
			case kindReal:
				l.seen.take(l.seen.id(e.payload), at)
				st.buffer = append(st.buffer, e)
				st.seen++
			case kindCover:
				st.seen++
			}
		}
	case recRelease, recReleaseOld:
		countSize := 4
		if typ == recRelease {
			countSize += crypto.SecretBoxOverhead
		}
		if len(p) < 8+countSize {
			return errors.New("covernode: short release record")
		}
		count := p[8 : 8+countSize]
		if typ == recRelease {
			var err error
			if count, err = crypto.OpenSecret(&l.key, count); err != nil {
				return errors.New("covernode: release record does not open with the log key")
			}
		}
		reals := int(binary.BigEndian.Uint32(count))
		if reals > len(st.buffer) {
			return errors.New("covernode: release record takes more messages than were waiting")
		}
		st.buffer = append([]entry(nil), st.buffer[reals:]...)
		st.seen = 0
		st.lastRelease = time.Unix(0, int64(binary.BigEndian.Uint64(p)))
		st.pending = append([]byte(nil), p[8+countSize:]...)
	case recSeen:
		plain, err := crypto.OpenSecret(&l.key, p)
		if err != nil {
			return errors.New("covernode: replay guard record does not open with the log key")
		}
		// Expired ids are dropped once the whole log is read.
		if err := l.seen.decode(plain, time.Unix(0, 0)); err != nil {
			return err
		}
	case recPublished:
		st.pending = nil
	case recAcked:
		st.unacked = nil
	default:
		return fmt.Errorf("covernode: unknown round log record %d", typ)
	}
	return nil
}

// frame builds one record.
func frame(typ byte, payload []byte) []byte {
	out := make([]byte, 4, 4+1+len(payload)+4)
	binary.BigEndian.PutUint32(out, uint32(1+len(payload)))
	out = append(out, typ)
	out = append(out, payload...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// append writes a record and makes it durable.
func (l *roundLog) append(typ byte, payload []byte) error {
	if err := l.write(frame(typ, payload)); err != nil {
		return err
	}
	return l.f.Sync()
}

func (l *roundLog) write(rec []byte) error {
	n, err := l.f.Write(rec)
	l.size += int64(n)
	return err
}

func (l *roundLog) appendBatch(now time.Time, es []entry) error {
	p := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	p, err := l.sealEntries(p, es)
	if err != nil {
		return err
	}
	return l.append(recBatch, p)
}

func (l *roundLog) appendRelease(now time.Time, reals int, deadDrop []byte) error {
	p := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	count, err := crypto.SealSecret(&l.key, binary.BigEndian.AppendUint32(nil, uint32(reals)))
	if err != nil {
		return err
	}
	p = append(p, count...)
	return l.append(recRelease, append(p, deadDrop...))
}

func (l *roundLog) appendPublished() error { return l.append(recPublished, nil) }

// appendAcked records that the last batch was acknowledged. It is not
// synced: losing it only means acknowledging that batch again.
func (l *roundLog) appendAcked() error { return l.write(frame(recAcked, nil)) }

// compact replaces the log with one snapshot of the mixer's state, written
// to a new file that atomically takes the old one's place. The snapshot
// keeps of each waiting input only its kind and payload (its stream
// sequence and acknowledgement subject, which dates it, are of no more
// use once it is acknowledged) and is padded (see snapshotMinEntries).
func (l *roundLog) compact(now time.Time, seen int, lastRelease time.Time, buffer []entry) error {
	size := snapshotMinEntries
	for size < len(buffer) {
		size *= 2
	}
	entries := make([]entry, size)
	for i := range entries {
		entries[i] = entry{kind: kindPadding}
		if i < len(buffer) {
			entries[i] = entry{kind: buffer[i].kind, payload: buffer[i].payload}
		}
	}
	p := binary.BigEndian.AppendUint32(nil, uint32(seen))
	p = binary.BigEndian.AppendUint64(p, uint64(lastRelease.UnixNano()))
	p, err := l.sealEntries(p, entries)
	if err != nil {
		return err
	}
	l.seen.forget(now)
	plain, err := l.seen.encode()
	if err != nil {
		return err
	}
	guard, err := crypto.SealSecret(&l.key, plain)
	if err != nil {
		return err
	}
	rec := append(frame(recSnapshot, p), frame(recSeen, guard)...)
	if err := atomicfile.Write(l.path, rec, 0o600); err != nil {
		return err
	}
	l.size, l.compacted = int64(len(rec)), now
	old := l.f
	nf, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	l.f = nf
	return old.Close()
}

func (l *roundLog) close() error { return l.f.Close() }
