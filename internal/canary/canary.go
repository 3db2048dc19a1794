// Package canary checks a deployment end to end as a source would use it:
// a synthetic reader (an ordinary install of package client, with its own
// state directory and mailbox) writes to a canary journalist (an ordinary
// vault whose profile is hidden from readers' journalist lists, status
// keys.StatusHiddenFromUI), the canary journalist syncs and replies, and
// the reader receives the reply; a round fails when that does not happen
// within a deadline derived from the mix parameters.
//
// Traffic: the canary reader sends only through client.App.BackgroundRun,
// once per reader interval: its message waits in the install's queue and
// leaves in place of a cover message, exactly as any install's does, and
// every run sends the same number of fixed-size messages whether or not
// one is real. The canary journalist sends one message per journalist
// interval with journalist.Vault.SendOne (its reply in place of cover). So
// outside the CoverNode the canary is one more install and one more
// journalist. Its secrets (the reader's passphrase, the vault's) are in the
// canary's config file (0600): they protect only the canary's own
// messages.
package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/newsroom"
	"github.com/chaffhq/chaff/protocol"
)

// ConfigName is the canary's config file in its directory.
const ConfigName = "canary.json"

// JournalistID is the canary journalist's default id.
const JournalistID = "canary"

// Default cadences: an install's background job runs at most hourly
// (client.Config.MinRunInterval); a journalist's app sends a message a
// minute.
const (
	DefaultReaderEvery     = time.Hour
	DefaultJournalistEvery = time.Minute
)

// Config is the canary's config file: where its reader and journalist
// are, their passphrases, the cadences and the mix parameters of the
// deployment (from which the deadline is derived).
type Config struct {
	API              string   `json:"api"`
	Anchor           string   `json:"anchor"` // the organisation's public key file
	JournalistID     string   `json:"journalist_id"`
	Vault            string   `json:"vault"`
	VaultPassphrase  string   `json:"vault_passphrase"`
	ReaderDir        string   `json:"reader_dir"`
	ReaderPassphrase string   `json:"reader_passphrase"`
	ReaderEvery      Duration `json:"reader_every"`
	JournalistEvery  Duration `json:"journalist_every"`
	U2JTimeout       Duration `json:"u2j_timeout"`
	J2UTimeout       Duration `json:"j2u_timeout"`
}

// maxDuration bounds every duration of the config, so that the
// deadline's sum cannot overflow.
const maxDuration = 30 * 24 * time.Hour

// Duration is a time.Duration written as a string ("1h0m0s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 || v > maxDuration {
		return fmt.Errorf("%q is not a duration from 0 to %s", s, maxDuration)
	}
	*d = Duration(v)
	return nil
}

// LoadConfig reads dir's canary.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, ConfigName)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no canary here (chaff up sets one up in its data directory; chaff admin canary add for a real deployment)", path)
		}
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.API == "" || c.Anchor == "" || c.JournalistID == "" || c.Vault == "" || c.ReaderDir == "" || c.ReaderEvery <= 0 || c.JournalistEvery <= 0 {
		return nil, fmt.Errorf("%s: incomplete (api, anchor, journalist_id, vault, reader_dir and positive intervals are needed)", path)
	}
	return &c, nil
}

// Deadline is how long a round trip may take: the message waits for the
// reader's next run, then at most the readers' mix timeout (once the
// threshold's minimum is reached), the journalist's next sync; the reply
// waits for the journalist's next send, at most the replies' mix timeout,
// and the reader's next run. A quarter more covers requests and
// publication.
func (c *Config) Deadline() time.Duration {
	d := 2*time.Duration(c.ReaderEvery) + 2*time.Duration(c.JournalistEvery) + time.Duration(c.U2JTimeout) + time.Duration(c.J2UTimeout)
	return d + d/4
}

// SetupOptions configure Setup.
type SetupOptions struct {
	Dir          string // the canary's directory: config, vault, reader
	JournalistID string // default JournalistID
	AnchorPath   string
	ReaderEvery  time.Duration
	// JournalistEvery is the canary journalist's send interval.
	JournalistEvery time.Duration
	U2J, J2U        mix.Params
	ReaderKDF       client.KDFParams
	JournalistKDF   journalist.KDFParams
}

