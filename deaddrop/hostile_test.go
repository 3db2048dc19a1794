package deaddrop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/internal/adversary"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
)

// TestInspectVerifiesBeforeEpoch: chaff inspect dead-drops (deaddrop.Inspect)
// reports a hostile dead drop's epoch only once its signature verifies:
// an unsigned one of epoch 2³⁰ is reported as not verifying, and says
// nothing of its epoch; the same signed with the CoverNode's key is
// reported as newer than the keys. The negative control looks at the
// epoch first (InspectEpochFirst), as before, and the test sees the
// unsigned dead drop's epoch reported. Both protocol modes (pq.Inspect
// in pq mode, the stolen key signing pq's digest).
func TestInspectVerifiesBeforeEpoch(t *testing.T) {
	adversary.InModes(t, inspectVerifiesBeforeEpoch)
}

func inspectVerifiesBeforeEpoch(t *testing.T, mode string) {
	d := adversary.Start(t, adversary.Options{Mode: mode})
	h, err := d.Client().PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.VerifyIn(mode, h, d.Anchors(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	unsigned := adversary.ForgeIn(t, mode, deaddrop.Journalist, 1, time.Now(), 1<<30, 1, nil)
	signed := adversary.ForgeIn(t, mode, deaddrop.Journalist, 2, time.Now(), 1<<30, 1, d.CoverNodeSigner())
	page := adversary.DeadDropPage(t, unsigned, signed)
	inspect := func() (*deaddrop.Inspection, error) { return deaddrop.Inspect(page, v, deaddrop.TrialKeys{}) }
	if mode == keys.ModePQ {
		inspect = func() (*deaddrop.Inspection, error) { return pq.Inspect(page, v, nil) }
	}
	check := func(t *testing.T) bool {
		in, err := inspect()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", in)
		return in.Verified == 1 && len(in.Problems) == 2 &&
			strings.Contains(in.Problems[0], "dead drop 1: dead drop signature verifies under no") && !strings.Contains(in.Problems[0], "epoch") &&
			strings.Contains(in.Problems[1], "dead drop 2: epoch 1073741824 is newer")
	}
	if !check(t) {
		t.Fatal("the unsigned dead drop's epoch was reported, or the signed one's was not")
	}
	t.Run("negative control", func(t *testing.T) {
		deaddrop.InspectEpochFirst(t)
		if check(t) {
			t.Fatal("with the epoch looked at first, the test saw nothing wrong")
		}
	})
}
