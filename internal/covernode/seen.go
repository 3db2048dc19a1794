package covernode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
)

// The replay guard. The cloud can put the bytes of any reader's or
// journalist's message into the streams again, as new stream messages, as
// often as it likes while a messaging key that opens them is valid. Were
// each copy of a real message published again, a reply would appear twice
// in the public user dead drops (its J2U bytes pass through unchanged)
// while a replayed cover message leaves no trace: the cloud would learn
// which inputs were real.
//
// So a node remembers every real input it has taken, by a keyed hash of
// its plaintext (a seenID), until every messaging key that could have
// opened it has expired, and takes a later copy as cover: it is counted
// like every input, acknowledged with its batch, and nothing of it is
// published. A copy of a cover input is cover anyway. Whatever the cloud
// replays, a replay provokes the same thing.
//
// The plaintext, not the ciphertext, names an input: a multi-anonymous box
// can be altered (its other recipients' slots swapped or replaced) and
// still open to the same plaintext, but no one without the message's key
// can make a different box that opens to it. Every real plaintext is
// unique: its inner message is sealed to a fresh ephemeral key.
//
// The set is part of the round log: the real inputs of every logged batch
// are in it when the log is replayed, and every snapshot carries it,
// sealed under the log key and padded like the snapshot (see
// snapshotMinEntries). It holds real inputs only, so it stays small; its
// ids are keyed so that the file, even opened, does not confirm a guessed
// message.
//
// The set is each node's own. Several CoverNodes sharing the streams each
// refuse a copy of what they took themselves; a copy that the cloud
// delivers to another node than the original is not recognised (see
// docs/THREAT-MODEL.md).

// seenID names a real input.
type seenID [16]byte

// seenFor is how long an input is remembered: the longest a CoverNode
// messaging key is valid, so that no key that opened it opens a copy
// after its id is forgotten.
var seenFor = keys.CoverNodeMessaging.ValidFor()

// guardDisabled turns the replay guard off, and tagCheckDisabled the
// check of recipient tags (node.go, admit), for tests that show each is
// what stops a replay or a flood (export_test.go).
var guardDisabled, tagCheckDisabled bool

// seenSet is the set of real inputs a direction has taken, with when each
// may be forgotten.
type seenSet struct {
	key   [32]byte
	until map[seenID]int64 // unix ns
}

// newSeenSet derives the set's hashing key from the round log key.
func newSeenSet(logKey *[crypto.SecretBoxKeySize]byte) *seenSet {
	m := hmac.New(sha256.New, logKey[:])
	m.Write([]byte("chaff covernode replay guard v1"))
	s := &seenSet{until: map[seenID]int64{}}
	copy(s.key[:], m.Sum(nil))
	return s
}

// id names a plaintext.
func (s *seenSet) id(payload []byte) seenID {
	m := hmac.New(sha256.New, s.key[:])
	m.Write(payload)
	var id seenID
	copy(id[:], m.Sum(nil))
	return id
}

// take reports whether a real input is new, and remembers it from at.
func (s *seenSet) take(id seenID, at time.Time) bool {
	if _, ok := s.until[id]; ok && !guardDisabled {
		return false
	}
	s.until[id] = at.Add(seenFor).UnixNano()
	return true
}

// forget drops what expired by now.
func (s *seenSet) forget(now time.Time) {
	for id, until := range s.until {
		if until <= now.UnixNano() {
			delete(s.until, id)
		}
	}
}

// seenEntrySize is one id and its expiry on disk.
const seenEntrySize = 16 + 8

// encode gives the set's plaintext, padded with random ids that expired
// at the epoch to snapshotMinEntries or the next power of two.
func (s *seenSet) encode() ([]byte, error) {
	size := snapshotMinEntries
	for size < len(s.until) {
		size *= 2
	}
	out := make([]byte, 0, size*seenEntrySize)
	for id, until := range s.until {
		out = append(out, id[:]...)
		out = binary.BigEndian.AppendUint64(out, uint64(until))
	}
	for range size - len(s.until) {
		var pad [seenEntrySize]byte
		if _, err := rand.Read(pad[:16]); err != nil {
			return nil, err
		}
		out = append(out, pad[:]...)
	}
	return out, nil
}

// decode replaces the set with one encode wrote, less what expired by now.
func (s *seenSet) decode(p []byte, now time.Time) error {
	if len(p)%seenEntrySize != 0 {
		return errors.New("covernode: replay guard record has a bad length")
	}
	s.until = map[seenID]int64{}
	for ; len(p) > 0; p = p[seenEntrySize:] {
		until := int64(binary.BigEndian.Uint64(p[16:]))
		if until > now.UnixNano() {
			s.until[seenID(p[:16])] = until
		}
	}
	return nil
}
