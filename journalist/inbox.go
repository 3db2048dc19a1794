package journalist

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chaffhq/chaff/protocol"
)

// Message expiry, as upstream's journalist app (Sentinel) does it: every
// message is deleted from the vault DefaultExpiry after it arrived (or
// was written), unless the journalist sets another date; the UI warns
// ExpiryWarning before.
const (
	DefaultExpiry = 14 * 24 * time.Hour
	ExpiryWarning = 2 * 24 * time.Hour
	// MaxCustomExpiry bounds how far ahead a journalist may push a
	// message's expiry: a vault seized later should hold as little as
	// possible.
	MaxCustomExpiry = 365 * 24 * time.Hour
)

// Bounds on what the journalist types about a source.
const (
	MaxAliasRunes = 80
	MaxNotesRunes = 4000
)

// PreviewRunes is how much of the last message the conversation list
// shows.
const PreviewRunes = 90

// LastActivity is the time of the conversation's newest message.
func (c Conversation) LastActivity() time.Time {
	var t time.Time
	for _, m := range c.Messages {
		if m.Time.After(t) {
			t = m.Time
		}
	}
	return t
}

// Preview is the start of the newest message, on one line.
func (c Conversation) Preview() string {
	if len(c.Messages) == 0 {
		return ""
	}
	m := c.Messages[len(c.Messages)-1]
	s := m.Text
	if m.HandoverTo != "" {
		s = "Handed over to " + m.HandoverTo
	}
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > PreviewRunes {
		s = string([]rune(s)[:PreviewRunes]) + "…"
	}
	if m.From == "me" {
		s = "You: " + s
	}
	return s
}

// Name is what the UI calls the source: the alias the journalist gave,
// or "Source" and the id.
func (c Conversation) Name() string {
	if c.Alias != "" {
		return c.Alias
	}
	return "Source " + c.ID
}

// ExpiresAt is when the vault deletes the message.
func (m Message) ExpiresAt() time.Time {
	if !m.Expires.IsZero() {
		return m.Expires
	}
	return m.Time.Add(DefaultExpiry)
}

// ExpiresSoon reports whether the message is deleted within ExpiryWarning
// of now.
func (m Message) ExpiresSoon(now time.Time) bool { return m.ExpiresAt().Sub(now) <= ExpiryWarning }

// ExpiringSoon counts the conversation's messages deleted within
// ExpiryWarning of now.
func (c Conversation) ExpiringSoon(now time.Time) int {
	n := 0
	for _, m := range c.Messages {
		if m.ExpiresSoon(now) {
			n++
		}
	}
	return n
}

// update runs f on a conversation and saves the vault.
func (v *Vault) update(id string, f func(c *Conversation) error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.d.Conversations[id]
	if c == nil {
		return fmt.Errorf("no conversation %q", id)
	}
	if err := f(c); err != nil {
		return err
	}
	return v.save()
}

// SetAlias names a source (an empty alias removes the name; the id stays).
func (v *Vault) SetAlias(id, alias string) error {
	alias = strings.Join(strings.Fields(alias), " ")
	if n := utf8.RuneCountInString(alias); n > MaxAliasRunes {
		return fmt.Errorf("the name is %d characters long: at most %d fit", n, MaxAliasRunes)
	}
	return v.update(id, func(c *Conversation) error { c.Alias = alias; return nil })
}

// SetNotes keeps the journalist's notes on a source.
func (v *Vault) SetNotes(id, notes string) error {
	notes = strings.TrimSpace(strings.ReplaceAll(notes, "\r\n", "\n"))
	if n := utf8.RuneCountInString(notes); n > MaxNotesRunes {
		return fmt.Errorf("the notes are %d characters long: at most %d fit", n, MaxNotesRunes)
	}
	return v.update(id, func(c *Conversation) error { c.Notes = notes; return nil })
}

// SetMuted mutes (or unmutes) a conversation.
func (v *Vault) SetMuted(id string, muted bool) error {
	return v.update(id, func(c *Conversation) error { c.Muted = muted; return nil })
}

