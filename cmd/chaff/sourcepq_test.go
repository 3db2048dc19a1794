package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/pq"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdPQAnchor writes the trust anchor of a fresh pq-mode organisation
// key: pq-anchor FILE.
func cmdPQAnchor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: pq-anchor FILE")
	}
	sk, err := crypto.GenerateSigningKey()
	ts.Check(err)
	a, err := pq.NewAnchor(sk, pq.ModePQ, time.Now())
	ts.Check(err)
	b, err := json.Marshal(a)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}
