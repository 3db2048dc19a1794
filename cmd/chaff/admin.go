package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/newsroom"
	"github.com/chaffhq/chaff/protocol"
)

const adminUsage = `usage: chaff admin <command> [flags]

The key ceremony and the newsroom's operations.

  init --out DIR [--protocol coverdrop|pq]
                                  create the organisation key (the trust anchor),
                                  the provisioning keys and an admin key, for a
                                  deployment in that protocol mode (coverdrop,
                                  the default, or pq: docs/PQ.md)
  bootstrap --api URL             upload the provisioning and admin keys
  renew --api URL                 renew the provisioning and admin keys with the
                                  organisation key (every 26 weeks; keys --check
                                  says when)
  backup-key --api URL            create and upload the backup admin's keys
                                  (certified by the organisation key): every
                                  journalist backup's shares are sealed to it
                                  as well as to colleagues
  covernode add ID                create a CoverNode's identity key and setup bundle
  covernode update ID --api URL   a new identity key and setup bundle for a published
                                  CoverNode whose key state was lost or whose
                                  identity keys expired (start it afresh with it)
  covernode remove ID --api URL   retire a CoverNode: its identity keys are no longer
                                  certified (the identity API reads the retirement
                                  from --keys) and its published keys run out
  journalist add ID --name NAME --description TEXT [--desk]
                                  register a journalist and create their setup bundle
  journalist update ID [--name NAME] [--sort-name S] [--description TEXT] [--desk=true|false]
  journalist remove ID
  status set AVAILABLE|UNAVAILABLE|DEGRADED_PERFORMANCE|SCHEDULED_MAINTENANCE --description TEXT
  canary add --api URL [--dir DIR]
                                  set up chaff canary: a canary journalist hidden
                                  from readers' lists, its vault, a reader and
                                  DIR/canary.json (0600)
  keys --api URL [--check]        list every published key, warn about expiries;
                                  with --check, exit 3 when a key needs action

Commands that use keys read them from --keys DIR (default $CHAFF_KEYS, or
chaff-keys). Secret key files are written readable by their owner only and
are never printed.
`

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return errUsage
	}
	sub, rest := args[0], args[1:]
	if isHelp(sub) || (len(rest) > 0 && isHelp(rest[0]) && (sub == "covernode" || sub == "journalist" || sub == "status" || sub == "canary")) {
		fmt.Fprint(stdout, adminUsage)
		return nil
	}
	if (sub == "covernode" || sub == "journalist" || sub == "status" || sub == "canary") && len(rest) > 0 {
		sub, rest = sub+" "+rest[0], rest[1:]
	}
	switch sub {
	case "init":
		return adminInit(rest, stdout, stderr)
	case "bootstrap":
		return adminBootstrap(ctx, rest, stdout, stderr)
	case "renew":
		return adminRenew(ctx, rest, stdout, stderr)
	case "backup-key":
		return adminBackupKey(ctx, rest, stdout, stderr)
	case "covernode add":
		return adminCoverNodeAdd(ctx, rest, stdout, stderr)
	case "covernode update":
		return adminCoverNodeUpdate(ctx, rest, stdout, stderr)
	case "covernode remove":
		return adminCoverNodeRemove(ctx, rest, stdout, stderr)
	case "journalist add":
		return adminJournalistAdd(ctx, rest, stdout, stderr)
	case "journalist update":
		return adminJournalistUpdate(ctx, rest, stdout, stderr)
	case "journalist remove":
		return adminJournalistRemove(ctx, rest, stdout, stderr)
	case "status set":
		return adminStatusSet(ctx, rest, stdout, stderr)
	case "keys":
		return adminKeys(ctx, rest, stdout, stderr)
	case "canary add":
		return adminCanaryAdd(ctx, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "chaff admin: unknown command %q\n\n%s", strings.Join(args[:min(2, len(args))], " "), adminUsage)
	return errUsage
}

// adminFlags are the flags most admin commands share.
type adminFlags struct {
	fs          *flag.FlagSet
	keysDir     string
	api         string
	apiRequired bool
}

