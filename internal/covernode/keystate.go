package covernode

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/pq"
)

// ownKey is one of the node's key pairs with what the API said of it.
type ownKey = keys.OwnKey

// keyState is the node's keys, kept in the state directory sealed under
// the state key (keys.sealed, 0600).
type keyState struct {
	mu          sync.RWMutex
	path        string
	sealKey     *[crypto.SecretBoxKeySize]byte
	CoverNodeID string    `json:"covernode_id"`
	Identity    keys.Ring `json:"identity"`
	Messaging   keys.Ring `json:"messaging"`
	LogKey      []byte    `json:"log_key"`
	// Mode is the protocol mode of the node's messaging keys: empty for
	// coverdrop (as every key state of earlier versions), keys.ModePQ for
	// X-Wing keys. It is set on the first start and never changes.
	Mode string `json:"mode,omitempty"`

	// x25519Keys and kemKeys are the messaging keys as the openers use
	// them, parsed from their secrets once per key (parsedKeys).
	x25519Keys parsedKeys[*crypto.PrivateKey]
	kemKeys    parsedKeys[*pq.PrivateKey]
}

// parsedKeys keeps the node's unexpired messaging keys parsed, so that a
// batch's opener costs no public-key work. Parsing is expensive next to
// opening: an X-Wing seed's expansion (SHAKE256, ML-KEM-768 key
// generation, an X25519 base-point multiplication) takes about as long as
// 1.4 ML-KEM-768 decapsulations (pq.BenchmarkOpenU2CBreakdown,
// "seed-expand-µs"), an X25519 key one base-point multiplication; every
// batch of both directions used to pay it for every key, and a quiet
// stream's batches hold a message or two. Entries are keyed by the pair:
// a KeyPair's secret never changes once made (the key state is decoded
// only when loaded). It holds the keys the last batch was given and no
// others, and forgets them all when the node forgets expired keys.
type parsedKeys[K any] struct {
	mu sync.Mutex
	m  map[*keys.KeyPair]K
}

// get returns the decryption keys of r at now, newest first
// (keys.DecryptionKeysOf), parsing with parse only the pairs it has not
// parsed before.
func (c *parsedKeys[K]) get(r keys.Ring, now time.Time, parse func(*keys.KeyPair) (K, error)) []K {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[*keys.KeyPair]K, len(r))
	out := keys.DecryptionKeysOf(r, now, func(kp *keys.KeyPair) (K, error) {
		k, ok := c.m[kp]
		if !ok {
			var err error
			if k, err = parse(kp); err != nil {
				return k, err
			}
		}
		next[kp] = k
		return k, nil
	})
	c.m = next
	return out
}

// forget drops every parsed key.
func (c *parsedKeys[K]) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

// Files of the key state in the state directory: sealed (SealedKeysFile
// exists once a node has started), and the plaintext of earlier versions,
// which loadKeyState seals and removes.
const (
	SealedKeysFile = "keys.sealed"
	plainKeysFile  = "keys.json"
)

// ErrWrongStateKey is returned when the state key does not open the key
// state.
var ErrWrongStateKey = errors.New("covernode: the state key does not open " + SealedKeysFile + ": is it this CoverNode's state key?")

