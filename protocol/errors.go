package protocol

import (
	"errors"

	"github.com/chaffhq/chaff/crypto"
)

func lengthError(what string, got, want int) error {
	return &crypto.LengthError{What: what, Got: got, Want: want}
}

// ErrNotForMe is returned by the trial-decryption helpers when a chunk does
// not open under any of the keys tried: it is cover, or another recipient's.
// Callers move on to the next chunk.
var ErrNotForMe = errors.New("protocol: message is not for these keys")
