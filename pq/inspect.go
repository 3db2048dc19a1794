package pq

import (
	"encoding/hex"
	"errors"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/keys"
)

// Inspect is chaff inspect's deaddrop.Inspect for a pq deployment: it
// verifies each pq dead drop of a GET …/dead-drops body (kind sniffed)
// in the pq signed form with the verified pq hierarchy v, and with
// journalists' X-Wing messaging keys trial-decrypts journalist dead drops.
// A pq reader has no key pair (its reply keys live in its vault), so user
// dead drops are only verified.
func Inspect(body []byte, v *keys.Verified, journalists []*PrivateKey) (*deaddrop.Inspection, error) {
	if v.Mode != ModePQ {
		return nil, errors.New("pq: inspecting pq dead drops needs a hierarchy verified in pq mode")
	}
	kind, err := deaddrop.SniffKind(body)
	if err != nil {
		return nil, err
	}
	list, err := ParseList(kind, body)
	if err != nil {
		return nil, err
	}
	var open func(*DeadDrop) ([]deaddrop.Found, error)
	if kind == deaddrop.Journalist && len(journalists) > 0 {
		o := NewJournalistOpener(journalists)
		open = func(d *DeadDrop) ([]deaddrop.Found, error) {
			received, err := o.Open(d)
			var out []deaddrop.Found
			for _, r := range received {
				text := r.Message.Text
				out = append(out, deaddrop.Found{DeadDropID: d.ID, Direction: "u2j", Type: "text", Text: &text, ReaderID: hex.EncodeToString(r.Message.ReaderID[:])})
			}
			return out, err
		}
	}
	id := func(d *DeadDrop) (int64, int32) { return d.ID, d.Epoch }
	verify := func(d *DeadDrop, ks []*crypto.VerifyingKey) error { return d.Verify(ks) }
	return deaddrop.InspectList(kind, list, v, id, verify, open), nil
}
