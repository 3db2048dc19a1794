package api

import (
	"context"
	"encoding/json"
	"fmt"
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
		writeError(w, http.StatusTooManyRequests, errTooManyRequests)
		return
	}
	body, ok := readBody(w, r, s.cfg.MaxIngestBody)
	if !ok {
		return
	}
	var b64 string
	if err := json.Unmarshal(body, &b64); err != nil {
		writeError(w, http.StatusBadRequest, "Failed to parse json: the body must be a JSON string holding the base64 of one U2C message")
		return
	}
	msg, err := protocol.DecodeBase64(b64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Failed to parse json: "+err.Error())
		return
	}
	if len(msg) != protocol.U2CMessageSize {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("a U2C message is %d bytes, this one is %d", protocol.U2CMessageSize, len(msg)))
		return
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.AppendTimeout)
	defer cancel()
	if err := s.st.AppendU2C(ctx, msg); err != nil {
		s.log.Error("appending a user message", "err", err)
		writeError(w, http.StatusServiceUnavailable, errAppend)
		return
	}
	s.metrics.appended.WithLabelValues("u2c").Inc()
	writeEmpty(w)
}

// contextWithTimeout detaches an append from the client's connection: once
// begun, it finishes (or times out) even if the client goes away, so that
// shutdown and disconnects never leave an append half done.
func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), d)
}