func newAdminFlags(name string, stderr io.Writer, withAPI bool) *adminFlags {
	a := &adminFlags{fs: flag.NewFlagSet("chaff admin "+name, flag.ContinueOnError)}
	a.fs.SetOutput(stderr)
	def := os.Getenv("CHAFF_KEYS")
	if def == "" {
		def = "chaff-keys"
	}
	a.fs.StringVar(&a.keysDir, "keys", def, "directory of the newsroom's key files")
	if withAPI {
		a.fs.StringVar(&a.api, "api", "", "URL of the Chaff API (required)")
		a.apiRequired = true
	}
	return a
}

// parse parses flags interleaved with wantArgs positional arguments.
func (a *adminFlags) parse(args []string, wantArgs int, stderr io.Writer) ([]string, error) {
	pos, err := parseInterleaved(a.fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != wantArgs {
		fmt.Fprintf(stderr, "%s: want %d argument(s), got %d\n", a.fs.Name(), wantArgs, len(pos))
		return nil, errUsage
	}
	if a.apiRequired && a.api == "" {
		fmt.Fprintf(stderr, "%s: --api URL is required\n", a.fs.Name())
		return nil, errUsage
	}
	return pos, nil
}

// newsroom is the ceremony over the flags' key directory and API.
func (a *adminFlags) newsroom() *newsroom.Newsroom {
	n := &newsroom.Newsroom{KeysDir: a.keysDir}
	if a.api != "" {
		n.API = apiclient.New(a.api)
	}
	return n
}

func adminInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff admin init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to create the keys in (required; must not hold keys already)")
	mode := fs.String("protocol", keys.ModeCoverDrop, "the deployment's protocol mode, signed into the trust anchor: coverdrop or pq (docs/PQ.md)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if *out == "" {
		fmt.Fprintln(stderr, "chaff admin init: --out DIR is required")
		return errUsage
	}
	if err := keys.CheckMode(*mode); err != nil {
		fmt.Fprintf(stderr, "chaff admin init: --protocol: %v\n", err)
		return errUsage
	}
	c, err := newsroom.InitIn(*out, *mode, time.Now())
	if err != nil {
		return err
	}
	base := func(r keys.Role) string { return filepath.Base(c.Files[r]) }
	fmt.Fprintf(stdout, `Created the organisation's keys in %s, for a deployment in %s mode.

Trust anchor (public): %s
  Build it into the apps and start the API with: chaff api --anchor %s
  Digest to read out when checking copies: %s

Secret key pairs (readable by you only):
  %s  organisation key, valid until %s
  %s  CoverNode provisioning key
  %s  journalist provisioning key
  %s  admin key (sets the system status)

Next: chaff admin bootstrap --keys %s --api URL
Then move %s to offline storage (for example an encrypted
drive in a safe) and delete it from this machine: it is needed again only to
renew the provisioning keys, every 26 weeks. Keep the provisioning and admin
key pairs on the newsroom machine that runs chaff admin, never on the cloud side.
`, *out, *mode, c.Anchor, c.Anchor, mustDigest(c.Org), base(keys.Organization), protocol.FormatTime(c.Org.Public.NotValidAfter),
		base(keys.CoverNodeProvisioning), base(keys.JournalistProvisioning), base(keys.Admin),
		*out, c.Files[keys.Organization])
	return nil
}

func mustDigest(kp *keys.KeyPair) string {
	vk, err := kp.Public.VerifyingKey()
	if err != nil {
		return "?"
	}
	return vk.HumanDigest()
}

func adminBootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("bootstrap", stderr, true)
	if _, err := a.parse(args, 0, stderr); err != nil {
		return err
	}
	err := a.newsroom().Bootstrap(ctx, func(role keys.Role, kp *keys.KeyPair) {
		fmt.Fprintf(stdout, "Uploaded the %s key %s (valid until %s).\n", newsroom.RoleWords(role), kp.Public.Prefix(), protocol.FormatTime(kp.Public.NotValidAfter))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "The API at %s now publishes the provisioning keys. Move the organisation key pair offline.\n", a.api)
	return nil
}

