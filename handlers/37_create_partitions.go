package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// CreatePartitions v0-v3: grow a topic's partition count.
func init() { register(0, 3, (*Handlers).createPartitions) }

func (h *Handlers) createPartitions(ctx context.Context, r *protocol.Request, req *kmsg.CreatePartitionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	if h.notController() {
		for _, rt := range req.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, kerr.NotController.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	seen := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr("duplicate topic name " + rt.Topic + " in request")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		before, _ := h.Controller.Topic(rt.Topic)
		var assignments [][]int32
		for _, a := range rt.Assignment {
			assignments = append(assignments, a.Replicas)
		}
		t, err := h.Controller.CreatePartitions(ctx, rt.Topic, rt.Count, assignments, req.ValidateOnly)
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
			if st.ErrorCode == kerr.UnknownServerError.Code {
				r.Logger.Error("create partitions failed", "topic", rt.Topic, "err", err)
			}
		} else if !req.ValidateOnly {
			r.Logger.Info("grew topic", "topic", t.Name, "partitions", len(t.Partitions))
			_ = h.createLogs(t, min(len(before.Partitions), len(t.Partitions)))
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
