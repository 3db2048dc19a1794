package client_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// newsApp is a news app's Go code, in a module of its own: it embeds
// client and apiclient, and sends through its own HTTP stack (here a
// net/http client of its own, given as the Doer).
const newsApp = `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/keys"
)

// usage: newsapp STATE_DIR API ANCHOR send TO TEXT | inbox PASSPHRASE
func main() {
	anchor, err := keys.ReadPublicKeyFile(os.Args[3])
	check(err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	app, err := client.Start(client.Config{
		StateDir:       os.Args[1],
		API:            apiclient.NewWith(os.Args[2], &http.Client{Timeout: 10 * time.Second}),
		Anchors:        []keys.SignedPublicKey{*anchor},
		KDF:            client.KDFParams{Time: 1, Memory: 64, Threads: 1}, // a test's; an app keeps the default
		MinRunInterval: -1,
	})
	check(err)
	_, err = app.BackgroundRun(ctx)
	check(err)
	switch os.Args[4] {
	case "send":
		pass, s, err := app.CreateMailbox()
		check(err)
		check(s.Send(os.Args[5], os.Args[6]))
		_, err = app.BackgroundRun(ctx)
		check(err)
		n, err := s.Queued()
		check(err)
		fmt.Printf("passphrase: %s\nqueued: %d\n", pass, n)
	case "inbox":
		s, err := app.Unlock(os.Args[5])
		check(err)
		for id, msgs := range s.Threads() {
			for _, m := range msgs {
				fmt.Printf("%s/%s: %s\n", id, m.From, m.Text)
			}
		}
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "newsapp:", err)
		os.Exit(1)
	}
}
`

// TestEmbedOutsideModule builds a throwaway module outside this one that
// imports client (through a replace directive to this checkout), and runs
// the reader's life cycle with it against the deployment chaff up runs:
// send, background run, the journalist's reply, inbox. As a control, the
// same module cannot import an internal package: that is the failure this
// test would show if client imported one.
func TestEmbedOutsideModule(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go [0-9.]+$`).Find(goMod)
	mod := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(mod, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/newsapp\n\n"+string(goLine)+"\n\nrequire github.com/chaffhq/chaff v0.0.0\n\nreplace github.com/chaffhq/chaff => "+repo+"\n")
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("main.go", newsApp)
	write("bad/bad.go", "package bad\n\nimport _ \"github.com/chaffhq/chaff/internal/up\"\n")
	gocmd := func(args ...string) (string, error) {
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	bin := filepath.Join(mod, "newsapp")
	if out, err := gocmd("build", "-o", bin, "."); err != nil {
		t.Fatalf("building the news app: %v\n%s", err, out)
	}
	if out, err := gocmd("build", "./bad"); err == nil || !strings.Contains(out, "use of internal package") {
		t.Fatalf("control: a module outside imported an internal package: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dep, err := startDeployment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Close()
	state := t.TempDir()
	app := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, append([]string{state, dep.State.API, dep.State.Anchor}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("newsapp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := app("send", "alice", "the planning office takes bribes")
	m := regexp.MustCompile(`passphrase: (.+)\nqueued: 0\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("newsapp send printed %q", out)
	}
	if err := dep.replyAs(ctx, "alice", "the planning office takes bribes", "who pays them?"); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out, "alice/alice: who pays them?") {
		if ctx.Err() != nil {
			t.Fatalf("no reply in the inbox; the last said %q", out)
		}
		time.Sleep(300 * time.Millisecond)
		out = app("inbox", m[1])
	}
	if !strings.Contains(out, "alice/me: the planning office takes bribes") {
		t.Fatalf("the inbox lacks the message sent: %q", out)
	}
}
