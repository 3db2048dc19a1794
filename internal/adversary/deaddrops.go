package adversary

import (
	"crypto/rand"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
)

// DeadDropsPath is the path of the GET (and POST) of a kind's dead drops.
func DeadDropsPath(kind deaddrop.Kind) string {
	return apiclient.DeadDrops(kind).Get.Path
}

// Forge makes a coverdrop-mode dead drop (ForgeIn).
func Forge(t testing.TB, kind deaddrop.Kind, id int64, createdAt time.Time, epoch int32, chunks int, signer *crypto.SigningKey) *deaddrop.DeadDrop {
	t.Helper()
	return ForgeIn(t, keys.ModeCoverDrop, kind, id, createdAt, epoch, chunks, signer)
}

// ForgeIn makes a dead drop of a protocol mode and kind with id, date and
// (for journalist dead drops) epoch, holding chunks random messages of
// the mode's chunk size. It is signed by signer over the mode's signed
// digest (SignIn); a nil signer leaves the signature all zeros, which is
// what the adversary without a CoverNode's key can do.
func ForgeIn(t testing.TB, mode string, kind deaddrop.Kind, id int64, createdAt time.Time, epoch int32, chunks int, signer *crypto.SigningKey) *deaddrop.DeadDrop {
	t.Helper()
	size := kind.ChunkSize()
	if mode == keys.ModePQ {
		size = pq.ChunkSize(kind)
	}
	d := &deaddrop.DeadDrop{Kind: kind, ID: id, CreatedAt: createdAt.Truncate(time.Second), Data: make([]byte, chunks*size)}
	if kind == deaddrop.Journalist {
		d.Epoch = epoch
	}
	if _, err := rand.Read(d.Data); err != nil {
		t.Fatal(err)
	}
	if signer != nil {
		SignIn(mode, d, signer)
	}
	return d
}

// SignIn signs d with a CoverNode identity key over the signed digest of
// a protocol mode: deaddrop.DeadDrop's in coverdrop mode, pq.DeadDrop's in
// pq mode (docs/PQ.md §6), so that a dead drop re-signed with a stolen key
// verifies in that mode.
func SignIn(mode string, d *deaddrop.DeadDrop, signer *crypto.SigningKey) {
	if mode != keys.ModePQ {
		d.Sign(signer)
		return
	}
	p := &pq.DeadDrop{Kind: d.Kind, ID: d.ID, CreatedAt: d.CreatedAt, Data: d.Data, Epoch: d.Epoch}
	p.Sign(signer)
	d.Signature = p.Signature
}

// ParseDeadDrops reads a page of a kind's dead drops in a protocol mode:
// deaddrop.ParseList in coverdrop mode, pq.ParseList (pq chunk sizes) in
// pq mode, as deaddrop.DeadDrops either way (the JSON is the same; a pq
// one's signature verifies as pq.DeadDrop's).
func ParseDeadDrops(mode string, kind deaddrop.Kind, b []byte) ([]*deaddrop.DeadDrop, error) {
	if mode != keys.ModePQ {
		l, err := deaddrop.ParseList(kind, b)
		if err != nil {
			return nil, err
		}
		return l.DeadDrops, nil
	}
	l, err := pq.ParseList(kind, b)
	if err != nil {
		return nil, err
	}
	out := make([]*deaddrop.DeadDrop, len(l))
	for i, d := range l {
		out[i] = &deaddrop.DeadDrop{Kind: d.Kind, ID: d.ID, CreatedAt: d.CreatedAt, Data: d.Data, Signature: d.Signature, Epoch: d.Epoch}
	}
	return out, nil
}

// DeadDropPage is the body of a GET dead-drops answer holding ds.
func DeadDropPage(t testing.TB, ds ...*deaddrop.DeadDrop) []byte {
	t.Helper()
	if ds == nil {
		ds = []*deaddrop.DeadDrop{}
	}
	b, err := json.Marshal(deaddrop.List{DeadDrops: ds})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// PageRewrite changes a genuine page of dead drops (asked for with
// ids_greater_than=after) into the one the client gets.
type PageRewrite func(after int64, genuine []*deaddrop.DeadDrop) []*deaddrop.DeadDrop

// RewriteDeadDrops makes the API (or the CDN) serve every page of a
// kind's dead drops through fn: insert forged ones, renumber, repeat, hold
// back or serve stale ones. A genuine answer that is not a page of the
// proxy's Mode (an error) goes through unchanged.
func (p *Proxy) RewriteDeadDrops(t testing.TB, kind deaddrop.Kind, fn PageRewrite) (remove func()) {
	path := DeadDropsPath(kind)
	return p.Intercept(Rule{Method: "GET", Path: path, Rewrite: func(ex *Exchange) {
		if ex.Path != path || ex.Status != 200 {
			return
		}
		l, err := ParseDeadDrops(p.Mode, kind, ex.RespBody)
		if err != nil {
			return
		}
		q, _ := url.ParseQuery(ex.RawQuery)
		after, _ := strconv.ParseInt(q.Get("ids_greater_than"), 10, 64)
		ex.RespBody = DeadDropPage(t, fn(after, l)...)
		ex.RespHeader.Del("Etag")
	}})
}
