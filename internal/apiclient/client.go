// Package apiclient talks to a Chaff or CoverDrop API: signed forms out,
// published keys and dead drops in.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
)

// Client is an API client.
type Client struct {
	Base string // such as https://api.example.org (without /v1)
	HTTP *http.Client
}

// New returns a client for the API at base.
func New(base string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Error is an answer other than 2xx.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the API answered %d", e.Status)
	}
	return fmt.Sprintf("the API answered %d: %s", e.Status, e.Message)
}

// StatusOf returns the HTTP status of an API error, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Do sends a request with a JSON body and returns the answer's body.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the API at %s: %w", c.Base, unwrapURLError(err))
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return nil, errorFromBody(res.StatusCode, b)
	}
	return b, nil
}

// errorFromBody is the error of an answer other than 2xx: the message of
// a JSON body {"error": message}, or else the body itself.
func errorFromBody(status int, b []byte) *Error {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	if e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	return &Error{Status: status, Message: e.Error}
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

// SendForm signs body with sk for ttl and sends it.
func (c *Client) SendForm(ctx context.Context, method, path string, sk *keys.KeyPair, body any, ttl time.Duration) ([]byte, error) {
	signer, err := sk.SigningKey()
	if err != nil {
		return nil, err
	}
	f, err := form.Sign(body, signer, time.Now(), ttl)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, method, path, b)
}

// PublicKeys fetches GET /v1/public-keys.
func (c *Client) PublicKeys(ctx context.Context) (*keys.Hierarchy, error) {
	b, err := c.Do(ctx, "GET", "/v1/public-keys", nil)
	if err != nil {
		return nil, err
	}
	return keys.ParseHierarchy(b)
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
