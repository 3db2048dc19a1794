package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

const inspectUsage = `usage:
  chaff inspect keys --anchor ORG.pub.json [--at RFC3339] KEYS.json
  chaff inspect dead-drops --anchor ORG.pub.json --keys KEYS.json [--at RFC3339]
        [--user-keypair FILE] [--journalist-keypair FILE ...] DEAD_DROPS.json

keys verifies a GET /v1/public-keys response from the organisation trust
anchor and lists every verified key: its role, owner, name (the first 8
hex digits of the key; of an X-Wing key, of its id, SHA-256 of the key, as
chaff admin keys shows it), type (Ed25519, X25519 or X-Wing), expiry and
digest (the first 16 bytes of SHA-512 of the whole published key, in
base64, as the journalist app shows its trusted keys). dead-drops verifies every dead drop of
a GET /v1/user/dead-drops or /v1/journalist/dead-drops response and, given
key pairs, prints each message it can decrypt as one JSON object per line.
A file argument of - reads standard input. Both exit 1 when anything fails
to verify, after printing everything that did.
`

func runInspect(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, inspectUsage)
		return errUsage
	}
	switch args[0] {
	case "keys":
		return inspectKeys(args[1:], stdout, stderr)
	case "dead-drops":
		return inspectDeadDrops(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, inspectUsage)
		return nil
	}
	fmt.Fprintf(stderr, "chaff inspect: unknown subcommand %q\n\n%s", args[0], inspectUsage)
	return errUsage
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// timeFlag parses an RFC 3339 instant; the zero value means now.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return "now"
	}
	return protocol.FormatTime(f.t)
}

func (f *timeFlag) Set(s string) error {
	t, err := protocol.ParseTime(s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 instant such as 2023-10-04T19:06:52Z: %v", err)
	}
	f.t = t
	return nil
}

func (f *timeFlag) get() time.Time {
	if f.t.IsZero() {
		return time.Now()
	}
	return f.t
}

// hierarchyFlags are the flags both subcommands share.
type hierarchyFlags struct {
	anchors multiFlag
	at      timeFlag
}

func (h *hierarchyFlags) register(fs *flag.FlagSet) {
	fs.Var(&h.anchors, "anchor", "organisation trust anchor: a signed public key file, or a JSON array of them (repeatable)")
	fs.Var(&h.at, "at", "verify at this RFC 3339 instant instead of now")
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("chaff inspect "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, inspectUsage, "\nflags:\n"); fs.PrintDefaults() }
	return fs
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments, and returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseArgs parses flags, allowing them after the positional argument too,
// and returns the single positional argument.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "%s: want exactly one input file, got %d\n", fs.Name(), len(pos))
		return "", errUsage
	}
	return pos[0], nil
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// loadAnchors reads trust anchors: each file holds one signed public key or
// a JSON array of them (upstream's trust-anchors format).
func loadAnchors(paths []string) ([]keys.SignedPublicKey, error) {
	if len(paths) == 0 {
		return nil, errors.New("--anchor is required: the organisation's public key file that the apps embed")
	}
	var out []keys.SignedPublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("trust anchor: %w", err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
			var list []keys.SignedPublicKey
			if err := json.Unmarshal(t, &list); err != nil {
				return nil, fmt.Errorf("trust anchor %s: %w", p, err)
			}
			out = append(out, list...)
			continue
		}
		k, signed, err := keys.ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("trust anchor %s: %w", p, err)
		}
		if !signed {
			return nil, fmt.Errorf("trust anchor %s: the key has no certificate", p)
		}
		out = append(out, k)
	}
	return out, nil
}

// verifyFile reads and verifies a published hierarchy.
func (h *hierarchyFlags) verifyFile(path string) (*keys.Verified, error) {
	anchors, err := loadAnchors(h.anchors)
	if err != nil {
		return nil, err
	}
	b, err := readInput(path)
	if err != nil {
		return nil, err
	}
	hier, err := keys.ParseHierarchy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys.Verify(hier, anchors, h.at.get())
}

