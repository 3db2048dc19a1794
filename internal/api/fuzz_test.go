package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/user/messages"},
	{"POST", "/v1/status"},
	{"POST", "/v1/public-keys/journalists"},
	{"PATCH", "/v1/public-keys/journalists/update-profile"},
	{"POST", "/v1/public-keys/journalists/identity-public-key"},
	{"POST", "/v1/public-keys/journalists/identity-public-key-form"},
	{"POST", "/v1/public-keys/covernode/messaging-public-key"},
	{"POST", "/v1/journalist-messages"},
	{"POST", "/v1/user/dead-drops"},
	{"POST", "/v1/journalist/dead-drops"},
	{"GET", "/v1/user/dead-drops?"},
}

// FuzzAPI sends arbitrary bodies (and query strings) to the endpoints that
// parse input: none may fail with a 5xx or panic, and every refusal is a
// JSON error.
func FuzzAPI(f *testing.F) {
	n := testnet.NewNewsroom(f, time.Now())
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

	sk, _ := cn.ID.SigningKey()
	d := &deaddrop.DeadDrop{Kind: deaddrop.User, CreatedAt: time.Now(), Data: make([]byte, protocol.J2UMessageSize)}
	d.Sign(sk)
	dd, _ := json.Marshal(d)
	f.Add(0, testnet.EncodeU2C(make([]byte, protocol.U2CMessageSize)))
	f.Add(1, n.Form(n.Admin, map[string]any{"status": map[string]string{"status": "AVAILABLE", "description": "", "timestamp": protocol.FormatTime(time.Now())}}))
	f.Add(2, n.Form(n.JProv, testnet.Profile("bob")))
	f.Add(3, n.Form(n.JProv, map[string]any{"journalist_id": "alice", "description": "x"}))
	f.Add(4, n.Form(n.JProv, map[string]any{"journalist_id": "alice", "journalist_id_pk": n.Gen(keys.JournalistIdentity, n.JProv).Public, "from_queue": true}))
	f.Add(5, n.Form(j.ID, map[string]any{"form": json.RawMessage(n.Form(j.ID, map[string]any{"new_pk": map[string]string{"key": j.ID.Public.Hex()}}))}))
	f.Add(6, n.Form(cn.ID, n.Gen(keys.CoverNodeMessaging, cn.ID).Public))
	f.Add(7, n.Form(j.ID, protocol.EncodeBase64(make([]byte, protocol.J2CMessageSize))))
	f.Add(8, dd)
	f.Add(9, dd)
	f.Add(10, []byte("ids_greater_than=0&limit=2"))
	f.Fuzz(func(t *testing.T, route int, body []byte) {
		if route < 0 {
			route = -route
		}
		r := fuzzRoutes[route%len(fuzzRoutes)]
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
