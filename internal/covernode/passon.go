package covernode

import (
	"fmt"
	"time"

	"github.com/chaffhq/chaff/keys"
)

// Passing on inputs this node cannot open.
//
// All CoverNodes share one durable consumer per stream, so each message
// goes to one of them. A sender seals to the messaging keys it last
// fetched; one whose view predates a CoverNode's key (a node added to a
// running deployment, or a sender that has not refreshed since) seals to
// the other nodes' keys only, and the new node cannot open its message.
// Taken as cover, as upstream's single CoverNode does, it would be lost
// although another node could open it.
//
// So a node that opens an input under none of its keys, while the
// published keys name another CoverNode with a messaging key, hands it
// back to JetStream (a negative acknowledgement with a delay) for another
// node to take. JetStream counts every delivery of a message to the
// consumer, whichever node took it; once an input has been delivered
// passOn.deliveries times and still opened nowhere, the node that holds
// it takes it as cover (acknowledged, nothing of it published). So an
// input no node can open (garbage, forged, sealed to a key expired
// everywhere) costs at most that many trial openings in all and never
// loops; the delays double from passOn.first up to passOn.most, so that
// the node able to open it has minutes to take it (through its restart,
// say) before it is given up.
//
// What this shows outside the node: a reader's real and cover messages
// are sealed by the same code to the same keys, so both open where one
// opens, and both are handed on where neither opens; a handed-on input
// tells the cloud only that its sender sealed to keys this node does not
// hold, which it could tell from when the sender last fetched keys. The
// replay guard and the round log are untouched: an input handed on was
// never opened, names nothing for the guard and enters no mix; the node
// that opens it takes it once, as any input.
type passOnSchedule struct {
	first, most time.Duration
	deliveries  uint64
}

// passOn is the schedule nodes follow (tests shorten it).
var passOn = passOnSchedule{first: time.Second, most: time.Minute, deliveries: 12}

// passOnDisabled makes a node take every input it cannot open as cover
// at once, as before; set only by tests (negative controls).
var passOnDisabled bool

// delay is how long an input delivered n times waits before JetStream
// offers it again.
func (s passOnSchedule) delay(n uint64) time.Duration {
	d := s.first
	for i := uint64(1); i < n && d < s.most; i++ {
		d *= 2
	}
	return min(d, s.most)
}

// nak is the negative acknowledgement that hands an input delivered n
// times back to JetStream (its wire form, for acknowledging by subject).
func (s passOnSchedule) nak(n uint64) []byte {
	return fmt.Appendf(nil, `-NAK {"delay": %d}`, s.delay(n).Nanoseconds())
}

// othersOpen reports whether the published keys name a CoverNode other
// than self with a messaging key: one that may open what self cannot.
func othersOpen(v *keys.Verified, self string) bool {
	for _, id := range v.CoverNodeIDs() {
		// The hierarchy verified in the node's mode: only that mode's
		// messaging keys are in it.
		if id != self && (len(v.CoverNodeMessagingKeys(id)) > 0 || len(v.CoverNodeKEMKeys(id)) > 0) {
			return true
		}
	}
	return false
}

// handOn marks the unopened inputs of a batch that go back to JetStream
// for another node (kindPassed); the rest of the unopened stay
// kindUnopened and are taken as cover. It depends on nothing but whether
// an input opened, how often it was delivered and the published keys:
// never on whether an input was real.
func handOn(entries []entry, others bool) {
	if !others || passOnDisabled {
		return
	}
	for i := range entries {
		if e := &entries[i]; e.kind == kindUnopened && e.delivered > 0 && e.delivered < passOn.deliveries {
			e.kind = kindPassed
		}
	}
}
