package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
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

type resp struct {
	code   int
	body   []byte
	header http.Header
}

func do(t testing.TB, method, url string, body []byte, headers ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b, res.Header}
}

func (r resp) want(t testing.TB, code int, what string) resp {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: status %d (%s), want %d", what, r.code, r.body, code)
	}
	return r
}

func (r resp) epoch(t testing.TB) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(string(r.body), 10, 64)
	if err != nil {
		t.Fatalf("epoch %q: %v", r.body, err)
	}
	return n
}

// setup starts NATS and an API, and runs the key ceremony over HTTP: both
// provisioning keys, CoverNode covernode_001 and journalist alice with
// their identity and messaging keys, and an admin key.
func setup(t *testing.T, cfg api.Config) (*testnet.Newsroom, *testnet.API) {
	t.Helper()
	n := testnet.NewNewsroom(t, time.Now())
	_, nc := testnet.StartNATS(t)
	a := testnet.StartAPI(t, nc, n, cfg)
	ceremony(t, n, a)
	return n, a
}

func ceremony(t *testing.T, n *testnet.Newsroom, a *testnet.API) {
	t.Helper()
	u := a.URL + "/v1/public-keys/"
	do(t, "POST", u+"covernode/provisioning-public-key", n.Form(n.Org, n.CNProv.Public)).want(t, 200, "CoverNode provisioning key")
	do(t, "POST", u+"journalists/provisioning-public-key", n.Form(n.Org, n.JProv.Public)).want(t, 200, "journalist provisioning key")
	do(t, "POST", a.URL+"/v1/status/public-key", n.Form(n.Org, n.Admin.Public)).want(t, 200, "admin key")
	cn := n.AddCoverNode("covernode_001")
	e1 := do(t, "POST", u+"covernode/identity-public-key", n.Form(n.CNProv, map[string]any{"covernode_id": "covernode_001", "covernode_id_pk": cn.ID.Public})).want(t, 200, "CoverNode identity").epoch(t)
	e2 := do(t, "POST", u+"covernode/messaging-public-key", n.Form(cn.ID, cn.Msg[0].Public)).want(t, 200, "CoverNode messaging").epoch(t)
	j := n.AddJournalist("alice")
	do(t, "POST", u+"journalists", n.Form(n.JProv, testnet.Profile("alice"))).want(t, 200, "profile")
	e3 := do(t, "POST", u+"journalists/identity-public-key", n.Form(n.JProv, map[string]any{"journalist_id": "alice", "journalist_id_pk": j.ID.Public, "from_queue": false})).want(t, 200, "journalist identity").epoch(t)
	e4 := do(t, "POST", u+"journalists/messaging-public-key", n.Form(j.ID, j.Msg[0].Public)).want(t, 200, "journalist messaging").epoch(t)
	if !(e1 < e2 && e2 < e3 && e3 < e4) {
		t.Fatalf("epochs %d %d %d %d are not increasing", e1, e2, e3, e4)
	}
}

func publicKeys(t *testing.T, a *testnet.API, n *testnet.Newsroom) (*keys.Hierarchy, *keys.Verified, resp) {
	t.Helper()
	r := do(t, "GET", a.URL+"/v1/public-keys", nil).want(t, 200, "public keys")
	h, err := keys.ParseHierarchy(r.body)
	if err != nil {
		t.Fatalf("published hierarchy does not parse as upstream's: %v\n%s", err, r.body)
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{n.Org.Public}, time.Now())
	if err != nil || len(v.Dropped) > 0 {
		t.Fatalf("published hierarchy does not verify: %v %v", err, v.Dropped)
	}
	return h, v, r
}

