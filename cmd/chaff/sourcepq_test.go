package main

import (
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/internal/testnet"
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

var (
	pqDeployMu    sync.Mutex
	pqDeployments = map[*testscript.TestScript]*testnet.FakePQ{}
)

// cmdDeployPQ starts a pq deployment as readers' apps see it
// (testnet.FakePQ: a pq key hierarchy with two CoverNodes and alice, user
// dead drops, the ingest) and sets $API and $ANCHOR.
func cmdDeployPQ(ts *testscript.TestScript, neg bool, args []string) {
	f := testnet.StartFakePQ(scriptTB{ts})
	ts.Defer(f.Close)
	anchor := ts.MkAbs("org-pq.pub.json")
	b, err := json.Marshal(f.N.Org.Public)
	ts.Check(err)
	ts.Check(os.WriteFile(anchor, b, 0o644))
	pqDeployMu.Lock()
	pqDeployments[ts] = f
	pqDeployMu.Unlock()
	ts.Setenv("API", f.URL)
	ts.Setenv("ANCHOR", anchor)
}

// cmdPQAliceReply checks that the ingest took exactly one real message,
// to alice, with the text EXPECTED, among messages all of the pq size,
// and publishes alice's REPLY under its reply key in a user dead drop:
// pq-alice-reply EXPECTED REPLY.
func cmdPQAliceReply(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: pq-alice-reply EXPECTED REPLY")
	}
	pqDeployMu.Lock()
	f := pqDeployments[ts]
	pqDeployMu.Unlock()
	if f == nil {
		ts.Fatalf("deploy-pq first")
	}
	var real []*pq.UserMessage
	for _, m := range f.Posted() {
		if len(m) != pq.U2CMessageSize {
			ts.Fatalf("a message of %d bytes", len(m))
		}
		if um, _ := f.Open(m); um != nil {
			real = append(real, um)
		}
	}
	if len(real) != 1 || real[0].Text != args[0] {
		ts.Fatalf("alice received %d messages, want one saying %q", len(real), args[0])
	}
	f.PublishReplies(nil, time.Now(), 20, testnet.PQReply(scriptTB{ts}, real[0], args[1]))
}
