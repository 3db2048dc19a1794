package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/journalist"
)

const journalistUsage = `usage: chaff journalist <command> --vault FILE [flags]

  init --bundle FILE [--api URL]   create the vault from the setup bundle
                                   chaff admin journalist add wrote; prints
                                   its passphrase once
  serve [--listen 127.0.0.1:8081]  the web UI (unlock it in the browser);
                                   while unlocked it syncs every minute and
                                   sends one message every --send-every
  sync                             download new messages (rotating keys when
                                   due); sends nothing
  inbox                            list conversations and messages
  reply --to CONVERSATION TEXT     queue a reply (no network request); it
                                   leaves with a later send
  send                             send one message now: the oldest queued
                                   reply, or cover when none is queued
  rotate                           publish a new messaging key now
  backup create --out DIR --contacts ID,ID,... [--shares N] --threshold K
                                   write DIR/backup.chaff and one recovery
                                   share per colleague, DIR/share-1-of-N.json...;
                                   any K of them, with the backup admin,
                                   restore it. Each share is sealed to the
                                   newsroom's backup admin key and to its
                                   colleague's messaging key
  backup keep-share --share FILE   keep a share a colleague gave you in your
                                   vault (do it within the days the file
                                   says); then delete the file
  backup shares                    list the colleagues' shares you keep
  backup release-share --owner ID [--backup-id PREFIX] --out FILE
                                   write a kept share for the backup admin
                                   restoring ID's backup (newest by default)
  backup restore --backup FILE --share S1 --share S2 ... --admin-keys DIR (--vault NEW)
                                   the backup admin's step: rebuild the vault
                                   from its backup and K released shares,
                                   opened with the backup messaging key pair
                                   in DIR; it opens with its old passphrase

Replies hide among cover: every send looks the same, so only the moment
of a send could tell that you replied. Keep serve unlocked, which sends
on a steady schedule, or run send from a timer at a fixed interval (cron,
a systemd timer): running it by hand after replying would tie the send to
you, which is why sync does not send.

The passphrase comes from the file descriptor given with --passphrase-fd,
or $CHAFF_PASSPHRASE, or is prompted for.
`

// journalistOpts are the flags and arguments of one chaff journalist
// command.
type journalistOpts struct {
	cmd, sub             string
	pos                  []string
	vault                string
	passFD               int
	bundle, api, listen  string
	sendEvery, idle      time.Duration
	to, out              string
	shares, threshold    int
	contacts, backupFile string
	owner, backupID      string
	adminKeys            string
	shareFiles           multiFlag
	stdin                io.Reader
	stdout, stderr       io.Writer
}

func runJournalist(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, journalistUsage)
		return errUsage
	}
	cmd := args[0]
	if isHelp(cmd) {
		fmt.Fprint(stdout, journalistUsage)
		return nil
	}
	switch cmd {
	case "init", "serve", "sync", "send", "inbox", "reply", "rotate", "backup":
	default:
		fmt.Fprintf(stderr, "chaff journalist: unknown command %q\n\n%s", cmd, journalistUsage)
		return errUsage
	}
	o, err := parseJournalistFlags(cmd, args[1:], stdin, stdout, stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "init":
		return journalistInit(o)
	case "serve":
		return journalistServe(ctx, o)
	case "backup":
		if err := o.checkBackup(); err != nil || o.sub == "restore" {
			return err
		}
	}
	pass, err := o.readPassphrase()
	if err != nil {
		return err
	}
	v, err := journalist.Open(o.vault, pass)
	if err != nil {
		return err
	}
	defer v.Close()
	switch cmd {
	case "sync":
		return journalistSync(ctx, v, o)
	case "send":
		return journalistSend(ctx, v, o)
	case "inbox":
		journalistInbox(v, o)
		return nil
	case "reply":
		return journalistReply(ctx, v, o)
	case "rotate":
		if err := v.RotateNow(ctx); err != nil {
			return err
		}
		fmt.Fprintln(o.stdout, "Published a new messaging key.")
		return nil
	default: // backup create, keep-share, shares, release-share
		return journalistBackup(v, o)
	}
}