func TestPublicKeys(t *testing.T) {
	n, a := setup(t, api.Config{DefaultJournalistID: "alice"})
	h, v, r := publicKeys(t, a, n)
	if got := len(v.All()); got != 7 {
		t.Fatalf("%d keys published, want 7", got)
	}
	if r.header.Get("Cache-Control") != "max-age=60" || r.header.Get("ETag") == "" {
		t.Fatalf("headers %v", r.header)
	}
	do(t, "GET", a.URL+"/v1/public-keys", nil, "If-None-Match", r.header.Get("ETag")).want(t, 304, "conditional GET")
	// The exact upstream shape: backup array present, tag computed, default
	// journalist published because it has keys, max_epoch the latest.
	var raw map[string]any
	json.Unmarshal(r.body, &raw)
	org := raw["keys"].([]any)[0].(map[string]any)
	if b, ok := org["backup"].([]any); !ok || len(b) != 0 {
		t.Fatalf("backup = %v, want []", org["backup"])
	}
	if h.DefaultJournalistID == nil || *h.DefaultJournalistID != "alice" {
		t.Fatalf("default journalist %v", h.DefaultJournalistID)
	}
	if len(h.JournalistProfiles) != 1 || h.JournalistProfiles[0].Tag != protocol.TagFor("alice").String() {
		t.Fatalf("profiles %+v", h.JournalistProfiles)
	}
	if h.MaxEpoch < 6 {
		t.Fatalf("max_epoch %d", h.MaxEpoch)
	}
	// The key a reader encrypts to is alice's messaging key.
	jk, err := v.JournalistKey("alice")
	if err != nil || !bytes.Equal(jk.Bytes(), n.Journalists["alice"].Msg[0].Public.Key[:]) {
		t.Fatalf("journalist key %v %v", jk, err)
	}

	// Rotation: a second messaging key gets a higher epoch, and is the one
	// to encrypt to; re-posting a stored key (in a new form) returns its
	// epoch unchanged.
	j := n.Journalists["alice"]
	n.Now = n.Now.Add(time.Second)
	second := n.Gen(keys.JournalistMessaging, j.ID)
	e := do(t, "POST", a.URL+"/v1/public-keys/journalists/messaging-public-key", n.Form(j.ID, second.Public)).want(t, 200, "second key").epoch(t)
	if e <= uint64(h.MaxEpoch) {
		t.Fatalf("epoch %d not above max_epoch %d", e, h.MaxEpoch)
	}
	again := do(t, "POST", a.URL+"/v1/public-keys/journalists/messaging-public-key", n.Form(j.ID, second.Public)).want(t, 200, "same key again").epoch(t)
	if again != e {
		t.Fatalf("re-posted key got epoch %d, first %d", again, e)
	}
	h2, v2, _ := publicKeys(t, a, n)
	if h2.MaxEpoch != int64(e) {
		t.Fatalf("max_epoch %d, want %d", h2.MaxEpoch, e)
	}
	if jk, _ := v2.JournalistKey("alice"); !bytes.Equal(jk.Bytes(), second.Public.Key[:]) {
		t.Fatal("the newest messaging key is not the one to encrypt to")
	}
	// Identity key lookup.
	r = do(t, "GET", a.URL+"/v1/public-keys/journalists/identity-public-key/"+j.ID.Public.Hex(), nil).want(t, 200, "identity lookup")
	var lookup struct {
		Epoch uint64               `json:"epoch"`
		Key   keys.SignedPublicKey `json:"key"`
	}
	if err := json.Unmarshal(r.body, &lookup); err != nil || !lookup.Key.Equal(&j.ID.Public) || lookup.Epoch == 0 {
		t.Fatalf("identity lookup %s", r.body)
	}
	r = do(t, "GET", a.URL+"/v1/public-keys/journalists/identity-public-key/"+strings.Repeat("ab", 32), nil).want(t, 200, "unknown identity")
	if string(r.body) != "null" {
		t.Fatalf("unknown identity key: %s", r.body)
	}
}

func TestExpiredKeysRemoved(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	n, a := setup(t, api.Config{Now: func() time.Time { return clock() }})
	before, _, _ := publicKeys(t, a, n)
	// Three weeks on, both messaging keys (2 weeks) have expired: not
	// published, and removed from the store; max_epoch does not go down.
	now = now.Add(3 * keys.Week)
	r := do(t, "GET", a.URL+"/v1/public-keys", nil).want(t, 200, "public keys")
	h, _ := keys.ParseHierarchy(r.body)
	if len(h.Keys[0].CoverNodes[0].CoverNodes["covernode_001"][0].MsgPKs) != 0 {
		t.Fatalf("expired messaging key published: %s", r.body)
	}
	if got := api.RemoveExpiredOnce(a.Server); got != 2 {
		t.Fatalf("removed %d expired keys, want 2", got)
	}
	r = do(t, "GET", a.URL+"/v1/public-keys", nil).want(t, 200, "public keys")
	h, _ = keys.ParseHierarchy(r.body)
	if h.MaxEpoch < before.MaxEpoch {
		t.Fatalf("max_epoch went down from %d to %d", before.MaxEpoch, h.MaxEpoch)
	}
}

