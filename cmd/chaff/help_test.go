package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestEveryHelpExitsZero: every command and subcommand asked for --help
// (or -h, or help) prints its usage on stdout and exits 0.
func TestEveryHelpExitsZero(t *testing.T) {
	commands := [][]string{
		{}, {"up"}, {"api"}, {"covernode"}, {"identity-api"}, {"loadgen"}, {"bench"},
		{"admin"}, {"admin", "init"}, {"admin", "bootstrap"}, {"admin", "covernode"}, {"admin", "covernode", "add"},
		{"admin", "journalist"}, {"admin", "journalist", "add"}, {"admin", "journalist", "update"}, {"admin", "journalist", "remove"},
		{"admin", "status"}, {"admin", "status", "set"}, {"admin", "keys"},
		{"source"}, {"source", "init"}, {"source", "unlock"}, {"source", "journalists"}, {"source", "send"}, {"source", "inbox"}, {"source", "tick"},
		{"journalist"}, {"journalist", "init"}, {"journalist", "serve"}, {"journalist", "sync"}, {"journalist", "send"},
		{"journalist", "inbox"}, {"journalist", "reply"}, {"journalist", "rotate"}, {"journalist", "backup"},
		{"inspect"}, {"inspect", "keys"}, {"inspect", "dead-drops"},
	}
	for _, cmd := range commands {
		for _, flag := range []string{"--help", "-h"} {
			args := append(append([]string(nil), cmd...), flag)
			var out, errb bytes.Buffer
			code := run(context.Background(), args, &out, &errb)
			if code != 0 || !strings.Contains(strings.ToLower(out.String()), "usage") || errb.Len() != 0 {
				t.Errorf("chaff %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out.String(), errb.String())
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"source", "help"}, {"journalist", "help"}, {"admin", "help"}, {"inspect", "help"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 0 || !strings.Contains(out.String(), "usage") {
			t.Errorf("chaff %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out.String(), errb.String())
		}
	}
	// A mistake still exits 2, on stderr.
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"up", "--no-such-flag"}, &out, &errb); code != 2 || errb.Len() == 0 {
		t.Errorf("chaff up --no-such-flag: exit %d, stderr %q", code, errb.String())
	}
}

// TestTopLevelHelpAligned: every command's description starts in the
// same column.
func TestTopLevelHelpAligned(t *testing.T) {
	col := -1
	for _, line := range strings.Split(usage, "\n") {
		if !strings.HasPrefix(line, "  ") || strings.TrimSpace(line) == "" {
			continue
		}
		rest := strings.TrimLeft(line, " ")
		desc := len(line) - len(rest) // a continuation line's
		if desc == 2 {
			name, after, _ := strings.Cut(rest, " ")
			desc += len(name) + 1 + len(after) - len(strings.TrimLeft(after, " "))
		}
		if col == -1 {
			col = desc
		}
		if desc != col {
			t.Errorf("%q: description at column %d, want %d", line, desc, col)
		}
	}
}
