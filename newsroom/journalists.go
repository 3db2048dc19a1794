package newsroom

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chaffhq/chaff/apiclient"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// Journalist is a journalist or desk to register.
type Journalist struct {
	ID          string
	Name        string // display name
	SortName    string // default: the name in lower case
	Description string // at most keys.MaxDescription bytes unless Desk
	Desk        bool   // a desk or team inbox rather than a person
	// Status is the profile's status: keys.StatusVisible (the default),
	// or keys.StatusHiddenFromUI for one readers' apps do not list (the
	// canary journalist, package canary).
	Status string
}

// CheckJournalist checks an id and a description as the API will.
func CheckJournalist(id, description string, desk bool) error {
	if err := protocol.ValidateJournalistID(id); err != nil {
		return fmt.Errorf("%q is not a journalist id: %v", id, err)
	}
	if !desk && len(description) > keys.MaxDescription {
		return fmt.Errorf("the description is %d bytes; a journalist's may be at most %d (a desk's may be longer)", len(description), keys.MaxDescription)
	}
	return nil
}

// ErrJournalistExists and ErrNoJournalist: the API already has, or has
// no, journalist of that id (match them with errors.Is).
var (
	ErrJournalistExists = errors.New("journalist already exists")
	ErrNoJournalist     = errors.New("there is no such journalist")
)

// kindError is an error with its own message that matches kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func noJournalist(id string) error {
	return &kindError{ErrNoJournalist, fmt.Sprintf("there is no journalist %q", id)}
}

// AddedJournalist is what AddJournalist made.
type AddedJournalist struct {
	Bundle *keys.JournalistBundle
	Path   string // of the setup bundle
	Epoch  uint64 // of the identity key
}

// AddJournalist registers a journalist's profile and a new identity key
// with the API and writes their setup bundle into outDir. The bundle holds
// the secret identity key: it is handed over in person or over a channel
// the newsroom trusts, then deleted.
func (n *Newsroom) AddJournalist(ctx context.Context, j Journalist, outDir string) (*AddedJournalist, error) {
	if err := CheckJournalist(j.ID, j.Description, j.Desk); err != nil {
		return nil, err
	}
	if j.SortName == "" {
		j.SortName = strings.ToLower(j.Name)
	}
	c, err := n.api()
	if err != nil {
		return nil, err
	}
	now := n.now()
	prov, err := n.key(keys.JournalistProvisioning)
	if err != nil {
		return nil, err
	}
	orgPub, _, err := Anchor(n.KeysDir)
	if err != nil {
		return nil, err
	}
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	if _, exists := findProfile(h, j.ID); exists {
		return nil, &kindError{ErrJournalistExists, fmt.Sprintf("journalist %q already exists: use chaff admin journalist update to change the profile", j.ID)}
	}
	path := filepath.Join(outDir, keys.JournalistBundleName(j.ID))
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite a setup bundle", path)
	}
	idKey, err := keys.Generate(keys.JournalistIdentity, prov, now)
	if err != nil {
		return nil, err
	}
	if j.Status == "" {
		j.Status = keys.StatusVisible
	}
	profile := apiclient.NewJournalist{ID: j.ID, DisplayName: j.Name, SortName: j.SortName, Description: j.Description, IsDesk: j.Desk, Status: j.Status}
	if err := c.RegisterJournalist(ctx, prov, profile); err != nil {
		return nil, fmt.Errorf("registering %s: %w", j.ID, err)
	}
	epoch, err := c.RegisterJournalistIdentity(ctx, prov, apiclient.JournalistIdentityKey{JournalistID: j.ID, Key: idKey.Public})
	if err != nil {
		return nil, fmt.Errorf("registering %s's identity key: %w", j.ID, err)
	}
	b, path, err := JournalistBundle(outDir, j.ID, c.Base, *orgPub, idKey)
	if err != nil {
		return nil, err
	}
	return &AddedJournalist{Bundle: b, Path: path, Epoch: epoch}, nil
}

func findProfile(h *keys.Hierarchy, id string) (keys.JournalistProfile, bool) {
	for _, p := range h.JournalistProfiles {
		if p.ID == id {
			return p, true
		}
	}
	return keys.JournalistProfile{}, false
}

// ProfileChange changes the fields that are not nil.
type ProfileChange struct {
	Name, SortName, Description *string
	Desk                        *bool
}

// UpdateJournalist changes a journalist's published profile.
func (n *Newsroom) UpdateJournalist(ctx context.Context, id string, ch ProfileChange) error {
	prov, c, err := n.signer(keys.JournalistProvisioning)
	if err != nil {
		return err
	}
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return err
	}
	cur, exists := findProfile(h, id)
	if !exists {
		return noJournalist(id)
	}
	desk, desc := cur.IsDesk, cur.Description
	if ch.Desk != nil {
		desk = *ch.Desk
	}
	if ch.Description != nil {
		desc = *ch.Description
	}
	if err := CheckJournalist(id, desc, desk); err != nil {
		return err
	}
	u := apiclient.ProfileUpdate{JournalistID: id, DisplayName: ch.Name, SortName: ch.SortName, IsDesk: ch.Desk, Description: ch.Description}
	if err := c.UpdateJournalist(ctx, prov, u); err != nil {
		return fmt.Errorf("updating %s: %w", id, err)
	}
	return nil
}

// RemoveJournalist unpublishes a journalist's profile and keys: readers can
// no longer write to them.
func (n *Newsroom) RemoveJournalist(ctx context.Context, id string) error {
	prov, c, err := n.signer(keys.JournalistProvisioning)
	if err != nil {
		return err
	}
	if err := c.RemoveJournalist(ctx, prov, id); err != nil {
		if apiclient.StatusOf(err) == 404 && !errors.Is(err, apiclient.ErrSignerNotFound) {
			return noJournalist(id)
		}
		return fmt.Errorf("removing %s: %w", id, err)
	}
	return nil
}

// SetStatus sets the system status readers are shown (one of
// apiclient.SettableStatuses, in any case), signed by the admin key, and
// returns the status as set.
func (n *Newsroom) SetStatus(ctx context.Context, status, description string) (string, error) {
	s := strings.ToUpper(status)
	ok := false
	for _, v := range apiclient.SettableStatuses {
		ok = ok || v == s
	}
	if !ok {
		return "", fmt.Errorf("%q is not a status: use %s", status, strings.Join(apiclient.SettableStatuses, ", "))
	}
	adminKey, c, err := n.signer(keys.Admin)
	if err != nil {
		return "", err
	}
	if err := c.SetStatus(ctx, adminKey, apiclient.SystemStatus{Status: s, Description: description, Timestamp: protocol.Time{Time: n.now()}}); err != nil {
		return "", fmt.Errorf("setting the status: %w", err)
	}
	return s, nil
}