func TestStatus(t *testing.T) {
	n, a := setup(t, api.Config{})
	var st map[string]any
	r := do(t, "GET", a.URL+"/v1/status", nil).want(t, 200, "status")
	json.Unmarshal(r.body, &st)
	if st["status"] != "NO_INFORMATION" || st["is_available"] != false || r.header.Get("Cache-Control") != "max-age=5" {
		t.Fatalf("initial status %s", r.body)
	}
	body := map[string]any{"status": map[string]any{"status": "DEGRADED_PERFORMANCE", "description": "slow", "timestamp": protocol.FormatTime(n.Now)}}
	do(t, "POST", a.URL+"/v1/status", n.Form(n.Admin, body)).want(t, 200, "set status")
	r = do(t, "GET", a.URL+"/v1/status", nil).want(t, 200, "status")
	json.Unmarshal(r.body, &st)
	if st["status"] != "DEGRADED_PERFORMANCE" || st["is_available"] != true || st["description"] != "slow" {
		t.Fatalf("status %s", r.body)
	}
	// Any of upstream's five statuses may be set, NO_INFORMATION too.
	body = map[string]any{"status": map[string]any{"status": "NO_INFORMATION", "description": "", "timestamp": protocol.FormatTime(n.Now.Add(time.Second))}}
	do(t, "POST", a.URL+"/v1/status", n.Form(n.Admin, body)).want(t, 200, "set NO_INFORMATION")
	r = do(t, "GET", a.URL+"/v1/status", nil).want(t, 200, "status")
	json.Unmarshal(r.body, &st)
	if st["status"] != "NO_INFORMATION" || st["is_available"] != false {
		t.Fatalf("status %s", r.body)
	}
	// Only an admin key may set it.
	do(t, "POST", a.URL+"/v1/status", n.Form(n.Org, body)).want(t, 404, "status signed by the organisation key")
	if allow := do(t, "DELETE", a.URL+"/v1/status", nil).want(t, 405, "DELETE status").header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow: %q, want GET, POST", allow)
	}
	// The log level.
	do(t, "POST", a.URL+"/v1/logging", n.Form(n.Admin, map[string]string{"rust_log_directive": "debug"})).want(t, 200, "logging")
	do(t, "GET", a.URL+"/v1/healthcheck", nil).want(t, 200, "healthcheck")
	do(t, "GET", a.URL+"/healthcheck", nil).want(t, 200, "ingest healthcheck")
}

func TestProfiles(t *testing.T) {
	n, a := setup(t, api.Config{})
	u := a.URL + "/v1/public-keys/journalists"
	profiles := func() []keys.JournalistProfile {
		h, _, _ := publicKeys(t, a, n)
		return h.JournalistProfiles
	}
	desc := "Chemistry correspondent"
	do(t, "PATCH", u+"/update-profile", n.Form(n.JProv, map[string]any{"journalist_id": "alice", "display_name": "Alice A.", "description": desc})).want(t, 200, "update profile")
	if p := profiles()[0]; p.DisplayName != "Alice A." || p.Description != desc || p.SortName != "alice" {
		t.Fatalf("profile %+v", p)
	}
	// A journalist changes their own status, not another's.
	j := n.Journalists["alice"]
	do(t, "PATCH", u+"/update-status", n.Form(j.ID, map[string]string{"journalist_id": "alice", "status": "HIDDEN_FROM_UI"})).want(t, 200, "own status")
	if p := profiles()[0]; p.Status != "HIDDEN_FROM_UI" {
		t.Fatalf("status %s", p.Status)
	}
	bob := n.AddJournalist("bob")
	do(t, "POST", u, n.Form(n.JProv, testnet.Profile("bob"))).want(t, 200, "bob")
	do(t, "POST", u+"/identity-public-key", n.Form(n.JProv, map[string]any{"journalist_id": "bob", "journalist_id_pk": bob.ID.Public, "from_queue": false})).want(t, 200, "bob's identity")
	r := do(t, "PATCH", u+"/update-status", n.Form(bob.ID, map[string]string{"journalist_id": "alice", "status": "VISIBLE"})).want(t, 401, "bob changes alice's status")
	if !strings.Contains(string(r.body), "client unauthorized to update record") {
		t.Fatalf("body %s", r.body)
	}
	// Hidden from the response: not listed at all.
	do(t, "PATCH", u+"/update-status", n.Form(bob.ID, map[string]string{"journalist_id": "bob", "status": "HIDDEN_FROM_RESPONSE"})).want(t, 200, "bob hides")
	if ps := profiles(); len(ps) != 1 {
		t.Fatalf("profiles %+v", ps)
	}
	// Removal takes the profile and the keys.
	do(t, "DELETE", u+"/delete", n.Form(n.JProv, "alice")).want(t, 200, "delete alice")
	h, v, _ := publicKeys(t, a, n)
	if len(h.JournalistProfiles) != 0 || len(v.Journalists["alice"]) != 0 {
		t.Fatalf("alice still published: %+v", h)
	}
}

