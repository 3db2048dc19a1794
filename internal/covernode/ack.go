package covernode

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/nats-io/nats.go"
)

// Acknowledgements, and why each is confirmed. Several CoverNodes share a
// stream's consumer: a message one node took and logged but whose
// acknowledgement JetStream did not record is offered again, after the
// consumer's AckWait, to any node. Another node would then take a real
// message a second time, and publish it again: a reply twice in the user
// dead drops, identical bytes, telling the cloud it was real. (A copy
// offered to the same node is stopped by its replay guard.) An
// acknowledgement is lost when a NATS node, or the consumer's leader, dies
// before it is replicated, and when the CoverNode dies between logging a
// batch and acknowledging it.
//
// So a node sends each acknowledgement as a request, which JetStream
// answers once the acknowledgement is replicated (AckSync), sends again
// those it was not answered, and counts a batch acknowledged (the round
// log's recAcked) only once every one was answered. And a node that
// starts acknowledges the batch its round log says was not (settle)
// before it does anything that needs the API, which may be down with it:
// well within the AckWait whenever the node comes back at once, as a
// supervisor restarts it.

// crashAfterLogging stops a direction right after it logged a batch,
// before any acknowledgement, as a crash there would (for tests,
// export_test.go).
var crashAfterLogging atomic.Bool

// errCrashed is what a direction stopped by crashAfterLogging returns.
var errCrashed = errors.New("covernode: stopped after logging a batch (test)")

// ackBody is an acknowledgement (JetStream's "+ACK").
var ackBody = []byte("+ACK")

// ack is an acknowledgement: ackBody, or a negative one handing an input
// on (passon.go), sent to a message's reply subject.
type ack struct {
	reply string
	body  []byte
}

// sendAck sends one acknowledgement and waits for JetStream's answer; a
// test replaces it to lose acknowledgements on the way.
var sendAck = func(ctx context.Context, nc *nats.Conn, a ack) error {
	_, err := nc.RequestWithContext(ctx, a.reply, a.body)
	return err
}

// ackTry bounds the wait for one answer: a quarter of the AckWait, at
// most two seconds, so that an acknowledgement is sent several times
// before JetStream would offer its message again.
func ackTry(ackWait time.Duration) time.Duration { return min(2*time.Second, ackWait/4) }

// errAckUnconfirmed: some acknowledgements went unanswered for the whole
// AckWait.
var errAckUnconfirmed = errors.New("acknowledgements unconfirmed for the whole AckWait")

// ackConfirmed acknowledges every message of a batch by its reply subject
// (negative acknowledgements alike) and returns once JetStream confirmed
// each, sending again those it did not. After ackWait JetStream offers an unconfirmed message again anyway,
// perhaps to another node: ackConfirmed then warns and returns (a copy
// that comes back to this node is stopped by the replay guard), rather
// than hold the node until the cluster answers.
func ackConfirmed(ctx context.Context, nc *nats.Conn, acks []ack, ackWait time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(ackWait)
	left := acks
	for {
		var mu sync.Mutex
		var failed []ack
		var wg sync.WaitGroup
		for _, r := range left {
			if r.reply == "" {
				continue // not a JetStream message: nothing to acknowledge
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tctx, cancel := context.WithTimeout(ctx, ackTry(ackWait))
				defer cancel()
				if err := sendAck(tctx, nc, r); err != nil {
					mu.Lock()
					failed = append(failed, r)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		switch {
		case len(failed) == 0:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			log.Warn("JetStream did not confirm acknowledgements within the AckWait: it may offer those messages again, to another node too", "unconfirmed", len(failed))
			return nil
		}
		left = failed
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ackLogged acknowledges the batch a round log says was not (an input
// that was being handed on is handed on again), records that it was, and
// returns the stream sequences of the inputs it took.
func ackLogged(ctx context.Context, nc *nats.Conn, log *roundLog, st *replayed, ackWait time.Duration) (map[uint64]bool, error) {
	seqs := map[uint64]bool{}
	var acks []ack
	for _, e := range st.unacked {
		a := ack{reply: e.reply, body: ackBody}
		if e.kind == kindPassed {
			a.body = passOn.nak(1)
		} else {
			seqs[e.seq] = true
		}
		acks = append(acks, a)
	}
	if err := ackConfirmed(ctx, nc, acks, ackWait, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	st.unacked = nil
	return seqs, log.appendAcked()
}

// settle acknowledges, for each direction, the batch logged before a crash
// but not known to be acknowledged, and returns its stream sequences. It
// needs the node's NATS connection and its log key, nothing else: a new
// node (no log key yet) has nothing to settle. payloadSize is the
// protocol mode's (protocolMode.payloadSize).
func settle(ctx context.Context, nc *nats.Conn, cfg Config, logKey []byte, payloadSize int) (map[string]map[uint64]bool, error) {
	out := map[string]map[uint64]bool{}
	if len(logKey) != crypto.SecretBoxKeySize {
		return out, nil
	}
	var key [crypto.SecretBoxKeySize]byte
	copy(key[:], logKey)
	for _, dir := range []string{dirU2J, dirJ2U} {
		log, st, err := openRoundLog(filepath.Join(cfg.StateDir, dir+".log"), key, payloadSize, cfg.Now())
		if err != nil {
			return nil, err
		}
		if len(st.unacked) > 0 {
			if out[dir], err = ackLogged(ctx, nc, log, st, cfg.AckWait); err != nil {
				log.close()
				return nil, errors.Join(errors.New(dir+": acknowledging the batch logged before a crash"), err)
			}
		}
		if err := log.close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
