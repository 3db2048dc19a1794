package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

const adminUsage = `usage: chaff admin <command> [flags]

The key ceremony and the newsroom's operations.

  init --out DIR                  create the organisation key (the trust anchor),
                                  the provisioning keys and an admin key
  bootstrap --api URL             upload the provisioning and admin keys
  covernode add ID                create a CoverNode's identity key and setup bundle
  journalist add ID --name NAME --description TEXT [--desk]
                                  register a journalist and create their setup bundle
  journalist update ID [--name NAME] [--sort-name S] [--description TEXT] [--desk=true|false]
  journalist remove ID
  status set AVAILABLE|UNAVAILABLE|DEGRADED_PERFORMANCE|SCHEDULED_MAINTENANCE --description TEXT
  keys --api URL                  list every published key, warn about expiries

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
	if (sub == "covernode" || sub == "journalist" || sub == "status") && len(rest) > 0 {
		sub, rest = sub+" "+rest[0], rest[1:]
	}
	switch sub {
	case "init":
		return adminInit(rest, stdout, stderr)
	case "bootstrap":
		return adminBootstrap(ctx, rest, stdout, stderr)
	case "covernode add":
		return adminCoverNodeAdd(ctx, rest, stdout, stderr)
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
	case "help", "-h", "--help":
		fmt.Fprint(stdout, adminUsage)
		return nil
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

func (a *adminFlags) client() *apiclient.Client { return apiclient.New(a.api) }

// loadKeyPair finds the key pair of role in dir that expires last and has
// not expired.
func loadKeyPair(dir string, role keys.Role, now time.Time) (*keys.KeyPair, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, role.String()+"-*.keypair.json"))
	if len(paths) == 0 {
		hint := "run chaff admin init first, or point --keys at the newsroom's key directory"
		if role == keys.Organization {
			hint = "it belongs offline once the ceremony is done: bring it back for this step"
		}
		return nil, fmt.Errorf("no %s key pair (%s-*.keypair.json) in %s: %s", roleWords(role), role, dir, hint)
	}
	var best *keys.KeyPair
	for _, p := range paths {
		kp, err := keys.ReadKeyPairFile(p)
		if err != nil {
			return nil, err
		}
		if !kp.Signed {
			return nil, fmt.Errorf("%s holds no certificate", p)
		}
		if _, err := kp.SigningKey(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if best == nil || kp.Public.NotValidAfter.After(best.Public.NotValidAfter) {
			best = kp
		}
	}
	if best.Public.Expired(now) {
		return nil, fmt.Errorf("the %s key in %s expired on %s: renew it with the organisation key", roleWords(role), dir, best.Public.NotValidAfter.UTC().Format(time.RFC3339))
	}
	return best, nil
}

// roleWords names a role in plain words.
func roleWords(r keys.Role) string {
	switch r {
	case keys.Organization:
		return "organisation"
	case keys.CoverNodeProvisioning:
		return "CoverNode provisioning"
	case keys.CoverNodeIdentity:
		return "CoverNode identity"
	case keys.CoverNodeMessaging:
		return "CoverNode messaging"
	case keys.JournalistIdentity:
		return "journalist identity"
	case keys.JournalistMessaging:
		return "journalist messaging"
	case keys.BackupIdentity:
		return "backup identity"
	case keys.BackupMessaging:
		return "backup messaging"
	}
	return strings.ReplaceAll(r.String(), "_", " ")
}

func adminInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaff admin init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to create the keys in (required; must not hold keys already)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if *out == "" {
		fmt.Fprintln(stderr, "chaff admin init: --out DIR is required")
		return errUsage
	}
	if existing, _ := filepath.Glob(filepath.Join(*out, "organization-*.keypair.json")); len(existing) > 0 {
		return fmt.Errorf("%s already holds an organisation key pair (%s): refusing to create another", *out, filepath.Base(existing[0]))
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	now := time.Now()
	org, err := keys.Generate(keys.Organization, nil, now)
	if err != nil {
		return err
	}
	made := map[keys.Role]*keys.KeyPair{keys.Organization: org}
	for _, role := range []keys.Role{keys.CoverNodeProvisioning, keys.JournalistProvisioning, keys.Admin} {
		if made[role], err = keys.Generate(role, org, now); err != nil {
			return err
		}
	}
	files := map[keys.Role]string{}
	for _, role := range []keys.Role{keys.Organization, keys.CoverNodeProvisioning, keys.JournalistProvisioning, keys.Admin} {
		if files[role], err = keys.WriteKeyPairFile(*out, role, made[role]); err != nil {
			return err
		}
		if _, err := keys.WritePublicKeyFile(*out, role, made[role]); err != nil {
			return err
		}
	}
	anchor := filepath.Join(*out, keys.FileName(keys.Organization, org.Public.Key[:], false))
	fmt.Fprintf(stdout, `Created the organisation's keys in %s.

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
`, *out, anchor, anchor, mustDigest(org), filepath.Base(files[keys.Organization]), protocol.FormatTime(org.Public.NotValidAfter),
		filepath.Base(files[keys.CoverNodeProvisioning]), filepath.Base(files[keys.JournalistProvisioning]), filepath.Base(files[keys.Admin]),
		*out, files[keys.Organization])
	return nil
}

func mustDigest(kp *keys.KeyPair) string {
	vk, err := kp.Public.VerifyingKey()
	if err != nil {
		return "?"
	}
	return vk.HumanDigest()
}

// trusts reports whether the API publishes the organisation key.
func trusts(h *keys.Hierarchy, org *keys.SignedPublicKey) bool {
	for _, f := range h.Keys {
		if f.OrgPK.Equal(org) {
			return true
		}
	}
	return false
}

func adminBootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("bootstrap", stderr, true)
	if _, err := a.parse(args, 0, stderr); err != nil {
		return err
	}
	now := time.Now()
	org, err := loadKeyPair(a.keysDir, keys.Organization, now)
	if err != nil {
		return err
	}
	c := a.client()
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return err
	}
	if !trusts(h, &org.Public) {
		return fmt.Errorf("the API at %s does not publish this organisation's key %s: start it with --anchor %s", a.api, org.Public.Prefix(), filepath.Join(a.keysDir, keys.FileName(keys.Organization, org.Public.Key[:], false)))
	}
	for _, step := range []struct {
		role  keys.Role
		route apiclient.Route
	}{
		{keys.CoverNodeProvisioning, apiclient.PostCoverNodeProvisioningKey},
		{keys.JournalistProvisioning, apiclient.PostJournalistProvisioningKey},
		{keys.Admin, apiclient.PostAdminKey},
	} {
		kp, err := loadKeyPair(a.keysDir, step.role, now)
		if err != nil {
			return err
		}
		if err := c.UploadKey(ctx, step.route, org, kp.Public); err != nil {
			return fmt.Errorf("uploading the %s key: %w", roleWords(step.role), err)
		}
		fmt.Fprintf(stdout, "Uploaded the %s key %s (valid until %s).\n", roleWords(step.role), kp.Public.Prefix(), protocol.FormatTime(kp.Public.NotValidAfter))
	}
	fmt.Fprintf(stdout, "The API at %s now publishes the provisioning keys. Move the organisation key pair offline.\n", a.api)
	return nil
}

// coverNodeBundle is what a new CoverNode needs on first start.
type coverNodeBundle struct {
	CoverNodeID string        `json:"covernode_id"`
	IdentityKey *keys.KeyPair `json:"identity_key_pair"`
	Form        *form.Form    `json:"form"`
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
	if err := protocol.ValidateCoverNodeID(id); err != nil {
		return fmt.Errorf("%q is not a CoverNode id: use covernode_001, covernode_002, …", id)
	}
	now := time.Now()
	prov, err := loadKeyPair(a.keysDir, keys.CoverNodeProvisioning, now)
	if err != nil {
		return err
	}
	idKey, err := keys.Generate(keys.CoverNodeIdentity, prov, now)
	if err != nil {
		return err
	}
	f, err := apiclient.CoverNodeIdentityForm(prov, apiclient.CoverNodeIdentityKey{CoverNodeID: id, Key: idKey.Public}, now, form.CoverNodeIdentityTTL)
	if err != nil {
		return err
	}
	path := filepath.Join(*out, id+".setup-bundle.json")
	if err := writeSecretJSON(path, coverNodeBundle{CoverNodeID: id, IdentityKey: idKey, Form: f}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created %s's identity key %s, valid until %s.\nSetup bundle: %s (secret: copy it to the CoverNode only; its form expires in 24 hours).\n", id, idKey.Public.Prefix(), protocol.FormatTime(idKey.Public.NotValidAfter), path)
	if a.api != "" {
		epoch, err := a.client().RegisterCoverNodeIdentity(ctx, f)
		if err != nil {
			return fmt.Errorf("registering %s's identity key: %w", id, err)
		}
		fmt.Fprintf(stdout, "Registered it with the API (epoch %d).\n", epoch)
	}
	return nil
}

// journalistBundle is what a new journalist's app imports.
type journalistBundle struct {
	JournalistID string               `json:"journalist_id"`
	API          string               `json:"api"`
	TrustAnchor  keys.SignedPublicKey `json:"trust_anchor"`
	IdentityKey  *keys.KeyPair        `json:"identity_key_pair"`
}

func writeSecretJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func findProfile(h *keys.Hierarchy, id string) (keys.JournalistProfile, bool) {
	for _, p := range h.JournalistProfiles {
		if p.ID == id {
			return p, true
		}
	}
	return keys.JournalistProfile{}, false
}

func checkJournalist(id, description string, desk bool) error {
	if err := protocol.ValidateJournalistID(id); err != nil {
		return fmt.Errorf("%q is not a journalist id: %v", id, err)
	}
	if !desk && len(description) > keys.MaxDescription {
		return fmt.Errorf("the description is %d bytes; a journalist's may be at most %d (a desk's may be longer)", len(description), keys.MaxDescription)
	}
	return nil
}

func adminJournalistAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("journalist add", stderr, true)
	name := a.fs.String("name", "", "display name (required)")
	sortName := a.fs.String("sort-name", "", "name to sort by (default: the display name, lower case)")
	description := a.fs.String("description", "", fmt.Sprintf("what the journalist covers (required; at most %d bytes unless --desk)", keys.MaxDescription))
	desk := a.fs.Bool("desk", false, "a desk or team inbox rather than a person")
	out := a.fs.String("out", ".", "directory to write the setup bundle to")
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	id := pos[0]
	if *name == "" || *description == "" {
		fmt.Fprintln(stderr, "chaff admin journalist add: --name and --description are required")
		return errUsage
	}
	if err := checkJournalist(id, *description, *desk); err != nil {
		return err
	}
	if *sortName == "" {
		*sortName = strings.ToLower(*name)
	}
	now := time.Now()
	prov, err := loadKeyPair(a.keysDir, keys.JournalistProvisioning, now)
	if err != nil {
		return err
	}
	orgPub, err := anchorInDir(a.keysDir)
	if err != nil {
		return err
	}
	c := a.client()
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return err
	}
	if _, exists := findProfile(h, id); exists {
		return fmt.Errorf("journalist %q already exists: use chaff admin journalist update to change the profile", id)
	}
	bundlePath := filepath.Join(*out, "journalist-"+id+".bundle.json")
	if _, err := os.Stat(bundlePath); err == nil {
		return fmt.Errorf("%s already exists: refusing to overwrite a setup bundle", bundlePath)
	}
	idKey, err := keys.Generate(keys.JournalistIdentity, prov, now)
	if err != nil {
		return err
	}
	profile := apiclient.NewJournalist{ID: id, DisplayName: *name, SortName: *sortName, Description: *description, IsDesk: *desk, Status: keys.StatusVisible}
	if err := c.RegisterJournalist(ctx, prov, profile); err != nil {
		return fmt.Errorf("registering %s: %w", id, err)
	}
	epoch, err := c.RegisterJournalistIdentity(ctx, prov, apiclient.JournalistIdentityKey{JournalistID: id, Key: idKey.Public})
	if err != nil {
		return fmt.Errorf("registering %s's identity key: %w", id, err)
	}
	if err := writeSecretJSON(bundlePath, journalistBundle{JournalistID: id, API: a.api, TrustAnchor: *orgPub, IdentityKey: idKey}); err != nil {
		return err
	}
	kind := "journalist"
	if *desk {
		kind = "desk"
	}
	fmt.Fprintf(stdout, "Registered %s %q (%s) with identity key %s, valid until %s (epoch %d).\nSetup bundle: %s\nIt holds %s's secret identity key: hand it over in person or over a channel you trust, then delete this copy.\n",
		kind, id, *name, idKey.Public.Prefix(), protocol.FormatTime(idKey.Public.NotValidAfter), epoch, bundlePath, id)
	return nil
}

// anchorInDir reads the organisation's public key file from the key
// directory.
func anchorInDir(dir string) (*keys.SignedPublicKey, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "organization-*.pub.json"))
	if len(paths) == 0 {
		return nil, fmt.Errorf("no organisation public key (organization-*.pub.json) in %s", dir)
	}
	sort.Strings(paths)
	return keys.ReadPublicKeyFile(paths[len(paths)-1])
}

// optionalString is a flag that records whether it was set.
type optionalString struct {
	v   string
	set bool
}

func (o *optionalString) String() string     { return o.v }
func (o *optionalString) Set(s string) error { o.v, o.set = s, true; return nil }

type optionalBool struct {
	v   bool
	set bool
}

func (o *optionalBool) String() string { return fmt.Sprint(o.v) }
func (o *optionalBool) Set(s string) error {
	switch s {
	case "true":
		o.v = true
	case "false":
		o.v = false
	default:
		return errors.New("want true or false")
	}
	o.set = true
	return nil
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
	if !name.set && !sortName.set && !description.set && !desk.set {
		fmt.Fprintln(stderr, "chaff admin journalist update: nothing to change: give --name, --sort-name, --description or --desk")
		return errUsage
	}
	prov, err := loadKeyPair(a.keysDir, keys.JournalistProvisioning, time.Now())
	if err != nil {
		return err
	}
	c := a.client()
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return err
	}
	cur, exists := findProfile(h, id)
	if !exists {
		return fmt.Errorf("there is no journalist %q", id)
	}
	body := apiclient.ProfileUpdate{JournalistID: id}
	isDesk, desc := cur.IsDesk, cur.Description
	if name.set {
		body.DisplayName = &name.v
	}
	if sortName.set {
		body.SortName = &sortName.v
	}
	if desk.set {
		body.IsDesk, isDesk = &desk.v, desk.v
	}
	if description.set {
		body.Description, desc = &description.v, description.v
	}
	if err := checkJournalist(id, desc, isDesk); err != nil {
		return err
	}
	if err := c.UpdateJournalist(ctx, prov, body); err != nil {
		return fmt.Errorf("updating %s: %w", id, err)
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
	id := pos[0]
	prov, err := loadKeyPair(a.keysDir, keys.JournalistProvisioning, time.Now())
	if err != nil {
		return err
	}
	if err := a.client().RemoveJournalist(ctx, prov, id); err != nil {
		if apiclient.StatusOf(err) == 404 && !errors.Is(err, apiclient.ErrSignerNotFound) {
			return fmt.Errorf("there is no journalist %q", id)
		}
		return fmt.Errorf("removing %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "Removed %s: the profile and keys are no longer published; readers can no longer write to them.\n", id)
	return nil
}

func adminStatusSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("status set", stderr, true)
	description := a.fs.String("description", "", "what readers are told (required)")
	pos, err := a.parse(args, 1, stderr)
	if err != nil {
		return err
	}
	status := strings.ToUpper(pos[0])
	ok := false
	for _, s := range apiclient.SettableStatuses {
		ok = ok || s == status
	}
	if !ok {
		return fmt.Errorf("%q is not a status: use %s", pos[0], strings.Join(apiclient.SettableStatuses, ", "))
	}
	if *description == "" {
		fmt.Fprintln(stderr, "chaff admin status set: --description is required")
		return errUsage
	}
	adminKey, err := loadKeyPair(a.keysDir, keys.Admin, time.Now())
	if err != nil {
		return err
	}
	if err := a.client().SetStatus(ctx, adminKey, apiclient.SystemStatus{Status: status, Description: *description, Timestamp: protocol.Time{Time: time.Now()}}); err != nil {
		return fmt.Errorf("setting the status: %w", err)
	}
	fmt.Fprintf(stdout, "The system status is now %s: %q.\n", status, *description)
	return nil
}

func adminKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("keys", stderr, true)
	var anchors multiFlag
	a.fs.Var(&anchors, "anchor", "organisation trust anchor (default: the one in --keys)")
	pos, err := a.parse(args, 0, stderr)
	if err != nil {
		return err
	}
	_ = pos
	var anchorKeys []keys.SignedPublicKey
	if len(anchors) > 0 {
		if anchorKeys, err = loadAnchors(anchors); err != nil {
			return err
		}
	} else {
		k, err := anchorInDir(a.keysDir)
		if err != nil {
			return fmt.Errorf("%v (or give --anchor)", err)
		}
		anchorKeys = []keys.SignedPublicKey{*k}
	}
	h, err := a.client().PublicKeys(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	v, verr := keys.Verify(h, anchorKeys, now)
	if verr != nil {
		return reportDropped(v, verr, stderr)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tOWNER\tKEY\tNOT VALID AFTER\tEXPIRES IN")
	var warnings []string
	for _, k := range v.All() {
		owner := k.Owner
		if owner == "" {
			owner = "-"
		}
		left := k.NotValidAfter.Sub(now)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Role, owner, k.Prefix(), protocol.FormatTime(k.NotValidAfter), days(left))
		switch {
		case left < 7*24*time.Hour:
			warnings = append(warnings, fmt.Sprintf("WARNING: the %s key %s%s expires in %s", roleWords(k.Role), k.Prefix(), ownerWords(k.Owner), days(left)))
		case (k.Role == keys.CoverNodeProvisioning || k.Role == keys.JournalistProvisioning) && left < k.Role.ValidFor()-k.Role.RotateAfter():
			warnings = append(warnings, fmt.Sprintf("WARNING: the %s key %s is due for renewal (it expires in %s): create a new one with the organisation key", roleWords(k.Role), k.Prefix(), days(left)))
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "max_epoch %d; %d journalist profile(s)\n", v.MaxEpoch, len(v.Profiles))
	for _, w := range warnings {
		fmt.Fprintln(stdout, w)
	}
	return reportDropped(v, nil, stderr)
}

func ownerWords(owner string) string {
	if owner == "" {
		return ""
	}
	return " of " + owner
}

func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%.0f hours", d.Hours())
	}
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}
