package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
)

// TestAdminKeysWarns checks that chaff admin keys warns about a key that
// expires within 7 days and about provisioning keys due for renewal.
func TestAdminKeysWarns(t *testing.T) {
	// Provisioning keys made 30 weeks ago are past their 26-week renewal.
	n := testnet.NewNewsroom(t, time.Now().Add(-30*keys.Week))
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, api.Config{})
	post := func(signer *keys.KeyPair, path string, body any) {
		t.Helper()
		res, err := http.Post(a.URL+path, "application/json", bytes.NewReader(n.Form(signer, body)))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, res.Status, err)
		}
	}
	post(n.Org, "/v1/public-keys/covernode/provisioning-public-key", n.CNProv.Public)
	post(n.Org, "/v1/public-keys/journalists/provisioning-public-key", n.JProv.Public)
	n.Now = time.Now()
	j := n.AddJournalist("alice")
	post(n.JProv, "/v1/public-keys/journalists", testnet.Profile("alice"))
	post(n.JProv, "/v1/public-keys/journalists/identity-public-key", map[string]any{"journalist_id": "alice", "journalist_id_pk": j.ID.Public, "from_queue": false})
	sk, _ := j.ID.SigningKey()
	soon, err := keys.Certify(sk, &j.ID.Public, j.Msg[0].Public.Key[:], 3*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	post(j.ID, "/v1/public-keys/journalists/messaging-public-key", soon)

	dir := t.TempDir()
	b, _ := json.Marshal(n.Org.Public)
	os.WriteFile(filepath.Join(dir, keys.FileName(keys.Organization, n.Org.Public.Key[:], false)), b, 0o644)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"admin", "keys", "--keys", dir, "--api", a.URL}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"WARNING: the journalist messaging key " + soon.Prefix() + " of alice expires in 3 days",
		"WARNING: the CoverNode provisioning key " + n.CNProv.Public.Prefix() + " is due for renewal",
		"WARNING: the journalist provisioning key " + n.JProv.Public.Prefix() + " is due for renewal",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}

	// --check fails (exit 3, for cron) and names the newest keys that need
	// action: alice's only messaging key, and the keys past renewal.
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"admin", "keys", "--check", "--keys", dir, "--api", a.URL}, &out, &errb); code != exitKeysNeedAction {
		t.Fatalf("--check exit %d, want %d: %s", code, exitKeysNeedAction, errb.String())
	}
	for _, want := range []string{
		"CHECK FAILED: the newest journalist_msg key " + soon.Prefix() + " of alice expires in 3 days",
		"CHECK FAILED: the covernode_provisioning key " + n.CNProv.Public.Prefix() + " is due for renewal",
		"CHECK FAILED: the journalist_provisioning key " + n.JProv.Public.Prefix() + " is due for renewal",
		"CHECK FAILED: the organization key " + n.Org.Public.Prefix() + " is due for renewal",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "4 key(s) need action") {
		t.Errorf("stderr: %s", errb.String())
	}
}
