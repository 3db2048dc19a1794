package newsroom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/chaffhq/chaff/atomicfile"
	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/protocol"
)

// ErrNoCoverNode and ErrCoverNodeRetired: the API publishes no key of a
// CoverNode of that id, or the newsroom has retired it (match them with
// errors.Is).
var (
	ErrNoCoverNode      = errors.New("newsroom: there is no such CoverNode")
	ErrCoverNodeRetired = errors.New("newsroom: the CoverNode is retired")
)

// RetiredCoverNodesFile is the file in the key directory that lists the
// CoverNodes RemoveCoverNode retired, as a JSON array of ids. The identity
// API reads it again on every rotation (CoverNodeRetired), since it runs
// beside the key directory.
const RetiredCoverNodesFile = "retired-covernodes.json"

// RetiredCoverNodes returns the ids retired in the key directory dir, sorted.
func RetiredCoverNodes(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, RetiredCoverNodesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("newsroom: %s: %w", RetiredCoverNodesFile, err)
	}
	return ids, nil
}

// CoverNodeRetired reports whether the CoverNode id is retired in the key
// directory dir (the identity API's identityapi.Config.CoverNodeRetired).
func CoverNodeRetired(dir, id string) (bool, error) {
	ids, err := RetiredCoverNodes(dir)
	return slices.Contains(ids, id), err
}

func (n *Newsroom) checkNotRetired(id string) error {
	retired, err := CoverNodeRetired(n.KeysDir, id)
	if err != nil {
		return err
	}
	if retired {
		return &kindError{ErrCoverNodeRetired, fmt.Sprintf("newsroom: %s is retired: give a new CoverNode a new id", id)}
	}
	return nil
}

// publishedCoverNode returns the newest expiry of the CoverNode's
// published keys, verified from the organisation key in the key directory.
func (n *Newsroom) publishedCoverNode(ctx context.Context, id string) (time.Time, error) {
	anchor, _, err := Anchor(n.KeysDir)
	if err != nil {
		return time.Time{}, err
	}
	c, err := n.api()
	if err != nil {
		return time.Time{}, err
	}
	h, err := c.PublicKeys(ctx)
	if err != nil {
		return time.Time{}, err
	}
	v, err := keys.Verify(h, []keys.SignedPublicKey{*anchor}, n.now())
	if err != nil && v == nil {
		return time.Time{}, err
	}
	var last time.Time
	for _, fam := range v.CoverNodes[id] {
		for _, k := range append([]keys.VerifiedKey{fam.Identity}, fam.Messaging...) {
			if k.NotValidAfter.After(last) {
				last = k.NotValidAfter
			}
		}
	}
	if last.IsZero() {
		return last, &kindError{ErrNoCoverNode, fmt.Sprintf("newsroom: the API publishes no key of a CoverNode %q", id)}
	}
	return last, nil
}

// UpdateCoverNode re-provisions a published CoverNode: a new identity key
// and setup bundle for it in outDir, as AddCoverNode makes, registered
// with the API now with register. A CoverNode has no profile to change;
// what the newsroom changes is its identity key, for a node whose key state
// was lost or whose identity keys all expired (it was down longer than
// their four weeks, so the identity API cannot rotate them: rotation is
// signed by the current key). Start the node with an empty state
// directory and the new bundle. A retired CoverNode is not re-provisioned.
func (n *Newsroom) UpdateCoverNode(ctx context.Context, id, outDir string, register bool) (*AddedCoverNode, error) {
	if err := protocol.ValidateCoverNodeID(id); err != nil {
		return nil, fmt.Errorf("newsroom: %q is not a CoverNode id: use covernode_001, covernode_002, …", id)
	}
	if err := n.checkNotRetired(id); err != nil {
		return nil, err
	}
	if _, err := n.publishedCoverNode(ctx, id); err != nil {
		return nil, err
	}
	return n.AddCoverNode(ctx, id, outDir, register)
}

// RemovedCoverNode is what RemoveCoverNode did.
type RemovedCoverNode struct {
	// LastValid is when the CoverNode's last published key expires:
	// readers' apps may seal to it until then.
	LastValid time.Time
}

// RemoveCoverNode retires a CoverNode. The API has no route that
// unpublishes a CoverNode's keys (upstream's has none either), so removal
// is the end of certification: the id is added to RetiredCoverNodesFile in
// the key directory, and from then on the identity API refuses to certify
// its next identity key, AddCoverNode and UpdateCoverNode refuse the id,
// and its published keys run out (LastValid, at most four weeks: identity
// keys live four, messaging keys two). Readers' apps stop sealing to it
// when its messaging keys expire; stop the node itself once its queue
// has drained. Retiring is not undone here: a new CoverNode takes a new
// id.
func (n *Newsroom) RemoveCoverNode(ctx context.Context, id string) (*RemovedCoverNode, error) {
	if err := protocol.ValidateCoverNodeID(id); err != nil {
		return nil, fmt.Errorf("newsroom: %q is not a CoverNode id", id)
	}
	if err := n.checkNotRetired(id); err != nil {
		return nil, err
	}
	last, err := n.publishedCoverNode(ctx, id)
	if err != nil {
		return nil, err
	}
	ids, err := RetiredCoverNodes(n.KeysDir)
	if err != nil {
		return nil, err
	}
	ids = append(ids, id)
	slices.Sort(ids)
	b, err := json.MarshalIndent(ids, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(n.KeysDir, RetiredCoverNodesFile), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("newsroom: retiring %s: %w", id, err)
	}
	return &RemovedCoverNode{LastValid: last}, nil
}
