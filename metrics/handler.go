package metrics

import (
	"context"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// Handler wraps a protocol.Handler with Kafka's RequestMetrics: requests
// by API and version, errors by code and total time. The counters live
// in arrays indexed by API key, so a request costs a few atomic adds and
// no lock or allocation.
type Handler struct {
	Next    protocol.Handler
	Metrics *Broker
}

// Serves implements protocol.Handler.
func (h Handler) Serves(key, version int16) bool { return h.Next.Serves(key, version) }

// Handle implements protocol.Handler. Total time is measured from when
// the request was decoded to when its response is ready (Kafka's
// TotalTimeMs also counts the queue and the send, which Samsa's
// connection loop does not separate).
func (h Handler) Handle(ctx context.Context, r *protocol.Request) (kmsg.Response, error) {
	start := time.Now()
	queued := time.Duration(-1)
	if !r.Received.IsZero() {
		queued = start.Sub(r.Received)
	}
	resp, err := h.Next.Handle(ctx, r)
	rc := h.Metrics.request(r.Header.Key, r.Header.Version, time.Since(start), queued)
	if rc != nil && err == nil && resp != nil {
		countErrors(rc, resp)
	}
	return resp, err
}

// countErrors adds the error codes resp carries to rc, as Kafka's
// AbstractResponse.errorCounts does: every partition (or topic, group,
// ...) error of the response, NONE included. The frequent APIs are
// walked by hand; every other response by reflection (countAnyErrors),
// which counts each ErrorCode field at any depth: what the errorCounts of
// Kafka's admin, transaction and inter-broker responses add up as well.
func countErrors(rc *requestCounters, resp kmsg.Response) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				rc.countError(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		rc.countError(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				rc.countError(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				rc.countError(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		for i := range r.Topics {
			rc.countError(r.Topics[i].ErrorCode)
		}
	case *kmsg.OffsetCommitResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				rc.countError(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.OffsetFetchResponse:
		if len(r.Groups) > 0 {
			for i := range r.Groups {
				rc.countError(r.Groups[i].ErrorCode)
			}
		} else {
			rc.countError(r.ErrorCode)
		}
	case *kmsg.FindCoordinatorResponse:
		if len(r.Coordinators) > 0 {
			for i := range r.Coordinators {
				rc.countError(r.Coordinators[i].ErrorCode)
			}
		} else {
			rc.countError(r.ErrorCode)
		}
	case *kmsg.JoinGroupResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.HeartbeatResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.LeaveGroupResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.SyncGroupResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.DescribeGroupsResponse:
		for i := range r.Groups {
			rc.countError(r.Groups[i].ErrorCode)
		}
	case *kmsg.ListGroupsResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.ApiVersionsResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.CreateTopicsResponse:
		for i := range r.Topics {
			rc.countError(r.Topics[i].ErrorCode)
		}
	case *kmsg.DeleteTopicsResponse:
		for i := range r.Topics {
			rc.countError(r.Topics[i].ErrorCode)
		}
	case *kmsg.InitProducerIDResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.DeleteGroupsResponse:
		for i := range r.Groups {
			rc.countError(r.Groups[i].ErrorCode)
		}
	case *kmsg.DescribeClusterResponse:
		rc.countError(r.ErrorCode)
	case *kmsg.CreatePartitionsResponse:
		for i := range r.Topics {
			rc.countError(r.Topics[i].ErrorCode)
		}
	case *kmsg.DeleteRecordsResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				rc.countError(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	default:
		if v := reflect.ValueOf(resp); v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
			countAnyErrors(rc, v.Elem(), 0)
		}
	}
}

// countAnyErrors counts every int16 field named ErrorCode in v, a kmsg
// response struct, descending into struct fields and slices of structs
// (kmsg's shape for topics, partitions, groups, resources, ...). depth
// bounds the walk; kmsg responses nest at most five deep.
func countAnyErrors(rc *requestCounters, v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		switch {
		case f.Name == "ErrorCode" && fv.Kind() == reflect.Int16:
			rc.countError(int16(fv.Int()))
		case fv.Kind() == reflect.Struct:
			countAnyErrors(rc, fv, depth+1)
		case fv.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for j := 0; j < fv.Len(); j++ {
				countAnyErrors(rc, fv.Index(j), depth+1)
			}
		}
	}
}