func TestIdentityKeyRotationQueue(t *testing.T) {
	n, a := setup(t, api.Config{})
	j := n.Journalists["alice"]
	next := n.Gen(keys.JournalistIdentity, n.JProv)
	// In upper case: upstream's hex decoding takes either.
	inner := json.RawMessage(n.Form(j.ID, map[string]any{"new_pk": map[string]string{"key": strings.ToUpper(next.Public.Hex())}}))
	u := a.URL + "/v1/public-keys/journalists/identity-public-key-form"
	do(t, "POST", u, n.Form(j.ID, map[string]any{"form": inner})).want(t, 200, "queue rotation")
	r := do(t, "GET", u, nil).want(t, 200, "queued forms")
	var queued []struct {
		JournalistID string          `json:"journalist_id"`
		Form         json.RawMessage `json:"form"`
	}
	if err := json.Unmarshal(r.body, &queued); err != nil || len(queued) != 1 || queued[0].JournalistID != "alice" {
		t.Fatalf("queue %s", r.body)
	}
	// The identity API certifies it from the queue; the queue empties.
	body := map[string]any{"journalist_id": "alice", "journalist_id_pk": next.Public, "from_queue": true}
	do(t, "POST", a.URL+"/v1/public-keys/journalists/identity-public-key", n.Form(n.JProv, body)).want(t, 200, "certified from queue")
	r = do(t, "GET", u, nil).want(t, 200, "queued forms")
	if string(r.body) != "[]" {
		t.Fatalf("queue not emptied: %s", r.body)
	}
	_, v, _ := publicKeys(t, a, n)
	if len(v.Journalists["alice"]) != 2 {
		t.Fatalf("alice has %d identity keys, want 2", len(v.Journalists["alice"]))
	}
	// A key that was not queued is refused.
	other := n.Gen(keys.JournalistIdentity, n.JProv)
	body = map[string]any{"journalist_id": "alice", "journalist_id_pk": other.Public, "from_queue": true}
	do(t, "POST", a.URL+"/v1/public-keys/journalists/identity-public-key", n.Form(n.JProv, body)).want(t, 400, "unqueued key")
}

func randomMessage(t testing.TB, size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	return b
}

func TestIngest(t *testing.T) {
	_, a := setup(t, api.Config{IngestRate: 1000, IngestBurst: 1000})
	msg, msg2 := randomMessage(t, protocol.U2CMessageSize), randomMessage(t, protocol.U2CMessageSize)
	// Android: unpadded; iOS: padded with "/" escaped as "\/".
	padded, _ := json.Marshal(strings.ReplaceAll(encodePadded(msg2), "/", `\/`))
	padded = bytes.ReplaceAll(padded, []byte(`\\/`), []byte(`\/`))
	// The third body is the first again (an app's re-send after a lost
	// answer): the same answer, and stored once.
	for _, body := range [][]byte{testnet.EncodeU2C(msg), padded, testnet.EncodeU2C(msg)} {
		r := do(t, "POST", a.URL+"/user/messages", body).want(t, 200, "ingest")
		if len(r.body) != 0 {
			t.Fatalf("ingest answered a body: %q", r.body)
		}
	}
	if n := a.StreamMsgs(t, "CHAFF_U2C"); n != 2 {
		t.Fatalf("%d messages in the stream, want 2", n)
	}
}

