package apiclient

import (
	"context"
	"sync"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
)

// KeyCache fetches the published keys at most every MaxAge, as a CDN in
// front of the API would serve them, and verifies them from the anchors on
// every use. It fetches them as readers do (Client.ReaderKeys in the
// anchors' mode): for simulated readers. It is safe for concurrent use.
type KeyCache struct {
	API     *Client
	Anchors []keys.SignedPublicKey
	MaxAge  time.Duration // 30 seconds if zero

	mu sync.Mutex
	h  *keys.Hierarchy
	at time.Time
}

// Verified returns the published keys, verified now.
func (c *KeyCache) Verified(ctx context.Context) (*keys.Verified, error) {
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = 30 * time.Second
	}
	c.mu.Lock()
	h := c.h
	if time.Since(c.at) > maxAge {
		h = nil
	}
	c.mu.Unlock()
	if h == nil {
		var err error
		mode, err := keys.AnchorsMode(c.Anchors)
		if err != nil {
			return nil, err
		}
		if h, err = c.API.ReaderKeys(ctx, mode); err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.h, c.at = h, time.Now()
		c.mu.Unlock()
	}
	return keys.Verify(h, c.Anchors, time.Now())
}

// CoverNodeKeys returns the CoverNode messaging keys to wrap messages for.
func (c *KeyCache) CoverNodeKeys(ctx context.Context) ([]*crypto.PublicKey, error) {
	v, err := c.Verified(ctx)
	if err != nil {
		return nil, err
	}
	return v.CoverNodeKeys()
}
