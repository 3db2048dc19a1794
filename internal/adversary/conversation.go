package adversary

import (
	"context"
	"testing"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/journalist"
)

// LiveBound is how long a genuine message may take through a test
// deployment's mix: rounds fire on thresholds one background run (or one
// journalist send) fills, so anything slower is a message held back.
const LiveBound = 30 * time.Second

// Received returns the readers' messages a vault holds, counted by text.
func Received(v *journalist.Vault) map[string]int {
	out := map[string]int{}
	for _, c := range v.Conversations() {
		for _, m := range c.Messages {
			if m.From == "source" {
				out[m.Text]++
			}
		}
	}
	return out
}

// Replies returns the journalists' messages a reader's mailbox holds,
// counted by text.
func Replies(s *client.Session) map[string]int {
	out := map[string]int{}
	for _, msgs := range s.Threads() {
		for _, m := range msgs {
			if m.From != "me" {
				out[m.Text]++
			}
		}
	}
	return out
}

// SyncUntil syncs the vault until cond holds, for at most LiveBound.
func SyncUntil(t testing.TB, v *journalist.Vault, what string, cond func() bool) {
	t.Helper()
	WaitFor(t, LiveBound, what, func() bool {
		if _, err := v.Sync(context.Background()); err != nil {
			t.Logf("sync: %v", err)
		}
		return cond()
	})
}

// Conversation is a reader's install with a mailbox, and journalist
// carol's vault, in one deployment.
type Conversation struct {
	D     *Deployment
	App   *client.App
	Dir   string // the reader's install
	Pass  string // the reader's passphrase
	Carol *journalist.Vault
	// CarolVault is the path of carol's vault file, alone in its
	// directory (with its lock file).
	CarolVault string
}

// StartConversation registers carol (publishing her messaging key),
// starts a reader's install, creates its mailbox and sends msg to carol
// with one background run.
func (d *Deployment) StartConversation(msg string) *Conversation {
	t := d.T
	t.Helper()
	carol, vault := d.Journalist("carol")
	if _, err := carol.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &Conversation{D: d, Dir: t.TempDir(), Carol: carol, CarolVault: vault}
	c.App = d.StartReader(c.Dir)
	if err := c.App.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	pass, _, err := c.App.CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	c.Pass = pass
	c.Send(msg)
	return c
}

// Unlock opens the reader's mailbox.
func (c *Conversation) Unlock() *client.Session {
	c.D.T.Helper()
	s, err := c.App.Unlock(c.Pass)
	if err != nil {
		c.D.T.Fatal(err)
	}
	return s
}

// Send queues msg to carol and sends it with one background run.
func (c *Conversation) Send(msg string) {
	t := c.D.T
	t.Helper()
	if err := c.Unlock().Send("carol", msg); err != nil {
		t.Fatal(err)
	}
	if _, err := c.App.BackgroundRun(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Reply makes carol reply text in her one conversation and send it.
func (c *Conversation) Reply(text string) {
	t := c.D.T
	t.Helper()
	ctx := context.Background()
	cs := c.Carol.Conversations()
	if len(cs) != 1 {
		t.Fatalf("carol has %d conversations", len(cs))
	}
	if err := c.Carol.Reply(ctx, cs[0].ID, text); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Carol.SendOne(ctx); err != nil {
		t.Fatal(err)
	}
}

// RefreshUntil refreshes the reader's install and unlocks it until cond
// holds of the mailbox, for at most LiveBound.
func (c *Conversation) RefreshUntil(what string, cond func(*client.Session) bool) {
	t := c.D.T
	t.Helper()
	WaitFor(t, LiveBound, what, func() bool {
		if err := c.App.Refresh(context.Background()); err != nil {
			t.Logf("refresh: %v", err)
		}
		return cond(c.Unlock())
	})
}
