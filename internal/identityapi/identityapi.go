// Package identityapi is the newsroom-side service that certifies rotated
// identity keys (SPEC §5.7): CoverNodes ask it directly; journalists queue
// their requests at the API, which it polls. It holds the provisioning
// keys, so it runs on the newsroom's side, never on the cloud's.
package identityapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/form"
	"github.com/chaffhq/chaff/keys"
)

// Config configures the service.
type Config struct {
	API     *apiclient.Client
	Anchors []keys.SignedPublicKey
	// CoverNodeProvisioning and JournalistProvisioning return the latest
	// provisioning key pairs (read again on each use, so that renewed keys
	// are picked up).
	CoverNodeProvisioning, JournalistProvisioning func() (*keys.KeyPair, error)
	// CoverNodeRetired reports whether the newsroom retired a CoverNode
	// (newsroom.RemoveCoverNode; read again on each rotation): its next
	// identity key is not certified. Nil retires none.
	CoverNodeRetired func(id string) (bool, error)
	Logger           *slog.Logger
	Now              func() time.Time
}

// Server is the identity API.
type Server struct{ cfg Config }

// New returns the service.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{cfg: cfg}
}

// Handler serves the identity API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(apiclient.Healthcheck.Pattern(), func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, apiclient.Health{Name: "identity-api", Status: "ok"})
	})
	mux.HandleFunc(apiclient.GetPublicKeys.Pattern(), s.publicKeys)
	mux.HandleFunc(apiclient.RotateCoverNodeIdentityKey.Pattern(), s.rotateCoverNode)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, 404, "no such endpoint") })
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiclient.ErrorBody{Error: msg})
}

func (s *Server) publicKeys(w http.ResponseWriter, r *http.Request) {
	out := apiclient.IdentityAPIKeys{AnchorOrgPKs: s.cfg.Anchors}
	if kp, err := s.cfg.CoverNodeProvisioning(); err == nil {
		out.CoverNodeProvisioningPK = &kp.Public
	}
	if kp, err := s.cfg.JournalistProvisioning(); err == nil {
		out.JournalistProvisioningPK = &kp.Public
	}
	writeJSON(w, 200, out)
}

// newKey returns the key a rotation form asks for.
func newKey(b *apiclient.NewKey) ([]byte, error) {
	k, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	if _, err := crypto.NewVerifyingKey(k); err != nil {
		return nil, fmt.Errorf("new_pk: %v", err)
	}
	return k, nil
}

// MsgRetired is the answer (403) to a retired CoverNode's rotation.
const MsgRetired = "this CoverNode is retired: its identity keys are no longer certified"

// maxBody caps a request body (a rotation form is under 1 KiB).
const maxBody = 64 << 10

// verified fetches and verifies the API's published keys.
func (s *Server) verified(ctx context.Context) (*keys.Verified, error) {
	h, err := s.cfg.API.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.Verify(h, s.cfg.Anchors, s.cfg.Now())
}