// Setup registers the canary journalist with nr (hidden from readers'
// lists), creates its vault and publishes its first messaging key,
// creates the canary reader's install and mailbox, and writes the config
// file (0600) into o.Dir. The setup bundle is deleted once the vault holds
// its keys.
func Setup(ctx context.Context, nr *newsroom.Newsroom, o SetupOptions) (*Config, error) {
	if o.JournalistID == "" {
		o.JournalistID = JournalistID
	}
	if o.ReaderEvery <= 0 || o.JournalistEvery <= 0 {
		return nil, errors.New("the canary's intervals must be positive")
	}
	cfgPath := filepath.Join(o.Dir, ConfigName)
	if _, err := os.Stat(cfgPath); err == nil {
		return nil, fmt.Errorf("%s already exists", cfgPath)
	}
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	anchor, err := keys.ReadPublicKeyFile(o.AnchorPath)
	if err != nil {
		return nil, err
	}
	// A copy of the organisation's public key, so that the canary needs
	// nothing from the newsroom's key directory.
	anchorBytes, err := os.ReadFile(o.AnchorPath)
	if err != nil {
		return nil, err
	}
	o.AnchorPath = filepath.Join(o.Dir, filepath.Base(o.AnchorPath))
	if err := atomicfile.Write(o.AnchorPath, anchorBytes, 0o644); err != nil {
		return nil, err
	}
	added, err := nr.AddJournalist(ctx, newsroom.Journalist{
		ID: o.JournalistID, Name: "Canary", Description: "Monitoring; not shown to readers",
		Status: keys.StatusHiddenFromUI,
	}, o.Dir)
	if err != nil {
		return nil, err
	}
	vaultPass, err := client.NewPassphrase(client.PassphraseWords)
	if err != nil {
		return nil, err
	}
	vaultPath := filepath.Join(o.Dir, o.JournalistID+".vault")
	v, err := journalist.Create(vaultPath, vaultPass, o.JournalistKDF, added.Path, nr.API.Base) // deletes the bundle
	if err != nil {
		return nil, err
	}
	_, err = v.Sync(ctx) // publishes the first messaging key
	v.Close()
	if err != nil {
		return nil, err
	}
	c := &Config{
		API: nr.API.Base, Anchor: o.AnchorPath, JournalistID: o.JournalistID,
		Vault: vaultPath, VaultPassphrase: vaultPass, ReaderDir: filepath.Join(o.Dir, "reader"),
		ReaderEvery: Duration(o.ReaderEvery), JournalistEvery: Duration(o.JournalistEvery),
		U2JTimeout: Duration(o.U2J.Timeout), J2UTimeout: Duration(o.J2U.Timeout),
	}
	app, err := client.Start(client.Config{StateDir: c.ReaderDir, API: apiclient.New(c.API), Anchors: []keys.SignedPublicKey{*anchor}, KDF: o.ReaderKDF})
	if err != nil {
		return nil, err
	}
	if c.ReaderPassphrase, _, err = app.CreateMailbox(); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := atomicfile.Write(cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

// Canary is a started canary: the reader's install and the journalist's
// vault, held open until Close.
type Canary struct {
	cfg     *Config
	app     *client.App
	vault   *journalist.Vault
	metrics *Metrics
	// Deadline bounds each round (Config.Deadline by default).
	Deadline time.Duration
	// The cadences, kept across rounds so that back-to-back rounds send
	// as steadily as one install and one journalist app.
	readerTicks, journalistTicks *time.Ticker
}

// testHookSendAtOnce makes the canary also post a message of the real
// size the moment it queues its own: a request tied to the canary rather than to the
// background run, for the negative control of the traffic test.
var testHookSendAtOnce bool

// Open starts the canary's reader install and opens its vault (which it
// holds until Close: no other app may use it meanwhile).
func Open(cfg *Config, readerKDF client.KDFParams, m *Metrics) (*Canary, error) {
	anchor, err := keys.ReadPublicKeyFile(cfg.Anchor)
	if err != nil {
		return nil, err
	}
	app, err := client.Start(client.Config{
		StateDir: cfg.ReaderDir, API: apiclient.New(cfg.API), Anchors: []keys.SignedPublicKey{*anchor}, KDF: readerKDF,
		// The canary's loop runs the background job once per reader
		// interval; this bound only stops a tick that came early from
		// running twice.
		MinRunInterval: time.Duration(cfg.ReaderEvery) / 2,
	})
	if err != nil {
		return nil, err
	}
	v, err := journalist.Open(cfg.Vault, cfg.VaultPassphrase)
	if err != nil {
		return nil, fmt.Errorf("the canary journalist's vault: %w", err)
	}
	if m == nil {
		m = NewMetrics()
	}
	return &Canary{cfg: cfg, app: app, vault: v, metrics: m, Deadline: cfg.Deadline(),
		readerTicks:     time.NewTicker(time.Duration(cfg.ReaderEvery)),
		journalistTicks: time.NewTicker(time.Duration(cfg.JournalistEvery)),
	}, nil
}

// Close stops the cadences and closes the vault.
func (c *Canary) Close() error {
	c.readerTicks.Stop()
	c.journalistTicks.Stop()
	return c.vault.Close()
}

// Failure is a round that did not complete in time.
type Failure struct {
	Stage   string // what did not happen
	Elapsed time.Duration
	LastErr error // the last error a request gave, if any
}

func (f *Failure) Error() string {
	s := fmt.Sprintf("%s within %s", f.Stage, f.Elapsed.Round(time.Millisecond))
	if f.LastErr != nil {
		s += fmt.Sprintf(" (last error: %v)", f.LastErr)
	}
	return s
}

// Result is a completed round.
type Result struct {
	ToJournalist, RoundTrip time.Duration
}

// Round sends one canary message and waits for the reply, running the
// reader's background job every reader interval and the journalist's sync
// and send every journalist interval, as their apps would. It returns a
// *Failure when the round trip does not complete within c.Deadline.
func (c *Canary) Round(ctx context.Context) (res Result, err error) {
	defer func() { c.metrics.observe(res, err) }()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.Deadline)
	defer cancel()
	token := make([]byte, 8)
	rand.Read(token)
	text := "canary " + hex.EncodeToString(token)
	reply := "canary reply " + hex.EncodeToString(token)

	var lastErr error
	note := func(err error) {
		if err != nil && ctx.Err() == nil {
			lastErr = err
		}
	}
	queued, replied, received := false, false, false
	// queue queues the message once the install has the keys (after its
	// first refresh); it leaves with the next background run.
	queue := func() {
		if queued {
			return
		}
		s, err := c.app.Unlock(c.cfg.ReaderPassphrase)
		if err != nil {
			note(err)
			return
		}
		if c.app.CheckKeys() != nil {
			return // no keys yet: the next run fetches them
		}
		if err := s.Send(c.cfg.JournalistID, text); err != nil {
			note(err)
			return
		}
		queued = true
		if testHookSendAtOnce {
			apiclient.New(c.cfg.API).SendUserMessage(ctx, make([]byte, protocol.U2CMessageSize))
		}
	}
	readerTick := func() {
		if _, err := c.app.BackgroundRun(ctx); err != nil {
			note(err)
			return
		}
		queue()
		if !queued {
			return
		}
		s, err := c.app.Unlock(c.cfg.ReaderPassphrase)
		if err != nil {
			note(err)
			return
		}
		for _, m := range s.Threads()[c.cfg.JournalistID] {
			if m.From == c.cfg.JournalistID && m.Text == reply {
				received = true
			}
		}
	}
	journalistTick := func() {
		if _, err := c.vault.Sync(ctx); err != nil {
			note(err)
		} else if !replied {
			for _, conv := range c.vault.Conversations() {
				for _, m := range conv.Messages {
					if m.From == "source" && m.Text == text {
						if err := c.vault.Reply(ctx, conv.ID, reply); err != nil {
							note(err)
						} else {
							replied = true
							res.ToJournalist = time.Since(start)
						}
					}
				}
			}
		}
		if _, err := c.vault.SendOne(ctx); err != nil {
			note(err)
		}
	}
	queue()
	for !received {
		select {
		case <-ctx.Done():
			stage := "the reply did not reach the canary reader"
			switch {
			case !queued:
				stage = "the canary reader could not queue its message"
			case !replied:
				stage = "the canary message did not reach the canary journalist"
			}
			if ctx.Err() != context.DeadlineExceeded {
				return res, ctx.Err()
			}
			return res, &Failure{Stage: stage, Elapsed: time.Since(start), LastErr: lastErr}
		case <-c.readerTicks.C:
			readerTick()
		case <-c.journalistTicks.C:
			journalistTick()
		}
	}
	res.RoundTrip = time.Since(start)
	c.tidy()
	return res, nil
}

// tidy marks the canary's conversations handled, so that the vault does
// not grow an unread list; the vault's expiry deletes them in time.
func (c *Canary) tidy() {
	for _, conv := range c.vault.Conversations() {
		if !conv.Handled && strings.HasPrefix(conv.Preview(), "canary ") {
			c.vault.SetHandled(conv.ID, true)
		}
	}
}

// Run runs rounds back to back until ctx ends, so that the reader's
// background job and the journalist's sends keep their cadence; each
// round's outcome goes to the metrics and to report.
func (c *Canary) Run(ctx context.Context, report func(Result, error)) {
	for ctx.Err() == nil {
		res, err := c.Round(ctx)
		if ctx.Err() != nil {
			return
		}
		if report != nil {
			report(res, err)
		}
	}
}