func adminRenew(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("renew", stderr, true)
	if _, err := a.parse(args, 0, stderr); err != nil {
		return err
	}
	_, err := a.newsroom().Renew(ctx, func(role keys.Role, kp *keys.KeyPair) {
		fmt.Fprintf(stdout, "Renewed the %s key: %s (valid until %s), uploaded.\n", newsroom.RoleWords(role), kp.Public.Prefix(), protocol.FormatTime(kp.Public.NotValidAfter))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "The API at %s now publishes the renewed keys; the old ones stay valid until they expire. Move the organisation key pair offline.\n", a.api)
	return nil
}

func adminBackupKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("backup-key", stderr, true)
	if _, err := a.parse(args, 0, stderr); err != nil {
		return err
	}
	b, err := a.newsroom().CreateBackupKeys(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `Created and uploaded the backup keys (valid until %s):
  %s  backup identity key
  %s  backup messaging key: it opens journalists' released recovery shares
      (chaff journalist backup restore --admin-keys DIR)
Keep both, and every older backup messaging key pair, on the offline machine
of the newsroom's backup admin: a backup restores only with the key it was
made under. Move the organisation key pair offline again.
`, protocol.FormatTime(b.Messaging.Public.NotValidAfter), filepath.Base(b.Files[keys.BackupIdentity]), filepath.Base(b.Files[keys.BackupMessaging]))
	return nil
}

func adminCoverNodeAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("covernode add", stderr, false)
	a.fs.StringVar(&a.api, "api", "", "also register the identity key with the API at this URL now")
	out := a.fs.String("out", ".", "directory to write the setup bundle to")
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	id := pos[0]
	added, err := a.newsroom().AddCoverNode(ctx, id, *out, a.api != "")
	if added != nil {
		k := added.Bundle.IdentityKey.Public
		fmt.Fprintf(stdout, "Created %s's identity key %s, valid until %s.\nSetup bundle: %s (secret: copy it to the CoverNode only; its form expires in 24 hours).\n", id, k.Prefix(), protocol.FormatTime(k.NotValidAfter), added.Path)
	}
	if err != nil {
		return err
	}
	if added.Epoch != 0 {
		fmt.Fprintf(stdout, "Registered it with the API (epoch %d).\n", added.Epoch)
	}
	return nil
}

func adminCoverNodeUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("covernode update", stderr, true)
	out := a.fs.String("out", ".", "directory to write the setup bundle to")
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	id := pos[0]
	added, err := a.newsroom().UpdateCoverNode(ctx, id, *out, true)
	if added != nil {
		k := added.Bundle.IdentityKey.Public
		fmt.Fprintf(stdout, "Created a new identity key %s for %s, valid until %s.\nSetup bundle: %s (secret: copy it to the CoverNode only, and start the node with an empty state directory).\n", k.Prefix(), id, protocol.FormatTime(k.NotValidAfter), added.Path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Registered it with the API (epoch %d).\n", added.Epoch)
	return nil
}

func adminCoverNodeRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("covernode remove", stderr, true)
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	r, err := a.newsroom().RemoveCoverNode(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Retired %s: the identity API no longer certifies its keys. Its last published key expires on %s; readers' apps stop sealing to it as its messaging keys expire. Stop the node once its queue has drained.\n", pos[0], protocol.FormatTime(r.LastValid))
	return nil
}

func adminJournalistAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("journalist add", stderr, true)
	var j newsroom.Journalist
	a.fs.StringVar(&j.Name, "name", "", "display name (required)")
	a.fs.StringVar(&j.SortName, "sort-name", "", "name to sort by (default: the display name, lower case)")
	a.fs.StringVar(&j.Description, "description", "", fmt.Sprintf("what the journalist covers (required; at most %d bytes unless --desk)", keys.MaxDescription))
	a.fs.BoolVar(&j.Desk, "desk", false, "a desk or team inbox rather than a person")
	out := a.fs.String("out", ".", "directory to write the setup bundle to")
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	j.ID = pos[0]
	if j.Name == "" || j.Description == "" {
		fmt.Fprintln(stderr, "chaff admin journalist add: --name and --description are required")
		return errUsage
	}
	added, err := a.newsroom().AddJournalist(ctx, j, *out)
	if err != nil {
		return err
	}
	kind := "journalist"
	if j.Desk {
		kind = "desk"
	}
	k := added.Bundle.IdentityKey.Public
	fmt.Fprintf(stdout, "Registered %s %q (%s) with identity key %s, valid until %s (epoch %d).\nSetup bundle: %s\nIt holds %s's secret identity key: hand it over in person or over a channel you trust, then delete this copy.\n",
		kind, j.ID, j.Name, k.Prefix(), protocol.FormatTime(k.NotValidAfter), added.Epoch, added.Path, j.ID)
	return nil
}