// SetExpiry sets when one message is deleted: after now, and at most
// MaxCustomExpiry ahead.
func (v *Vault) SetExpiry(id string, index int, at time.Time) error {
	now := v.clock()
	switch {
	case !at.After(now):
		return errors.New("the expiry must be in the future: to delete a message now, let it expire")
	case at.Sub(now) > MaxCustomExpiry:
		return fmt.Errorf("the expiry may be at most %d days ahead", int(MaxCustomExpiry/(24*time.Hour)))
	}
	return v.update(id, func(c *Conversation) error {
		if index < 0 || index >= len(c.Messages) {
			return fmt.Errorf("no message %d in conversation %q", index, id)
		}
		c.Messages[index].Expires = at
		return nil
	})
}

func (v *Vault) clock() time.Time { v.mu.Lock(); defer v.mu.Unlock(); return v.now() }

// Expire deletes every message past its expiry, except replies still
// waiting to be sent, and conversations left with none; it reports how
// many messages went. It saves the vault when it deleted anything.
func (v *Vault) Expire() (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.expireLocked(v.now())
	if n == 0 {
		return 0, nil
	}
	v.logLocked("expiry", fmt.Sprintf("deleted %s past their expiry", count(n, "message", "messages")))
	return n, v.save()
}

// expireLocked does Expire's work without saving. Callers hold mu.
func (v *Vault) expireLocked(now time.Time) int {
	queued := map[string]map[int]bool{}
	for _, it := range v.d.Outbox {
		if queued[it.Conversation] == nil {
			queued[it.Conversation] = map[int]bool{}
		}
		queued[it.Conversation][it.Index] = true
	}
	deleted := 0
	for id, c := range v.d.Conversations {
		newIndex := make([]int, len(c.Messages))
		var kept []Message
		for i, m := range c.Messages {
			if now.After(m.ExpiresAt()) && !queued[id][i] {
				newIndex[i] = -1
				deleted++
				continue
			}
			newIndex[i] = len(kept)
			kept = append(kept, m)
		}
		if len(kept) == len(c.Messages) {
			continue
		}
		for i := range v.d.Outbox {
			if it := &v.d.Outbox[i]; it.Conversation == id {
				it.Index = newIndex[it.Index]
			}
		}
		c.Messages = kept
		if c.Unread > len(kept) {
			c.Unread = len(kept)
		}
		if len(kept) == 0 {
			delete(v.d.Conversations, id)
		}
	}
	return deleted
}

// Search lists the conversations (as Conversations orders them) whose
// id, alias, notes or message text holds every word of q, ignoring case.
// It runs over the decrypted vault in memory: nothing leaves the
// process.
func (v *Vault) Search(q string) []Conversation {
	words := strings.Fields(strings.ToLower(q))
	all := v.Conversations()
	if len(words) == 0 {
		return all
	}
	var out []Conversation
	for _, c := range all {
		var b strings.Builder
		b.WriteString(c.ID + "\n" + c.Alias + "\n" + c.Notes + "\n")
		for _, m := range c.Messages {
			b.WriteString(m.Text + "\n" + m.HandoverTo + "\n")
		}
		hay := strings.ToLower(b.String())
		all := true
		for _, w := range words {
			all = all && strings.Contains(hay, w)
		}
		if all {
			out = append(out, c)
		}
	}
	return out
}

// ReplyOver reports by how many characters text is too long for one
// reply: 0 when it fits. A reply is gzip-compressed into a fixed-size
// message (protocol.EncodeText), so the limit is in compressed bytes and
// the characters that fit depend on the text; the answer is the number of
// characters to cut from the end of this text for it to fit.
func ReplyOver(text string) int {
	if fits(text) {
		return 0
	}
	r := []rune(text)
	lo, hi := 0, len(r) // r[:lo] fits, r[:hi] does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fits(string(r[:mid])) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return len(r) - lo
}

func fits(text string) bool {
	_, err := protocol.EncodeText(text)
	return !errors.Is(err, protocol.ErrTextTooLong)
}

// MaxReplyBytes is the limit on a reply once compressed.
const MaxReplyBytes = protocol.PaddedTextSize - 2

// count says "1 message" or "3 messages".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Count is count for the UI's templates.
func Count(n int, one, many string) string { return count(n, one, many) }

// sortByTime sorts log entries newest first.
func sortByTime(l []LogEntry) {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Time.After(l[j].Time) })
}
