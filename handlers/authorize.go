package handlers

import (
	"context"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/acl"
	"samsa/controller"
	"samsa/protocol"
)

// authorized serves r when an authorizer is on: it checks what Kafka's
// KafkaApis checks for the API (AuthHelper, the handle* methods), takes
// the resources the principal may not touch out of the request, serves
// the rest, and puts the refused ones back into the response with
// Kafka's error (TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED,
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED).
// Topics a client may not DESCRIBE are left out of listings (Metadata
// for all topics, OffsetFetch of all offsets, ListTransactions), as Kafka
// hides them. An API not listed here (an inter-broker one) needs
// CLUSTER_ACTION on the cluster; without it the connection is closed.
func (h *Handlers) authorized(ctx context.Context, r *protocol.Request, a api) (kmsg.Response, error) {
	z := authz{h: h, r: r, host: hostOf(r.ClientAddr)}
	serve := func() (kmsg.Response, error) { return a.serve(h, ctx, r) }
	switch req := r.Body.(type) {
	case *kmsg.ApiVersionsRequest, *kmsg.SASLHandshakeRequest, *kmsg.SASLAuthenticateRequest, *kmsg.DescribeClusterRequest:
		return serve()
	case *kmsg.ProduceRequest:
		return z.produce(req, serve)
	case *kmsg.FetchRequest:
		return z.fetch(req, serve)
	case *kmsg.ListOffsetsRequest:
		denied := filter(&req.Topics, func(t kmsg.ListOffsetsRequestTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
		return withErrors(serve, func(resp *kmsg.ListOffsetsResponse) {
			for _, t := range denied {
				rt := kmsg.NewListOffsetsResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewListOffsetsResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.OffsetForLeaderEpochRequest:
		if req.ReplicaID >= 0 && !z.cluster(acl.OpClusterAction) {
			return nil, z.refuse("OffsetForLeaderEpoch from a replica needs CLUSTER_ACTION")
		}
		denied := filter(&req.Topics, func(t kmsg.OffsetForLeaderEpochRequestTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
		return withErrors(serve, func(resp *kmsg.OffsetForLeaderEpochResponse) {
			for _, t := range denied {
				rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.MetadataRequest:
		return z.metadata(req, serve)
	case *kmsg.CreateTopicsRequest:
		clusterCreate := z.cluster(acl.OpCreate)
		denied := filter(&req.Topics, func(t kmsg.CreateTopicsRequestTopic) bool { return clusterCreate || z.topic(acl.OpCreate, t.Topic) })
		return withErrors(serve, func(resp *kmsg.CreateTopicsResponse) {
			for _, t := range denied {
				rt := kmsg.NewCreateTopicsResponseTopic()
				rt.Topic, rt.ErrorCode = t.Topic, kerr.TopicAuthorizationFailed.Code
				rt.ErrorMessage = kmsg.StringPtr("Authorization failed.")
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.DeleteTopicsRequest:
		deniedNames := filter(&req.TopicNames, func(n string) bool { return z.topic(acl.OpDelete, n) })
		denied := filter(&req.Topics, func(t kmsg.DeleteTopicsRequestTopic) bool {
			name, ok := z.topicName(t.Topic, t.TopicID)
			return !ok || z.topic(acl.OpDelete, name)
		})
		return withErrors(serve, func(resp *kmsg.DeleteTopicsResponse) {
			for _, n := range deniedNames {
				rt := kmsg.NewDeleteTopicsResponseTopic()
				rt.Topic, rt.ErrorCode = kmsg.StringPtr(n), kerr.TopicAuthorizationFailed.Code
				resp.Topics = append(resp.Topics, rt)
			}
			for _, t := range denied {
				rt := kmsg.NewDeleteTopicsResponseTopic()
				rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, kerr.TopicAuthorizationFailed.Code
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.CreatePartitionsRequest:
		denied := filter(&req.Topics, func(t kmsg.CreatePartitionsRequestTopic) bool { return z.topic(acl.OpAlter, t.Topic) })
		return withErrors(serve, func(resp *kmsg.CreatePartitionsResponse) {
			for _, t := range denied {
				rt := kmsg.NewCreatePartitionsResponseTopic()
				rt.Topic, rt.ErrorCode = t.Topic, kerr.TopicAuthorizationFailed.Code
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.DeleteRecordsRequest:
		denied := filter(&req.Topics, func(t kmsg.DeleteRecordsRequestTopic) bool { return z.topic(acl.OpDelete, t.Topic) })
		return withErrors(serve, func(resp *kmsg.DeleteRecordsResponse) {
			for _, t := range denied {
				rt := kmsg.NewDeleteRecordsResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewDeleteRecordsResponseTopicPartition()
					rp.Partition, rp.LowWatermark, rp.ErrorCode = p.Partition, -1, kerr.TopicAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.DescribeConfigsRequest:
		denied := filter(&req.Resources, func(c kmsg.DescribeConfigsRequestResource) bool {
			return z.configResource(acl.OpDescribeConfigs, int8(c.ResourceType), c.ResourceName)
		})
		return withErrors(serve, func(resp *kmsg.DescribeConfigsResponse) {
			for _, c := range denied {
				rr := kmsg.NewDescribeConfigsResponseResource()
				rr.ResourceType, rr.ResourceName = c.ResourceType, c.ResourceName
				rr.ErrorCode = configDenied(int8(c.ResourceType))
				resp.Resources = append(resp.Resources, rr)
			}
		})
	case *kmsg.AlterConfigsRequest:
		denied := filter(&req.Resources, func(c kmsg.AlterConfigsRequestResource) bool {
			return z.configResource(acl.OpAlterConfigs, int8(c.ResourceType), c.ResourceName)
		})
		return withErrors(serve, func(resp *kmsg.AlterConfigsResponse) {
			for _, c := range denied {
				rr := kmsg.NewAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = c.ResourceType, c.ResourceName, configDenied(int8(c.ResourceType))
				resp.Resources = append(resp.Resources, rr)
			}
		})
	case *kmsg.IncrementalAlterConfigsRequest:
		denied := filter(&req.Resources, func(c kmsg.IncrementalAlterConfigsRequestResource) bool {
			return z.configResource(acl.OpAlterConfigs, int8(c.ResourceType), c.ResourceName)
		})
		return withErrors(serve, func(resp *kmsg.IncrementalAlterConfigsResponse) {
			for _, c := range denied {
				rr := kmsg.NewIncrementalAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = c.ResourceType, c.ResourceName, configDenied(int8(c.ResourceType))
				resp.Resources = append(resp.Resources, rr)
			}
		})
	case *kmsg.FindCoordinatorRequest:
		return z.findCoordinator(req, serve)
	case *kmsg.JoinGroupRequest:
		if !z.group(acl.OpRead, req.Group) {
			resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.SyncGroupRequest:
		if !z.group(acl.OpRead, req.Group) {
			resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.HeartbeatRequest:
		if !z.group(acl.OpRead, req.Group) {
			resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.LeaveGroupRequest:
		if !z.group(acl.OpRead, req.Group) {
			resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.OffsetCommitRequest:
		return z.offsetCommit(req, serve)
	case *kmsg.OffsetFetchRequest:
		return z.offsetFetch(req, serve)
	case *kmsg.DescribeGroupsRequest:
		denied := filter(&req.Groups, func(g string) bool { return z.group(acl.OpDescribe, g) })
		return withErrors(serve, func(resp *kmsg.DescribeGroupsResponse) {
			for _, g := range denied {
				rg := kmsg.NewDescribeGroupsResponseGroup()
				rg.Group, rg.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
				resp.Groups = append(resp.Groups, rg)
			}
		})
	case *kmsg.ListGroupsRequest:
		all := z.cluster(acl.OpDescribe)
		return withErrors(serve, func(resp *kmsg.ListGroupsResponse) {
			if !all {
				filterQuiet(&resp.Groups, func(g kmsg.ListGroupsResponseGroup) bool { return z.quiet(acl.OpDescribe, acl.ResourceGroup, g.Group) })
			}
		})
	case *kmsg.DeleteGroupsRequest:
		denied := filter(&req.Groups, func(g string) bool { return z.group(acl.OpDelete, g) })
		return withErrors(serve, func(resp *kmsg.DeleteGroupsResponse) {
			for _, g := range denied {
				rg := kmsg.NewDeleteGroupsResponseGroup()
				rg.Group, rg.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
				resp.Groups = append(resp.Groups, rg)
			}
		})
	case *kmsg.OffsetDeleteRequest:
		if !z.group(acl.OpDelete, req.Group) {
			resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp, nil
		}
		denied := filter(&req.Topics, func(t kmsg.OffsetDeleteRequestTopic) bool { return z.topic(acl.OpRead, t.Topic) })
		return withErrors(serve, func(resp *kmsg.OffsetDeleteResponse) {
			for _, t := range denied {
				rt := kmsg.NewOffsetDeleteResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetDeleteResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.InitProducerIDRequest:
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		if req.TransactionalID != nil {
			if !z.ok(acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionalID) {
				resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				return resp, nil
			}
		} else if !z.cluster(acl.OpIdempotentWrite) && !h.Authorizer.AuthorizeAny(r.Principal, z.host, acl.OpWrite, acl.ResourceTopic) {
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.AddPartitionsToTxnRequest:
		return z.addPartitionsToTxn(req, serve)
	case *kmsg.AddOffsetsToTxnRequest:
		resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		switch {
		case !z.ok(acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID):
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		case !z.group(acl.OpRead, req.Group):
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		default:
			return serve()
		}
		return resp, nil
	case *kmsg.EndTxnRequest:
		if !z.ok(acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID) {
			resp := req.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.TxnOffsetCommitRequest:
		return z.txnOffsetCommit(req, serve)
	case *kmsg.DescribeTransactionsRequest:
		denied := filter(&req.TransactionalIDs, func(id string) bool { return z.ok(acl.OpDescribe, acl.ResourceTransactionalID, id) })
		return withErrors(serve, func(resp *kmsg.DescribeTransactionsResponse) {
			for _, id := range denied {
				s := kmsg.NewDescribeTransactionsResponseTransactionState()
				s.TransactionalID, s.ErrorCode = id, kerr.TransactionalIDAuthorizationFailed.Code
				resp.TransactionStates = append(resp.TransactionStates, s)
			}
		})
	case *kmsg.ListTransactionsRequest:
		return withErrors(serve, func(resp *kmsg.ListTransactionsResponse) {
			filterQuiet(&resp.TransactionStates, func(s kmsg.ListTransactionsResponseTransactionState) bool {
				return z.quiet(acl.OpDescribe, acl.ResourceTransactionalID, s.TransactionalID)
			})
		})
	case *kmsg.DescribeProducersRequest:
		denied := filter(&req.Topics, func(t kmsg.DescribeProducersRequestTopic) bool { return z.topic(acl.OpRead, t.Topic) })
		return withErrors(serve, func(resp *kmsg.DescribeProducersResponse) {
			for _, t := range denied {
				rt := kmsg.NewDescribeProducersResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewDescribeProducersResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p, kerr.TopicAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.DescribeTopicPartitionsRequest:
		denied := filter(&req.Topics, func(t kmsg.DescribeTopicPartitionsRequestTopic) bool { return z.topic(acl.OpDescribe, t.Topic) })
		return withErrors(serve, func(resp *kmsg.DescribeTopicPartitionsResponse) {
			for _, t := range denied {
				rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
				rt.Topic, rt.ErrorCode = kmsg.StringPtr(t.Topic), kerr.TopicAuthorizationFailed.Code
				resp.Topics = append(resp.Topics, rt)
			}
		})
	case *kmsg.DescribeLogDirsRequest:
		if !z.cluster(acl.OpDescribe) {
			resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.AlterReplicaLogDirsRequest:
		// handleAlterReplicaLogDirsRequest: ALTER on the cluster, else
		// CLUSTER_AUTHORIZATION_FAILED for every partition.
		if !z.cluster(acl.OpAlter) {
			resp := req.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
			for _, d := range req.Dirs {
				for _, t := range d.Topics {
					rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
					rt.Topic = t.Topic
					for _, p := range t.Partitions {
						rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
						rp.Partition, rp.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
						rt.Partitions = append(rt.Partitions, rp)
					}
					resp.Topics = append(resp.Topics, rt)
				}
			}
			return resp, nil
		}
		return serve()
	case *kmsg.ElectLeadersRequest:
		// handleElectLeaders: ALTER on the cluster, else
		// CLUSTER_AUTHORIZATION_FAILED at the top and for each partition
		// asked for.
		if !z.cluster(acl.OpAlter) {
			resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			for _, t := range req.Topics {
				rt := kmsg.NewElectLeadersResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewElectLeadersResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp, nil
		}
		return serve()
	case *kmsg.AlterPartitionAssignmentsRequest:
		// handleAlterPartitionReassignmentsRequest: ALTER on the cluster,
		// else the error response (CLUSTER_AUTHORIZATION_FAILED at the top).
		if !z.cluster(acl.OpAlter) {
			resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.ListPartitionReassignmentsRequest:
		// handleListPartitionReassignmentsRequest: DESCRIBE on the cluster.
		if !z.cluster(acl.OpDescribe) {
			resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.ControlledShutdownRequest:
		// handleControlledShutdownRequest: CLUSTER_ACTION, else the error
		// response (CLUSTER_AUTHORIZATION_FAILED) rather than a close.
		if !z.cluster(acl.OpClusterAction) {
			resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.DescribeACLsRequest:
		if !z.cluster(acl.OpDescribe) {
			resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.CreateACLsRequest:
		if !z.cluster(acl.OpAlter) {
			resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
			for range req.Creations {
				res := kmsg.NewCreateACLsResponseResult()
				res.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				resp.Results = append(resp.Results, res)
			}
			return resp, nil
		}
		return serve()
	case *kmsg.DeleteACLsRequest:
		if !z.cluster(acl.OpAlter) {
			resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
			for range req.Filters {
				res := kmsg.NewDeleteACLsResponseResult()
				res.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				resp.Results = append(resp.Results, res)
			}
			return resp, nil
		}
		return serve()
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		if !z.cluster(acl.OpDescribe) {
			resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		if !z.cluster(acl.OpAlter) {
			resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
			users := map[string]bool{}
			for _, d := range req.Deletions {
				users[d.Name] = true
			}
			for _, u := range req.Upsertions {
				users[u.Name] = true
			}
			for u := range users {
				res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
				res.User, res.ErrorCode = u, kerr.ClusterAuthorizationFailed.Code
				resp.Results = append(resp.Results, res)
			}
			return resp, nil
		}
		return serve()
	case *kmsg.AlterClientQuotasRequest:
		if !z.cluster(acl.OpAlterConfigs) {
			resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
			for _, e := range req.Entries {
				re := kmsg.NewAlterClientQuotasResponseEntry()
				for _, p := range e.Entity {
					ee := kmsg.NewAlterClientQuotasResponseEntryEntity()
					ee.Type, ee.Name = p.Type, p.Name
					re.Entity = append(re.Entity, ee)
				}
				re.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				resp.Entries = append(resp.Entries, re)
			}
			return resp, nil
		}
		return serve()
	case *kmsg.DescribeClientQuotasRequest:
		if !z.cluster(acl.OpDescribeConfigs) {
			resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return resp, nil
		}
		return serve()
	}
	if !z.cluster(acl.OpClusterAction) {
		return nil, z.refuse(kmsg.NameForKey(r.Header.Key) + " needs CLUSTER_ACTION on the cluster")
	}
	return serve()
}

// authz is one request's authorization context.
type authz struct {
	h    *Handlers
	r    *protocol.Request
	host string
}

// ok checks an explicitly requested resource; a denial is logged (Kafka's
// authorizer audit log logs these at INFO).
func (z authz) ok(op, rt int8, name string) bool {
	if z.h.Authorizer.Authorize(z.r.Principal, z.host, op, rt, name) {
		return true
	}
	z.r.Logger.Info("authorization failed", "principal", z.r.Principal, "host", z.host,
		"operation", kmsg.ACLOperation(op).String(), "resource", acl.ResourceTypeName(rt)+":"+name,
		"api", kmsg.NameForKey(z.r.Header.Key))
	return false
}

// quiet checks a resource the client did not name (a listing filter):
// no log line.
func (z authz) quiet(op, rt int8, name string) bool {
	return z.h.Authorizer.Authorize(z.r.Principal, z.host, op, rt, name)
}

func (z authz) topic(op int8, name string) bool { return z.ok(op, acl.ResourceTopic, name) }
func (z authz) group(op int8, name string) bool { return z.ok(op, acl.ResourceGroup, name) }
func (z authz) cluster(op int8) bool            { return z.ok(op, acl.ResourceCluster, acl.ClusterName) }

func (z authz) refuse(why string) error {
	return fmt.Errorf("authorization failed for %s: %s", z.r.Principal, why)
}

// topicName is a topic's name given by name or, when name is unset, by id.
func (z authz) topicName(name *string, id [16]byte) (string, bool) {
	if name != nil && *name != "" {
		return *name, true
	}
	t, ok := z.h.Controller.TopicByID(controller.TopicID(id))
	return t.Name, ok
}

// configResource checks a DescribeConfigs / AlterConfigs resource: a
// topic, or a broker (or broker logger), which is the CLUSTER resource.
func (z authz) configResource(op, resourceType int8, name string) bool {
	switch resourceType {
	case 2:
		return z.topic(op, name)
	case 4, 8:
		return z.cluster(op)
	}
	return true // unknown types are answered by the handler
}

func configDenied(resourceType int8) int16 {
	if resourceType == 2 {
		return kerr.TopicAuthorizationFailed.Code
	}
	return kerr.ClusterAuthorizationFailed.Code
}

// hostOf is the IP of a client address "ip:port", the host Kafka's ACLs
// name.
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// filter keeps the items ok accepts and returns the others.
func filter[T any](items *[]T, ok func(T) bool) []T {
	var denied []T
	keep := (*items)[:0:0]
	for _, it := range *items {
		if ok(it) {
			keep = append(keep, it)
		} else {
			denied = append(denied, it)
		}
	}
	if *items != nil {
		*items = keep
	}
	return denied
}

// filterQuiet drops the items ok refuses, in place.
func filterQuiet[T any](items *[]T, ok func(T) bool) {
	keep := (*items)[:0]
	for _, it := range *items {
		if ok(it) {
			keep = append(keep, it)
		}
	}
	*items = keep
}

// withErrors serves and lets add put the refused resources into the
// response (when there is one: Produce with acks=0 has none).
func withErrors[R kmsg.Response](serve func() (kmsg.Response, error), add func(R)) (kmsg.Response, error) {
	resp, err := serve()
	if err != nil || resp == nil {
		return resp, err
	}
	if r, ok := resp.(R); ok {
		add(r)
	}
	return resp, nil
}
