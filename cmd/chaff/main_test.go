package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/embeddednats"
	"github.com/chaffhq/chaff/internal/store"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/internal/vectors"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
	"github.com/rogpeppe/go-internal/testscript"
)

// cheapReaderKDF and cheapJournalistKDF are the trivially cheap key
// stretching every test of this package runs chaff with (TestMain sets
// them, in the test process and in every chaff it starts). The shipped
// binary cannot be made to use them (TestShippedKDF).
var (
	cheapReaderKDF     = client.KDFParams{Time: 1, Memory: 64, Threads: 1}
	cheapJournalistKDF = journalist.KDFParams{Time: 1, Memory: 64, Threads: 1}
)

func TestMain(m *testing.M) {
	readerKDF, journalistKDF = cheapReaderKDF, cheapJournalistKDF
	// A header timeout short enough for slowClientCut; real clients send
	// their headers at once.
	listenerTimeouts.ReadHeader = 2 * time.Second
	// Tests that need chaff as a separate process (to kill it) run this
	// test binary with CHAFF_RUN_MAIN=1.
	if os.Getenv("CHAFF_RUN_MAIN") == "1" {
		main()
		return
	}
	// The chaos test runs NATS nodes as processes of this binary too.
	if spec := os.Getenv(natsNodeEnv); spec != "" {
		runNATSNode(spec)
		return
	}
	testscript.Main(m, map[string]func(){
		"chaff": main,
	})
}

// TestScripts runs the CLI tests in testdata/*.txt. Each script sees the
// upstream vectors ($TESTKEYS, $SCENARIOS) and a freshly generated
// newsroom in $WORK/newsroom (see writeNewsroom). Scripts that read the
// vectors start with [!vectors] skip, so that the others run without them.
func TestScripts(t *testing.T) {
	dir := vectors.Locate()
	if dir == "" && vectors.Required() {
		vectors.Dir(t) // fails, saying how to get them
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Condition: func(cond string) (bool, error) {
			if cond == "vectors" {
				return dir != "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("TESTKEYS", filepath.Join(dir, vectors.TestKeys))
			env.Setenv("SCENARIOS", filepath.Join(dir, vectors.Scenarios))
			if err := writeExpiredKeys(env, filepath.Join(env.WorkDir, "expired")); err != nil {
				return err
			}
			return writeNewsroom(env, filepath.Join(env.WorkDir, "newsroom"))
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"api-start":         cmdAPIStart,
			"findfile":          cmdFindFile,
			"mode":              cmdMode,
			"fetch":             cmdFetch,
			"deploy":            cmdDeploy,
			"colleague":         cmdColleague,
			"backup-keys":       cmdBackupKeys,
			"alice-reply":       cmdAliceReply,
			"cover":             cmdCover,
			"grab-passphrase":   cmdGrabPassphrase,
			"grab-conversation": cmdGrabConversation,
			"wait-dead-drops":   cmdWaitDeadDrops,
			"pq-anchor":         cmdPQAnchor,
			"deploy-pq":         cmdDeployPQ,
			"pq-alice-reply":    cmdPQAliceReply,
		},
	})
}

// cmdAPIStart starts an in-process API (on an embedded JetStream) that
// trusts the organisation key in the given key directory, and sets $API.
func cmdAPIStart(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: api-start KEYDIR")
	}
	paths, _ := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), "organization-*.pub.json"))
	if len(paths) != 1 {
		ts.Fatalf("no organisation public key in %s", args[0])
	}
	anchor, err := keys.ReadPublicKeyFile(paths[0])
	ts.Check(err)
	srv, err := embeddednats.Start(embeddednats.Options{StoreDir: ts.MkAbs("api-nats"), Name: "script"})
	ts.Check(err)
	nc, err := embeddednats.ConnectInProcess(srv, "script")
	ts.Check(err)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, nc, store.Config{})
	ts.Check(err)
	a, err := api.New(ctx, st, api.Config{Anchors: []keys.SignedPublicKey{*anchor}})
	ts.Check(err)
	hs := httptest.NewServer(a.Handler(true))
	ts.Defer(func() { hs.Close(); cancel(); nc.Close(); srv.Shutdown() })
	ts.Setenv("API", hs.URL)
}

// cmdFindFile sets VAR to the one file matching a glob.
func cmdFindFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: findfile VAR GLOB")
	}
	paths, _ := filepath.Glob(ts.MkAbs(args[1]))
	if len(paths) != 1 {
		ts.Fatalf("%d files match %s", len(paths), args[1])
	}
	ts.Setenv(args[0], paths[0])
}

