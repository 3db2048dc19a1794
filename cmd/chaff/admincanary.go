package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/chaffhq/chaff/internal/canary"
	"github.com/chaffhq/chaff/internal/up"
	"github.com/chaffhq/chaff/newsroom"
)

// adminCanaryAdd is chaff admin canary add: package canary does the work.
func adminCanaryAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := newAdminFlags("canary add", stderr, true)
	dir := a.fs.String("dir", "canary", "the canary's directory: its config, vault and reader (kept on the monitoring host)")
	id := a.fs.String("id", canary.JournalistID, "the canary journalist's id")
	readerEvery := a.fs.Duration("reader-interval", canary.DefaultReaderEvery, "the canary reader's background run interval (an install's)")
	journalistEvery := a.fs.Duration("journalist-interval", canary.DefaultJournalistEvery, "the canary journalist's send interval")
	mixing := a.fs.String("mixing", "production", "the CoverNodes' thresholds (test or production): the deadline follows from their timeouts")
	if _, err := a.parse(args, 0, stderr); err != nil {
		return err
	}
	if *readerEvery <= 0 || *journalistEvery <= 0 {
		fmt.Fprintln(stderr, "chaff admin canary add: the intervals must be positive")
		return errUsage
	}
	u2j, j2u, err := up.MixingParams(*mixing)
	if err != nil {
		return err
	}
	nr := a.newsroom()
	_, anchorPath, err := newsroom.Anchor(a.keysDir)
	if err != nil {
		return err
	}
	c, err := canary.Setup(ctx, nr, canary.SetupOptions{
		Dir: *dir, JournalistID: *id, AnchorPath: anchorPath, ReaderEvery: *readerEvery, JournalistEvery: *journalistEvery,
		U2J: u2j, J2U: j2u, ReaderKDF: readerKDF, JournalistKDF: journalistKDF,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Registered the canary journalist %q (hidden from readers' lists) and set up its reader in %s.\nRun chaff canary --dir %s (--once for cron); a round may take up to %s.\n",
		c.JournalistID, *dir, *dir, c.Deadline().Round(time.Second))
	return nil
}
