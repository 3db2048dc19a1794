package apiclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/chaffhq/chaff/deaddrop"
)

// doerFunc is a host's own HTTP stack.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func answer(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader([]byte(body))), Header: http.Header{}}
}

// A client sends through the Doer its host supplies, to the routes of the
// table, and reads the answers it gets back.
func TestHostDoer(t *testing.T) {
	var got []string
	c := NewWith("https://api.example.org/", doerFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.String()+" "+string(b))
		return answer(200, `{"dead_drops":[]}`), nil
	}))
	ctx := context.Background()
	if err := c.At("https://ingest.example.org").SendUserMessage(ctx, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeadDropsAfter(ctx, deaddrop.Journalist, 41); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST https://ingest.example.org/user/messages "AQID"`,
		`GET https://api.example.org/v1/journalist/dead-drops?ids_greater_than=41 `,
	}
	if len(got) != len(want) {
		t.Fatalf("sent %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// Answers are matched by status and upstream's text, not by reading a
// substring: a 404 for an unknown journalist is not ErrSignerNotFound.
func TestErrorsByCode(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		signer bool
	}{
		{404, `{"error":"` + MsgSignerNotFound + `"}`, true},
		{404, `{"error":"journalist \"bob\" is not registered"}`, false},
		{401, `{"error":"` + MsgSignerNotFound + `"}`, false},
	} {
		c := NewWith("http://x", doerFunc(func(*http.Request) (*http.Response, error) { return answer(tc.status, tc.body), nil }))
		_, err := c.Do(context.Background(), DeleteJournalist, nil)
		if errors.Is(err, ErrSignerNotFound) != tc.signer || StatusOf(err) != tc.status {
			t.Errorf("%d %s: errors.Is = %v, status %d", tc.status, tc.body, !tc.signer, StatusOf(err))
		}
	}
}

func TestRouteWith(t *testing.T) {
	r := GetJournalistIdentityKey.With("ab/cd")
	if r.Path != "/v1/public-keys/journalists/identity-public-key/ab%2Fcd" || r.Method != http.MethodGet {
		t.Fatalf("%s", r)
	}
}
