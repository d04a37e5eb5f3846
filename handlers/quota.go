package handlers

import (
	"context"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
	"samsa/quota"
)

// quotaStore persists client quotas. The single-node controller
// (controller.Single) and the ZooKeeper one (controller.ZK, in Kafka's
// config entities) implement it; a controller that does not makes
// AlterClientQuotas fail.
type quotaStore interface {
	// ClientQuotas returns every stored entity with its values.
	ClientQuotas() []quota.Entry
	// SetClientQuotas replaces the values of the entities given (empty
	// values remove one), all or nothing.
	SetClientQuotas(ctx context.Context, entries []quota.Entry) error
}

// newQuotaManager makes the client quota manager from the config and
// loads the stored quotas.
func newQuotaManager(deps Deps) *quota.Manager {
	cfg := quota.DefaultConfig
	if deps.Config != nil {
		cfg = quota.Config{WindowNum: int(deps.Config.QuotaWindowNum), WindowSizeSeconds: int(deps.Config.QuotaWindowSizeSeconds)}
	}
	m := quota.NewManager(cfg)
	if qs, ok := deps.Controller.(quotaStore); ok {
		m.Set(qs.ClientQuotas())
	}
	return m
}

// quotaUser is the user a quota applies to: the principal's name
// (Kafka resolves user quotas on KafkaPrincipal.getName), ANONYMOUS
// without authentication.
func quotaUser(r *protocol.Request) string {
	p := r.Principal
	if p == "" {
		return "ANONYMOUS"
	}
	if i := strings.IndexByte(p, ':'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func quotaClientID(r *protocol.Request) string {
	if r.Header.ClientID == nil {
		return ""
	}
	return *r.Header.ClientID
}

// throttleExempt are the APIs whose time is not recorded against
// request_percentage: those Kafka answers with sendResponseExemptThrottle
// (SASL, the inter-broker APIs), and JoinGroup and SyncGroup, whose
// handlers here wait for the rest of the group, time Kafka spends in its
// purgatory and does not count as request thread time.
func throttleExempt(key int16) bool {
	switch key {
	case 4, 5, 6, 7, 11, 14, 17, 36, 27, 56, 57, 58, 62, 63, 64, 67, 52, 53, 54, 55:
		return true
	}
	return false
}

// requestQuota records the time a request took against the client's
// request_percentage and throttles the response accordingly (Kafka's
// sendResponseMaybeThrottle). Produce and Fetch do their own, together
// with their byte rates.
func (h *Handlers) requestQuota(r *protocol.Request, resp kmsg.Response, took time.Duration) {
	ms := h.Quotas.Record(quota.Request, quotaUser(r), quotaClientID(r), quota.RequestValue(took))
	if ms <= 0 {
		return
	}
	setThrottle(r, resp, ms)
}

// setThrottle puts ms in the response's throttle_time_ms and has the
// connection throttled: after the response when its version tells the
// client to throttle itself (KIP-219, kmsg's ThrottleResponse), before
// it otherwise.
func setThrottle(r *protocol.Request, resp kmsg.Response, ms int32) {
	after := true
	if tr, ok := resp.(kmsg.ThrottleResponse); ok {
		_, after = tr.Throttle()
		if st, ok := resp.(kmsg.SetThrottleResponse); ok {
			st.SetThrottle(ms)
		}
	}
	r.Throttle(ms, after)
}

// throttleResponse applies the larger of a byte-rate and a request
// throttle to a Produce or Fetch response.
func throttleResponse(r *protocol.Request, resp kmsg.Response, bandwidthMs, requestMs int32) int32 {
	ms := max(bandwidthMs, requestMs)
	if ms > 0 {
		setThrottle(r, resp, ms)
	}
	return ms
}