// cmdMode checks a file's permissions: mode FILE 0600.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := fmt.Sprintf("%04o", fi.Mode().Perm()); (got == args[1]) == neg {
		ts.Fatalf("%s has mode %s", args[0], got)
	}
}

// cmdFetch GETs a URL into a file.
func cmdFetch(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fetch URL FILE")
	}
	res, err := http.Get(args[0])
	ts.Check(err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	ts.Check(err)
	if res.StatusCode != 200 {
		ts.Fatalf("GET %s: %d %s", args[0], res.StatusCode, b)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
}

// writeExpiredKeys writes a key directory whose journalist provisioning
// key has expired.
func writeExpiredKeys(env *testscript.Env, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	then := time.Now().Add(-60 * 7 * 24 * time.Hour)
	org, err := keys.Generate(keys.Organization, nil, then)
	if err != nil {
		return err
	}
	prov, err := keys.Generate(keys.JournalistProvisioning, org, then)
	if err != nil {
		return err
	}
	if _, err := keys.WriteKeyPairFile(dir, keys.JournalistProvisioning, prov); err != nil {
		return err
	}
	_, err = keys.WritePublicKeyFile(dir, keys.Organization, org)
	return err
}

// writeNewsroom generates a whole newsroom's keys and a few dead drops
// holding known messages, with tampered copies:
//
//	org.pub.json                   trust anchor
//	keys.json                      GET /v1/public-keys
//	user.keypair.json              a reader ($USER_PK is its public key)
//	journalist_msg.keypair.json    alice's messaging key pair
//	journalist_dead_drops.json     one dead drop: a message to alice among cover
//	user_dead_drops.json           dead drop 1: a reply and a handover; 2: cover only
//	tampered_user_dead_drops.json  the same, dead drop 2's signature altered
//	tampered_keys.json             keys.json with alice's messaging certificate altered
func writeNewsroom(env *testscript.Env, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	gen := func(role keys.Role, parent *keys.KeyPair) *keys.KeyPair {
		kp, err := keys.Generate(role, parent, now)
		if err != nil {
			env.T().Fatal(err)
		}
		return kp
	}
	org := gen(keys.Organization, nil)
	cnProv, jProv := gen(keys.CoverNodeProvisioning, org), gen(keys.JournalistProvisioning, org)
	cnID, jID := gen(keys.CoverNodeIdentity, cnProv), gen(keys.JournalistIdentity, jProv)
	cnMsg, jMsg := gen(keys.CoverNodeMessaging, cnID), gen(keys.JournalistMessaging, jID)
	user := gen(keys.User, nil)
	h := &keys.Hierarchy{
		JournalistProfiles: []keys.JournalistProfile{{ID: "alice", DisplayName: "Alice", SortName: "alice", Description: "investigations", Tag: protocol.TagFor("alice").String(), Status: keys.StatusVisible}},
		Keys: []keys.OrganizationFamily{{
			OrgPK: org.Public,
			CoverNodes: []keys.CoverNodeProvisioningFamily{{ProvisioningPK: cnProv.Public, CoverNodes: map[string][]keys.IdentityFamily{
				"covernode_001": {{IDPK: cnID.Public, MsgPKs: []keys.SignedPublicKey{cnMsg.Public}}},
			}}},
			Journalists: []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{
				"alice": {{IDPK: jID.Public, MsgPKs: []keys.SignedPublicKey{jMsg.Public}}},
			}}},
		}},
		MaxEpoch: 6,
	}
	cnSign, err := cnID.SigningKey()
	if err != nil {
		return err
	}
	cnSK, err := cnMsg.PrivateKey()
	if err != nil {
		return err
	}
	jSK, err := jMsg.PrivateKey()
	if err != nil {
		return err
	}
	userSK, err := user.PrivateKey()
	if err != nil {
		return err
	}
	env.Setenv("USER_PK", userSK.PublicKey().Hex())

	// A reader's message to alice among cover.
	u2j, err := protocol.SealU2J(jSK.PublicKey(), userSK.PublicKey(), "the minutes of the 3 May meeting are in the archive")
	if err != nil {
		return err
	}
	var jdata []byte
	for i := range 4 {
		c, err := protocol.RandomC2J(cnSK)
		if i == 2 {
			c, err = protocol.SealC2J(jSK.PublicKey(), cnSK, u2j)
		}
		if err != nil {
			return err
		}
		jdata = append(jdata, c...)
	}
	jd := &deaddrop.DeadDrop{Kind: deaddrop.Journalist, ID: 1, CreatedAt: now, Data: jdata, Epoch: 6}
	jd.Sign(cnSign)

	// alice's reply and a handover, then a dead drop of cover only.
	var udata []byte
	for i := range 3 {
		var c []byte
		switch i {
		case 0:
			c, err = protocol.SealJ2U(userSK.PublicKey(), jSK, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: "thank you, we will look into it"})
		case 1:
			c, err = protocol.SealJ2U(userSK.PublicKey(), jSK, &protocol.JournalistMessage{Type: protocol.J2UTypeHandover, HandoverTo: "investigations"})
		default:
			c, err = protocol.RandomJ2U()
		}
		if err != nil {
			return err
		}
		udata = append(udata, c...)
	}
	cover := make([]byte, 0, 3*protocol.J2UMessageSize)
	for range 3 {
		c, err := protocol.RandomJ2U()
		if err != nil {
			return err
		}
		cover = append(cover, c...)
	}
	ud1 := &deaddrop.DeadDrop{Kind: deaddrop.User, ID: 1, CreatedAt: now, Data: udata}
	ud2 := &deaddrop.DeadDrop{Kind: deaddrop.User, ID: 2, CreatedAt: now, Data: cover}
	ud1.Sign(cnSign)
	ud2.Sign(cnSign)

	files := map[string]any{
		"org.pub.json":                org.Public,
		"keys.json":                   h,
		"user.keypair.json":           user,
		"journalist_msg.keypair.json": jMsg,
		"journalist_dead_drops.json":  deaddrop.List{DeadDrops: []*deaddrop.DeadDrop{jd}},
		"user_dead_drops.json":        deaddrop.List{DeadDrops: []*deaddrop.DeadDrop{ud1, ud2}},
	}
	tampered := *ud2
	tampered.Signature[10] ^= 0x20
	files["tampered_user_dead_drops.json"] = deaddrop.List{DeadDrops: []*deaddrop.DeadDrop{ud1, &tampered}}
	bad := *h
	badMsg := jMsg.Public
	badMsg.Certificate[0] ^= 1
	bad.Keys = []keys.OrganizationFamily{h.Keys[0]}
	bad.Keys[0].Journalists = []keys.JournalistProvisioningFamily{{ProvisioningPK: jProv.Public, Journalists: map[string][]keys.IdentityFamily{
		"alice": {{IDPK: jID.Public, MsgPKs: []keys.SignedPublicKey{badMsg}}},
	}}}
	files["tampered_keys.json"] = &bad
	if _, err := keys.WritePublicKeyFile(dir, keys.Organization, org); err != nil {
		return err
	}
	for name, v := range files {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// deployment is what cmdDeploy started, for the commands that follow.
type deployment struct {
	n     *testnet.Newsroom
	url   string
	alice *testnet.Member
}

var (
	deployMu    sync.Mutex
	deployments = map[*testscript.TestScript]*deployment{}
)

// cmdDeploy starts a whole deployment in-process (embedded JetStream, API,
// a CoverNode with small mixing thresholds, journalist alice) and sets
// $API and $ANCHOR.
func cmdDeploy(ts *testscript.TestScript, neg bool, args []string) {
	t := scriptTB{ts}
	n := testnet.NewNewsroom(t, time.Now())
	srv, err := embeddednats.Start(embeddednats.Options{StoreDir: ts.MkAbs("deploy-nats"), Name: "deploy"})
	ts.Check(err)
	nc, err := embeddednats.ConnectInProcess(srv, "deploy")
	ts.Check(err)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, nc, store.Config{})
	ts.Check(err)
	a, err := api.New(ctx, st, api.Config{Anchors: []keys.SignedPublicKey{n.Org.Public}, IngestRate: 1e6, IngestBurst: 1 << 20})
	ts.Check(err)
	hs := httptest.NewServer(a.Handler(true))
	ts.Defer(func() { cancel(); hs.Close(); nc.Close(); srv.Shutdown() })
	alice, bundle := testnet.Bootstrap(t, hs.URL, n, ts.MkAbs("."))
	post := func(path string, body []byte) {
		res, err := http.Post(hs.URL+path, "application/json", bytes.NewReader(body))
		ts.Check(err)
		res.Body.Close()
		if res.StatusCode != 200 {
			ts.Fatalf("POST %s: %d", path, res.StatusCode)
		}
	}
	// carol is registered as chaff admin journalist add does; her bundle
	// is carol.bundle.json.
	registerJournalist(ts, n, hs.URL, "carol")
	post("/v1/status/public-key", n.Form(n.Org, n.Admin.Public))
	post("/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "AVAILABLE", "description": "up", "timestamp": protocol.FormatTime(time.Now())}}))
	stateKey, err := crypto.NewSecretKey()
	ts.Check(err)
	node, err := covernode.New(ctx, nc, covernode.Config{
		StateDir: ts.MkAbs("covernode"), StateKey: stateKey, BundlePath: bundle, API: apiclient.New(hs.URL), Anchors: []keys.SignedPublicKey{n.Org.Public},
		U2J: mix.Params{ThresholdMin: 3, ThresholdMax: 3, Timeout: time.Hour, OutputSize: 3},
		J2U: mix.Params{ThresholdMin: 3, ThresholdMax: 3, Timeout: time.Hour, OutputSize: 3},
	})
	ts.Check(err)
	go node.Run(ctx)
	anchor := ts.MkAbs("org.pub.json")
	b, _ := json.Marshal(n.Org.Public)
	ts.Check(os.WriteFile(anchor, b, 0o644))
	deployMu.Lock()
	deployments[ts] = &deployment{n: n, url: hs.URL, alice: alice}
	deployMu.Unlock()
	ts.Setenv("API", hs.URL)
	ts.Setenv("ANCHOR", anchor)
}

// registerJournalist registers a journalist as chaff admin journalist add
// does (a profile and an identity key) and writes their setup bundle to
// ID.bundle.json.
func registerJournalist(ts *testscript.TestScript, n *testnet.Newsroom, api, id string) {
	m := n.AddJournalist(id)
	scriptPost(ts, api, "/v1/public-keys/journalists", n.Form(n.JProv, testnet.Profile(id)))
	scriptPost(ts, api, "/v1/public-keys/journalists/identity-public-key", n.Form(n.JProv, map[string]any{"journalist_id": id, "journalist_id_pk": m.ID.Public, "from_queue": false}))
	b, _ := json.Marshal(map[string]any{"journalist_id": id, "api": api, "trust_anchor": n.Org.Public, "identity_key_pair": m.ID})
	ts.Check(os.WriteFile(ts.MkAbs(id+".bundle.json"), b, 0o600))
}

// scriptPost posts a signed form to the API and wants 200.
func scriptPost(ts *testscript.TestScript, api, path string, body []byte) {
	res, err := http.Post(api+path, "application/json", bytes.NewReader(body))
	ts.Check(err)
	res.Body.Close()
	if res.StatusCode != 200 {
		ts.Fatalf("POST %s: %d", path, res.StatusCode)
	}
}

// cmdColleague registers journalists as chaff admin journalist add does,
// each with a setup bundle ID.bundle.json: colleague ID...
func cmdColleague(ts *testscript.TestScript, neg bool, args []string) {
	d := deployed(ts)
	for _, id := range args {
		registerJournalist(ts, d.n, d.url, id)
	}
}

// cmdBackupKeys publishes the backup admin's keys as chaff admin
// backup-key does (a backup identity key certified by the organisation
// key, a backup messaging key certified by it) and writes the messaging
// key pair into DIR, the backup admin's key folder: backup-keys DIR.
func cmdBackupKeys(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: backup-keys DIR")
	}
	d := deployed(ts)
	id := d.n.Gen(keys.BackupIdentity, d.n.Org)
	msg := d.n.Gen(keys.BackupMessaging, id)
	scriptPost(ts, d.url, "/v1/backups/signing-public-key", d.n.Form(d.n.Org, id.Public))
	scriptPost(ts, d.url, "/v1/backups/encryption-public-key", d.n.Form(id, msg.Public))
	ts.Check(os.MkdirAll(ts.MkAbs(args[0]), 0o700))
	_, err := keys.WriteKeyPairFile(ts.MkAbs(args[0]), keys.BackupMessaging, msg)
	ts.Check(err)
}