// loadKeyState reads the key state sealed under key. A plaintext key state
// left by an earlier version is sealed and then removed (migrated reports
// it).
func loadKeyState(dir string, key *[crypto.SecretBoxKeySize]byte) (ks *keyState, migrated bool, err error) {
	if key == nil {
		return nil, false, errors.New("covernode: no state key: the node's keys are kept sealed under a key kept apart from the state directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	ks = &keyState{path: filepath.Join(dir, SealedKeysFile), sealKey: key}
	box, err := os.ReadFile(ks.path)
	if err == nil {
		b, err := crypto.OpenSecret(key, box)
		if err != nil {
			return nil, false, ErrWrongStateKey
		}
		if err := ks.decode(b); err != nil {
			return nil, false, fmt.Errorf("%s: %w", ks.path, err)
		}
		return ks, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	plain := filepath.Join(dir, plainKeysFile)
	b, err := os.ReadFile(plain)
	if errors.Is(err, os.ErrNotExist) {
		return ks, false, nil // a new node
	}
	if err != nil {
		return nil, false, err
	}
	if err := ks.decode(b); err != nil {
		return nil, false, fmt.Errorf("%s: %w", plain, err)
	}
	if err := ks.save(); err != nil {
		return nil, false, err
	}
	return ks, true, os.Remove(plain)
}

// decode reads the JSON of a key state (opened, or the plaintext of an
// earlier version) into ks. A key without its key pair, or a log key of
// the wrong size, is an error rather than a panic or a weak key later.
func (ks *keyState) decode(b []byte) error {
	if err := json.Unmarshal(b, ks); err != nil {
		return err
	}
	for _, list := range []keys.Ring{ks.Identity, ks.Messaging} {
		for _, k := range list {
			if k == nil || k.Pair == nil {
				return errors.New("a key without its key pair")
			}
		}
	}
	if n := len(ks.LogKey); n != 0 && n != crypto.SecretBoxKeySize {
		return fmt.Errorf("the log key is %d bytes, want %d", n, crypto.SecretBoxKeySize)
	}
	return nil
}

// save seals and writes the key state atomically. Callers hold mu.
func (ks *keyState) save() error {
	b, err := json.Marshal(ks)
	if err != nil {
		return err
	}
	box, err := crypto.SealSecret(ks.sealKey, b)
	if err != nil {
		return err
	}
	return atomicfile.Write(ks.path, box, 0o600)
}

// mode returns the protocol mode of the node's keys. Callers hold mu.
func (ks *keyState) mode() string {
	if ks.Mode == "" {
		return keys.ModeCoverDrop
	}
	return ks.Mode
}

// setup makes sure the node has a published identity key (from the setup
// bundle on first start) and a log key, and that its keys are of the
// deployment's protocol mode: a new node takes it, a node with keys of
// another mode refuses to start.
func (ks *keyState) setup(ctx context.Context, api *apiclient.Client, bundlePath, mode string) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if err := keys.CheckMode(mode); err != nil {
		return err
	}
	if len(ks.Identity) == 0 && len(ks.Messaging) == 0 {
		ks.Mode = ""
		if mode != keys.ModeCoverDrop {
			ks.Mode = mode
		}
	} else if ks.mode() != mode {
		return fmt.Errorf("the key state in %s is a %s CoverNode's, and the deployment (its organisation key) is in %s mode: a node speaks its deployment's mode only", filepath.Dir(ks.path), ks.mode(), mode)
	}
	if len(ks.LogKey) == 0 {
		ks.LogKey = make([]byte, crypto.SecretBoxKeySize)
		if _, err := rand.Read(ks.LogKey); err != nil {
			return err
		}
	}
	if len(ks.Identity) == 0 {
		if bundlePath == "" {
			return errors.New("this CoverNode has no identity key yet: give it the setup bundle from chaff admin covernode add (--bundle FILE)")
		}
		bundle, err := keys.ReadCoverNodeBundle(bundlePath)
		if err != nil {
			return err
		}
		epoch, err := api.RegisterCoverNodeIdentity(ctx, bundle.Form)
		switch {
		case err == nil:
		case apiclient.StatusOf(err) == 409:
			// chaff admin already registered it: its epoch is at most the
			// hierarchy's newest, which is a safe bound (SPEC §6.4).
			h, herr := api.PublicKeys(ctx)
			if herr != nil {
				return herr
			}
			epoch = uint64(h.MaxEpoch)
		default:
			return fmt.Errorf("registering the identity key: %w", err)
		}
		ks.CoverNodeID = bundle.CoverNodeID
		ks.Identity = append(ks.Identity, &ownKey{Pair: bundle.IdentityKey, Epoch: epoch, CreatedAt: time.Now()})
	}
	if err := ks.save(); err != nil {
		return err
	}
	return ks.deleteBundle(bundlePath)
}

// deleteBundle deletes the setup bundle once its identity key is sealed in
// the key state (on the first start, or on a later one given a bundle
// left behind): it holds the identity secret key in plaintext. A node
// whose bundle cannot be deleted refuses to run, saying so. A bundle whose
// key the node does not hold is not this node's and is left alone. Callers
// hold mu.
func (ks *keyState) deleteBundle(path string) error {
	if path == "" || testHookKeepBundle {
		return nil
	}
	bundle, err := keys.ReadCoverNodeBundle(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range ks.Identity {
		if k.Pair.Public.Equal(&bundle.IdentityKey.Public) {
			return keys.DeleteBundle(path)
		}
	}
	return fmt.Errorf("%s is the setup bundle of another CoverNode identity than this node's (%s)", path, ks.CoverNodeID)
}

// testHookKeepBundle leaves setup bundles behind, as nodes did before;
// set only by tests (negative controls).
var testHookKeepBundle bool

// rotateMessaging creates and publishes a messaging key when there is
// none, or the newest is more than a week old (SPEC §6.1), and forgets
// expired ones. A new key is saved as a candidate before it is posted, so
// that a crash in between never leaves a published key the node lacks;
// the node decrypts with candidates too, and posts them again on start.
func (ks *keyState) rotateMessaging(ctx context.Context, api *apiclient.Client, now time.Time) (bool, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	id := ks.Identity.Latest(now)
	if id == nil {
		return false, errors.New("the CoverNode's identity keys have all expired: rotate it with chaff identity-api")
	}
	ks.forgetExpired(now)
	candidate, created, err := ks.Messaging.NextIn(ks.mode(), keys.CoverNodeMessaging, id.Pair, now)
	if err != nil {
		return false, err
	}
	if candidate == nil || created {
		if err := ks.save(); err != nil || candidate == nil {
			return false, err
		}
	}
	epoch, err := api.UploadMessagingKey(ctx, apiclient.PostCoverNodeMessagingKey, id.Pair, candidate.Pair.Public)
	if err != nil {
		return false, fmt.Errorf("publishing a messaging key: %w", err)
	}
	if err := candidate.Published(epoch, nil, now); err != nil {
		return false, err
	}
	return true, ks.save()
}

// forgetExpired drops expired identity and messaging keys (keys.Ring's
// Forget). Callers hold mu.
func (ks *keyState) forgetExpired(now time.Time) (dropped bool) {
	id, msg := ks.Identity.Forget(now), ks.Messaging.Forget(now)
	if msg {
		ks.x25519Keys.forget()
		ks.kemKeys.forget()
	}
	return id || msg
}

// id is the node's CoverNode id.
func (ks *keyState) id() string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.CoverNodeID
}

// decryptionKeys returns every unexpired messaging key, newest first,
// each parsed once (parsedKeys).
func (ks *keyState) decryptionKeys(now time.Time) []*crypto.PrivateKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.x25519Keys.get(ks.Messaging, now, (*keys.KeyPair).PrivateKey)
}

// signer returns the published identity key to sign with, and the epoch
// a journalist dead drop signed with it carries: that of the newest of it
// and the latest published messaging key.
func (ks *keyState) signer(now time.Time) (*crypto.SigningKey, uint64, error) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	id, msg := ks.Identity.Latest(now), ks.Messaging.Latest(now)
	if id == nil || msg == nil {
		return nil, 0, errors.New("covernode: no valid published identity or messaging key")
	}
	sk, err := id.Pair.SigningKey()
	if err != nil {
		return nil, 0, err
	}
	return sk, max(id.Epoch, msg.Epoch), nil
}

