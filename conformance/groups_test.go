package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func findCoordinatorReq(version int16, keyType int8, keys ...string) *kmsg.FindCoordinatorRequest {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorType = version, keyType
	if version >= 4 {
		req.CoordinatorKeys = keys
	} else {
		req.CoordinatorKey = keys[0]
	}
	return req
}

// TestFindCoordinator: groups and transactional ids, batched (v4+).
func TestFindCoordinator(t *testing.T) {
	c := scenario(t)
	g := c.topic("g")
	// Kafka creates __transaction_state on the first transactional
	// lookup and answers COORDINATOR_NOT_AVAILABLE until it exists;
	// compare the steady state.
	roundTripBoth(c, findCoordinatorReq(3, 1, g))
	for _, v := range []int16{0, 3, 4, 6} {
		c.at("group")
		c.same(findCoordinatorReq(v, 0, g))
		if v >= 1 {
			c.at("transactional id")
			c.same(findCoordinatorReq(v, 1, g))
			c.at("unknown key type")
			c.same(findCoordinatorReq(v, 5, g))
		}
		if v >= 4 {
			c.at("batch")
			c.same(findCoordinatorReq(v, 0, g, g+"-2", ""))
		}
	}
}

func joinReq(version int16, group, member string, instance *string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID, req.InstanceID = version, group, member, instance
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 1, 0, 0, 0, 0}
	req.Protocols = append(req.Protocols, p)
	return req
}

// TestGroupLifecycle: join (member id required), sync, heartbeat, commit,
// fetch, describe, list, leave, delete, with each broker's own member ids,
// at the lowest and highest versions, plus unknown member and generation
// errors.
func TestGroupLifecycle(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 2, nil)
	for _, v := range [][2]int16{{0, 0}, {9, 5}} { // JoinGroup, SyncGroup versions
		jv, sv := v[0], v[1]
		g := c.topic("g" + itoa(jv))
		c.same(findCoordinatorReq(3, 0, g))
		if jv >= 4 {
			c.at("join without member id")
			c.do(func(s *side) kmsg.Request { return joinReq(jv, g, "", nil) })
		}
		c.at("join")
		c.do(func(s *side) kmsg.Request {
			if jv < 4 {
				return joinReq(jv, g, "", nil)
			}
			// v4+: the first join returns MEMBER_ID_REQUIRED with an id.
			r, _ := roundTrip(s.Addr, joinReq(jv, g, "", nil))
			id := r.(*kmsg.JoinGroupResponse).MemberID
			return joinReq(jv, g, id, nil)
		})
		for _, s := range c.sides {
			r, err := roundTrip(s.Addr, kmsg.Request(describeGroupsReq(0, g)))
			if err != nil || len(r.(*kmsg.DescribeGroupsResponse).Groups[0].Members) != 1 {
				c.t.Fatalf("%s: the group does not have one member after the join", s.Name)
			}
			s.Vals["member"] = r.(*kmsg.DescribeGroupsResponse).Groups[0].Members[0].MemberID
		}
		c.at("sync as leader")
		c.do(func(s *side) kmsg.Request {
			req := kmsg.NewPtrSyncGroupRequest()
			req.Version, req.Group, req.MemberID = sv, g, s.Vals["member"].(string)
			req.Generation = 1
			req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
			a := kmsg.NewSyncGroupRequestGroupAssignment()
			a.MemberID, a.MemberAssignment = s.Vals["member"].(string), []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
			req.GroupAssignment = append(req.GroupAssignment, a)
			return req
		})
		for _, hv := range []int16{0, 4} {
			c.at("heartbeat v%d", hv)
			c.do(func(s *side) kmsg.Request {
				req := kmsg.NewPtrHeartbeatRequest()
				req.Version, req.Group, req.MemberID, req.Generation = hv, g, s.Vals["member"].(string), 1
				return req
			})
			c.at("heartbeat unknown member")
			req := kmsg.NewPtrHeartbeatRequest()
			req.Version, req.Group, req.MemberID, req.Generation = hv, g, "nobody", 1
			c.same(req)
			c.at("heartbeat wrong generation")
			c.do(func(s *side) kmsg.Request {
				req := kmsg.NewPtrHeartbeatRequest()
				req.Version, req.Group, req.MemberID, req.Generation = hv, g, s.Vals["member"].(string), 7
				return req
			})
		}
		for _, ov := range []int16{2, 9, 10} {
			c.at("commit v%d", ov)
			c.do(func(s *side) kmsg.Request {
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Version, req.Group, req.MemberID, req.Generation = ov, g, s.Vals["member"].(string), 1
				rt := kmsg.NewOffsetCommitRequestTopic()
				rt.Topic, rt.TopicID = topic, c.topicID(s, topic)
				for p := int32(0); p < 3; p++ {
					rp := kmsg.NewOffsetCommitRequestTopicPartition()
					rp.Partition, rp.Offset, rp.Metadata = p, 7, kmsg.StringPtr("m")
					rt.Partitions = append(rt.Partitions, rp)
				}
				rt2 := kmsg.NewOffsetCommitRequestTopic()
				rt2.Topic, rt2.TopicID = topic+"-nope", [16]byte{7, 7}
				rp := kmsg.NewOffsetCommitRequestTopicPartition()
				rp.Offset = 1
				rt2.Partitions = append(rt2.Partitions, rp)
				req.Topics = append(req.Topics, rt, rt2)
				return req
			})
		}
		for _, fv := range []int16{1, 7, 9, 10} {
			c.at("offset fetch v%d", fv)
			c.do(func(s *side) kmsg.Request {
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Version = fv
				if fv >= 8 {
					rg := kmsg.NewOffsetFetchRequestGroup()
					rg.Group = g
					rt := kmsg.NewOffsetFetchRequestGroupTopic()
					rt.Topic, rt.TopicID, rt.Partitions = topic, c.topicID(s, topic), []int32{0, 1, 2}
					rt2 := kmsg.NewOffsetFetchRequestGroupTopic()
					rt2.Topic, rt2.TopicID, rt2.Partitions = topic+"-nope", [16]byte{7, 7}, []int32{0}
					rg.Topics = append(rg.Topics, rt, rt2)
					rg2 := kmsg.NewOffsetFetchRequestGroup()
					rg2.Group = g + "-nope"
					req.Groups = append(req.Groups, rg, rg2)
				} else {
					req.Group = g
					rt := kmsg.NewOffsetFetchRequestTopic()
					rt.Topic, rt.Partitions = topic, []int32{0, 1, 2}
					req.Topics = append(req.Topics, rt)
				}
				return req
			})
			if fv >= 8 {
				c.at("offset fetch v%d, all topics", fv)
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Version = fv
				rg := kmsg.NewOffsetFetchRequestGroup()
				rg.Group, rg.Topics = g, nil
				req.Groups = append(req.Groups, rg)
				c.same(req)
			}
		}
		for _, dv := range []int16{0, 6} {
			c.at("describe v%d", dv)
			c.same(describeGroupsReq(dv, g, g+"-nope"))
		}
		for _, lv := range []int16{0, 5} {
			c.at("list v%d", lv)
			req := kmsg.NewPtrListGroupsRequest()
			req.Version = lv
			k, s := roundTripBoth(c, req)
			// Other scenarios' groups are listed too; compare ours.
			c.entry.apis["ListGroups v"+itoa(lv)] = true
			kl, sl := filterGroups(k, g), filterGroups(s, g)
			for _, d := range compare(16, kl, sl) {
				c.fail("ListGroups v"+itoa(lv), d.path, d.kafka, d.samsa)
			}
		}
		c.at("delete while active")
		dreq := kmsg.NewPtrDeleteGroupsRequest()
		dreq.Version, dreq.Groups = 2, []string{g, g + "-nope"}
		c.same(dreq)
		c.at("offset delete while subscribed")
		oreq := kmsg.NewPtrOffsetDeleteRequest()
		oreq.Group = g
		ot := kmsg.NewOffsetDeleteRequestTopic()
		ot.Topic = topic
		op := kmsg.NewOffsetDeleteRequestTopicPartition()
		op.Partition = 0
		ot.Partitions = append(ot.Partitions, op)
		oreq.Topics = append(oreq.Topics, ot)
		c.same(oreq)
		for _, lv := range []int16{0, 5} {
			c.at("leave v%d", lv)
			c.do(func(s *side) kmsg.Request {
				req := kmsg.NewPtrLeaveGroupRequest()
				req.Version, req.Group = lv, g
				if lv >= 3 {
					m := kmsg.NewLeaveGroupRequestMember()
					m.MemberID = s.Vals["member"].(string)
					m2 := kmsg.NewLeaveGroupRequestMember()
					m2.MemberID = "nobody"
					req.Members = append(req.Members, m, m2)
				} else {
					req.MemberID = s.Vals["member"].(string)
				}
				return req
			})
		}
		c.at("describe after leave")
		c.same(describeGroupsReq(6, g))
		c.at("offset delete")
		c.same(oreq)
		c.at("delete")
		for _, dv := range []int16{0, 2} {
			dreq := kmsg.NewPtrDeleteGroupsRequest()
			dreq.Version, dreq.Groups = dv, []string{g}
			c.same(dreq)
		}
	}
}

