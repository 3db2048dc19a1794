package journalist

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/internal/apiclient"
	"github.com/chaffhq/chaff/keys"
)

// rotateKeys publishes a new messaging key when the newest is more than a
// day old, and asks for a new identity key every four weeks through the
// API's queue (which the identity API serves); a queued identity key is
// taken into use once the API publishes it. New keys are saved before
// they are sent. Callers hold mu.
func (v *Vault) rotateKeys(ctx context.Context) error {
	now := v.now()
	id := latest(v.d.Identity, now, true)
	if id == nil {
		return fmt.Errorf("the identity key expired: ask the newsroom for a new setup bundle")
	}
	// A queued identity key: published yet?
	for _, k := range v.d.Identity {
		if k.Epoch != 0 {
			continue
		}
		b, err := v.api.Do(ctx, "GET", "/v1/public-keys/journalists/identity-public-key/"+k.Pair.Public.Hex(), nil)
		if err != nil {
			return err
		}
		var got *struct {
			Epoch uint64               `json:"epoch"`
			Key   keys.SignedPublicKey `json:"key"`
		}
		if json.Unmarshal(b, &got) == nil && got != nil && got.Key.Key == k.Pair.Public.Key && !got.Key.Expired(now) {
			sk, err := k.Pair.SigningKey()
			if err != nil {
				return err
			}
			k.Pair, k.Epoch = keys.NewSigningKeyPair(sk, &got.Key), got.Epoch
			if err := v.save(); err != nil {
				return err
			}
		}
	}
	id = latest(v.d.Identity, now, true)
	pending := false
	for _, k := range v.d.Identity {
		pending = pending || k.Epoch == 0
	}
	newestID := id
	for _, k := range v.d.Identity {
		if k.Epoch > 0 && k.CreatedAt.After(newestID.CreatedAt) {
			newestID = k
		}
	}
	if !pending && now.Sub(newestID.CreatedAt) >= keys.JournalistIdentity.RotateAfter() {
		sk, err := crypto.GenerateSigningKey()
		if err != nil {
			return err
		}
		cand := &OwnKey{Pair: keys.NewSigningKeyPair(sk, nil), CreatedAt: now}
		v.d.Identity = append(v.d.Identity, cand)
		if err := v.save(); err != nil {
			return err
		}
		signer, err := id.Pair.SigningKey()
		if err != nil {
			return err
		}
		inner, err := form.Sign(map[string]any{"new_pk": map[string]string{"key": cand.Pair.Public.Hex()}}, signer, time.Now(), form.DefaultTTL)
		if err != nil {
			return err
		}
		if _, err := v.api.SendForm(ctx, "POST", "/v1/public-keys/journalists/identity-public-key-form", id.Pair, map[string]any{"form": inner}, form.DefaultTTL); err != nil {
			return fmt.Errorf("queueing an identity key rotation: %w", err)
		}
	}
	// Messaging keys: drop expired ones, publish a candidate, make one
	// when the newest is a day old.
	var kept []*OwnKey
	var cand, newest *OwnKey
	for _, k := range v.d.Messaging {
		if k.Pair.Public.Expired(now) {
			continue
		}
		kept = append(kept, k)
		if k.Epoch == 0 {
			cand = k
		}
		if newest == nil || k.CreatedAt.After(newest.CreatedAt) {
			newest = k
		}
	}
	v.d.Messaging = kept
	if cand == nil && (newest == nil || now.Sub(newest.CreatedAt) >= keys.JournalistMessaging.RotateAfter()) {
		kp, err := keys.Generate(keys.JournalistMessaging, id.Pair, now)
		if err != nil {
			return err
		}
		cand = &OwnKey{Pair: kp, CreatedAt: now}
		v.d.Messaging = append(v.d.Messaging, cand)
		if err := v.save(); err != nil {
			return err
		}
	}
	if cand != nil {
		res, err := v.api.SendForm(ctx, "POST", "/v1/public-keys/journalists/messaging-public-key", id.Pair, cand.Pair.Public, form.DefaultTTL)
		if err != nil {
			return fmt.Errorf("publishing a messaging key: %w", err)
		}
		if cand.Epoch, err = apiclient.Epoch(res); err != nil {
			return err
		}
		return v.save()
	}
	return nil
}

// RotateNow publishes a new messaging key at once (the CLI's rotate).
func (v *Vault) RotateNow(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range v.d.Messaging {
		k.CreatedAt = k.CreatedAt.Add(-keys.JournalistMessaging.RotateAfter())
	}
	return v.rotateKeys(ctx)
}
