// Package apiclient talks to a Chaff or CoverDrop API, its ingest and the
// identity API: signed forms out, published keys and dead drops in. Its
// routes and bodies are the ones the server registers and decodes, so the
// two cannot drift apart; it imports nothing internal, so that a news
// app's Go code can embed it, and it sends through a Doer the host may
// supply (its own HTTP stack), net/http by default.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chaffhq/chaff/deaddrop"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// Doer sends one HTTP request; *http.Client is one. A host that sends with
// its own HTTP stack (a mobile app's) supplies its own.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client is an API client.
type Client struct {
	Base string // such as https://api.example.org (without /v1)
	HTTP Doer
	// Now dates the signed forms the client sends (time.Now when nil).
	Now func() time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// DefaultTimeout bounds each request of a client made by New.
const DefaultTimeout = 30 * time.Second

// maxAnswer caps the body of an answer that is read.
const maxAnswer = 64 << 20

// New returns a client for the API at base, sending through net/http.
func New(base string) *Client {
	return NewWith(base, &http.Client{Timeout: DefaultTimeout})
}

// NewWith returns a client for the API at base, sending through d.
func NewWith(base string, d Doer) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: d}
}

// At returns a client for another host (such as the ingest's) that sends
// through the same Doer.
func (c *Client) At(base string) *Client {
	a := NewWith(base, c.HTTP)
	a.Now = c.Now
	return a
}

// Do sends a request with a JSON body to route and returns the answer's
// body; an answer other than 2xx is an *Error.
func (c *Client) Do(ctx context.Context, route Route, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, route.Method, c.Base+route.Path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the API at %s: %w", c.Base, unwrapURLError(err))
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return nil, errorFromBody(res.StatusCode, b)
	}
	return b, nil
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// SendForm signs body with sk for ttl and sends it to route.
func (c *Client) SendForm(ctx context.Context, route Route, sk *keys.KeyPair, body any, ttl time.Duration) ([]byte, error) {
	signer, err := sk.SigningKey()
	if err != nil {
		return nil, err
	}
	f, err := form.Sign(body, signer, c.now(), ttl)
	if err != nil {
		return nil, err
	}
	return c.SendSigned(ctx, route, f)
}

// SendSigned sends a form signed beforehand (such as a setup bundle's).
func (c *Client) SendSigned(ctx context.Context, route Route, f *form.Form) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, route, b)
}

// getJSON fetches route and decodes its answer into v.
func (c *Client) getJSON(ctx context.Context, route Route, v any) error {
	b, err := c.Do(ctx, route, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("the answer of %s: %w", route.Path, err)
	}
	return nil
}

// PublicKeysBody fetches the body of GET /v1/public-keys, unparsed.
func (c *Client) PublicKeysBody(ctx context.Context) ([]byte, error) {
	return c.Do(ctx, GetPublicKeys, nil)
}

// ReaderPublicKeysBody fetches the body of GET /v1/public-keys/readers
// (pq deployments only), unparsed.
func (c *Client) ReaderPublicKeysBody(ctx context.Context) ([]byte, error) {
	return c.Do(ctx, GetReaderPublicKeys, nil)
}

// ReaderKeys fetches and parses the published keys as a reader of a
// deployment in mode fetches them: the readers' view in keys.ModePQ
// (GET /v1/public-keys/readers), the whole hierarchy otherwise. It does
// not verify them: see keys.Verify.
func (c *Client) ReaderKeys(ctx context.Context, mode string) (*keys.Hierarchy, error) {
	if mode != keys.ModePQ {
		return c.PublicKeys(ctx)
	}
	b, err := c.ReaderPublicKeysBody(ctx)
	if err != nil {
		return nil, err
	}
	return keys.ParseHierarchy(b)
}

// PublicKeys fetches and parses GET /v1/public-keys. It does not verify
// them: see keys.Verify.
func (c *Client) PublicKeys(ctx context.Context) (*keys.Hierarchy, error) {
	b, err := c.PublicKeysBody(ctx)
	if err != nil {
		return nil, err
	}
	return keys.ParseHierarchy(b)
}