// messagingKey returns the latest published X25519 messaging key, which
// coverdrop mode's C2J messages are sent from.
func (ks *keyState) messagingKey(now time.Time) (*crypto.PrivateKey, error) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	msg := ks.Messaging.Latest(now)
	if msg == nil {
		return nil, errors.New("covernode: no valid published messaging key")
	}
	return msg.Pair.PrivateKey()
}

// kemDecryptionKeys returns every unexpired X-Wing messaging key (pq
// mode), newest first, each expanded from its seed once (parsedKeys).
func (ks *keyState) kemDecryptionKeys(now time.Time) []*pq.PrivateKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.kemKeys.get(ks.Messaging, now, (*keys.KeyPair).KEMPrivateKey)
}

// rotateIdentity replaces the identity key through the identity API when
// the newest is more than two weeks old (SPEC §6.1). The new key is saved
// (unsigned) before it is sent, and sent again after a crash.
func (ks *keyState) rotateIdentity(ctx context.Context, identityAPI *apiclient.Client, now time.Time) (bool, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	current := ks.Identity.Latest(now)
	if current == nil {
		return false, errors.New("the CoverNode's identity keys have all expired: it needs a new setup bundle")
	}
	if ks.forgetExpired(now) {
		if err := ks.save(); err != nil {
			return false, err
		}
	}
	candidate, created, err := ks.Identity.Next(keys.CoverNodeIdentity, nil, now)
	if err != nil || candidate == nil {
		return false, err
	}
	if created {
		if err := ks.save(); err != nil {
			return false, err
		}
	}
	out, err := identityAPI.RotateCoverNodeIdentity(ctx, current.Pair, &candidate.Pair.Public)
	if err != nil {
		return false, fmt.Errorf("rotating the identity key: %w", err)
	}
	if err := candidate.Published(out.Epoch, &out.Key, now); err != nil {
		return false, fmt.Errorf("the identity API answered epoch %d: %w", out.Epoch, err)
	}
	return true, ks.save()
}
