package journalist

import (
	"context"
	"errors"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/keys"
)

// StandIn sends a journalist's cover messages on a fixed cadence on their
// behalf while their app does not (chaff up's demo journalists, whose web
// UI sends only while unlocked), so that the journalist's rate of messages
// does not change with the app's state. It holds the identity key the
// vault held when it was made, and nothing else of the vault.
type StandIn struct {
	id   *keys.KeyPair
	mode mode
	kc   *apiclient.KeyCache
}

// NewStandIn takes the latest identity key from the vault at path, which
// it opens and closes; it sends through kc.API with the keys in kc.
func NewStandIn(path, passphrase string, kc *apiclient.KeyCache) (*StandIn, error) {
	v, err := Open(path, passphrase)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	v.mu.Lock()
	defer v.mu.Unlock()
	k := v.d.Identity.Latest(v.now())
	if k == nil {
		return nil, errors.New("the identity key has expired: ask the newsroom for a new setup bundle")
	}
	return &StandIn{id: k.Pair, mode: v.mode, kc: kc}, nil
}

// Run sends one cover message every interval until ctx ends, standing
// aside whenever appSends reports that the journalist's app is sending
// itself.
func (s *StandIn) Run(ctx context.Context, every time.Duration, appSends func() bool) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if appSends() {
			continue
		}
		// The cover of the vault's mode, and only from keys of that mode.
		ver, err := s.kc.Verified(ctx)
		if err != nil || ver.Mode != s.mode.name() {
			continue
		}
		c, err := s.mode.published(ver).sealCoverJ2C()
		if err != nil {
			continue
		}
		s.kc.API.SendJournalistMessage(ctx, s.id, c)
	}
}