// StatusBody fetches the body of GET /v1/status, unparsed.
func (c *Client) StatusBody(ctx context.Context) ([]byte, error) {
	return c.Do(ctx, GetStatus, nil)
}

// Status fetches the system status.
func (c *Client) Status(ctx context.Context) (*StatusEvent, error) {
	var ev StatusEvent
	return &ev, c.getJSON(ctx, GetStatus, &ev)
}

// DeadDropsAfter fetches the page of dead drops of kind after id, as the
// body the API sent (parse it with deaddrop.ParseList).
func (c *Client) DeadDropsAfter(ctx context.Context, kind deaddrop.Kind, after int64) ([]byte, error) {
	return c.Do(ctx, DeadDrops(kind).Get.Query(url.Values{"ids_greater_than": {strconv.FormatInt(after, 10)}}), nil)
}

// PostDeadDrop publishes a signed dead drop (a CoverNode's).
func (c *Client) PostDeadDrop(ctx context.Context, kind deaddrop.Kind, body []byte) error {
	_, err := c.Do(ctx, DeadDrops(kind).Post, body)
	return err
}

// SendUserMessage sends a reader's U2C message to the ingest (c's base is
// the ingest's host, or the API's when it takes the ingest in).
func (c *Client) SendUserMessage(ctx context.Context, msg []byte) error {
	body, err := json.Marshal(protocol.EncodeBase64(msg))
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, PostUserMessage, body)
	return err
}

// SendJournalistMessage sends a journalist's J2C message, signed by their
// identity key.
func (c *Client) SendJournalistMessage(ctx context.Context, id *keys.KeyPair, msg []byte) error {
	_, err := c.SendForm(ctx, PostJournalistMessage, id, protocol.EncodeBase64(msg), form.DefaultTTL)
	return err
}

// UploadKey uploads a key certified by signer to route, one of
// PostCoverNodeProvisioningKey, PostJournalistProvisioningKey,
// PostAdminKey, PostBackupSigningKey or PostBackupEncryptionKey.
func (c *Client) UploadKey(ctx context.Context, route Route, signer *keys.KeyPair, k keys.SignedPublicKey) error {
	_, err := c.SendForm(ctx, route, signer, k, form.BundleTTL)
	return err
}

// UploadMessagingKey publishes an owner's new messaging key, signed by
// their identity key, to route (PostCoverNodeMessagingKey or
// PostJournalistMessagingKey), and returns its epoch.
func (c *Client) UploadMessagingKey(ctx context.Context, route Route, id *keys.KeyPair, k keys.SignedPublicKey) (uint64, error) {
	return epochOf(c.SendForm(ctx, route, id, k, form.DefaultTTL))
}

// CoverNodeIdentityForm signs a CoverNode identity key's registration with
// its provisioning key, valid for ttl (a setup bundle's for
// form.CoverNodeIdentityTTL), to be sent with RegisterCoverNodeIdentity.
func CoverNodeIdentityForm(prov *keys.KeyPair, body CoverNodeIdentityKey, now time.Time, ttl time.Duration) (*form.Form, error) {
	sk, err := prov.SigningKey()
	if err != nil {
		return nil, err
	}
	return form.Sign(body, sk, now, ttl)
}

// RegisterCoverNodeIdentity sends a signed CoverNodeIdentityKey form and
// returns the key's epoch.
func (c *Client) RegisterCoverNodeIdentity(ctx context.Context, f *form.Form) (uint64, error) {
	return epochOf(c.SendSigned(ctx, PostCoverNodeIdentityKey, f))
}

// RegisterJournalist registers (or overwrites) a journalist's profile.
func (c *Client) RegisterJournalist(ctx context.Context, prov *keys.KeyPair, p NewJournalist) error {
	_, err := c.SendForm(ctx, PostJournalistProfile, prov, p, form.DefaultTTL)
	return err
}

