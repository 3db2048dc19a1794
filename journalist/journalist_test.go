package journalist_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/covernode"
	"github.com/chaffhq/chaff/internal/identityapi"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/journalist"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
	"github.com/chaffhq/chaff/protocol"
)

var testKDF = journalist.KDFParams{Time: 1, Memory: 64, Threads: 1}

// deployment is an API and a CoverNode in-process, with alice registered
// and the system status AVAILABLE.
type deployment struct {
	n   *testnet.Newsroom
	url string
	// cnBundle is covernode_001's setup bundle, with its identity key,
	// read before the node deleted it.
	cnBundle []byte
	// backupKeys is the backup admin's key directory, holding the backup
	// messaging key pair the API publishes (empty: none is published).
	backupKeys string
}

func deploy(t *testing.T) *deployment { return deployIn(t, keys.ModeCoverDrop, true) }

// deployWith is deploy, publishing the organisation's backup keys or not.
func deployWith(t *testing.T, backupKeys bool) *deployment {
	return deployIn(t, keys.ModeCoverDrop, backupKeys)
}

// deployIn is deployWith in a protocol mode: the organisation's, whose
// keys every component takes the mode from.
func deployIn(t *testing.T, mode string, backupKeys bool) *deployment {
	n := testnet.NewNewsroomIn(t, mode, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{IngestRate: 1e6, IngestBurst: 1 << 20})
	_, bundle := testnet.Bootstrap(t, a.URL, n, t.TempDir())
	bob := n.AddJournalist("bob")
	// carol is registered as chaff admin journalist add does: a profile and
	// an identity key; her app makes her messaging keys.
	carol := n.AddJournalist("carol")
	for _, step := range []struct {
		path string
		body []byte
	}{
		{"/v1/status/public-key", n.Form(n.Org, n.Admin.Public)},
		{"/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "AVAILABLE", "description": "up", "timestamp": protocol.FormatTime(time.Now())}})},
		{"/v1/public-keys/journalists", n.Form(n.JProv, testnet.Profile("bob"))},
		{"/v1/public-keys/journalists/identity-public-key", n.Form(n.JProv, map[string]any{"journalist_id": "bob", "journalist_id_pk": bob.ID.Public, "from_queue": false})},
		{"/v1/public-keys/journalists/messaging-public-key", n.Form(bob.ID, bob.Msg[0].Public)},
		{"/v1/public-keys/journalists", n.Form(n.JProv, testnet.Profile("carol"))},
		{"/v1/public-keys/journalists/identity-public-key", n.Form(n.JProv, map[string]any{"journalist_id": "carol", "journalist_id_pk": carol.ID.Public, "from_queue": false})},
	} {
		res, err := http.Post(a.URL+step.path, "application/json", bytes.NewReader(step.body))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", step.path, res.Status, err)
		}
	}
	d := &deployment{n: n, url: a.URL}
	if backupKeys {
		d.publishBackupKeys(t)
	}
	cnBundle, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	d.cnBundle = cnBundle
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	node, err := covernode.New(ctx, nc, covernode.Config{
		StateDir: t.TempDir(), StateKey: testnet.StateKey(t), BundlePath: bundle, API: apiclient.New(a.URL), Anchors: []keys.SignedPublicKey{n.Org.Public},
		U2J: mix.Params{ThresholdMin: 4, ThresholdMax: 4, Timeout: time.Hour, OutputSize: 3},
		J2U: mix.Params{ThresholdMin: 3, ThresholdMax: 3, Timeout: time.Hour, OutputSize: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); node.Run(ctx) }()
	// The node stops before NATS does (cleanups run last first).
	t.Cleanup(func() { cancel(); <-stopped })
	return d
}

// post sends a signed form to the API and wants 200.
func (d *deployment) post(t *testing.T, path string, body []byte) {
	t.Helper()
	res, err := http.Post(d.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("%s: %s", path, res.Status)
	}
}

// publishBackupKeys publishes a backup identity key certified by the
// organisation and a backup messaging key certified by it, as chaff admin
// backup-key does, and keeps the messaging key pair in d.backupKeys.
func (d *deployment) publishBackupKeys(t *testing.T) {
	id := d.n.Gen(keys.BackupIdentity, d.n.Org)
	msg := d.n.Gen(keys.BackupMessaging, id)
	d.post(t, "/v1/backups/signing-public-key", d.n.Form(d.n.Org, id.Public))
	d.post(t, "/v1/backups/encryption-public-key", d.n.Form(id, msg.Public))
	d.backupKeys = t.TempDir()
	if _, err := keys.WriteKeyPairFile(d.backupKeys, keys.BackupMessaging, msg); err != nil {
		t.Fatal(err)
	}
}

// colleague registers the journalist id (a profile and an identity key,
// as chaff admin journalist add does) and returns their vault, open, its
// first messaging key published.
func (d *deployment) colleague(t *testing.T, id string) *journalist.Vault {
	t.Helper()
	m := d.n.AddJournalist(id)
	d.post(t, "/v1/public-keys/journalists", d.n.Form(d.n.JProv, testnet.Profile(id)))
	d.post(t, "/v1/public-keys/journalists/identity-public-key", d.n.Form(d.n.JProv, map[string]any{"journalist_id": id, "journalist_id_pk": m.ID.Public, "from_queue": false}))
	path := d.publishedVault(t, id, "pw")
	v, err := journalist.Open(path, "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func (d *deployment) reader(t *testing.T) *client.App {
	app, err := client.Start(client.Config{StateDir: t.TempDir(), API: apiclient.New(d.url), Anchors: []keys.SignedPublicKey{d.n.Org.Public},
		KDF: client.KDFParams{Time: 1, Memory: 64, Threads: 1}, MinRunInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVaultFile(t *testing.T) {
	d := deploy(t)
	path := filepath.Join(t.TempDir(), "carol.vault")
	bundle := d.n.JournalistBundle("carol", d.url, t.TempDir())
	v, err := journalist.Create(path, "pass word", testKDF, bundle, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := journalist.Create(path, "pass word", testKDF, bundle, ""); err == nil {
		t.Fatal("replaced an existing vault")
	}
	// While it is open, nobody else opens it.
	if _, err := journalist.Open(path, "pass word"); !errors.Is(err, journalist.ErrInUse) {
		t.Fatalf("opening an open vault: %v", err)
	}
	v.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("vault mode %v", fi.Mode())
	}
	if _, err := journalist.Open(path, "wrong"); !errors.Is(err, journalist.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:20], 0o600)
	if _, err := journalist.Open(path, "pass word"); !errors.Is(err, journalist.ErrDamaged) {
		t.Fatalf("damaged vault: %v", err)
	}
	if got, _ := os.ReadFile(path); len(got) != 20 {
		t.Fatal("a damaged vault was replaced")
	}
}

// TestRoundTrip: a reader writes; carol syncs, reads, replies and hands
// over; the reader gets both.
func TestRoundTrip(t *testing.T) {
	d := deploy(t)
	path := filepath.Join(t.TempDir(), "carol.vault")
	v, err := journalist.Create(path, "pass word", testKDF, d.n.JournalistBundle("carol", d.url, t.TempDir()), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The first sync publishes alice's own messaging key.
	if _, err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	src, pass := d.sourceWrites(t, v, "carol", "the mayor's accounts are in Jersey")
	c := v.Conversations()[0]
	if c.Unread != 1 || c.Messages[0].Text != "the mayor's accounts are in Jersey" {
		t.Fatalf("conversation %+v", c)
	}
	c, _ = v.Read(c.ID)
	if c.Unread != 0 {
		t.Fatal("still unread")
	}
	if err := v.Reply(ctx, c.ID, "can you send the statements?"); err != nil {
		t.Fatal(err)
	}
	if err := v.Handover(ctx, c.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := v.Handover(ctx, c.ID, "nobody"); err == nil {
		t.Fatal("handed over to nobody")
	}
	// Three sends: the two queued messages, then cover, fill a round.
	for i := range 3 {
		real, err := v.SendOne(ctx)
		if err != nil || real != (i < 2) {
			t.Fatalf("send %d: real %v, %v", i, real, err)
		}
	}
	waitFor(t, "the reply", func() bool {
		if _, err := src.BackgroundRun(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := src.Unlock(pass)
		if err != nil {
			t.Fatal(err)
		}
		// The reply and the handover came in one dead drop, in shuffled
		// order.
		reply, handover := false, false
		for _, m := range s.Threads()["carol"] {
			reply = reply || m.Text == "can you send the statements?"
			handover = handover || m.HandoverTo == "bob"
		}
		return reply && handover
	})
	// The vault reopens with everything in it.
	v.Close()
	again, err := journalist.Open(path, "pass word")
	if err != nil || len(again.Conversations()) != 1 || again.Queued() != 0 {
		t.Fatalf("reopened: %v", err)
	}
}

// TestIdentityRotation: four weeks on, a sync queues a new identity key
// at the API; once the identity API has certified it, the next sync takes
// it into use.
func TestIdentityRotation(t *testing.T) {
	d := deploy(t)
	path := filepath.Join(t.TempDir(), "carol.vault")
	v, err := journalist.Create(path, "pw", testKDF, d.n.JournalistBundle("carol", d.url, t.TempDir()), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(29 * 24 * time.Hour)
	v.SetClock(func() time.Time { return later })
	if _, err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ids := identityapi.New(identityapi.Config{
		API: apiclient.New(d.url), Anchors: []keys.SignedPublicKey{d.n.Org.Public},
		CoverNodeProvisioning:  func() (*keys.KeyPair, error) { return d.n.CNProv, nil },
		JournalistProvisioning: func() (*keys.KeyPair, error) { return d.n.JProv, nil },
	})
	if done, err := ids.ProcessQueue(ctx); err != nil || done != 1 {
		t.Fatalf("identity API certified %d: %v", done, err)
	}
	if _, err := v.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	h, _ := apiclient.New(d.url).PublicKeys(ctx)
	ver, _ := keys.Verify(h, []keys.SignedPublicKey{d.n.Org.Public}, time.Now())
	fams := ver.Journalists["carol"]
	if len(fams) != 2 {
		t.Fatalf("carol has %d identity keys", len(fams))
	}
	// Her next messaging key is certified by the new identity key.
	if err := v.RotateNow(ctx); err != nil {
		t.Fatal(err)
	}
	h, _ = apiclient.New(d.url).PublicKeys(ctx)
	ver, _ = keys.Verify(h, []keys.SignedPublicKey{d.n.Org.Public}, time.Now())
	if fams = ver.Journalists["carol"]; len(fams[0].Messaging) == 0 {
		t.Fatal("no messaging key under carol's new identity key")
	}
	// Every rotation, automatic or forced, is in the vault's log.
	var logged []string
	for _, e := range v.Events() {
		if e.Event == "rotation" {
			logged = append(logged, e.Detail)
		}
	}
	for _, want := range []string{"made a new identity key", "took the identity key", "published a new messaging key", "forced a new messaging key"} {
		if !slices.ContainsFunc(logged, func(d string) bool { return strings.HasPrefix(d, want) }) {
			t.Errorf("the vault's log lacks %q: %q", want, logged)
		}
	}
}

// TestVaultKDFBounds: a vault header asking for more key stretching than
// a vault may use is refused before the KDF runs, and no vault is made
// with such parameters.
func TestVaultKDFBounds(t *testing.T) {
	n := testnet.NewNewsroom(t, time.Now())
	n.AddJournalist("carol")
	bundle := n.JournalistBundle("carol", "http://127.0.0.1:1", t.TempDir())
	dir := t.TempDir()
	for _, kdf := range []journalist.KDFParams{
		{Time: journalist.MaxKDFTime + 1, Memory: 64, Threads: 1},
		{Time: 1, Memory: journalist.MaxKDFMemory + 1, Threads: 1},
		{Time: 1, Memory: 64, Threads: journalist.MaxKDFThreads + 1},
		{Time: 1, Memory: 8, Threads: 2},
		{Time: 0, Memory: 64, Threads: 1},
	} {
		if _, err := journalist.Create(filepath.Join(dir, "v"), "pw", kdf, bundle, ""); err == nil {
			t.Fatalf("made a vault with %+v", kdf)
		}
	}
	path := filepath.Join(dir, "carol.vault")
	v, err := journalist.Create(path, "pw", testKDF, bundle, "")
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	good, _ := os.ReadFile(path)
	// The header after the magic: 16 bytes of salt, then passes, memory
	// (KiB) and threads, big-endian.
	off := len("CHAFF-VAULT-1\n") + 16
	for _, c := range []struct {
		time, memory uint32
		threads      byte
	}{
		{100, 64, 1},    // passes
		{1, 4 << 20, 1}, // 4 GiB
		{1, 64, 255},
		{journalist.MaxKDFTime + 1, journalist.MaxKDFMemory, journalist.MaxKDFThreads},
	} {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint32(b[off:], c.time)
		binary.BigEndian.PutUint32(b[off+4:], c.memory)
		b[off+8] = c.threads
		os.WriteFile(path, b, 0o600)
		start := time.Now()
		_, err := journalist.Open(path, "pw")
		if !errors.Is(err, journalist.ErrDamaged) || !strings.Contains(err.Error(), "outside what a vault may use") {
			t.Fatalf("header %+v: %v", c, err)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("header %+v: refused only after %v", c, time.Since(start))
		}
	}
	// Within the bounds but not what the vault was sealed with: the
	// passphrase no longer opens it.
	b := bytes.Clone(good)
	binary.BigEndian.PutUint32(b[off:], 2)
	os.WriteFile(path, b, 0o600)
	if _, err := journalist.Open(path, "pw"); !errors.Is(err, journalist.ErrWrongPassphrase) {
		t.Fatalf("altered passes: %v", err)
	}
	os.WriteFile(path, good, 0o600)
	if v, err := journalist.Open(path, "pw"); err != nil {
		t.Fatal(err)
	} else {
		v.Close()
	}
}

// sourceWrites has a new reader write text to the journalist id, among
// another reader's cover, and syncs v until the conversation is there. It
// returns the source's install and mailbox passphrase.
func (d *deployment) sourceWrites(t *testing.T, v *journalist.Vault, id, text string) (*client.App, string) {
	t.Helper()
	ctx := context.Background()
	src, other := d.reader(t), d.reader(t)
	if err := src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	pass, s, err := src.CreateMailbox()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(id, text); err != nil {
		t.Fatal(err)
	}
	for _, app := range []*client.App{src, other} {
		if _, err := app.BackgroundRun(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, id+"'s message", func() bool {
		if _, err := v.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		return len(v.Conversations()) == 1
	})
	return src, pass
}
