package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/internal/api"
)

// TestAPIRefusesUnactionableDeadDrops: a dead drop signed by a CoverNode
// identity key (a stolen one, or a CoverNode gone wrong) is still refused
// when its epoch is above the published keys' or its date is in the
// future beyond clock skew; within the bounds it is taken (the refusals
// are not of everything signed). The negative control turns the checks
// off (TakeUnactionableDeadDrops): the same posts are then taken, and the
// test sees it. Both protocol modes (in pq mode the stolen key signs pq's
// digest over pq's chunks).
func TestAPIRefusesUnactionableDeadDrops(t *testing.T) {
	adversary.InModes(t, apiRefusesUnactionableDeadDrops)
}

func apiRefusesUnactionableDeadDrops(t *testing.T, mode string) {
	d := adversary.Start(t, adversary.Options{Mode: mode}) // the CoverNode registers its identity key
	h, err := d.Client().PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sk := d.CoverNodeSigner()
	now := time.Now()
	epoch := int32(h.MaxEpoch)
	cases := []struct {
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
	}
	// wrong lists the posts not answered as they must be.
	wrong := func(t *testing.T) (out []string) {
		for _, c := range cases {
			body, _ := json.Marshal(adversary.ForgeIn(t, mode, c.kind, 0, c.at, c.epoch, 1, sk))
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
				out = append(out, c.name)
				t.Logf("%s: %d %q, want %d", c.name, res.StatusCode, e.Error, c.status)
			}
		}
		return out
	}
	if w := wrong(t); len(w) > 0 {
		t.Fatalf("answered wrongly: %v", w)
	}
	t.Run("negative control", func(t *testing.T) {
		api.TakeUnactionableDeadDrops(t)
		if w := wrong(t); len(w) != 4 {
			t.Fatalf("with the checks off, %d posts answered wrongly (%v), want the 4 that must be refused: the test cannot catch an API that takes them", len(w), w)
		}
	})
}
