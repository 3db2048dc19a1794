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
  backup create --out DIR --shares N --threshold K [--contacts ID,...]
                                   write DIR/backup.chaff and N recovery
                                   shares DIR/share-1-of-N.json...; any K
                                   of them restore it. With --contacts (one
                                   colleague per share) each share is sealed
                                   to that colleague's messaging key
  backup open-share --share FILE --out FILE
                                   open a share a colleague sealed to you
  backup restore --backup FILE --share S1 --share S2 ... (--vault NEW)
                                   rebuild the vault from its backup and K
                                   shares; it opens with its old passphrase

Replies hide among cover: every send looks the same, so only the moment
of a send could tell that you replied. Keep serve unlocked, which sends
on a steady schedule, or run send from a timer at a fixed interval (cron,
a systemd timer): running it by hand after replying would tie the send to
you, which is why sync does not send.

The passphrase comes from the file descriptor given with --passphrase-fd,
or $CHAFF_PASSPHRASE, or is prompted for.
`

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
	fs := flag.NewFlagSet("chaff journalist "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vaultPath := fs.String("vault", "", "the vault file (required)")
	passFD := fs.Int("passphrase-fd", -1, "read the passphrase from this file descriptor")
	bundle := fs.String("bundle", "", "setup bundle (init)")
	apiURL := fs.String("api", "", "API URL, if not the bundle's (init)")
	listen := fs.String("listen", "127.0.0.1:8081", "address of the web UI (serve; loopback only)")
	sendEvery := fs.Duration("send-every", 10*time.Minute, "how often the web UI sends one message, a reply or cover (serve)")
	idle := fs.Duration("idle-lock", 10*time.Minute, "lock the web UI after this long without use (serve)")
	to := fs.String("to", "", "conversation id (reply)")
	out := fs.String("out", "", "folder for the backup (backup create), file for the opened share (backup open-share)")
	shares := fs.Int("shares", 3, "number of recovery shares (backup create)")
	threshold := fs.Int("threshold", 2, "shares needed to restore (backup create)")
	contacts := fs.String("contacts", "", "colleagues' journalist ids, one per share, to seal the shares to (backup create)")
	backupFile := fs.String("backup", "", "the backup file (backup restore)")
	var shareFiles multiFlag
	fs.Var(&shareFiles, "share", "a recovery share file, repeated (backup restore, backup open-share)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if *vaultPath == "" {
		fmt.Fprintf(stderr, "chaff journalist %s: --vault FILE is required\n", cmd)
		return errUsage
	}
	readPassphrase := func() (string, error) {
		if *passFD >= 0 {
			f := os.NewFile(uintptr(*passFD), "passphrase")
			line, err := bufio.NewReader(f).ReadString('\n')
			if err != nil && line == "" {
				return "", fmt.Errorf("reading the passphrase from fd %d: %w", *passFD, err)
			}
			return strings.TrimRight(line, "\r\n"), nil
		}
		if p := os.Getenv("CHAFF_PASSPHRASE"); p != "" {
			return p, nil
		}
		fmt.Fprint(stderr, "Vault passphrase: ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no passphrase given")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	switch cmd {
	case "init":
		if *bundle == "" {
			fmt.Fprintln(stderr, "chaff journalist init: --bundle FILE is required")
			return errUsage
		}
		pass, err := client.NewPassphrase(client.PassphraseWords)
		if err != nil {
			return err
		}
		v, err := journalist.Create(*vaultPath, pass, journalistKDF, *bundle, *apiURL)
		if err != nil {
			return err
		}
		defer v.Close()
		fmt.Fprintf(stdout, `Created the vault %s for %s. Its passphrase is:

    %s

Learn it or keep it somewhere only you can reach: it is shown only this
once, and nobody can open the vault without it. The setup bundle, which
held the identity key in plaintext, is deleted.