func deployed(ts *testscript.TestScript) *deployment {
	deployMu.Lock()
	defer deployMu.Unlock()
	d := deployments[ts]
	if d == nil {
		ts.Fatalf("deploy first")
	}
	return d
}

// cmdCover posts N cover messages, as other readers' apps do.
func cmdCover(ts *testscript.TestScript, neg bool, args []string) {
	d := deployed(ts)
	v := d.verified(ts)
	cks, err := v.CoverNodeKeys()
	ts.Check(err)
	count, _ := strconv.Atoi(args[0])
	for range count {
		c, err := protocol.SealCoverU2C(cks)
		ts.Check(err)
		res, err := http.Post(d.url+"/user/messages", "application/json", bytes.NewReader(testnet.EncodeU2C(c)))
		ts.Check(err)
		res.Body.Close()
	}
}

func (d *deployment) verified(ts *testscript.TestScript) *keys.Verified {
	h, err := apiclient.New(d.url).PublicKeys(context.Background())
	ts.Check(err)
	v, err := keys.Verify(h, []keys.SignedPublicKey{d.n.Org.Public}, time.Now())
	ts.Check(err)
	return v
}

// cmdAliceReply waits until alice has a message, checks its text, and
// replies with TEXT (two journalists' cover messages complete the round).
func cmdAliceReply(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: alice-reply EXPECTED REPLY")
	}
	d := deployed(ts)
	ask, err := d.alice.Msg[0].PrivateKey()
	ts.Check(err)
	var got []deaddrop.Received
	deadline := time.Now().Add(30 * time.Second)
	for len(got) == 0 {
		if time.Now().After(deadline) {
			ts.Fatalf("alice received nothing")
		}
		v := d.verified(ts)
		jo, err := deaddrop.NewJournalistOpener([]*crypto.PrivateKey{ask}, v.AllCoverNodeMessagingKeys())
		ts.Check(err)
		b, err := apiclient.New(d.url).DeadDropsAfter(context.Background(), deaddrop.Journalist, 0)
		ts.Check(err)
		l, err := deaddrop.ParseList(deaddrop.Journalist, b)
		ts.Check(err)
		for _, dd := range l.DeadDrops {
			r, _ := jo.Open(dd)
			got = append(got, r...)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got[0].Message.Text != args[0] {
		ts.Fatalf("alice received %q, want %q", got[0].Message.Text, args[0])
	}
	cks, err := d.verified(ts).CoverNodeKeys()
	ts.Check(err)
	j2u, err := protocol.SealJ2U(got[0].Message.ReplyKey, ask, &protocol.JournalistMessage{Type: protocol.J2UTypeText, Text: args[1]})
	ts.Check(err)
	real, err := protocol.SealJ2C(cks, j2u)
	ts.Check(err)
	msgs := [][]byte{real}
	for range 2 {
		c, err := protocol.SealCoverJ2C(cks)
		ts.Check(err)
		msgs = append(msgs, c)
	}
	for _, m := range msgs {
		res, err := http.Post(d.url+"/v1/journalist-messages", "application/json", bytes.NewReader(d.n.Form(d.alice.ID, protocol.EncodeBase64(m))))
		ts.Check(err)
		res.Body.Close()
		if res.StatusCode != 200 {
			ts.Fatalf("journalist message: %d", res.StatusCode)
		}
	}
	// Wait for the user dead drop.
	for time.Now().Before(deadline.Add(30 * time.Second)) {
		b, err := apiclient.New(d.url).DeadDropsAfter(context.Background(), deaddrop.User, 0)
		ts.Check(err)
		if !bytes.Contains(b, []byte(`"dead_drops":[]`)) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("no user dead drop")
}

// scriptTB lets testnet helpers fail a script.
type scriptTB struct{ ts *testscript.TestScript }

func (s scriptTB) Helper()                           {}
func (s scriptTB) Fatal(args ...any)                 { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }

// cmdGrabPassphrase sets VAR to the passphrase chaff source init printed.
func cmdGrabPassphrase(ts *testscript.TestScript, neg bool, args []string) {
	lines := strings.Split(ts.ReadFile("stdout"), "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, "Its passphrase is:") && i+2 < len(lines) {
			ts.Setenv(args[0], strings.TrimSpace(lines[i+2]))
			return
		}
	}
	ts.Fatalf("no passphrase in stdout")
}

// cmdGrabConversation sets VAR to the first conversation id chaff
// journalist inbox printed.
func cmdGrabConversation(ts *testscript.TestScript, neg bool, args []string) {
	for _, l := range strings.Split(ts.ReadFile("stdout"), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "==" && f[1] == "source" {
			ts.Setenv(args[0], f[2])
			return
		}
	}
	ts.Fatalf("no conversation in stdout")
}

// cmdWaitDeadDrops waits until the API publishes N dead drops of a kind:
// wait-dead-drops user|journalist N.
func cmdWaitDeadDrops(ts *testscript.TestScript, neg bool, args []string) {
	d := deployed(ts)
	want, _ := strconv.Atoi(args[1])
	kind := deaddrop.User
	if args[0] == "journalist" {
		kind = deaddrop.Journalist
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, err := apiclient.New(d.url).DeadDropsAfter(context.Background(), kind, 0)
		ts.Check(err)
		if strings.Count(string(b), `"signature"`) >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("fewer than %s %s dead drops", args[1], args[0])
}
