package deaddrop

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// SniffKind tells a journalist dead-drop list (whose items carry an epoch)
// from a user one, in a GET …/dead-drops body. An empty list reads as
// user dead drops.
func SniffKind(body []byte) (Kind, error) {
	var probe struct {
		DeadDrops []map[string]json.RawMessage `json:"dead_drops"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return 0, fmt.Errorf("not a dead-drops response: %w", err)
	}
	if len(probe.DeadDrops) > 0 {
		if _, ok := probe.DeadDrops[0]["epoch"]; ok {
			return Journalist, nil
		}
	}
	return User, nil
}

// Found is one message a trial decryption found, as chaff inspect prints
// it.
type Found struct {
	DeadDropID int64   `json:"dead_drop_id"`
	Direction  string  `json:"direction"`
	Type       string  `json:"type"`
	Text       *string `json:"text,omitempty"` // absent for handovers
	ReplyKey   string  `json:"reply_key,omitempty"`
	// ReaderID is a pq reader's id (docs/PQ.md §5.1), which threads its
	// messages as the reply key does in coverdrop mode; pq reply keys are
	// secret and never printed.
	ReaderID   string `json:"reader_id,omitempty"`
	HandoverTo string `json:"handover_to,omitempty"`
}

// TrialKeys are the secret keys an inspection decrypts with: a reader's
// key for user dead drops, journalist messaging keys for journalist ones.
type TrialKeys struct {
	Reader      *crypto.PrivateKey
	Journalists []*crypto.PrivateKey
}

// Inspection is what Inspect found in a page of dead drops.
type Inspection struct {
	Kind     Kind
	Total    int
	Verified int
	// Problems are, in order, the dead drops that did not verify or open
	// and the journalist dead drops newer than the keys.
	Problems []string
	Found    []Found
}

// testHookEpochFirst brings back looking at a dead drop's epoch before its
// signature; set only by tests (negative controls).
var testHookEpochFirst bool

// Inspect verifies each dead drop of a GET …/dead-drops body (its kind
// sniffed) with the verified keys, and trial-decrypts the verified ones
// with tk where tk holds keys for that kind.
func Inspect(body []byte, v *keys.Verified, tk TrialKeys) (*Inspection, error) {
	kind, err := SniffKind(body)
	if err != nil {
		return nil, err
	}
	list, err := ParseList(kind, body)
	if err != nil {
		return nil, err
	}
	open, err := opener(kind, v, tk)
	if err != nil {
		return nil, err
	}
	return InspectList(kind, list.DeadDrops, v, func(d *DeadDrop) (int64, int32) { return d.ID, d.Epoch }, (*DeadDrop).Verify, open), nil
}

// InspectList verifies each dead drop of a parsed page, of either
// protocol mode (id gives its id and epoch, verify checks its signature
// in its mode's form), reports journalist dead drops newer than the keys
// (only once they verify), and trial-decrypts the verified ones with open
// when it is not nil.
func InspectList[D any](kind Kind, list []D, v *keys.Verified, id func(D) (int64, int32), verify func(D, []*crypto.VerifyingKey) error, open func(D) ([]Found, error)) *Inspection {
	in := &Inspection{Kind: kind, Total: len(list)}
	cnKeys := v.CoverNodeIdentityKeys()
	for _, d := range list {
		ddID, epoch := id(d)
		newer := kind == Journalist && int64(epoch) > v.MaxEpoch
		if testHookEpochFirst && newer {
			in.Problems = append(in.Problems, fmt.Sprintf("dead drop %d: epoch %d is newer than the keys' max_epoch %d: a journalist client would fetch keys again first", ddID, epoch, v.MaxEpoch))
			continue
		}
		// The signature first: an epoch (or anything else) of a dead drop
		// that does not verify is the forger's say-so, not reported.
		if err := verify(d, cnKeys); err != nil {
			in.Problems = append(in.Problems, fmt.Sprintf("dead drop %d: %v", ddID, err))
			continue
		}
		in.Verified++
		if newer {
			in.Problems = append(in.Problems, fmt.Sprintf("dead drop %d: epoch %d is newer than the keys' max_epoch %d: a journalist client would fetch keys again first", ddID, epoch, v.MaxEpoch))
		}
		if open == nil {
			continue
		}
		msgs, err := open(d)
		if err != nil && !errors.Is(err, ErrNotForMe) {
			in.Problems = append(in.Problems, fmt.Sprintf("dead drop %d: %v", ddID, err))
		}
		in.Found = append(in.Found, msgs...)
	}
	return in
}

// opener returns a function that decrypts the messages of one dead drop
// with tk, or nil when tk holds no key for kind.
func opener(kind Kind, v *keys.Verified, tk TrialKeys) (func(*DeadDrop) ([]Found, error), error) {
	switch {
	case kind == User && tk.Reader != nil:
		journalists := map[string][]*crypto.PublicKey{}
		for _, id := range v.JournalistIDs() {
			journalists[id] = v.JournalistMessagingKeys(id)
		}
		o, err := NewReaderOpener(tk.Reader, journalists)
		if err != nil {
			return nil, err
		}
		return func(d *DeadDrop) ([]Found, error) {
			replies, err := o.Open(d)
			var out []Found
			for _, r := range replies {
				m := Found{DeadDropID: d.ID, Direction: "j2u", Type: "text", Text: &r.Message.Text}
				if r.Message.Type == protocol.J2UTypeHandover {
					m.Type, m.Text, m.HandoverTo = "handover", nil, r.Message.HandoverTo
				}
				out = append(out, m)
			}
			return out, err
		}, nil
	case kind == Journalist && len(tk.Journalists) > 0:
		o, err := NewJournalistOpener(tk.Journalists, v.AllCoverNodeMessagingKeys())
		if err != nil {
			return nil, err
		}
		return func(d *DeadDrop) ([]Found, error) {
			received, err := o.Open(d)
			var out []Found
			for _, r := range received {
				out = append(out, Found{DeadDropID: d.ID, Direction: "u2j", Type: "text", Text: &r.Message.Text, ReplyKey: r.Message.ReplyKey.Hex()})
			}
			return out, err
		}, nil
	}
	return nil, nil
}
