package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
)

const sourceUsage = `usage: chaff source <command> --state-dir DIR --api URL --anchor ORG.pub.json [flags]

A reference source client: what a news app does for its readers.

  init                 set up a secure mailbox and print its passphrase
  unlock               check the passphrase and show what the mailbox holds
  journalists          list the journalists and desks you can write to
  send --to ID TEXT    queue a message (it leaves with the next tick)
  inbox                show your conversations, with any new replies
  tick                 one background run: download keys, status and dead
                       drops, and send what the queue gives (cover or real)

The passphrase is read from $CHAFF_PASSPHRASE, or from standard input.
The install speaks the protocol of its anchor (coverdrop, or pq when the
anchor says "protocol": "pq") and refuses any other from then on.
`

type sourceFlags struct {
	fs          *flag.FlagSet
	stateDir    string
	api         string
	ingest      string
	anchors     multiFlag
	to          string
	minInterval time.Duration
}

func runSource(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, sourceUsage)
		return errUsage
	}
	cmd := args[0]
	if isHelp(cmd) {
		fmt.Fprint(stdout, sourceUsage)
		return nil
	}
	switch cmd {
	case "init", "unlock", "journalists", "send", "inbox", "tick":
	default:
		fmt.Fprintf(stderr, "chaff source: unknown command %q\n\n%s", cmd, sourceUsage)
		return errUsage
	}
	f, pos, err := parseSourceFlags(cmd, args[1:], stderr)
	if err != nil {
		return err
	}
	app, err := f.start(cmd)
	if err != nil {
		return err
	}
	switch cmd {
	case "init":
		return sourceInit(ctx, app, stdout)
	case "journalists":
		return sourceJournalists(ctx, app, stdout)
	case "tick":
		return sourceTick(ctx, app, stdout)
	}
	s, err := sourceUnlock(ctx, app, cmd, stdin, stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "unlock":
		q, _ := s.Queued()
		fmt.Fprintf(stdout, "Unlocked: %d conversation(s), %d message(s) waiting to be sent.\n", len(s.Threads()), q)
	case "send":
		if f.to == "" || len(pos) == 0 {
			fmt.Fprintln(stderr, "chaff source send: give --to ID and the message")
			return errUsage
		}
		if err := s.Send(f.to, strings.Join(pos, " ")); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Queued your message to %s. It leaves with the next background run (chaff source tick) in place of a cover message, so it looks like every other install's traffic.\n", f.to)
	case "inbox":
		printInbox(stdout, s.Threads())
	}
	return nil
}

func parseSourceFlags(cmd string, args []string, stderr io.Writer) (*sourceFlags, []string, error) {
	f := &sourceFlags{fs: flag.NewFlagSet("chaff source "+cmd, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.stateDir, "state-dir", "", "this install's directory (required)")
	f.fs.StringVar(&f.api, "api", "", "URL of the API (required)")
	f.fs.StringVar(&f.ingest, "ingest", "", "URL of the ingest, if not the API's")
	f.fs.Var(&f.anchors, "anchor", "the organisation's trust anchor the app ships with (required)")
	if cmd == "send" {
		f.fs.StringVar(&f.to, "to", "", "journalist or desk id")
	}
	if cmd == "tick" {
		f.fs.DurationVar(&f.minInterval, "min-interval", time.Hour, "least time between background runs (0: none)")
	}
	pos, err := parseInterleaved(f.fs, args)
	if err != nil {
		return nil, nil, err
	}
	if f.stateDir == "" || f.api == "" || len(f.anchors) == 0 {
		fmt.Fprintf(stderr, "chaff source %s: --state-dir, --api and --anchor are required\n", cmd)
		return nil, nil, errUsage
	}
	return f, pos, nil
}

// start is the app's start, in the protocol mode of its anchors.
func (f *sourceFlags) start(cmd string) (*client.App, error) {
	var files [][]byte
	for _, p := range f.anchors {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("trust anchor: %w", err)
		}
		files = append(files, b)
	}
	anchors, err := client.ParseAnchors(files...)
	if err != nil {
		return nil, err
	}
	cfg := client.Config{StateDir: f.stateDir, API: apiclient.New(f.api), IngestURL: f.ingest, Anchors: anchors, KDF: readerKDF}
	if cmd == "tick" {
		cfg.MinRunInterval = f.minInterval
		if f.minInterval == 0 {
			cfg.MinRunInterval = -1
		}
	}
	return client.Start(cfg)
}

