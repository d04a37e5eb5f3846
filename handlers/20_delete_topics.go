package handlers

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/protocol"
)

// DeleteTopics v0-v6; v6 names topics by name or by topic id.
func init() { register(1, 6, (*Handlers).deleteTopics) } // Kafka 4.x: 1-6 (KIP-896)

func (h *Handlers) deleteTopics(ctx context.Context, r *protocol.Request, req *kmsg.DeleteTopicsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	topics := req.Topics
	if req.Version < 6 {
		topics = make([]kmsg.DeleteTopicsRequestTopic, 0, len(req.TopicNames))
		for i := range req.TopicNames {
			topics = append(topics, kmsg.DeleteTopicsRequestTopic{Topic: &req.TopicNames[i]})
		}
	}
	for _, rt := range topics {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		if h.notController() {
			st.ErrorCode = kerr.NotController.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		err := h.deleteTopic(ctx, r, &st, rt)
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
			if st.ErrorCode == kerr.UnknownServerError.Code {
				r.Logger.Error("delete topic failed", "err", err)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (h *Handlers) deleteTopic(ctx context.Context, r *protocol.Request, st *kmsg.DeleteTopicsResponseTopic, rt kmsg.DeleteTopicsRequestTopic) error {
	hasID := rt.TopicID != [16]byte{}
	var name string
	switch {
	case rt.Topic != nil && hasID:
		return fmt.Errorf("give a topic name or a topic id, not both: %w", kerr.InvalidRequest)
	case hasID:
		t, ok := h.Controller.TopicByID(controller.TopicID(rt.TopicID))
		if !ok {
			return fmt.Errorf("no topic with that id: %w", kerr.UnknownTopicID)
		}
		name = t.Name
		st.Topic = &t.Name
	case rt.Topic != nil:
		name = *rt.Topic
	default:
		return fmt.Errorf("no topic name or id: %w", kerr.InvalidRequest)
	}
	t, err := h.Controller.DeleteTopic(ctx, name)
	if err != nil {
		return err
	}
	st.TopicID = t.ID
	r.Logger.Info("deleted topic", "topic", t.Name)
	h.Groups.DeleteTopicOffsets(t.Name)
	h.produceSettings.Delete(t.ID)
	h.Metrics.ForgetTopic(t.ID)
	if h.Cluster != nil {
		// In a cluster the controller's StopReplica deletes each
		// replica's log where it lives.
		return nil
	}
	if err := h.Logs.DeleteTopic(t.Name); err != nil {
		// The topic is gone from metadata; leftover files are logged, not
		// reported, as Kafka deletes data asynchronously too.
		r.Logger.Error("removing deleted topic's data failed", "topic", t.Name, "err", err)
	}
	return nil
}
