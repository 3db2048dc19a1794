package covernode

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chaffhq/chaff/crypto"
)

// StateKeyEnv is the environment variable that may hold a CoverNode's
// state key instead of a file.
const StateKeyEnv = "CHAFF_COVERNODE_STATE_KEY"

// LoadStateKey reads the key that seals a CoverNode's state, from env (the
// value of $CHAFF_COVERNODE_STATE_KEY) or from path (64 hex digits). The file must be
// readable by its owner only, and outside the state directory: the point
// of the key is that the state alone gives nothing away. On a first start
// (no sealed state yet) a missing file is created.
func LoadStateKey(env, path, stateDir string, stdout io.Writer) (*[crypto.SecretBoxKeySize]byte, error) {
	if env != "" {
		if path != "" {
			return nil, errors.New("give the state key either in --state-key-file or in $CHAFF_COVERNODE_STATE_KEY, not both")
		}
		return parseStateKey(env, "$CHAFF_COVERNODE_STATE_KEY")
	}
	if path == "" {
		return nil, errors.New("--state-key-file is required (or $CHAFF_COVERNODE_STATE_KEY): it seals the node's keys in --state")
	}
	absKey, err1 := filepath.Abs(path)
	absState, err2 := filepath.Abs(stateDir)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(absState, absKey); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("the state key %s is inside --state %s: keep it apart, or it protects nothing", path, stateDir)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(stateDir, SealedKeysFile)); err == nil {
			return nil, fmt.Errorf("%s does not exist, but %s holds a sealed key state: give this node's state key", path, stateDir)
		}
		k, err := crypto.NewSecretKey()
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = f.WriteString(hex.EncodeToString(k[:]) + "\n")
		if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "Created a new state key in %s. Keep it apart from %s (another disk, a secrets store) and back it up: without it the node's keys cannot be read.\n", path, stateDir)
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the state key %s can be read by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseStateKey(string(b), path)
}

func parseStateKey(s, where string) (*[crypto.SecretBoxKeySize]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != crypto.SecretBoxKeySize {
		return nil, fmt.Errorf("%s must hold a state key: %d hex digits", where, 2*crypto.SecretBoxKeySize)
	}
	var k [crypto.SecretBoxKeySize]byte
	copy(k[:], b)
	return &k, nil
}