// ensureKeys refreshes unless the app holds verified keys.
func ensureKeys(ctx context.Context, app *client.App) error {
	if app.CheckKeys() == nil {
		return nil
	}
	return app.Refresh(ctx)
}

func sourceInit(ctx context.Context, app *client.App, stdout io.Writer) error {
	if err := app.Refresh(ctx); err != nil {
		return err
	}
	pass, _, err := app.CreateMailbox()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `Your secure mailbox is ready. Its passphrase is:

    %s

Write it down and keep it somewhere only you can reach; it is shown only
this once. Without it nobody, including you, can open the mailbox, or even
tell that it exists. Setting up a mailbox again replaces this one.

Next: chaff source journalists, then chaff source send --to ID "your message".
`, pass)
	return nil
}

func sourceJournalists(ctx context.Context, app *client.App, stdout io.Writer) error {
	if err := ensureKeys(ctx, app); err != nil {
		return err
	}
	ps, err := app.Journalists()
	if err != nil {
		return err
	}
	for _, p := range ps {
		kind := ""
		if p.IsDesk {
			kind = " (desk)"
		}
		fmt.Fprintf(stdout, "%-20s %s%s: %s\n", p.ID, p.DisplayName, kind, p.Description)
	}
	if len(ps) == 0 {
		fmt.Fprintln(stdout, "Nobody can be written to at the moment.")
	}
	return nil
}

func sourceTick(ctx context.Context, app *client.App, stdout io.Writer) error {
	r, err := app.BackgroundRun(ctx)
	if err != nil {
		return err
	}
	if r.Skipped != "" {
		fmt.Fprintf(stdout, "Downloaded nothing and sent nothing: %s.\n", r.Skipped)
		return nil
	}
	fmt.Fprintf(stdout, "Downloaded keys, status and dead drops; sent %d message(s) from the queue, as every install does.\n", r.Sent)
	return nil
}

// sourceUnlock reads the passphrase ($CHAFF_PASSPHRASE, or a line of
// stdin) and opens the mailbox.
func sourceUnlock(ctx context.Context, app *client.App, cmd string, stdin io.Reader, stderr io.Writer) (*client.Session, error) {
	pass, err := passphrase("Passphrase: ", stdin, stderr)
	if err != nil {
		return nil, err
	}
	pass = strings.TrimSpace(pass)
	if cmd == "send" || cmd == "inbox" {
		if err := ensureKeys(ctx, app); err != nil {
			return nil, err
		}
	}
	s, err := app.Unlock(pass)
	if errors.Is(err, client.ErrNoMailbox) {
		return nil, fmt.Errorf("%v (check the passphrase; chaff source init sets up a mailbox)", err)
	}
	return s, err
}

func printInbox(stdout io.Writer, th map[string][]client.Message) {
	if len(th) == 0 {
		fmt.Fprintln(stdout, "No conversations yet.")
		return
	}
	for _, id := range slices.Sorted(maps.Keys(th)) {
		fmt.Fprintf(stdout, "== %s\n", id)
		for _, m := range th[id] {
			who := m.From
			if who == "me" {
				who = "you"
			}
			text := m.Text
			if m.HandoverTo != "" {
				text = fmt.Sprintf("(handed your conversation over to %s)", m.HandoverTo)
			}
			fmt.Fprintf(stdout, "%s  %s: %s\n", m.Time.UTC().Format("2006-01-02 15:04 UTC"), who, text)
		}
	}
}
