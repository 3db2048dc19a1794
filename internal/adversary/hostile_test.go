package adversary_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/client"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/keys"
)

// TestAPIRefusesUnactionableDeadDrops: a dead drop signed by a CoverNode
// identity key (a stolen one, or a CoverNode gone wrong) is still refused
// when its epoch is above the published keys' or its date is in the
// future beyond clock skew; within the bounds it is taken (the control:
// the refusals are not of everything signed).
func TestAPIRefusesUnactionableDeadDrops(t *testing.T) {
	d := adversary.Start(t, adversary.Options{}) // the CoverNode registers its identity key
	h, err := d.Client().PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sk := d.CoverNodeSigner()
	now := time.Now()
	epoch := int32(h.MaxEpoch)
	for _, c := range []struct {
		name   string
		kind   deaddrop.Kind
		at     time.Time
		epoch  int32
		status int
	}{
		{"epoch of the keys", deaddrop.Journalist, now, epoch, 200},
		{"epoch one above the keys'", deaddrop.Journalist, now, epoch + 1, 400},
		{"huge epoch", deaddrop.Journalist, now, 1 << 30, 400},
		{"within the clock skew", deaddrop.Journalist, now.Add(deaddrop.MaxClockSkew - time.Minute), epoch, 200},
		{"beyond the clock skew", deaddrop.Journalist, now.Add(deaddrop.MaxClockSkew + time.Minute), epoch, 400},
		{"user, within the clock skew", deaddrop.User, now.Add(deaddrop.MaxClockSkew - time.Minute), 0, 200},
		{"user, ten years ahead", deaddrop.User, now.AddDate(10, 0, 0), 0, 400},
	} {
		body, _ := json.Marshal(adversary.Forge(t, c.kind, 0, c.at, c.epoch, 1, sk))
		res, err := http.Post(d.API.URL+adversary.DeadDropsPath(c.kind), "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if res.StatusCode != c.status || (c.status != 200 && e.Error == "") {
			t.Errorf("%s: %d %q, want %d", c.name, res.StatusCode, e.Error, c.status)
		}
	}
}

// TestReaderPastHostileDeadDrops: the cloud writes hostile user dead
// drops into the stream (unsigned; signed with a stolen CoverNode key but
// dated ten years ahead) and the API serves a genuine reply again under a
// new id; the reader still gets every reply published after them, each
// once. The control: the hostile dead drops did reach the reader's app.
func TestReaderPastHostileDeadDrops(t *testing.T) {
	ctx := context.Background()
	d := adversary.Start(t, adversary.Options{})
	c := d.StartConversation("hello")
	adversary.SyncUntil(t, c.Carol, "the message", func() bool { return adversary.Received(c.Carol)["hello"] == 1 })
	c.Reply("first reply")
	c.RefreshUntil("the first reply", func(s *client.Session) bool { return adversary.Replies(s)["first reply"] == 1 })

	var hostile []int64
	for _, f := range []*deaddrop.DeadDrop{
		adversary.Forge(t, deaddrop.User, 0, time.Now(), 0, 1, nil),
		adversary.Forge(t, deaddrop.User, 0, time.Now().AddDate(10, 0, 0), 0, 1, d.CoverNodeSigner()),
	} {
		id, err := d.Cloud.InjectDeadDrop(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		hostile = append(hostile, id)
	}
	// Every page of user dead drops also carries the genuine ones again,
	// renumbered above the page's last id.
	d.Proxy.RewriteDeadDrops(t, deaddrop.User, func(after int64, g []*deaddrop.DeadDrop) []*deaddrop.DeadDrop {
		if len(g) == 0 {
			return g
		}
		next := g[len(g)-1].ID
		out := append([]*deaddrop.DeadDrop(nil), g...)
		for _, x := range g {
			c := *x
			next++
			c.ID = next
			out = append(out, &c)
		}
		return out
	})
	c.Reply("second reply")
	c.RefreshUntil("the second reply", func(s *client.Session) bool { return adversary.Replies(s)["second reply"] >= 1 })
	for _, s := range []*client.Session{c.Unlock()} {
		for text, n := range adversary.Replies(s) {
			if n != 1 {
				t.Fatalf("%q shown %d times", text, n)
			}
		}
	}
	served := map[int64]bool{}
	for _, ex := range d.Proxy.Matching("GET", adversary.DeadDropsPath(deaddrop.User)) {
		if l, err := deaddrop.ParseList(deaddrop.User, ex.RespBody); err == nil {
			for _, x := range l.DeadDrops {
				served[x.ID] = true
			}
		}
	}
	for _, id := range hostile {
		if !served[id] {
			t.Fatalf("hostile dead drop %d never reached the reader", id)
		}
	}
}

// TestInspectVerifiesBeforeEpoch: chaff inspect dead-drops (deaddrop.Inspect)
// reports a hostile dead drop's epoch only once its signature verifies:
// an unsigned one of epoch 2³⁰ is reported as not verifying, and says
// nothing of its epoch; the same signed with the CoverNode's key is
// reported as newer than the keys (the control).
func TestInspectVerifiesBeforeEpoch(t *testing.T) {
	d := adversary.Start(t, adversary.Options{})
	h, err := d.Client().PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Verify(h, d.Anchors(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	unsigned := adversary.Forge(t, deaddrop.Journalist, 1, time.Now(), 1<<30, 1, nil)
	signed := adversary.Forge(t, deaddrop.Journalist, 2, time.Now(), 1<<30, 1, d.CoverNodeSigner())
	in, err := deaddrop.Inspect(adversary.DeadDropPage(t, unsigned, signed), v, deaddrop.TrialKeys{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Verified != 1 || len(in.Problems) != 2 ||
		!strings.Contains(in.Problems[0], "dead drop 1: dead drop signature verifies under no") || strings.Contains(in.Problems[0], "epoch") ||
		!strings.Contains(in.Problems[1], "dead drop 2: epoch 1073741824 is newer") {
		t.Fatalf("%+v", in)
	}
}