// RegisterJournalistIdentity publishes a journalist's identity key and
// returns its epoch.
func (c *Client) RegisterJournalistIdentity(ctx context.Context, prov *keys.KeyPair, body JournalistIdentityKey) (uint64, error) {
	return epochOf(c.SendForm(ctx, PostJournalistIdentityKey, prov, body, form.DefaultTTL))
}

// UpdateJournalist changes a journalist's profile.
func (c *Client) UpdateJournalist(ctx context.Context, prov *keys.KeyPair, u ProfileUpdate) error {
	_, err := c.SendForm(ctx, PatchJournalistProfile, prov, u, form.DefaultTTL)
	return err
}

// RemoveJournalist unpublishes a journalist's profile and keys.
func (c *Client) RemoveJournalist(ctx context.Context, prov *keys.KeyPair, id string) error {
	_, err := c.SendForm(ctx, DeleteJournalist, prov, id, form.DefaultTTL)
	return err
}

// SetStatus sets the system status, signed by an admin key.
func (c *Client) SetStatus(ctx context.Context, admin *keys.KeyPair, s SystemStatus) error {
	_, err := c.SendForm(ctx, PostStatus, admin, StatusUpdate{Status: s}, form.DefaultTTL)
	return err
}

// JournalistIdentityKey returns the published journalist identity key pk
// with its epoch, or nil when the API does not publish it.
func (c *Client) JournalistIdentityKey(ctx context.Context, pk *keys.SignedPublicKey) (*KeyEpoch, error) {
	var out *KeyEpoch
	return out, c.getJSON(ctx, GetJournalistIdentityKey.With(pk.Hex()), &out)
}

// QueueIdentityKey asks, through the API's queue, for a journalist's new
// identity key newPK to be certified: the request is signed twice by the
// current identity key id, the inner form valid for ttl.
func (c *Client) QueueIdentityKey(ctx context.Context, id *keys.KeyPair, newPK *keys.SignedPublicKey, ttl time.Duration) error {
	sk, err := id.SigningKey()
	if err != nil {
		return err
	}
	inner, err := form.Sign(NewKeyFor(newPK), sk, c.now(), ttl)
	if err != nil {
		return err
	}
	_, err = c.SendForm(ctx, PostIdentityKeyForm, id, IdentityKeyForm{Form: inner}, form.DefaultTTL)
	return err
}

// QueuedIdentityKeys lists the queued rotation forms that have not
// expired.
func (c *Client) QueuedIdentityKeys(ctx context.Context) ([]QueuedIdentityKeyForm, error) {
	var q []QueuedIdentityKeyForm
	return q, c.getJSON(ctx, GetIdentityKeyForms, &q)
}

// RotateCoverNodeIdentity asks the identity API (c's base) to certify and
// publish a CoverNode's new identity key newPK, signed by its current one.
func (c *Client) RotateCoverNodeIdentity(ctx context.Context, current *keys.KeyPair, newPK *keys.SignedPublicKey) (*KeyEpoch, error) {
	res, err := c.SendForm(ctx, RotateCoverNodeIdentityKey, current, NewKeyFor(newPK), form.DefaultTTL)
	if err != nil {
		return nil, err
	}
	var out KeyEpoch
	if err := json.Unmarshal(res, &out); err != nil || out.Key.Key != newPK.Key || out.Epoch == 0 {
		return nil, fmt.Errorf("the identity API answered %s", res)
	}
	return &out, nil
}

func epochOf(b []byte, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	return Epoch(b)
}

// Epoch parses the answer of a key upload. Epochs start at 1: callers
// keep 0 for a key not yet published, so a 0 (or null) answer is an error.
func Epoch(b []byte) (uint64, error) {
	var e uint64
	if err := json.Unmarshal(b, &e); err != nil || e == 0 {
		return 0, fmt.Errorf("the API answered %q, not an epoch", b)
	}
	return e, nil
}
