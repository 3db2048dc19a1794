package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/api"
	"github.com/chaffhq/chaff/internal/testnet"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// snapshot is everything a request could change, as readers see it.
func snapshot(t *testing.T, a *testnet.API) string {
	t.Helper()
	var b strings.Builder
	for _, path := range []string{"/v1/public-keys", "/v1/status", "/v1/user/dead-drops?ids_greater_than=0", "/v1/journalist/dead-drops?ids_greater_than=0", "/v1/public-keys/journalists/identity-public-key-form"} {
		b.Write(do(t, "GET", a.URL+path, nil).want(t, 200, path).body)
	}
	for _, s := range []string{"CHAFF_U2C", "CHAFF_J2C"} {
		b.WriteString(s + ":" + strconv.FormatUint(a.StreamMsgs(t, s), 10))
	}
	return b.String()
}

// TestBadInput sends every kind of bad request: each gets the right 4xx
// with a JSON error, and nothing changes.
func TestBadInput(t *testing.T) {
	n, a := setup(t, api.Config{IngestRate: 1000, IngestBurst: 1000})
	do(t, "POST", a.URL+"/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "AVAILABLE", "description": "up", "timestamp": protocol.FormatTime(time.Now())}})).want(t, 200, "status")
	j, cn := n.Journalists["alice"], n.CoverNodes["covernode_001"]
	u := a.URL + "/v1/public-keys/"
	stranger := n.Gen(keys.JournalistIdentity, n.Gen(keys.JournalistProvisioning, n.Org))
	foreignOrg := testnet.NewNewsroom(t, time.Now())
	used := n.Form(j.ID, n.Gen(keys.JournalistMessaging, j.ID).Public)
	do(t, "POST", u+"journalists/messaging-public-key", used).want(t, 200, "a form, once")
	var tamperedForm map[string]string
	json.Unmarshal(n.Form(n.JProv, testnet.Profile("carol")), &tamperedForm)
	tamperedForm["body"] = base64.StdEncoding.EncodeToString(marshalJSON(testnet.Profile("mallory")))
	tampered := marshalJSON(tamperedForm)
	noEpoch := map[string]any{}
	json.Unmarshal(marshalJSON(signedDeadDrop(t, n, deaddrop.Journalist, 1, 3)), &noEpoch)
	delete(noEpoch, "epoch")
	longDesc := testnet.Profile("dave")
	longDesc.Description = strings.Repeat("x", 41)
	otherCN := n.Gen(keys.CoverNodeIdentity, n.CNProv)
	goodDrop := signedDeadDrop(t, n, deaddrop.User, 2, 0)
	badSig := *goodDrop
	badSig.Signature[0] ^= 1
	foreignSK, _ := foreignOrg.Gen(keys.CoverNodeIdentity, foreignOrg.CNProv).SigningKey()
	foreign := *goodDrop
	foreign.Sign(foreignSK)
	marshal := func(v any) []byte { b, _ := json.Marshal(v); return b }
	u2c := protocol.EncodeBase64(randomMessage(t, protocol.U2CMessageSize))

	before := snapshot(t, a)
	for _, tc := range []struct {
		name         string
		method, path string
		body         []byte
		code         int
		errText      string
	}{
		// Ingest.
		{"U2C one byte short", "POST", "/user/messages", testnet.EncodeU2C(randomMessage(t, protocol.U2CMessageSize-1)), 400, "Failed to parse json"},
		{"U2C one byte long", "POST", "/user/messages", testnet.EncodeU2C(randomMessage(t, protocol.U2CMessageSize+1)), 400, "Failed to parse json"},
		{"U2C bad base64", "POST", "/user/messages", []byte(`"` + u2c[:100] + "!" + u2c[101:] + `"`), 400, "Failed to parse json"},
		{"U2C not a JSON string", "POST", "/user/messages", []byte(u2c), 400, "Failed to parse json"},
		{"U2C as a JSON object", "POST", "/user/messages", []byte(`{"message":"` + u2c + `"}`), 400, "Failed to parse json"},
		{"U2C empty body", "POST", "/user/messages", nil, 400, "Failed to parse json"},
		{"U2C two messages", "POST", "/user/messages", testnet.EncodeU2C(randomMessage(t, 2*protocol.U2CMessageSize)), 400, "Failed to parse json"},
		{"U2C oversized body", "POST", "/user/messages", bytes.Repeat([]byte("A"), 5000), 413, "allowed"},
		// Signed forms.
		{"malformed JSON", "POST", "/v1/public-keys/journalists", []byte(`{"body":`), 400, "signed form"},
		{"unknown form field", "POST", "/v1/public-keys/journalists", bytes.Replace(n.Form(n.JProv, testnet.Profile("carol")), []byte("{"), []byte(`{"timestamp":"x",`), 1), 400, "unknown field"},
		{"unknown body field", "POST", "/v1/public-keys/journalists", n.Form(n.JProv, map[string]any{"id": "carol", "status": "VISIBLE", "extra": 1}), 400, "unknown field"},
		{"wrong signer role", "POST", "/v1/public-keys/journalists/messaging-public-key", n.Form(n.JProv, n.Gen(keys.JournalistMessaging, j.ID).Public), 404, "Signing key not found"},
		{"unknown signer", "POST", "/v1/public-keys/journalists/messaging-public-key", n.Form(stranger, n.Gen(keys.JournalistMessaging, stranger).Public), 404, "Signing key not found"},
		{"another organisation", "POST", "/v1/public-keys/covernode/provisioning-public-key", foreignOrg.Form(foreignOrg.Org, foreignOrg.CNProv.Public), 404, "Signing key not found"},
		{"stale form", "POST", "/v1/public-keys/journalists", n.FormAt(n.JProv, testnet.Profile("carol"), time.Now().Add(-2*time.Hour), time.Hour), 401, "signature verification failed"},
		{"form from the future", "POST", "/v1/public-keys/journalists", n.FormAt(n.JProv, testnet.Profile("carol"), time.Now().Add(time.Hour), time.Hour), 401, "future"},
		{"form valid for a year", "POST", "/v1/public-keys/journalists", n.FormAt(n.JProv, testnet.Profile("carol"), time.Now(), 52*keys.Week), 401, "four weeks"},
		{"tampered body", "POST", "/v1/public-keys/journalists", tampered, 401, "signature verification failed"},
		{"replayed form", "POST", "/v1/public-keys/journalists/messaging-public-key", used, 409, "already used"},
		{"oversized form", "POST", "/v1/public-keys/journalists", bytes.Repeat([]byte(" "), 3<<20), 413, "allowed"},
		// Content of forms.
		{"unknown journalist", "POST", "/v1/public-keys/journalists/identity-public-key", n.Form(n.JProv, map[string]any{"journalist_id": "carol", "journalist_id_pk": stranger.Public, "from_queue": false}), 404, "not registered"},
		{"update unknown journalist", "PATCH", "/v1/public-keys/journalists/update-profile", n.Form(n.JProv, map[string]any{"journalist_id": "carol"}), 404, "not registered"},
		{"delete unknown journalist", "DELETE", "/v1/public-keys/journalists/delete", n.Form(n.JProv, "carol"), 404, "not registered"},
		{"bad journalist id", "POST", "/v1/public-keys/journalists", n.Form(n.JProv, testnet.Profile("a/b")), 400, "journalist"},
		{"description too long", "POST", "/v1/public-keys/journalists", n.Form(n.JProv, longDesc), 400, "journalist description too long"},
		{"bad profile status", "POST", "/v1/public-keys/journalists", n.Form(n.JProv, map[string]any{"id": "carol", "status": "SHOUTING"}), 400, "status must be"},
		{"key under the wrong parent", "POST", "/v1/public-keys/covernode/messaging-public-key", n.Form(cn.ID, n.Gen(keys.CoverNodeMessaging, otherCN).Public), 401, "signature verification failed"},
		{"expired key", "POST", "/v1/public-keys/journalists/messaging-public-key", n.Form(j.ID, expiredKey(t, n, j.ID)), 401, "signature verification failed"},
		{"bad CoverNode id", "POST", "/v1/public-keys/covernode/identity-public-key", n.Form(n.CNProv, map[string]any{"covernode_id": "node1", "covernode_id_pk": otherCN.Public}), 400, "covernode"},
		{"provisioning key too soon", "POST", "/v1/public-keys/journalists/provisioning-public-key", n.Form(n.Org, n.Gen(keys.JournalistProvisioning, n.Org).Public), 400, "key has been rotated too recently"},
		{"bad system status", "POST", "/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "ON_FIRE", "description": "", "timestamp": protocol.FormatTime(time.Now())}}), 400, "status must be"},
		{"system status from the future", "POST", "/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "AVAILABLE", "description": "", "timestamp": "9999-12-31T00:00:00Z"}}), 400, "dated in the future"},
		{"system status older than the one set", "POST", "/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "UNAVAILABLE", "description": "", "timestamp": protocol.FormatTime(time.Now().Add(-time.Hour))}}), 409, "a newer status"},
		{"system status without a timestamp", "POST", "/v1/status", n.Form(n.Admin, map[string]any{"status": map[string]any{"status": "UNAVAILABLE", "description": ""}}), 400, "needs a timestamp"},
		{"bad log directive", "POST", "/v1/logging", n.Form(n.Admin, map[string]string{"rust_log_directive": "loud"}), 400, "level"},
		{"J2C wrong size", "POST", "/v1/journalist-messages", n.Form(j.ID, protocol.EncodeBase64(randomMessage(t, protocol.J2CMessageSize-1))), 400, "730"},
		{"J2C not base64", "POST", "/v1/journalist-messages", n.Form(j.ID, "not base64!"), 400, "base64"},
		{"J2C from a CoverNode", "POST", "/v1/journalist-messages", n.Form(cn.ID, protocol.EncodeBase64(randomMessage(t, protocol.J2CMessageSize))), 404, "Signing key not found"},
		{"rotation to a key that is not a curve point", "POST", "/v1/public-keys/journalists/identity-public-key-form", n.Form(j.ID, map[string]any{"form": json.RawMessage(n.Form(j.ID, map[string]any{"new_pk": map[string]string{"key": "02" + strings.Repeat("00", 31)}}))}), 400, "not an Ed25519 public key"},
		{"rotation form valid for ten weeks", "POST", "/v1/public-keys/journalists/identity-public-key-form", n.Form(j.ID, map[string]any{"form": json.RawMessage(n.FormAt(j.ID, map[string]any{"new_pk": map[string]string{"key": stranger.Public.Hex()}}, time.Now(), 10*keys.Week))}), 401, "longer than four weeks"},
		{"rotation form signed by another key", "POST", "/v1/public-keys/journalists/identity-public-key-form", n.Form(j.ID, map[string]any{"form": json.RawMessage(n.Form(stranger, map[string]any{"new_pk": map[string]string{"key": stranger.Public.Hex()}}))}), 401, "signature verification failed"},
		// Dead drops.
		{"dead drop bad signature", "POST", "/v1/user/dead-drops", marshal(&badSig), 401, "signature verification failed"},
		{"dead drop of another organisation", "POST", "/v1/user/dead-drops", marshal(&foreign), 401, "signature verification failed"},
		{"dead drop partial chunk", "POST", "/v1/user/dead-drops", bytes.Replace(marshal(goodDrop), []byte(`"data":"`), []byte(`"data":"AAAA`), 1), 400, "multiple"},
		{"dead drop with trailing data", "POST", "/v1/user/dead-drops", append(marshal(goodDrop), "}}]]"...), 400, "trailing data"},
		{"dead drop unknown field", "POST", "/v1/user/dead-drops", bytes.Replace(marshal(goodDrop), []byte("{"), []byte(`{"cert":"00",`), 1), 400, "cert"},
		{"journalist dead drop without epoch", "POST", "/v1/journalist/dead-drops", marshal(noEpoch), 400, "epoch"},
		{"dead drops without ids_greater_than", "GET", "/v1/user/dead-drops", nil, 400, "ids_greater_than"},
		{"dead drops unknown parameter", "GET", "/v1/user/dead-drops?ids_greater_than=0&since=1", nil, 400, "unknown query parameter"},
		{"dead drops non-integer", "GET", "/v1/user/dead-drops?ids_greater_than=x", nil, 400, "integer"},
		{"dead drops limit twice", "GET", "/v1/user/dead-drops?ids_greater_than=0&limit=1&limit=x", nil, 400, "limit is given 2 times"},
		{"dead drops bad query escape", "GET", "/v1/user/dead-drops?ids_greater_than=%zz", nil, 400, "bad query string"},
		{"dead drops empty limit", "GET", "/v1/user/dead-drops?ids_greater_than=0&limit=", nil, 400, "limit must be"},
		{"dead drops limit 0", "GET", "/v1/user/dead-drops?ids_greater_than=0&limit=0", nil, 400, "limit"},
		{"identity lookup bad hex", "GET", "/v1/public-keys/journalists/identity-public-key/zz", nil, 400, "hex"},
		{"unknown endpoint", "GET", "/v1/nothing", nil, 404, "no such endpoint"},
		{"wrong method", "PUT", "/v1/status", nil, 405, "use GET or POST"},
		{"wrong method on the ingest", "GET", "/user/messages", nil, 405, "use POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, a.URL+tc.path, tc.body)
			var e struct {
				Error string `json:"error"`
			}
			if r.code != tc.code || json.Unmarshal(r.body, &e) != nil || !strings.Contains(e.Error, tc.errText) {
				t.Fatalf("got %d %s, want %d with an error containing %q", r.code, r.body, tc.code, tc.errText)
			}
			// The ingest answers what it cannot take with upstream's
			// u2j-appender's bytes exactly.
			if tc.path == "/user/messages" && tc.code == 400 && strings.TrimSpace(string(r.body)) != `{"error":"Failed to parse json"}` {
				t.Fatalf("the ingest answered %q, want upstream's {\"error\":\"Failed to parse json\"}", r.body)
			}
			if after := snapshot(t, a); after != before {
				t.Fatalf("state changed:\n%s\nvs\n%s", before, after)
			}
		})
	}
}

func marshalJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// expiredKey is a messaging key certified by parent that expired an hour
// ago.
func expiredKey(t *testing.T, n *testnet.Newsroom, parent *keys.KeyPair) keys.SignedPublicKey {
	sk, err := parent.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	mk := n.Gen(keys.JournalistMessaging, parent)
	k, err := keys.Certify(sk, nil, mk.Public.Key[:], time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return *k
}
