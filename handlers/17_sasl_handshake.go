package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// SaslHandshake v0-v1 and SaslAuthenticate v0-v2. While a SASL listener's
// connection authenticates, package security answers both (protocol's
// Session.Intercept); they reach these handlers only on a PLAINTEXT or
// SSL listener or after authentication, where Kafka's KafkaApis answers
// ILLEGAL_SASL_STATE.
func init() {
	register(0, 1, (*Handlers).saslHandshake)
	register(0, 2, (*Handlers).saslAuthenticate)
}

func (h *Handlers) saslHandshake(_ context.Context, _ *protocol.Request, req *kmsg.SASLHandshakeRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	return resp, nil
}

func (h *Handlers) saslAuthenticate(_ context.Context, _ *protocol.Request, req *kmsg.SASLAuthenticateRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate request received after successful authentication")
	return resp, nil
}
