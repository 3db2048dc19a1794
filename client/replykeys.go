package client

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// replyKey is a pq-mode reply key the reader keeps (docs/PQ.md §5.5): the
// key exported from one of its messages, the journalist that message went
// to, and when it was queued.
type replyKey struct {
	pq.StoredReplyKey
	SentAt time.Time
}

// replyKeys is a pq-mode reader's reply-key store, oldest first: at most
// pq.MaxReplyKeys keys, none older than pq.ReplyKeyRetention. It lives
// inside the mailbox, so inside the install's fixed-size encrypted
// storage: a seized phone shows neither how many keys there are nor that
// there are any. Each key opens the replies to one message, so a key is
// deleted once no reply to its message can still be read.
type replyKeys []replyKey

// The store's encoding: u16 count ‖ count × (reply key (32) ‖ i64 queued
// at, Unix seconds ‖ u8 id length ‖ journalist id), big-endian, oldest
// first.
const (
	replyKeyFixedSize = pq.ReplyKeySize + 8 + 1
	// maxReplyKeysSize bounds the encoding: what 256 keys to journalists
	// of the longest ids take, a few tens of KiB of the mailbox's
	// MailboxCapacity.
	maxReplyKeysSize = 2 + pq.MaxReplyKeys*(replyKeyFixedSize+protocol.MaxJournalistIDLen)
)

// marshal encodes the store.
func (r replyKeys) marshal() []byte {
	out := binary.BigEndian.AppendUint16(nil, uint16(len(r)))
	for _, k := range r {
		out = append(out, k.Key[:]...)
		out = binary.BigEndian.AppendUint64(out, uint64(k.SentAt.Unix()))
		out = append(append(out, byte(len(k.JournalistID))), k.JournalistID...)
	}
	return out
}

// parseReplyKeys decodes a store: it refuses more than pq.MaxReplyKeys keys,
// an invalid journalist id, dates out of order, a truncated record and
// trailing bytes, so that what parses marshals back to the same bytes.
func parseReplyKeys(b []byte) (replyKeys, error) {
	if len(b) < 2 {
		return nil, errors.New("client: reply keys: truncated")
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > pq.MaxReplyKeys {
		return nil, fmt.Errorf("client: reply keys: %d keys, the most is %d", n, pq.MaxReplyKeys)
	}
	b = b[2:]
	out := make(replyKeys, 0, n)
	for i := range n {
		if len(b) < replyKeyFixedSize {
			return nil, fmt.Errorf("client: reply keys: key %d is truncated", i)
		}
		var k replyKey
		copy(k.Key[:], b)
		k.SentAt = time.Unix(int64(binary.BigEndian.Uint64(b[pq.ReplyKeySize:])), 0).UTC()
		idLen := int(b[replyKeyFixedSize-1])
		b = b[replyKeyFixedSize:]
		if len(b) < idLen {
			return nil, fmt.Errorf("client: reply keys: key %d is truncated", i)
		}
		k.JournalistID = string(b[:idLen])
		b = b[idLen:]
		if err := protocol.ValidateJournalistID(k.JournalistID); err != nil {
			return nil, fmt.Errorf("client: reply keys: key %d: %w", i, err)
		}
		if i > 0 && k.SentAt.Before(out[i-1].SentAt) {
			return nil, fmt.Errorf("client: reply keys: key %d is older than the one before it", i)
		}
		out = append(out, k)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("client: reply keys: %d bytes after the last key", len(b))
	}
	return out, nil
}

// MarshalJSON writes the store as a base64 string of its encoding.
func (r replyKeys) MarshalJSON() ([]byte, error) {
	return json.Marshal(r.marshal())
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *replyKeys) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if base64.StdEncoding.DecodedLen(len(s)) > maxReplyKeysSize+3 {
		return errors.New("client: reply keys: too long")
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("client: reply keys: %w", err)
	}
	k, err := parseReplyKeys(raw)
	if err != nil {
		return err
	}
	*r = k
	return nil
}

// add returns the store with k added as the newest key, keeping the
// newest pq.MaxReplyKeys (journalists answer with the key of a reader's
// latest message); the keys it drops are wiped. A device clock set back
// dates k as the newest key before it, so that the store stays in order.
func (r replyKeys) add(k replyKey) replyKeys {
	k.SentAt = k.SentAt.UTC().Truncate(time.Second)
	if n := len(r); n > 0 && k.SentAt.Before(r[n-1].SentAt) {
		k.SentAt = r[n-1].SentAt
	}
	r = append(r, k)
	if drop := len(r) - pq.MaxReplyKeys; drop > 0 {
		wipe(r[:drop])
		r = append(replyKeys(nil), r[drop:]...)
	}
	return r
}

// expire returns the store without the keys queued more than
// pq.ReplyKeyRetention before now (no reply to their messages can still be
// read), and wipes them.
func (r replyKeys) expire(now time.Time) replyKeys {
	cutoff := now.Add(-pq.ReplyKeyRetention)
	i := 0
	for i < len(r) && r[i].SentAt.Before(cutoff) {
		i++
	}
	wipe(r[:i])
	return append(replyKeys(nil), r[i:]...)
}

// stored returns the keys as pq.ReaderOpener takes them, newest first: a
// journalist answers the latest message.
func (r replyKeys) stored() []pq.StoredReplyKey {
	out := make([]pq.StoredReplyKey, len(r))
	for i, k := range r {
		out[len(r)-1-i] = k.StoredReplyKey
	}
	return out
}

func wipe(ks []replyKey) {
	for i := range ks {
		clear(ks[i].Key[:])
	}
}
