package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

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

// Is reports whether e is the same answer as target, an *Error: the same
// status and message. It lets callers match the answers below with
// errors.Is, by code rather than by reading the text.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && t.Message == e.Message
}

// StatusOf returns the HTTP status of an API error, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Upstream's error texts (SPEC §5.2), written by the server and matched by
// callers through the errors below.
const (
	MsgSignerNotFound  = "Signing key not found in API database, it is either expired or never existed"
	MsgSignature       = "signature verification failed"
	MsgUnauthorized    = "client unauthorized to update record"
	MsgDescription     = "journalist description too long"
	MsgRotatedTooSoon  = "key has been rotated too recently"
	MsgStreamPut       = "Failed to put message onto stream"
	MsgInternal        = "Internal server error"
	MsgTooManyRequests = "Too many requests"
	MsgAppend          = "Unexpected append failure"
	// MsgParseJSON is the whole answer to a reader's message the ingest
	// cannot take (not JSON, not base64, not one U2C message), as
	// upstream's u2j-appender answers.
	MsgParseJSON = "Failed to parse json"
)

// Answers a caller may need to tell apart, for errors.Is.
var (
	// ErrSignerNotFound: the form's signing key is not a published key of
	// the role the route wants (expired, never uploaded, or removed).
	ErrSignerNotFound = &Error{Status: 404, Message: MsgSignerNotFound}
	// ErrSignature: the form or the key in it does not verify.
	ErrSignature = &Error{Status: 401, Message: MsgSignature}
)

// errorFromBody is the error of an answer other than 2xx: the message of
// a JSON body {"error": message}, or else the body itself.
func errorFromBody(status int, b []byte) *Error {
	var e ErrorBody
	_ = json.Unmarshal(b, &e)
	if e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	return &Error{Status: status, Message: e.Error}
}
