package handlers

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/acl"
)

type serveFn = func() (kmsg.Response, error)

// produce: WRITE on the transactional id (else every partition answers
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED), WRITE on each topic.
func (z authz) produce(req *kmsg.ProduceRequest, serve serveFn) (kmsg.Response, error) {
	var denied []kmsg.ProduceRequestTopic
	code := kerr.TopicAuthorizationFailed.Code
	if req.TransactionID != nil && !z.ok(acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionID) {
		denied, req.Topics = req.Topics, req.Topics[:0]
		code = kerr.TransactionalIDAuthorizationFailed.Code
	} else {
		denied = filter(&req.Topics, func(t kmsg.ProduceRequestTopic) bool {
			name, ok := z.topicName(&t.Topic, t.TopicID)
			return !ok || z.topic(acl.OpWrite, name)
		})
	}
	return withErrors(serve, func(resp *kmsg.ProduceResponse) {
		for _, t := range denied {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

// fetch: a replica's fetch needs CLUSTER_ACTION; a consumer's, READ on
// each topic.
func (z authz) fetch(req *kmsg.FetchRequest, serve serveFn) (kmsg.Response, error) {
	replica := req.ReplicaID >= 0 || req.ReplicaState.ID >= 0
	var denied []kmsg.FetchRequestTopic
	if replica && !z.cluster(acl.OpClusterAction) {
		denied, req.Topics = req.Topics, req.Topics[:0]
	} else if !replica {
		denied = filter(&req.Topics, func(t kmsg.FetchRequestTopic) bool {
			name, ok := z.topicName(&t.Topic, t.TopicID)
			return !ok || z.topic(acl.OpRead, name)
		})
	}
	return withErrors(serve, func(resp *kmsg.FetchResponse) {
		for _, t := range denied {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
				rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

// metadata: all topics lists only those the client may DESCRIBE; a named
// topic it may not describe, or may not create when it does not exist
// and auto-creation is asked for (CREATE on the cluster or the topic),
// answers TOPIC_AUTHORIZATION_FAILED, as KafkaApis does.
func (z authz) metadata(req *kmsg.MetadataRequest, serve serveFn) (kmsg.Response, error) {
	if req.Topics == nil {
		return withErrors(serve, func(resp *kmsg.MetadataResponse) {
			filterQuiet(&resp.Topics, func(t kmsg.MetadataResponseTopic) bool {
				return t.Topic == nil || z.quiet(acl.OpDescribe, acl.ResourceTopic, *t.Topic)
			})
		})
	}
	clusterCreate := -1
	denied := filter(&req.Topics, func(t kmsg.MetadataRequestTopic) bool {
		name, ok := z.topicName(t.Topic, t.TopicID)
		if !ok {
			return true // unknown id: the handler answers it
		}
		if !z.topic(acl.OpDescribe, name) {
			return false
		}
		if _, exists := z.h.Controller.Topic(name); exists || !req.AllowAutoTopicCreation || !z.h.Config.AutoCreateTopics {
			return true
		}
		if clusterCreate < 0 {
			clusterCreate = 0
			if z.quiet(acl.OpCreate, acl.ResourceCluster, acl.ClusterName) {
				clusterCreate = 1
			}
		}
		return clusterCreate == 1 || z.topic(acl.OpCreate, name)
	})
	return withErrors(serve, func(resp *kmsg.MetadataResponse) {
		for _, t := range denied {
			rt := kmsg.NewMetadataResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, rt)
		}
	})
}

// findCoordinator: DESCRIBE on the group or transactional id.
func (z authz) findCoordinator(req *kmsg.FindCoordinatorRequest, serve serveFn) (kmsg.Response, error) {
	rt, code := acl.ResourceGroup, kerr.GroupAuthorizationFailed.Code
	if req.CoordinatorType == 1 {
		rt, code = acl.ResourceTransactionalID, kerr.TransactionalIDAuthorizationFailed.Code
	}
	if req.Version < 4 {
		if !z.ok(acl.OpDescribe, rt, req.CoordinatorKey) {
			resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
			resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
			return resp, nil
		}
		return serve()
	}
	denied := filter(&req.CoordinatorKeys, func(k string) bool { return z.ok(acl.OpDescribe, rt, k) })
	return withErrors(serve, func(resp *kmsg.FindCoordinatorResponse) {
		for _, k := range denied {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.NodeID, c.Port, c.ErrorCode = k, -1, -1, code
			resp.Coordinators = append(resp.Coordinators, c)
		}
	})
}

// offsetCommit: READ on the group (else every partition answers
// GROUP_AUTHORIZATION_FAILED), READ on each topic.
func (z authz) offsetCommit(req *kmsg.OffsetCommitRequest, serve serveFn) (kmsg.Response, error) {
	code := kerr.TopicAuthorizationFailed.Code
	var denied []kmsg.OffsetCommitRequestTopic
	if !z.group(acl.OpRead, req.Group) {
		denied, req.Topics = req.Topics, req.Topics[:0]
		code = kerr.GroupAuthorizationFailed.Code
	} else {
		denied = filter(&req.Topics, func(t kmsg.OffsetCommitRequestTopic) bool {
			name, ok := z.topicName(&t.Topic, t.TopicID)
			return !ok || z.topic(acl.OpRead, name)
		})
	}
	if code == kerr.GroupAuthorizationFailed.Code {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		addCommitErrors(resp, denied, code)
		return resp, nil
	}
	return withErrors(serve, func(resp *kmsg.OffsetCommitResponse) { addCommitErrors(resp, denied, code) })
}

func addCommitErrors(resp *kmsg.OffsetCommitResponse, denied []kmsg.OffsetCommitRequestTopic, code int16) {
	for _, t := range denied {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}

// offsetFetch: DESCRIBE on the group; of its offsets, a named topic the
// client may not DESCRIBE answers TOPIC_AUTHORIZATION_FAILED, and "all
// offsets" leaves such topics out.
func (z authz) offsetFetch(req *kmsg.OffsetFetchRequest, serve serveFn) (kmsg.Response, error) {
	if req.Version < 8 {
		if !z.group(acl.OpDescribe, req.Group) {
			resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp, nil
		}
		all := req.Topics == nil
		denied := filter(&req.Topics, func(t kmsg.OffsetFetchRequestTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
		return withErrors(serve, func(resp *kmsg.OffsetFetchResponse) {
			if all {
				filterQuiet(&resp.Topics, func(t kmsg.OffsetFetchResponseTopic) bool { return z.quiet(acl.OpDescribe, acl.ResourceTopic, t.Topic) })
			}
			for _, t := range denied {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, kerr.TopicAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})
	}
	deniedGroups := filter(&req.Groups, func(g kmsg.OffsetFetchRequestGroup) bool { return z.group(acl.OpDescribe, g.Group) })
	type groupDenied struct {
		all    bool
		topics []kmsg.OffsetFetchRequestGroupTopic
	}
	per := map[string]groupDenied{}
	for i := range req.Groups {
		g := &req.Groups[i]
		all := g.Topics == nil
		per[g.Group] = groupDenied{all, filter(&g.Topics, func(t kmsg.OffsetFetchRequestGroupTopic) bool {
			name, ok := z.topicName(&t.Topic, t.TopicID)
			return !ok || z.topic(acl.OpDescribe, name)
		})}
	}
	return withErrors(serve, func(resp *kmsg.OffsetFetchResponse) {
		for i := range resp.Groups {
			g := &resp.Groups[i]
			d := per[g.Group]
			if d.all {
				filterQuiet(&g.Topics, func(t kmsg.OffsetFetchResponseGroupTopic) bool {
					name, ok := z.topicName(&t.Topic, t.TopicID)
					return ok && z.quiet(acl.OpDescribe, acl.ResourceTopic, name)
				})
			}
			for _, t := range d.topics {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic, rt.TopicID = t.Topic, t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, kerr.TopicAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
		}
		for _, g := range deniedGroups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
		}
	})
}

// addPartitionsToTxn: a client's request (v0-v3) needs WRITE on the
// transactional id and on every topic; if any topic is refused, nothing
// is added: refused partitions answer TOPIC_AUTHORIZATION_FAILED and the
// others OPERATION_NOT_ATTEMPTED, as Kafka. A broker's batched
// verification (v4+) needs CLUSTER_ACTION.
func (z authz) addPartitionsToTxn(req *kmsg.AddPartitionsToTxnRequest, serve serveFn) (kmsg.Response, error) {
	if req.Version >= 4 {
		if !z.cluster(acl.OpClusterAction) {
			resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	}
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	answer := func(code func(topic string) int16) (kmsg.Response, error) {
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code(t.Topic)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	if !z.ok(acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID) {
		return answer(func(string) int16 { return kerr.TransactionalIDAuthorizationFailed.Code })
	}
	refused := map[string]bool{}
	for _, t := range req.Topics {
		if !z.topic(acl.OpWrite, t.Topic) {
			refused[t.Topic] = true
		}
	}
	if len(refused) > 0 {
		return answer(func(topic string) int16 {
			if refused[topic] {
				return kerr.TopicAuthorizationFailed.Code
			}
			return kerr.OperationNotAttempted.Code
		})
	}
	return serve()
}

// txnOffsetCommit: WRITE on the transactional id, READ on the group (each
// refusal answers every partition), READ on each topic.
func (z authz) txnOffsetCommit(req *kmsg.TxnOffsetCommitRequest, serve serveFn) (kmsg.Response, error) {
	var code int16
	switch {
	case !z.ok(acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID):
		code = kerr.TransactionalIDAuthorizationFailed.Code
	case !z.group(acl.OpRead, req.Group):
		code = kerr.GroupAuthorizationFailed.Code
	}
	add := func(resp *kmsg.TxnOffsetCommitResponse, topics []kmsg.TxnOffsetCommitRequestTopic, code int16) {
		for _, t := range topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		add(resp, req.Topics, code)
		return resp, nil
	}
	denied := filter(&req.Topics, func(t kmsg.TxnOffsetCommitRequestTopic) bool {
		name, ok := z.topicName(&t.Topic, t.TopicID)
		return !ok || z.topic(acl.OpRead, name)
	})
	return withErrors(serve, func(resp *kmsg.TxnOffsetCommitResponse) { add(resp, denied, kerr.TopicAuthorizationFailed.Code) })
}