func parseJournalistFlags(cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) (*journalistOpts, error) {
	o := &journalistOpts{cmd: cmd, stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("chaff journalist "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.vault, "vault", "", "the vault file (required)")
	fs.IntVar(&o.passFD, "passphrase-fd", -1, "read the passphrase from this file descriptor")
	fs.StringVar(&o.bundle, "bundle", "", "setup bundle (init)")
	fs.StringVar(&o.api, "api", "", "API URL, if not the bundle's (init)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8081", "address of the web UI (serve; loopback only)")
	fs.DurationVar(&o.sendEvery, "send-every", 10*time.Minute, "how often the web UI sends one message, a reply or cover (serve)")
	fs.DurationVar(&o.idle, "idle-lock", 10*time.Minute, "lock the web UI after this long without use (serve)")
	fs.StringVar(&o.to, "to", "", "conversation id (reply)")
	fs.StringVar(&o.out, "out", "", "folder for the backup (backup create), file for the released share (backup release-share)")
	fs.IntVar(&o.shares, "shares", 0, "number of recovery shares, one per contact (backup create; default: the number of --contacts)")
	fs.IntVar(&o.threshold, "threshold", 2, "shares needed to restore (backup create)")
	fs.StringVar(&o.contacts, "contacts", "", "colleagues' journalist ids, one per share (backup create)")
	fs.StringVar(&o.backupFile, "backup", "", "the backup file (backup restore)")
	fs.Var(&o.shareFiles, "share", "a recovery share file, repeated (backup restore; one for backup keep-share)")
	fs.StringVar(&o.owner, "owner", "", "whose backup the share restores (backup release-share)")
	fs.StringVar(&o.backupID, "backup-id", "", "the start of the backup's id, when several of the owner's are kept (backup release-share)")
	fs.StringVar(&o.adminKeys, "admin-keys", "", "the backup admin's key directory, holding the backup messaging key pairs (backup restore)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	o.pos = pos
	if cmd == "backup" && len(pos) > 0 {
		o.sub = pos[0]
	}
	if o.vault == "" {
		fmt.Fprintf(stderr, "chaff journalist %s: --vault FILE is required\n", cmd)
		return nil, errUsage
	}
	return o, nil
}

// readPassphrase reads the vault passphrase from --passphrase-fd,
// $CHAFF_PASSPHRASE or a prompt, in that order.
func (o *journalistOpts) readPassphrase() (string, error) {
	if o.passFD >= 0 {
		f := os.NewFile(uintptr(o.passFD), "passphrase")
		line, err := bufio.NewReader(f).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading the passphrase from fd %d: %w", o.passFD, err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	return passphrase("Vault passphrase: ", o.stdin, o.stderr)
}

// passphrase returns $CHAFF_PASSPHRASE, or else prompts on stderr and reads
// a line of stdin.
func passphrase(prompt string, stdin io.Reader, stderr io.Writer) (string, error) {
	if p := os.Getenv("CHAFF_PASSPHRASE"); p != "" {
		return p, nil
	}
	fmt.Fprint(stderr, prompt)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no passphrase given")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func journalistInit(o *journalistOpts) error {
	if o.bundle == "" {
		fmt.Fprintln(o.stderr, "chaff journalist init: --bundle FILE is required")
		return errUsage
	}
	pass, err := client.NewPassphrase(client.PassphraseWords)
	if err != nil {
		return err
	}
	v, err := journalist.Create(o.vault, pass, journalistKDF, o.bundle, o.api)
	if err != nil {
		return err
	}
	defer v.Close()
	fmt.Fprintf(o.stdout, `Created the vault %s for %s. Its passphrase is:

    %s

Learn it or keep it somewhere only you can reach: it is shown only this
once, and nobody can open the vault without it. The setup bundle, which
held the identity key in plaintext, is deleted.

Next: chaff journalist serve --vault %s, and open http://127.0.0.1:8081
`, o.vault, v.ID(), pass, o.vault)
	return nil
}

func journalistServe(ctx context.Context, o *journalistOpts) error {
	if o.sendEvery <= 0 || o.idle <= 0 {
		fmt.Fprintln(o.stderr, "chaff journalist serve: --send-every and --idle-lock must be positive")
		return errUsage
	}
	if !up.IsLoopback(o.listen) {
		return errors.New("--listen must be a loopback address: the web UI is for this machine only")
	}
	if _, err := os.Stat(o.vault); err != nil {
		return err
	}
	log, _, err := newLogger(o.stderr, "info")
	if err != nil {
		return err
	}
	w := journalist.NewWeb(journalist.WebConfig{VaultPath: o.vault, SendEvery: o.sendEvery, IdleLock: o.idle, Logger: log})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	hs := newServer(w.Handler(), log)
	go w.Run(ctx)
	go func() { <-ctx.Done(); hs.Close() }()
	fmt.Fprintf(o.stdout, "journalist UI on http://%s (unlock it with the vault passphrase)\n", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// checkBackup checks a backup command's flags, and carries out a restore,
// which needs no open vault.
func (o *journalistOpts) checkBackup() error {
	bad := func(want string) error {
		fmt.Fprintf(o.stderr, "chaff journalist backup %s: give %s\n", o.sub, want)
		return errUsage
	}
	switch o.sub {
	case "create":
		if o.out == "" || o.contacts == "" {
			return bad("--out DIR and --contacts ID,ID,... (one colleague per share)")
		}
	case "keep-share":
		if len(o.shareFiles) != 1 {
			return bad("one --share FILE")
		}
	case "release-share":
		if o.owner == "" || o.out == "" {
			return bad("--owner ID (whose backup) and --out FILE")
		}
	case "shares":
	case "restore":
		if o.backupFile == "" || o.adminKeys == "" {
			return bad("--backup FILE, the released shares (--share FILE, repeated), --admin-keys DIR and --vault for the new vault")
		}
		if err := journalist.RestoreBackupFiles(o.backupFile, o.shareFiles, o.adminKeys, o.vault); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "Restored the vault to %s: unlock it with its passphrase.\n", o.vault)
	default:
		fmt.Fprintf(o.stderr, "chaff journalist backup: say create, keep-share, shares, release-share or restore\n\n%s", journalistUsage)
		return errUsage
	}
	return nil
}

func journalistSync(ctx context.Context, v *journalist.Vault, o *journalistOpts) error {
	res, err := v.Sync(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "Synced: %s in %s.\n", journalist.Count(res.Messages, "new message", "new messages"), journalist.Count(res.DeadDrops, "dead drop", "dead drops"))
	if res.Unverified > 0 {
		fmt.Fprintf(o.stdout, "Skipped %s whose signature did not verify.\n", journalist.Count(res.Unverified, "dead drop", "dead drops"))
	}
	if res.Waiting != "" {
		fmt.Fprintln(o.stdout, res.Waiting)
	}
	if n := v.Queued(); n > 0 {
		fmt.Fprintf(o.stdout, "%s for the next send (serve, or chaff journalist send from a timer).\n", journalist.Count(n, "message waits", "messages wait"))
	}
	return nil
}

func journalistSend(ctx context.Context, v *journalist.Vault, o *journalistOpts) error {
	real, err := v.SendOne(ctx)
	if err != nil {
		return err
	}
	what := "a cover message"
	if real {
		what = "a queued reply"
	}
	fmt.Fprintf(o.stdout, "Sent %s.\n", what)
	return nil
}

func journalistInbox(v *journalist.Vault, o *journalistOpts) {
	cs := v.Conversations()
	if len(cs) == 0 {
		fmt.Fprintln(o.stdout, "No conversations yet.")
	}
	for _, c := range cs {
		state := ""
		if c.Unread > 0 {
			state = " (" + strconv.Itoa(c.Unread) + " unread)"
		} else if c.Handled {
			state = " (handled)"
		}
		if c.Alias != "" { // the name the journalist gave the source; the id stays
			fmt.Fprintf(o.stdout, "== %s (source %s)%s\n", c.Alias, c.ID, state)
		} else {
			fmt.Fprintf(o.stdout, "== source %s%s\n", c.ID, state)
		}
		for _, m := range c.Messages {
			who := "source"
			if m.From == "me" {
				who = "you"
			}
			text := m.Text
			if m.HandoverTo != "" {
				text = "(handed over to " + m.HandoverTo + ")"
			}
			fmt.Fprintf(o.stdout, "%s  %s: %s\n", m.Time.UTC().Format("2006-01-02 15:04 UTC"), who, text)
		}
	}
}

func journalistReply(ctx context.Context, v *journalist.Vault, o *journalistOpts) error {
	if o.to == "" || len(o.pos) == 0 {
		fmt.Fprintln(o.stderr, "chaff journalist reply: give --to CONVERSATION and the text")
		return errUsage
	}
	if err := v.Reply(ctx, o.to, strings.Join(o.pos, " ")); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "Queued your reply to source %s; it leaves with the next send (serve's steady schedule, or chaff journalist send from your timer).\n", o.to)
	return nil
}

func journalistBackup(v *journalist.Vault, o *journalistOpts) error {
	switch o.sub {
	case "keep-share":
		b, err := journalist.ReadShareFile(o.shareFiles[0])
		if err != nil {
			return err
		}
		k, err := v.KeepShare(b)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "Kept share %d of %s's backup in your vault. Delete %s now.\n", k.X, k.Owner, o.shareFiles[0])
		return nil
	case "shares":
		for _, k := range v.KeptShares() {
			fmt.Fprintf(o.stdout, "%s  backup %s  share %d of %d (%d needed)  kept %s\n", k.Owner, k.Backup, k.X, k.Shares, k.Threshold, k.Kept.UTC().Format(time.DateTime+" UTC"))
		}
		return nil
	case "release-share":
		k, err := v.FindKept(o.owner, o.backupID)
		if err != nil {
			return err
		}
		b, err := v.ReleaseShare(k.Backup, k.X)
		if err != nil {
			return err
		}
		if err := journalist.WriteNewFile(o.out, b); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "Released share %d of %s's backup %s into %s: only the backup admin's key opens it; hand it to them.\n", k.X, k.Owner, k.Backup, o.out)
		return nil
	}
	contacts := journalist.ShareNames(o.contacts)
	n := o.shares
	if n == 0 {
		n = len(contacts)
	}
	res, err := journalist.CreateBackup(v, o.out, n, o.threshold, contacts)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "Wrote the backup %s and %d shares; any %d of them, with the backup admin, restore it:\n", res.Backup, n, o.threshold)
	for i, p := range res.Shares {
		fmt.Fprintf(o.stdout, "  %s  for %s\n", p, contacts[i])
	}
	fmt.Fprintf(o.stdout, "Hand each colleague their share; they run chaff journalist backup keep-share before %s.\n", res.KeepBefore.UTC().Format(time.DateTime+" UTC"))
	return nil
}
