package journalist

import (
	"time"
)

// MaxLogEntries bounds the vault's log: the oldest entries go first.
const MaxLogEntries = 500

// LogEntry is one event of the vault's own log: an unlock, a sync, a key
// rotation, a handover, a backup, an error. The log lives inside the
// encrypted vault (never in a file or the process log) and holds no
// message text and no reply key: a seized, unlocked vault holds the
// conversations anyway, a locked one shows nothing.
type LogEntry struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
}

// logLocked adds an entry; the caller saves. Callers hold mu.
func (v *Vault) logLocked(event, detail string) {
	v.d.Log = append(v.d.Log, LogEntry{Time: v.now(), Event: event, Detail: detail})
	if over := len(v.d.Log) - MaxLogEntries; over > 0 {
		v.d.Log = append([]LogEntry(nil), v.d.Log[over:]...)
	}
}

// Log adds an entry to the vault's log and saves the vault.
func (v *Vault) Log(event, detail string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.logLocked(event, detail)
	return v.save()
}

// Note adds an entry to the vault's log without saving: it is kept with
// the vault's next save (a sync saves, and the web UI syncs at unlock and
// then every minute). For events that happen often or just before a save,
// so that logging them costs no extra passphrase stretch.
func (v *Vault) Note(event, detail string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.logLocked(event, detail)
}

// Events returns the vault's log, newest first.
func (v *Vault) Events() []LogEntry {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := append([]LogEntry(nil), v.d.Log...)
	sortByTime(out)
	return out
}

// Digests are the short digests (upstream's human-readable format: the
// first 16 bytes of SHA-512 of the key, in unpadded base64, in groups of
// six) of the organisation key this vault trusts and of the journalist's
// newest identity key, to compare out of band with what the newsroom
// holds.
type Digests struct {
	Organization, Identity string
}

// KeyDigests returns the vault's Digests ("?" for a key that cannot be
// read).
func (v *Vault) KeyDigests() Digests {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := Digests{Organization: "?", Identity: "?"}
	if vk, err := v.d.TrustAnchor.VerifyingKey(); err == nil {
		d.Organization = vk.HumanDigest()
	}
	if k := v.d.Identity.Latest(v.now()); k != nil {
		if vk, err := k.Pair.Public.VerifyingKey(); err == nil {
			d.Identity = vk.HumanDigest()
		}
	}
	return d
}
