package journalist

import (
	"context"
	"errors"
	"fmt"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
)

// rotateKeys publishes a new messaging key when the newest is more than a
// day old, and asks for a new identity key every four weeks through the
// API's queue (which the identity API serves); a queued identity key is
// taken into use once the API publishes it. New keys are saved before
// they are sent. Callers hold mu.
func (v *Vault) rotateKeys(ctx context.Context) error {
	now := v.now()
	if v.d.Identity.Latest(now) == nil {
		return fmt.Errorf("the identity key expired: ask the newsroom for a new setup bundle")
	}
	// A queued identity key: published yet?
	for _, k := range v.d.Identity {
		if k.Epoch != 0 {
			continue
		}
		got, err := v.api.JournalistIdentityKey(ctx, &k.Pair.Public)
		if err != nil {
			return err
		}
		if got == nil {
			continue
		}
		switch err := k.Published(got.Epoch, &got.Key, now); {
		case errors.Is(err, keys.ErrNotThisKey):
		case err != nil:
			return err
		default:
			v.logLocked("rotation", fmt.Sprintf("took the identity key the newsroom certified into use (epoch %d)", got.Epoch))
			if err := v.save(); err != nil {
				return err
			}
		}
	}
	id := v.d.Identity.Latest(now)
	if v.d.Identity.Forget(now) {
		if err := v.save(); err != nil {
			return err
		}
	}
	// A new identity key is queued once and then waited for: the identity
	// API certifies it, and the check above takes it into use.
	cand, created, err := v.d.Identity.Next(keys.JournalistIdentity, nil, now)
	if err != nil {
		return err
	}
	if created {
		v.logLocked("rotation", "made a new identity key for the newsroom to certify")
		if err := v.save(); err != nil {
			return err
		}
		if err := v.api.QueueIdentityKey(ctx, id.Pair, &cand.Pair.Public, form.DefaultTTL); err != nil {
			return fmt.Errorf("queueing an identity key rotation: %w", err)
		}
	}
	// Messaging keys: publish the candidate, making one when the newest
	// is a day old, in the vault's mode (X25519 or X-Wing, the same
	// cadence).
	if v.d.Messaging.Forget(now) {
		if err := v.save(); err != nil {
			return err
		}
	}
	cand, created, err = v.d.Messaging.NextIn(v.mode.name(), keys.JournalistMessaging, id.Pair, now)
	if err != nil || cand == nil {
		return err
	}
	if created {
		if err := v.save(); err != nil {
			return err
		}
	}
	epoch, err := v.api.UploadMessagingKey(ctx, apiclient.PostJournalistMessagingKey, id.Pair, cand.Pair.Public)
	if err != nil {
		return fmt.Errorf("publishing a messaging key: %w", err)
	}
	if err := cand.Published(epoch, nil, now); err != nil {
		return err
	}
	v.logLocked("rotation", fmt.Sprintf("published a new messaging key (epoch %d)", epoch))
	return v.save()
}

// RotateNow publishes a new messaging key at once (the CLI's rotate). Like
// every rotation, it is written in the vault's log.
func (v *Vault) RotateNow(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range v.d.Messaging {
		k.CreatedAt = k.CreatedAt.Add(-keys.JournalistMessaging.RotateAfter())
	}
	v.logLocked("rotation", "forced a new messaging key")
	return v.rotateKeys(ctx)
}