// optionalString is a flag that records whether it was set.
type optionalString struct{ v *string }

func (o *optionalString) String() string {
	if o.v == nil {
		return ""
	}
	return *o.v
}
func (o *optionalString) Set(s string) error { o.v = &s; return nil }

type optionalBool struct{ v *bool }

func (o *optionalBool) String() string {
	if o.v == nil {
		return "false"
	}
	return fmt.Sprint(*o.v)
}
func (o *optionalBool) Set(s string) error {
	switch s {
	case "true", "false":
		b := s == "true"
		o.v = &b
		return nil
	}
	return errors.New("want true or false")
}
func (o *optionalBool) IsBoolFlag() bool { return true }

func adminJournalistUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("journalist update", stderr, true)
	var name, sortName, description optionalString
	var desk optionalBool
	a.fs.Var(&name, "name", "new display name")
	a.fs.Var(&sortName, "sort-name", "new sort name")
	a.fs.Var(&description, "description", "new description")
	a.fs.Var(&desk, "desk", "whether this is a desk (true or false)")
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	id := pos[0]
	ch := newsroom.ProfileChange{Name: name.v, SortName: sortName.v, Description: description.v, Desk: desk.v}
	if ch == (newsroom.ProfileChange{}) {
		fmt.Fprintln(stderr, "chaff admin journalist update: nothing to change: give --name, --sort-name, --description or --desk")
		return errUsage
	}
	if err := a.newsroom().UpdateJournalist(ctx, id, ch); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Updated the profile of %s.\n", id)
	return nil
}

func adminJournalistRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("journalist remove", stderr, true)
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	if err := a.newsroom().RemoveJournalist(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Removed %s: the profile and keys are no longer published; readers can no longer write to them.\n", pos[0])
	return nil
}

func adminStatusSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("status set", stderr, true)
	description := a.fs.String("description", "", "what readers are told (required)")
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	if *description == "" {
		fmt.Fprintln(stderr, "chaff admin status set: --description is required")
		return errUsage
	}
	status, err := a.newsroom().SetStatus(ctx, pos[0], *description)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "The system status is now %s: %q.\n", status, *description)
	return nil
}

func adminKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("keys", stderr, true)
	var anchors multiFlag
	a.fs.Var(&anchors, "anchor", "organisation trust anchor (default: the one in --keys)")
	check := a.fs.Bool("check", false, "exit 3 when the newest key of a role and owner expires within 7 days or is due for renewal (for cron and monitoring)")
	if _, err := a.parse(args, 0, stderr); err != nil {
		return err
	}
	var anchorKeys []keys.SignedPublicKey
	if len(anchors) > 0 {
		var err error
		if anchorKeys, err = loadAnchors(anchors); err != nil {
			return err
		}
	}
	kc, err := a.newsroom().CheckKeys(ctx, anchorKeys)
	if kc == nil {
		return err
	}
	if err != nil {
		return reportDropped(kc.Verified, err, stderr)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tOWNER\tKEY\tNOT VALID AFTER\tEXPIRES IN")
	for _, k := range kc.Verified.All() {
		owner := k.Owner
		if owner == "" {
			owner = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Role, owner, k.Prefix(), protocol.FormatTime(k.NotValidAfter), keys.Days(k.NotValidAfter.Sub(now)))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "max_epoch %d; %d journalist profile(s)\n", kc.Verified.MaxEpoch, len(kc.Verified.Profiles))
	for _, w := range kc.Warnings {
		fmt.Fprintln(stdout, w)
	}
	if err := reportDropped(kc.Verified, nil, stderr); err != nil || !*check {
		return err
	}
	if len(kc.Problems) == 0 {
		fmt.Fprintln(stdout, "CHECK OK: no key needs action")
		return nil
	}
	for _, p := range kc.Problems {
		fmt.Fprintln(stdout, "CHECK FAILED: "+p.String())
	}
	return exitError{code: exitKeysNeedAction, msg: fmt.Sprintf("%d key(s) need action", len(kc.Problems))}
}

// exitKeysNeedAction is the exit code of `chaff admin keys --check` when a
// key needs action, apart from 1 (the check itself failed), so that a
// script can tell the two apart (see docs/DEPLOY.md).
const exitKeysNeedAction = 3