// reportDropped prints the keys that failed and returns an error to exit
// with when there were any.
func reportDropped(v *keys.Verified, err error, stderr io.Writer) error {
	if v == nil {
		return err
	}
	for _, d := range v.Dropped {
		fmt.Fprintf(stderr, "not verified: %v\n", d)
	}
	if err != nil {
		return exitError{1, fmt.Sprintf("the key hierarchy does not verify at %s: %v", protocol.FormatTime(v.At), err)}
	}
	if len(v.Dropped) > 0 {
		return exitError{1, fmt.Sprintf("%d key(s) of the hierarchy did not verify at %s", len(v.Dropped), protocol.FormatTime(v.At))}
	}
	return nil
}

func inspectKeys(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys", stderr)
	var h hierarchyFlags
	h.register(fs)
	path, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	v, err := h.verifyFile(path)
	if v == nil || len(v.Organizations) == 0 {
		return reportDropped(v, err, stderr)
	}
	fmt.Fprintf(stdout, "verified at %s; max_epoch %d\n", protocol.FormatTime(v.At), v.MaxEpoch)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tOWNER\tKEY\tTYPE\tNOT VALID AFTER\tDIGEST")
	for _, k := range v.All() {
		owner := k.Owner
		if owner == "" {
			owner = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Role, owner, k.Prefix(), k.Algorithm(), protocol.FormatTime(k.NotValidAfter), k.HumanDigest())
	}
	tw.Flush()
	return reportDropped(v, err, stderr)
}

func inspectDeadDrops(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dead-drops", stderr)
	var h hierarchyFlags
	h.register(fs)
	keysPath := fs.String("keys", "", "the GET /v1/public-keys response the dead drops are verified with")
	userPair := fs.String("user-keypair", "", "a reader's key pair: decrypt replies in user dead drops")
	var journalistPairs multiFlag
	fs.Var(&journalistPairs, "journalist-keypair", "a journalist messaging key pair: decrypt messages in journalist dead drops (repeatable)")
	path, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if *keysPath == "" {
		fmt.Fprintln(stderr, "chaff inspect dead-drops: --keys is required")
		return errUsage
	}
	v, verr := h.verifyFile(*keysPath)
	if v == nil {
		return verr
	}
	if verr != nil {
		return reportDropped(v, verr, stderr)
	}
	body, err := readInput(path)
	if err != nil {
		return err
	}
	var in *deaddrop.Inspection
	if v.Mode == keys.ModePQ {
		in, err = inspectPQ(body, v, *userPair, journalistPairs)
	} else {
		in, err = inspectCoverDrop(body, v, *userPair, journalistPairs)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range in.Problems {
		fmt.Fprintln(stderr, p)
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, m := range in.Found {
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%d of %d %s dead drops verified at %s\n", in.Verified, in.Total, in.Kind, protocol.FormatTime(v.At))
	if failed := in.Total - in.Verified; failed > 0 {
		return exitError{1, fmt.Sprintf("%d dead drop(s) did not verify", failed)}
	}
	return nil
}

// inspectCoverDrop inspects coverdrop dead drops with X25519 key pairs.
func inspectCoverDrop(body []byte, v *keys.Verified, userPair string, journalistPairs []string) (*deaddrop.Inspection, error) {
	var tk deaddrop.TrialKeys
	var err error
	if userPair != "" {
		if tk.Reader, err = readPrivateKey(userPair); err != nil {
			return nil, err
		}
	}
	for _, p := range journalistPairs {
		sk, err := readPrivateKey(p)
		if err != nil {
			return nil, err
		}
		tk.Journalists = append(tk.Journalists, sk)
	}
	return deaddrop.Inspect(body, v, tk)
}

// inspectPQ inspects pq dead drops (docs/PQ.md §6) with X-Wing journalist
// key pairs; a pq reader has no key pair.
func inspectPQ(body []byte, v *keys.Verified, userPair string, journalistPairs []string) (*deaddrop.Inspection, error) {
	if userPair != "" {
		return nil, errors.New("--user-keypair: a pq deployment's readers have no key pair (their reply keys stay in their vault)")
	}
	var own []*pq.PrivateKey
	for _, p := range journalistPairs {
		kp, err := keys.ReadKeyPairFile(p)
		if err != nil {
			return nil, err
		}
		sk, err := kp.KEMPrivateKey()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		own = append(own, sk)
	}
	return pq.Inspect(body, v, own)
}

func readPrivateKey(path string) (*crypto.PrivateKey, error) {
	kp, err := keys.ReadKeyPairFile(path)
	if err != nil {
		return nil, err
	}
	sk, err := kp.PrivateKey()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sk, nil
}
