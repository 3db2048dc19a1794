package adversary_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/journalist"
)

// TestHandoverRepliesNamed: a reader writes to carol; carol answers and
// hands the conversation over to dave; the reader's app writes to dave as
// told, and dave answers. The reader's mailbox shows carol's answer and
// the handover from carol, in carol's thread, and dave's answer from dave,
// in dave's. In pq mode the reader learns who answered only from the
// reply key that opened the answer (docs/PQ.md §5.5): each is kept with
// the journalist its message went to. Both protocol modes, through the
// real client and journalist libraries and a whole deployment of each.
func TestHandoverRepliesNamed(t *testing.T) {
	adversary.InModes(t, handoverRepliesNamed)
}

func handoverRepliesNamed(t *testing.T, mode string) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{Mode: mode})
	dave, _ := d.Journalist("dave")
	if _, err := dave.Sync(ctx); err != nil { // publishes dave's messaging key
		t.Fatal(err)
	}
	c := d.StartConversation("who paid for the bridge?")
	adversary.SyncUntil(t, c.Carol, "carol to receive the message", func() bool {
		return adversary.Received(c.Carol)["who paid for the bridge?"] == 1
	})
	conv := c.Carol.Conversations()[0].ID
	if err := c.Carol.Reply(ctx, conv, "carol: thank you"); err != nil {
		t.Fatal(err)
	}
	if err := c.Carol.Handover(ctx, conv, "dave"); err != nil {
		t.Fatal(err)
	}
	sendAll(t, c.Carol)
	c.RefreshUntil("carol's answer and handover", func(s *client.Session) bool {
		return slices.ContainsFunc(s.Threads()["carol"], func(m client.Message) bool { return m.HandoverTo == "dave" }) &&
			adversary.Replies(s)["carol: thank you"] == 1
	})

	// The reader's app writes to dave, as the handover said.
	s := c.Unlock()
	if err := s.Send("dave", "carol said to write to you"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.App.BackgroundRun(ctx); err != nil {
		t.Fatal(err)
	}
	adversary.SyncUntil(t, dave, "dave to receive the message", func() bool {
		return adversary.Received(dave)["carol said to write to you"] == 1
	})
	if err := dave.Reply(ctx, dave.Conversations()[0].ID, "dave: go on"); err != nil {
		t.Fatal(err)
	}
	sendAll(t, dave)
	c.RefreshUntil("dave's answer", func(s *client.Session) bool { return adversary.Replies(s)["dave: go on"] == 1 })

	threads := c.Unlock().Threads()
	want := map[string]string{"carol: thank you": "carol", "handover to dave": "carol", "dave: go on": "dave"}
	if err := checkNamed(threads, want); err != nil {
		t.Fatal(err)
	}
	t.Run("negative control", func(t *testing.T) {
		// The same mailbox with dave's answer shown as carol's, in her
		// thread: what a reader would see had the answer opened under
		// the key of the message to carol.
		moved := map[string][]client.Message{}
		for id, msgs := range threads {
			for _, m := range msgs {
				if m.From == "dave" {
					m.From, id = "carol", "carol"
				}
				moved[id] = append(moved[id], m)
			}
		}
		if err := checkNamed(moved, want); err == nil {
			t.Fatalf("the check took dave's answer shown from carol: %+v", moved)
		}
	})
}

// checkNamed checks that a mailbox shows each journalist's message of
// want (texts, and "handover to" the journalist for a handover) once,
// from the journalist want names, in that journalist's thread, and
// nothing else from a journalist.
func checkNamed(threads map[string][]client.Message, want map[string]string) error {
	from := map[string]string{}
	for id, msgs := range threads {
		for _, m := range msgs {
			if m.From == "me" {
				continue
			}
			if m.From != id {
				return fmt.Errorf("a message from %q in %s's thread: %+v", m.From, id, m)
			}
			what := m.Text
			if m.HandoverTo != "" {
				what = "handover to " + m.HandoverTo
			}
			if prev, ok := from[what]; ok {
				return fmt.Errorf("%q shown twice, from %s and %s", what, prev, m.From)
			}
			from[what] = m.From
		}
	}
	if !maps.Equal(from, want) {
		return fmt.Errorf("the mailbox shows the journalists' messages from %v, want %v", from, want)
	}
	return nil
}

// sendAll sends everything the vault has queued (cover if nothing is),
// one J2C at a time: each is a round of the deployment's mix.
func sendAll(t *testing.T, v *journalist.Vault) {
	t.Helper()
	ctx := context.Background()
	for {
		if _, err := v.SendOne(ctx); err != nil {
			t.Fatal(err)
		}
		if v.Queued() == 0 {
			break
		}
	}
}
