package journalist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/chaffhq/chaff/deaddrop"
)

// testOnlyWhenWaiting makes CheckPublished download only when a reply
// waits to be seen: the leak its test's negative control must catch.
var testOnlyWhenWaiting bool

// CheckPublished downloads the user dead drops after the last one it
// looked through and marks each sent reply found in one as published, at
// the dead drop's date: the CoverNode forwards a journalist's J2U message
// into a user dead drop byte for byte, so the journalist, who sealed it,
// recognises it by its hash, while for everyone else it is one more
// chunk among cover.
//
// The web UI calls it after every sync, on the sync's timer, whether or
// not a reply is waiting to be seen: the API sees the same download from
// every journalist at every sync, as it sees every reader's app download
// the same dead drops. It verifies each dead drop against the CoverNode
// identity keys the last sync kept and makes no other request.
func (v *Vault) CheckPublished(ctx context.Context) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ver, err := v.cachedVerified()
	if err != nil {
		return 0, err
	}
	waiting := map[string]*Message{}
	for _, c := range v.d.Conversations {
		for i := range c.Messages {
			if m := &c.Messages[i]; m.J2U != "" && m.Sent {
				waiting[m.J2U] = m
			}
		}
	}
	if testOnlyWhenWaiting && len(waiting) == 0 {
		return 0, nil
	}
	found := 0
	start := v.d.MaxUserDeadDropID
	for page := 0; page < MaxSyncPages; page++ {
		after := v.d.MaxUserDeadDropID
		b, err := v.api.DeadDropsAfter(ctx, deaddrop.User, after)
		if err != nil {
			return found, err
		}
		l, err := v.mode.parsePage(deaddrop.User, b)
		if err == nil {
			err = deaddrop.CheckPageIDs(after, dropIDs(l))
		}
		if err != nil {
			return found, fmt.Errorf("the API sent a page of user dead drops after id %d that cannot be right: %w", after, err)
		}
		for _, d := range l {
			if d.dd.Verify(ver.coverNodeIdentityKeys()) != nil {
				continue
			}
			for i := range d.dd.Chunks() {
				sum := sha256.Sum256(d.dd.Chunk(i))
				if m := waiting[hex.EncodeToString(sum[:])]; m != nil {
					m.PublishedAt, m.J2U = d.CreatedAt, ""
					found++
				}
			}
			v.d.MaxUserDeadDropID = d.ID
		}
		if len(l) == 0 || v.d.MaxUserDeadDropID == after {
			break
		}
	}
	if found == 0 && v.d.MaxUserDeadDropID == start {
		return 0, nil
	}
	return found, v.save()
}