func encodePadded(b []byte) string {
	return string(must(json.Marshal(b)))[1 : len(must(json.Marshal(b)))-1]
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestIngestRateLimit(t *testing.T) {
	_, a := setup(t, api.Config{IngestRate: 0.001, IngestBurst: 3})
	body := testnet.EncodeU2C(randomMessage(t, protocol.U2CMessageSize))
	for i := range 3 {
		do(t, "POST", a.URL+"/user/messages", body).want(t, 200, "within the burst "+strconv.Itoa(i))
	}
	r := do(t, "POST", a.URL+"/user/messages", body).want(t, 429, "over the limit")
	if string(r.body) != `{"error":"Too many requests"}` {
		t.Fatalf("body %s", r.body)
	}
	// Behind a CDN, the configured header names the client.
	_, b := setup(t, api.Config{IngestRate: 0.001, IngestBurst: 1, ClientIPHeader: "Fastly-Client-IP"})
	do(t, "POST", b.URL+"/user/messages", body, "Fastly-Client-IP", "192.0.2.1").want(t, 200, "first client")
	do(t, "POST", b.URL+"/user/messages", body, "Fastly-Client-IP", "192.0.2.2").want(t, 200, "second client")
	do(t, "POST", b.URL+"/user/messages", body, "Fastly-Client-IP", "192.0.2.1").want(t, 429, "first client again")
}

func TestJournalistMessages(t *testing.T) {
	n, a := setup(t, api.Config{})
	j := n.Journalists["alice"]
	msg := protocol.EncodeBase64(randomMessage(t, protocol.J2CMessageSize))
	do(t, "POST", a.URL+"/v1/journalist-messages", n.Form(j.ID, msg)).want(t, 200, "journalist message")
	if c := a.StreamMsgs(t, "CHAFF_J2C"); c != 1 {
		t.Fatalf("%d J2C messages", c)
	}
}

// signedDeadDrop builds a dead drop of kind with chunks random messages,
// signed by the CoverNode's identity key.
func signedDeadDrop(t testing.TB, n *testnet.Newsroom, kind deaddrop.Kind, chunks int, epoch int32) *deaddrop.DeadDrop {
	sk, err := n.CoverNodes["covernode_001"].ID.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	d := &deaddrop.DeadDrop{Kind: kind, CreatedAt: time.Now(), Data: randomMessage(t, chunks*kind.ChunkSize()), Epoch: epoch}
	d.Sign(sk)
	return d
}

func TestDeadDrops(t *testing.T) {
	n, a := setup(t, api.Config{UserDeadDropLimit: 3})
	_, v, _ := publicKeys(t, a, n)
	u := a.URL + "/v1/user/dead-drops"
	r := do(t, "GET", u+"?ids_greater_than=0", nil).want(t, 200, "empty")
	if string(r.body) != `{"dead_drops":[]}` || r.header.Get("Cache-Control") != "max-age=300" {
		t.Fatalf("empty list %s %v", r.body, r.header)
	}
	var posted []*deaddrop.DeadDrop
	for range 5 {
		d := signedDeadDrop(t, n, deaddrop.User, 4, 0)
		b, _ := json.Marshal(d)
		do(t, "POST", u, b).want(t, 200, "post dead drop")
		posted = append(posted, d)
	}
	// Re-posting an identical dead drop is a no-op that answers 200.
	b, _ := json.Marshal(posted[2])
	do(t, "POST", u, b).want(t, 200, "identical re-post")
	// Pages: limit clamped to the maximum (3), ids strictly greater.
	r = do(t, "GET", u+"?ids_greater_than=0&limit=100", nil).want(t, 200, "page")
	l, err := deaddrop.ParseList(deaddrop.User, r.body)
	if err != nil || len(l.DeadDrops) != 3 || l.DeadDrops[0].ID != 1 || l.DeadDrops[2].ID != 3 {
		t.Fatalf("first page %+v %v", l, err)
	}
	r = do(t, "GET", u+"?ids_greater_than=3", nil).want(t, 200, "page")
	l, _ = deaddrop.ParseList(deaddrop.User, r.body)
	if len(l.DeadDrops) != 2 || l.DeadDrops[1].ID != 5 {
		t.Fatalf("second page has %d dead drops", len(l.DeadDrops))
	}
	for i, d := range l.DeadDrops {
		if err := d.Verify(v.CoverNodeIdentityKeys()); err != nil || !bytes.Equal(d.Data, posted[3+i].Data) {
			t.Fatalf("dead drop %d: %v", d.ID, err)
		}
	}
	do(t, "GET", u+"?ids_greater_than=3", nil, "If-None-Match", r.header.Get("ETag")).want(t, 304, "unchanged page")
	r = do(t, "GET", u+"?ids_greater_than=4&limit=1", nil).want(t, 200, "limit 1")
	if l, _ = deaddrop.ParseList(deaddrop.User, r.body); len(l.DeadDrops) != 1 || l.DeadDrops[0].ID != 5 {
		t.Fatalf("limit 1: %s", r.body)
	}
	// Recent summary, newest first.
	r = do(t, "GET", u+"/recent-summary", nil).want(t, 200, "summary")
	var sum []struct {
		ID        int    `json:"id"`
		CreatedAt string `json:"createdAt"`
	}
	if err := json.Unmarshal(r.body, &sum); err != nil || len(sum) != 5 || sum[0].ID != 5 || sum[4].ID != 1 {
		t.Fatalf("summary %s", r.body)
	}
	// Journalist dead drops carry their epoch.
	jd := signedDeadDrop(t, n, deaddrop.Journalist, 2, 7)
	jd.CreatedAt = time.Unix(jd.CreatedAt.Unix(), 123456789) // as an upstream CoverNode may send it
	sk, _ := n.CoverNodes["covernode_001"].ID.SigningKey()
	jd.Sign(sk)
	b, _ = json.Marshal(jd)
	do(t, "POST", a.URL+"/v1/journalist/dead-drops", b).want(t, 200, "journalist dead drop")
	r = do(t, "GET", a.URL+"/v1/journalist/dead-drops?ids_greater_than=0", nil).want(t, 200, "journalist dead drops")
	l, err = deaddrop.ParseList(deaddrop.Journalist, r.body)
	if err != nil || len(l.DeadDrops) != 1 || l.DeadDrops[0].Epoch != 7 || l.DeadDrops[0].Verify(v.CoverNodeIdentityKeys()) != nil {
		t.Fatalf("journalist dead drops %s %v", r.body, err)
	}
	// Served as upstream's database keeps it: microseconds at most.
	var raw struct {
		DeadDrops []struct {
			CreatedAt string `json:"created_at"`
		} `json:"dead_drops"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil || len(raw.DeadDrops) != 1 {
		t.Fatalf("journalist dead drops %s %v", r.body, err)
	}
	if got := l.DeadDrops[0].CreatedAt; got.Nanosecond() != 123456000 || strings.Contains(raw.DeadDrops[0].CreatedAt, "123456789") {
		t.Errorf("created_at served as %s, want microseconds", raw.DeadDrops[0].CreatedAt)
	}
}

func TestBackupKeys(t *testing.T) {
	n, a := setup(t, api.Config{})
	before, _, _ := publicKeys(t, a, n)
	backupID := n.Gen(keys.BackupIdentity, n.Org)
	backupMsg := n.Gen(keys.BackupMessaging, backupID)
	// Upstream answers both with an empty 200.
	for _, r := range []resp{
		do(t, "POST", a.URL+"/v1/backups/signing-public-key", n.Form(n.Org, backupID.Public)).want(t, 200, "backup identity"),
		do(t, "POST", a.URL+"/v1/backups/encryption-public-key", n.Form(backupID, backupMsg.Public)).want(t, 200, "backup messaging"),
	} {
		if len(r.body) != 0 {
			t.Fatalf("a backup key upload answered %q, want an empty body", r.body)
		}
	}
	h, v, _ := publicKeys(t, a, n)
	if len(v.Backup) != 1 || len(v.Backup[0].Messaging) != 1 || !v.Backup[0].Messaging[0].Equal(&backupMsg.Public) {
		t.Fatalf("backup keys %+v", v.Backup)
	}
	// Backup and admin keys do not count towards max_epoch.
	if h.MaxEpoch != before.MaxEpoch {
		t.Fatalf("max_epoch went from %d to %d with backup keys", before.MaxEpoch, h.MaxEpoch)
	}
	// Only the backup identity key may sign its messaging keys.
	do(t, "POST", a.URL+"/v1/backups/encryption-public-key", n.Form(n.Org, n.Gen(keys.BackupMessaging, backupID).Public)).want(t, 404, "backup messaging key signed by the organisation")
}
