package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
	"github.com/chaffhq/chaff/protocol"
)

// fuzzRoutes are the endpoints that parse input. Where a route takes a
// signed form, the fuzzer's bytes are the form's body and the harness signs
// them with the key the route wants, so that fuzzing reaches past the
// signature checks (the keys differ in every fuzzing process, so a signed
// seed would not).
var fuzzRoutes = []struct {
	method, path string
	signer       string // "" for a raw body
}{
	{"POST", "/user/messages", ""},
	{"POST", "/v1/status", "admin"},
	{"POST", "/v1/public-keys/journalists", "journalist provisioning"},
	{"PATCH", "/v1/public-keys/journalists/update-profile", "journalist provisioning"},
	{"POST", "/v1/public-keys/journalists/identity-public-key", "journalist provisioning"},
	{"POST", "/v1/public-keys/journalists/identity-public-key-form", "journalist"},
	{"POST", "/v1/public-keys/covernode/messaging-public-key", "covernode"},
	{"POST", "/v1/journalist-messages", "journalist"},
	{"POST", "/v1/user/dead-drops", ""},
	{"POST", "/v1/journalist/dead-drops", ""},
	{"GET", "/v1/user/dead-drops?", ""},
	{"PATCH", "/v1/public-keys/journalists/update-status", "journalist"},
	{"DELETE", "/v1/public-keys/journalists/delete", "journalist provisioning"},
	{"POST", "/v1/status/public-key", "organization"},
	{"POST", "/v1/logging", "admin"},
	{"POST", "/v1/backups/signing-public-key", "organization"},
	{"POST", "/v1/user/messages", "raw form"},
}

// FuzzAPI sends arbitrary bodies (and query strings) to the endpoints that
// parse input: none may fail with a 5xx or panic, and every refusal is a
// JSON error.
func FuzzAPI(f *testing.F) { fuzzAPI(f, keys.ModeCoverDrop) }

// FuzzAPIPQ is FuzzAPI against a pq deployment (its sizes, X-Wing keys and
// pq dead drops).
func FuzzAPIPQ(f *testing.F) { fuzzAPI(f, keys.ModePQ) }

func fuzzAPI(f *testing.F, mode string) {
	sizes, err := pq.SizesOf(mode)
	if err != nil {
		f.Fatal(err)
	}
	n := testnet.NewNewsroomIn(f, mode, time.Now())
	_, nc := testnet.StartNATS(f)
	a := testnet.StartAPI(f, nc, n, api.Config{IngestRate: 1e9, IngestBurst: 1 << 30})
	cn := n.AddCoverNode("covernode_001")
	j := n.AddJournalist("alice")
	h := a.Server.Handler(true)
	post := func(path string, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		if rec.Code != 200 {
			f.Fatalf("setup %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	post("/v1/public-keys/covernode/provisioning-public-key", n.Form(n.Org, n.CNProv.Public))
	post("/v1/public-keys/journalists/provisioning-public-key", n.Form(n.Org, n.JProv.Public))
	post("/v1/status/public-key", n.Form(n.Org, n.Admin.Public))
	post("/v1/public-keys/covernode/identity-public-key", n.Form(n.CNProv, map[string]any{"covernode_id": "covernode_001", "covernode_id_pk": cn.ID.Public}))
	post("/v1/public-keys/journalists", n.Form(n.JProv, testnet.Profile("alice")))
	post("/v1/public-keys/journalists/identity-public-key", n.Form(n.JProv, map[string]any{"journalist_id": "alice", "journalist_id_pk": j.ID.Public, "from_queue": false}))
	signers := map[string]*keys.KeyPair{"admin": n.Admin, "journalist provisioning": n.JProv, "journalist": j.ID, "covernode": cn.ID, "organization": n.Org}

	sk, _ := cn.ID.SigningKey()
	var dd []byte
	if mode == keys.ModePQ {
		d := &pq.DeadDrop{Kind: deaddrop.User, CreatedAt: time.Now(), Data: make([]byte, sizes.UserChunk)}
		d.Sign(sk)
		dd, _ = json.Marshal(d)
	} else {
		d := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: time.Now(), Data: make([]byte, sizes.UserChunk)}
		d.Sign(sk)
		dd, _ = json.Marshal(d)
	}
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	f.Add(uint(0), testnet.EncodeU2C(make([]byte, sizes.U2C)))
	f.Add(uint(1), js(map[string]any{"status": map[string]string{"status": "AVAILABLE", "description": "", "timestamp": protocol.FormatTime(time.Now())}}))
	f.Add(uint(2), js(testnet.Profile("bob")))
	f.Add(uint(3), js(map[string]any{"journalist_id": "alice", "description": "x"}))
	f.Add(uint(4), js(map[string]any{"journalist_id": "alice", "journalist_id_pk": n.Gen(keys.JournalistIdentity, n.JProv).Public, "from_queue": true}))
	f.Add(uint(5), js(map[string]any{"form": json.RawMessage(n.Form(j.ID, map[string]any{"new_pk": map[string]string{"key": j.ID.Public.Hex()}}))}))
	f.Add(uint(6), js(n.Gen(keys.CoverNodeMessaging, cn.ID).Public))
	f.Add(uint(7), js(protocol.EncodeBase64(make([]byte, sizes.J2C))))
	f.Add(uint(8), dd)
	f.Add(uint(9), dd)
	f.Add(uint(10), []byte("ids_greater_than=0&limit=2"))
	f.Add(uint(11), js(map[string]string{"journalist_id": "alice", "status": "HIDDEN_FROM_UI"}))
	f.Add(uint(12), js("bob"))
	f.Add(uint(13), js(n.Admin.Public))
	f.Add(uint(14), js(map[string]string{"rust_log_directive": "info"}))
	f.Add(uint(15), js(n.Gen(keys.BackupIdentity, n.Org).Public))
	f.Add(uint(16), n.Form(j.ID, "x"))
	f.Fuzz(func(t *testing.T, route uint, body []byte) {
		r := fuzzRoutes[route%uint(len(fuzzRoutes))]
		if kp := signers[r.signer]; kp != nil {
			sk, err := kp.SigningKey()
			if err != nil {
				t.Fatal(err)
			}
			if body, err = json.Marshal(form.SignBytes(body, sk, time.Now(), form.DefaultTTL)); err != nil {
				t.Fatal(err)
			}
		}
		var req *http.Request
		if r.method == "GET" {
			req = httptest.NewRequest("GET", "/v1/user/dead-drops", nil)
			req.URL.RawQuery = string(body)
		} else {
			req = httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%s %s: %d without a JSON error: %q", r.method, r.path, rec.Code, rec.Body)
			}
		}
	})
}