// rotateCoverNode: POST /v1/public-keys/covernode/me/rotate-id-key. The
// form is signed by the CoverNode's current identity key; the new key is
// certified by the latest CoverNode provisioning key and published.
func (s *Server) rotateCoverNode(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is more than the %d bytes allowed", maxBody))
		return
	}
	if err != nil {
		writeError(w, 400, "could not read the request body")
		return
	}
	f, err := form.Parse(raw)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	v, err := s.verified(r.Context())
	if err != nil {
		s.cfg.Logger.Error("fetching public keys", "err", err)
		writeError(w, 502, "the API's public keys are unavailable")
		return
	}
	owner := ""
	var signer keys.VerifiedKey
	for id, fams := range v.CoverNodes {
		for _, fam := range fams {
			if fam.Identity.Key == f.SigningPK {
				owner, signer = id, fam.Identity
			}
		}
	}
	if owner == "" {
		writeError(w, 404, "signing covernode not found")
		return
	}
	vk, err := signer.VerifyingKey()
	if err != nil || f.Verify(vk, s.cfg.Now()) != nil {
		writeError(w, 401, "certificate data verification failed")
		return
	}
	if s.cfg.CoverNodeRetired != nil {
		retired, err := s.cfg.CoverNodeRetired(owner)
		if err != nil {
			s.cfg.Logger.Error("reading the retired CoverNodes", "err", err)
			writeError(w, 500, "cannot tell whether the CoverNode is retired")
			return
		}
		if retired {
			s.cfg.Logger.Info("refused a retired CoverNode's identity key", "covernode", owner)
			writeError(w, 403, MsgRetired)
			return
		}
	}
	var body apiclient.NewKey
	if err := f.Decode(&body); err != nil {
		writeError(w, 400, err.Error())
		return
	}
	newKey, err := newKey(&body)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	for id, fams := range v.CoverNodes {
		for _, fam := range fams {
			if string(fam.Identity.Key[:]) == string(newKey) && id != owner {
				writeError(w, 400, "the new key belongs to another CoverNode")
				return
			}
		}
	}
	prov, err := s.cfg.CoverNodeProvisioning()
	if err != nil {
		s.cfg.Logger.Error("CoverNode provisioning key", "err", err)
		writeError(w, 500, "no valid CoverNode provisioning key")
		return
	}
	cert, epoch, err := s.certify(r.Context(), prov, keys.CoverNodeIdentity, newKey, func(k *keys.SignedPublicKey) (uint64, error) {
		f, err := apiclient.CoverNodeIdentityForm(prov, apiclient.CoverNodeIdentityKey{CoverNodeID: owner, Key: *k}, time.Now(), form.DefaultTTL)
		if err != nil {
			return 0, err
		}
		return s.cfg.API.RegisterCoverNodeIdentity(r.Context(), f)
	})
	if err != nil {
		s.cfg.Logger.Error("publishing a CoverNode identity key", "covernode", owner, "err", err)
		writeError(w, 502, "publishing the new key: "+err.Error())
		return
	}
	s.cfg.Logger.Info("CoverNode identity key rotated", "covernode", owner, "key", cert.Prefix(), "epoch", epoch)
	writeJSON(w, 201, apiclient.KeyEpoch{Epoch: epoch, Key: *cert})
}

// certify signs key with the provisioning key pair (expiry clamped to it)
// and publishes it with upload, which answers its epoch.
func (s *Server) certify(ctx context.Context, prov *keys.KeyPair, role keys.Role, key []byte, upload func(*keys.SignedPublicKey) (uint64, error)) (*keys.SignedPublicKey, uint64, error) {
	sk, err := prov.SigningKey()
	if err != nil {
		return nil, 0, err
	}
	cert, err := keys.Certify(sk, &prov.Public, key, role.ValidFor(), s.cfg.Now())
	if err != nil {
		return nil, 0, err
	}
	epoch, err := upload(cert)
	return cert, epoch, err
}

// ProcessQueue certifies the journalists' queued identity keys once and
// returns how many it published.
func (s *Server) ProcessQueue(ctx context.Context) (int, error) {
	q, err := s.cfg.API.QueuedIdentityKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("the rotation queue: %w", err)
	}
	if len(q) == 0 {
		return 0, nil
	}
	v, err := s.verified(ctx)
	if err != nil {
		return 0, err
	}
	prov, err := s.cfg.JournalistProvisioning()
	if err != nil {
		return 0, err
	}
	done := 0
	for _, item := range q {
		if item.Form == nil {
			continue
		}
		var signer *keys.VerifiedKey
		for _, fam := range v.Journalists[item.JournalistID] {
			if fam.Identity.Key == item.Form.SigningPK {
				signer = &fam.Identity
			}
		}
		if signer == nil {
			s.cfg.Logger.Warn("rotation form signed by no identity key of its journalist", "journalist", item.JournalistID)
			continue
		}
		vk, err := signer.VerifyingKey()
		var body apiclient.NewKey
		if err != nil || item.Form.Verify(vk, s.cfg.Now()) != nil || item.Form.Decode(&body) != nil {
			s.cfg.Logger.Warn("rotation form does not verify", "journalist", item.JournalistID)
			continue
		}
		newKey, err := newKey(&body)
		if err != nil {
			s.cfg.Logger.Warn("rotation form", "journalist", item.JournalistID, "err", err)
			continue
		}
		id := item.JournalistID
		cert, epoch, err := s.certify(ctx, prov, keys.JournalistIdentity, newKey, func(k *keys.SignedPublicKey) (uint64, error) {
			return s.cfg.API.RegisterJournalistIdentity(ctx, prov, apiclient.JournalistIdentityKey{JournalistID: id, Key: *k, FromQueue: true})
		})
		if err != nil {
			s.cfg.Logger.Error("publishing a journalist identity key", "journalist", id, "err", err)
			continue
		}
		s.cfg.Logger.Info("journalist identity key rotated", "journalist", id, "key", cert.Prefix(), "epoch", epoch)
		done++
	}
	return done, nil
}

// PollQueue processes the journalists' queue every interval until ctx ends.
func (s *Server) PollQueue(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.ProcessQueue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("processing the rotation queue", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
