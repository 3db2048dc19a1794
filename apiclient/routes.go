package apiclient

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/chaffhq/chaff/deaddrop"
)

// Route is one endpoint of the API, the ingest or the identity API: a
// method and a path, which may hold {name} parameters. The server's
// handlers are registered from the same values the client sends to, so
// that the two cannot drift apart.
type Route struct {
	Method string
	Path   string
}

// Pattern is the route as a net/http ServeMux pattern ("GET /v1/status").
func (r Route) Pattern() string { return r.Method + " " + r.Path }

func (r Route) String() string { return r.Pattern() }

// With returns the route with its {name} parameters replaced, in order, by
// values (path-escaped).
func (r Route) With(values ...string) Route {
	for _, v := range values {
		i := strings.Index(r.Path, "{")
		j := strings.Index(r.Path, "}")
		if i < 0 || j < i {
			break
		}
		r.Path = r.Path[:i] + url.PathEscape(v) + r.Path[j+1:]
	}
	return r
}

// Query returns the route with a query string.
func (r Route) Query(q url.Values) Route {
	r.Path += "?" + q.Encode()
	return r
}

// The API's routes (SPEC §5.4), CoverDrop's paths.
var (
	Healthcheck                   = Route{http.MethodGet, "/v1/healthcheck"}
	GetStatus                     = Route{http.MethodGet, "/v1/status"}
	PostStatus                    = Route{http.MethodPost, "/v1/status"}
	PostAdminKey                  = Route{http.MethodPost, "/v1/status/public-key"}
	PostLogging                   = Route{http.MethodPost, "/v1/logging"}
	GetPublicKeys                 = Route{http.MethodGet, "/v1/public-keys"}
	PostJournalistProfile         = Route{http.MethodPost, "/v1/public-keys/journalists"}
	PatchJournalistProfile        = Route{http.MethodPatch, "/v1/public-keys/journalists/update-profile"}
	PatchJournalistStatus         = Route{http.MethodPatch, "/v1/public-keys/journalists/update-status"}
	DeleteJournalist              = Route{http.MethodDelete, "/v1/public-keys/journalists/delete"}
	PostCoverNodeProvisioningKey  = Route{http.MethodPost, "/v1/public-keys/covernode/provisioning-public-key"}
	PostJournalistProvisioningKey = Route{http.MethodPost, "/v1/public-keys/journalists/provisioning-public-key"}
	PostCoverNodeIdentityKey      = Route{http.MethodPost, "/v1/public-keys/covernode/identity-public-key"}
	PostCoverNodeMessagingKey     = Route{http.MethodPost, "/v1/public-keys/covernode/messaging-public-key"}
	PostJournalistIdentityKey     = Route{http.MethodPost, "/v1/public-keys/journalists/identity-public-key"}
	GetJournalistIdentityKey      = Route{http.MethodGet, "/v1/public-keys/journalists/identity-public-key/{pk}"}
	PostIdentityKeyForm           = Route{http.MethodPost, "/v1/public-keys/journalists/identity-public-key-form"}
	GetIdentityKeyForms           = Route{http.MethodGet, "/v1/public-keys/journalists/identity-public-key-form"}
	PostJournalistMessagingKey    = Route{http.MethodPost, "/v1/public-keys/journalists/messaging-public-key"}
	PostJournalistMessage         = Route{http.MethodPost, "/v1/journalist-messages"}
	PostBackupSigningKey          = Route{http.MethodPost, "/v1/backups/signing-public-key"}
	PostBackupEncryptionKey       = Route{http.MethodPost, "/v1/backups/encryption-public-key"}
)

// GetReaderPublicKeys is Chaff's own route, served by a pq deployment
// only (docs/PQ.md §10.2): the published keys as readers need them
// (keys.Hierarchy.ReadersView), about a twelfth of GET /v1/public-keys
// for a newsroom of 20 journalists. Every pq reader fetches this and
// never the whole hierarchy, so what a reader asks for says nothing of
// it.
var GetReaderPublicKeys = Route{http.MethodGet, "/v1/public-keys/readers"}

// The ingest's routes (upstream's u2j-appender), served without /v1 on the
// ingest's own host; the API serves PostUserMessage too when it takes the
// ingest in.
var (
	IngestHealthcheck = Route{http.MethodGet, "/healthcheck"}
	PostUserMessage   = Route{http.MethodPost, "/user/messages"}
)

// The identity API's routes (newsroom side): it serves Healthcheck and
// GetPublicKeys too.
var RotateCoverNodeIdentityKey = Route{http.MethodPost, "/v1/public-keys/covernode/me/rotate-id-key"}

// DeadDropRoutes are the routes of one kind of dead drop.
type DeadDropRoutes struct {
	Get, Post, RecentSummary Route
}

// DeadDrops returns the routes of a kind of dead drop:
// /v1/user/dead-drops for deaddrop.User, /v1/journalist/dead-drops for
// deaddrop.Journalist.
func DeadDrops(kind deaddrop.Kind) DeadDropRoutes {
	p := "/v1/user/dead-drops"
	if kind == deaddrop.Journalist {
		p = "/v1/journalist/dead-drops"
	}
	return DeadDropRoutes{
		Get:           Route{http.MethodGet, p},
		Post:          Route{http.MethodPost, p},
		RecentSummary: Route{http.MethodGet, p + "/recent-summary"},
	}
}
