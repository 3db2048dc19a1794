package client

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// QueueSlots is the number of messages the private sending queue holds.
const QueueSlots = 8

const hintSize = sha256.Size

// ErrQueueFull is returned when all slots hold real messages.
var ErrQueueFull = errors.New("the sending queue is full: wait until queued messages have been sent")

// queue is the private sending queue (SPEC §8.3): always QueueSlots
// U2C messages of the install's protocol mode's one size, real ones first,
// each with a hint. A real message's hint
// is HMAC-SHA256 of the message under a secret kept in the encrypted
// storage; a cover message's hint is random. Without the secret the queue
// (kept in public storage) says nothing about how many messages are real.
type queue struct {
	size  int // every item's: the mode's U2C message size
	items [QueueSlots][]byte
	hints [QueueSlots][hintSize]byte
}

func hint(secret, item []byte) [hintSize]byte {
	m := hmac.New(sha256.New, secret)
	m.Write(item)
	var h [hintSize]byte
	copy(h[:], m.Sum(nil))
	return h
}

// newQueue fills a queue with cover messages of size bytes.
func newQueue(size int, cover func() ([]byte, error)) (*queue, error) {
	q := &queue{size: size}
	for i := range q.items {
		c, err := cover()
		if err != nil {
			return nil, err
		}
		if len(c) != size {
			return nil, fmt.Errorf("client: a cover message is %d bytes, want %d", len(c), size)
		}
		q.items[i] = c
		if _, err := rand.Read(q.hints[i][:]); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// realCount is the number of leading slots whose hint the secret explains.
func (q *queue) realCount(secret []byte) int {
	n := 0
	for n < QueueSlots {
		h := hint(secret, q.items[n])
		if !hmac.Equal(h[:], q.hints[n][:]) {
			break
		}
		n++
	}
	return n
}

// enqueue puts a real message behind the real ones already queued, in
// place of a cover message.
func (q *queue) enqueue(secret, item []byte) error {
	if len(item) != q.size {
		return fmt.Errorf("client: a queued message is %d bytes, want %d", len(item), q.size)
	}
	n := q.realCount(secret)
	if n == QueueSlots {
		return ErrQueueFull
	}
	q.items[n] = item
	q.hints[n] = hint(secret, item)
	return nil
}

// front is the message the next send sends.
func (q *queue) front() []byte { return q.items[0] }

// dequeue drops the front message and appends a fresh cover message with a
// random hint. Every send does exactly this, real or not.
func (q *queue) dequeue(cover []byte) error {
	if len(cover) != q.size {
		return fmt.Errorf("client: a cover message is %d bytes, want %d", len(cover), q.size)
	}
	copy(q.items[:], q.items[1:])
	copy(q.hints[:], q.hints[1:])
	q.items[QueueSlots-1] = cover
	_, err := rand.Read(q.hints[QueueSlots-1][:])
	return err
}

// marshal writes the queue as Android does: i32 N ‖ i32 item size ‖ items
// ‖ hints, big-endian.
func (q *queue) marshal() []byte {
	out := binary.BigEndian.AppendUint32(nil, QueueSlots)
	out = binary.BigEndian.AppendUint32(out, uint32(q.size))
	for _, it := range q.items {
		out = append(out, it...)
	}
	for _, h := range q.hints {
		out = append(out, h[:]...)
	}
	return out
}

// unmarshalQueue reads a queue of messages of size bytes (the install's
// mode's); a queue of another size is a damaged one.
func unmarshalQueue(b []byte, size int) (*queue, error) {
	want := 8 + QueueSlots*(size+hintSize)
	if len(b) != want || binary.BigEndian.Uint32(b) != QueueSlots || binary.BigEndian.Uint32(b[4:]) != uint32(size) {
		return nil, errors.New("the sending queue file is damaged")
	}
	q := &queue{size: size}
	off := 8
	for i := range q.items {
		q.items[i] = append([]byte(nil), b[off:off+size]...)
		off += size
	}
	for i := range q.hints {
		copy(q.hints[i][:], b[off:])
		off += hintSize
	}
	return q, nil
}