Next: chaff journalist serve --vault %s, and open http://127.0.0.1:8081
`, *vaultPath, v.ID(), pass, *vaultPath)
		return nil
	case "serve":
		if *sendEvery <= 0 || *idle <= 0 {
			fmt.Fprintln(stderr, "chaff journalist serve: --send-every and --idle-lock must be positive")
			return errUsage
		}
		if !up.IsLoopback(*listen) {
			return errors.New("--listen must be a loopback address: the web UI is for this machine only")
		}
		if _, err := os.Stat(*vaultPath); err != nil {
			return err
		}
		log, _, err := newLogger(stderr, "info")
		if err != nil {
			return err
		}
		w := journalist.NewWeb(journalist.WebConfig{VaultPath: *vaultPath, SendEvery: *sendEvery, IdleLock: *idle, Logger: log})
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		hs := newServer(w.Handler(), log)
		go w.Run(ctx)
		go func() { <-ctx.Done(); hs.Close() }()
		fmt.Fprintf(stdout, "journalist UI on http://%s (unlock it with the vault passphrase)\n", ln.Addr())
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	sub := ""
	if cmd == "backup" {
		if len(pos) > 0 {
			sub = pos[0]
		}
		switch sub {
		case "create", "open-share":
			if *out == "" || (sub == "open-share" && len(shareFiles) != 1) {
				fmt.Fprintf(stderr, "chaff journalist backup %s: give --out (and, to open a share, one --share)\n", sub)
				return errUsage
			}
		case "restore":
			if *backupFile == "" {
				fmt.Fprintln(stderr, "chaff journalist backup restore: give --backup FILE, the shares (--share FILE, repeated) and --vault for the new vault")
				return errUsage
			}
			b, sh, err := journalist.ReadBackupFiles(*backupFile, shareFiles)
			if err != nil {
				return err
			}
			if err := journalist.RestoreBackup(b, sh, *vaultPath); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Restored the vault to %s: unlock it with its passphrase.\n", *vaultPath)
			return nil
		default:
			fmt.Fprintf(stderr, "chaff journalist backup: say create, open-share or restore\n\n%s", journalistUsage)
			return errUsage
		}
	}
	pass, err := readPassphrase()
	if err != nil {
		return err
	}
	v, err := journalist.Open(*vaultPath, pass)
	if err != nil {
		return err
	}
	defer v.Close()
	switch cmd {
	case "sync":
		res, err := v.Sync(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Synced: %s in %s.\n", journalist.Count(res.Messages, "new message", "new messages"), journalist.Count(res.DeadDrops, "dead drop", "dead drops"))
		if res.Unverified > 0 {
			fmt.Fprintf(stdout, "Skipped %s whose signature did not verify.\n", journalist.Count(res.Unverified, "dead drop", "dead drops"))
		}
		if res.Waiting != "" {
			fmt.Fprintln(stdout, res.Waiting)
		}
		if n := v.Queued(); n > 0 {
			fmt.Fprintf(stdout, "%s for the next send (serve, or chaff journalist send from a timer).\n", journalist.Count(n, "message waits", "messages wait"))
		}
	case "send":
		real, err := v.SendOne(ctx)
		if err != nil {
			return err
		}
		what := "a cover message"
		if real {
			what = "a queued reply"
		}
		fmt.Fprintf(stdout, "Sent %s.\n", what)
	case "inbox":
		cs := v.Conversations()
		if len(cs) == 0 {
			fmt.Fprintln(stdout, "No conversations yet.")
		}
		for _, c := range cs {
			state := ""
			if c.Unread > 0 {
				state = " (" + strconv.Itoa(c.Unread) + " unread)"
			} else if c.Handled {
				state = " (handled)"
			}
			fmt.Fprintf(stdout, "== source %s%s\n", c.ID, state)
			for _, m := range c.Messages {
				who := "source"
				if m.From == "me" {
					who = "you"
				}
				text := m.Text
				if m.HandoverTo != "" {
					text = "(handed over to " + m.HandoverTo + ")"
				}
				fmt.Fprintf(stdout, "%s  %s: %s\n", m.Time.UTC().Format("2006-01-02 15:04 UTC"), who, text)
			}
		}
	case "reply":
		if *to == "" || len(pos) == 0 {
			fmt.Fprintln(stderr, "chaff journalist reply: give --to CONVERSATION and the text")
			return errUsage
		}
		if err := v.Reply(ctx, *to, strings.Join(pos, " ")); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Queued your reply to source %s; it leaves with the next send (serve's steady schedule, or chaff journalist send from your timer).\n", *to)
	case "rotate":
		if err := v.RotateNow(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "Published a new messaging key.")
	case "backup":
		if sub == "open-share" {
			b, err := os.ReadFile(shareFiles[0])
			if err != nil {
				return err
			}
			plain, err := v.OpenShare(b)
			if err != nil {
				return err
			}
			if err := journalist.WriteNewFile(*out, plain); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Opened the share into %s: hand it back only to the colleague restoring, and delete it after.\n", *out)
			return nil
		}
		res, err := journalist.CreateBackup(v, *out, *shares, *threshold, journalist.ShareNames(*contacts))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Wrote the backup %s and %d shares; any %d of them restore it:\n", res.Backup, *shares, *threshold)
		for _, p := range res.Shares {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		if *contacts == "" {
			fmt.Fprintln(stdout, "The shares are not sealed to anyone (no --contacts): hand each to one colleague in person, and keep no copy.")
		}
	}
	return nil
}
