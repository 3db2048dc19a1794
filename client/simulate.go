package client

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/chaffhq/chaff/apiclient"
)

// SimulateReader sends cover messages through api at exponentially
// distributed intervals of the given mean until ctx ends, as one install's
// background runs do, wrapped for the CoverNode keys in kc, in the
// protocol mode of kc's anchors (773 or 4,037 bytes). It keeps no state
// and never sends anything real: it is for demos and load, so that mix
// rounds fire.
func SimulateReader(ctx context.Context, api *apiclient.Client, kc *apiclient.KeyCache, mean time.Duration) {
	for {
		wait := time.Duration(rand.ExpFloat64() * float64(mean))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		v, err := kc.Verified(ctx)
		if err != nil {
			continue
		}
		c, err := keysIn(v).cover()
		if err != nil {
			continue
		}
		api.SendUserMessage(ctx, c)
	}
}
