package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/chaffhq/chaff/apiclient"
	"net/http"
	"time"

	"github.com/chaffhq/chaff/protocol"
)

// postUserMessage: POST /user/messages, a reader's U2C message (real or
// cover: the API cannot tell and does not try) as a JSON string of base64.
// It answers 200 only once JetStream has durably appended the message.
// Nothing in the answer depends on the message's content: every valid
// message takes the same path, and the answer is an empty 200.
func (s *Server) postUserMessage(w http.ResponseWriter, r *http.Request) {
	if !s.limiter.allow(s.clientKey(r), time.Now()) {
		writeError(w, http.StatusTooManyRequests, apiclient.MsgTooManyRequests)
		return
	}
	body, ok := readBody(w, r, s.cfg.MaxIngestBody)
	if !ok {
		return
	}
	msg, err := parseUserMessage(body, s.sizes.U2C)
	if err != nil {
		// Upstream's u2j-appender answers every body it cannot take with
		// these bytes; the detail goes to the log (nothing in it names the
		// reader: no address, no content).
		s.log.Info("refused a user message", "reason", err.Error())
		writeError(w, http.StatusBadRequest, apiclient.MsgParseJSON)
		return
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.AppendTimeout)
	defer cancel()
	if err := s.appendTimed(ctx, "u2c", s.st.AppendU2C, msg); err != nil {
		s.log.Error("appending a user message", "err", err)
		writeError(w, http.StatusInternalServerError, apiclient.MsgAppend)
		return
	}
	writeEmpty(w)
}

// parseUserMessage reads the body of POST /user/messages: a JSON string
// holding the base64 (padded or not) of exactly one U2C message of the
// deployment's size (773 bytes in coverdrop mode, 4,037 in pq). Bodies
// without escapes (what Android sends) skip the JSON decoder; others (iOS
// escapes "/") go through it.
func parseUserMessage(body []byte, size int) ([]byte, error) {
	var b64 []byte
	if n := len(body); n >= 2 && body[0] == '"' && body[n-1] == '"' && bytes.IndexByte(body[1:n-1], '\\') < 0 && bytes.IndexByte(body[1:n-1], '"') < 0 {
		b64 = body[1 : n-1]
	} else {
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, errors.New("the body must be a JSON string holding the base64 of one U2C message")
		}
		b64 = []byte(s)
	}
	msg, err := protocol.DecodeBase64Bytes(b64)
	if err != nil {
		return nil, fmt.Errorf("the body's base64: %v", err)
	}
	if len(msg) != size {
		return nil, fmt.Errorf("a U2C message is %d bytes, this one is %d", size, len(msg))
	}
	return msg, nil
}

// contextWithTimeout detaches an append from the client's connection: once
// begun, it finishes (or times out) even if the client goes away, so that
// shutdown and disconnects never leave an append half done.
func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), d)
}
