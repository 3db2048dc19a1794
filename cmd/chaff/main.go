// Command chaff runs and inspects a Chaff deployment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/buildinfo"
	"github.com/chaffhq/chaff/internal/httpserver"
	"github.com/chaffhq/chaff/journalist"
)

const usage = `usage: chaff <command> [arguments]

commands:
  up            the whole newsroom on this machine: API, CoverNode, identity
                API, journalists' web UIs and simulated readers
  api           serve the public API and the message ingest
  admin         the key ceremony and the newsroom's operations
  covernode     run a CoverNode: mix messages into dead drops
  identity-api  certify rotated identity keys (newsroom side)
  source        a reference source client: write to journalists, read replies
  journalist    the journalist app: vault, web UI, sync, replies
  loadgen       simulated readers at scale, with known real messages among
                the cover
  bench         every performance figure, each beside its bound, in one run
  canary        check the deployment end to end: a synthetic reader's
                message to a hidden canary journalist and the reply
  inspect       verify and decrypt published keys and dead drops
  version       the version, commit and Go toolchain of this binary

chaff <command> --help shows a command's usage.
`

// The key stretching of the reader's store and the journalist's vault.
// Only this package's tests change them (in TestMain, to a cheap one):
// the shipped binary has no flag or environment variable that weakens
// them.
var (
	readerKDF     = client.DefaultKDF
	journalistKDF = journalist.DefaultKDF
)

// listenerTimeouts are the timeouts of every listener chaff opens (see
// newServer). Only this package's tests change them.
var listenerTimeouts = httpserver.DefaultTimeouts

// newServer makes the http.Server of one of chaff's listeners: every
// timeout set, net/http's messages to log without client addresses.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return httpserver.New(h, httpserver.Options{Timeouts: listenerTimeouts, Logger: log})
}

// errUsage marks an error already explained to the user; it exits 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one chaff command and returns its exit code. Long-running
// commands stop when ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// A help flag asks for the command's usage: it goes to stdout and the
	// command exits 0 (errUsage and flag.ErrHelp then mean it was printed).
	help := asksHelp(args[1:])
	if help {
		stderr = stdout
	}
	var err error
	switch args[0] {
	case "up":
		err = runUp(ctx, args[1:], stdout, stderr)
	case "canary":
		err = runCanary(ctx, args[1:], stdout, stderr)
	case "inspect":
		err = runInspect(args[1:], stdout, stderr)
	case "api":
		err = runAPI(ctx, args[1:], stdout, stderr)
	case "admin":
		err = runAdmin(ctx, args[1:], stdout, stderr)
	case "covernode":
		err = runCoverNode(ctx, args[1:], stdout, stderr)
	case "identity-api":
		err = runIdentityAPI(ctx, args[1:], stdout, stderr)
	case "source":
		err = runSource(ctx, args[1:], os.Stdin, stdout, stderr)
	case "journalist":
		err = runJournalist(ctx, args[1:], os.Stdin, stdout, stderr)
	case "loadgen":
		err = runLoadgen(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, buildinfo.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "chaff: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		if help {
			return 0
		}
		return 2
	default:
		var ex exitError
		if errors.As(err, &ex) {
			if ex.msg != "" {
				fmt.Fprintf(stderr, "chaff %s: %s\n", args[0], ex.msg)
			}
			return ex.code
		}
		fmt.Fprintf(stderr, "chaff %s: %v\n", args[0], err)
		return 1
	}
}

// isHelp reports whether an argument asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// asksHelp reports whether a command's arguments ask for help: a help flag
// before any "--", or "help" as the subcommand.
func asksHelp(args []string) bool {
	for i, a := range args {
		if a == "--" {
			return false
		}
		if isHelp(a) && (a != "help" || i == 0) {
			return true
		}
	}
	return false
}

// exitError ends a command with a given code after it printed its output.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