func describeGroupsReq(version int16, groups ...string) *kmsg.DescribeGroupsRequest {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version, req.Groups = version, groups
	req.IncludeAuthorizedOperations = version >= 3
	return req
}

// filterGroups keeps the listed groups named g (other scenarios' groups
// are on the brokers too).
func filterGroups(r kmsg.Response, g string) *kmsg.ListGroupsResponse {
	l := r.(*kmsg.ListGroupsResponse)
	out := *l
	out.Groups = []kmsg.ListGroupsResponseGroup{}
	for _, x := range l.Groups {
		if x.Group == g {
			out.Groups = append(out.Groups, x)
		}
	}
	return &out
}

// TestInitProducerID: idempotent producers (no transactional id), and the
// TestTxnCoordinator covers transactional ids.
func TestInitProducerID(t *testing.T) {
	c := scenario(t)
	for _, v := range []int16{0, 5} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version, req.TransactionTimeoutMillis = v, 60000
		if v >= 3 {
			req.ProducerID, req.ProducerEpoch = -1, -1
		}
		c.at("idempotent")
		k, s := roundTripBoth(c, req)
		if k == nil || s == nil {
			c.fail("InitProducerID v"+itoa(v), "", describeAnswer(k), describeAnswer(s))
			continue
		}
		// Producer ids are each cluster's own allocation; compare the rest.
		kr, sr := *k.(*kmsg.InitProducerIDResponse), *s.(*kmsg.InitProducerIDResponse)
		if (kr.ProducerID >= 0) != (sr.ProducerID >= 0) {
			c.fail("InitProducerID v"+itoa(v), "ProducerID", itoa64(kr.ProducerID), itoa64(sr.ProducerID))
		}
		kr.ProducerID, sr.ProducerID = 0, 0
		c.entry.apis["InitProducerID v"+itoa(v)] = true
		for _, d := range compare(22, &kr, &sr) {
			c.fail("InitProducerID v"+itoa(v), d.path, d.kafka, d.samsa)
		}
	}
}

func itoa64(v int64) string { return itoa(int16(min(max(v, -1), 32000))) }
