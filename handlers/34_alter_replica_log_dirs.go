package handlers

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/logstore"
	"samsa/protocol"
	"samsa/replica"
)

// AlterReplicaLogDirs v1-v2 (kafka-reassign-partitions.sh's log-dir
// moves, Admin.alterReplicaLogDirs), answered as Kafka's
// ReplicaManager.alterReplicaLogDirs answers it, per partition:
//
//   - INVALID_TOPIC_EXCEPTION when the future log's directory name
//     (topic-partition.<32 hex>-future) would be longer than 255 bytes
//     (KAFKA-4893);
//   - LOG_DIR_NOT_FOUND when the destination is not an absolute path of
//     log.dirs (Kafka's LogManager.isLogDirOnline);
//   - REPLICA_NOT_AVAILABLE when this broker holds no replica of the
//     partition (Kafka keeps NotLeaderOrFollower's old code here); the
//     destination is remembered, and the log is created there when the
//     replica arrives (LogManager.maybeUpdatePreferredLogDir). On a
//     single node, where logs are created on first use, a partition of
//     an existing topic without a log yet gets its log in the
//     destination at once (NONE);
//   - KAFKA_STORAGE_ERROR when the future log cannot be created;
//   - NONE when the move started (logstore.Store.AlterLogDir: a future
//     log in the destination copies the current one and replaces it
//     once caught up, while the partition keeps serving), or when the
//     replica is already in the destination (a move in progress is then
//     cancelled, as Kafka's futureReplicaDirChanged does), or already
//     moving there.
//
// Version 0 was removed in Kafka 4.0 (KIP-896). ALTER on the cluster is
// checked in authorize.go.
func init() { register(1, 2, (*Handlers).alterReplicaLogDirs) }

// maxLogDirNameLen is the longest file name Kafka allows for a future
// log's directory (UnifiedLog.logFutureDirName).
const maxLogDirNameLen = 255

func (h *Handlers) alterReplicaLogDirs(_ context.Context, r *protocol.Request, req *kmsg.AlterReplicaLogDirsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	byTopic := map[string]int{}
	for _, d := range req.Dirs {
		for _, t := range d.Topics {
			i, ok := byTopic[t.Topic]
			if !ok {
				i = len(resp.Topics)
				byTopic[t.Topic] = i
				rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
				rt.Topic = t.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			for _, p := range t.Partitions {
				rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
				rp.Partition = p
				rp.ErrorCode = h.alterReplicaLogDir(d.Dir, t.Topic, p)
				if rp.ErrorCode != 0 {
					r.Logger.Warn("AlterReplicaLogDirs: unable to alter log dir", "topic", t.Topic, "partition", p,
						"dir", d.Dir, "error", kerr.ErrorForCode(rp.ErrorCode))
				}
				resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
			}
		}
	}
	return resp, nil
}

// alterReplicaLogDir is one partition's answer (see alterReplicaLogDirs).
func (h *Handlers) alterReplicaLogDir(dest, topic string, partition int32) int16 {
	// topic-partition.<uuid without dashes>-future
	if len(topic)+1+len(strconv.Itoa(int(partition)))+1+32+len("-future") > maxLogDirNameLen {
		return kerr.InvalidTopicException.Code
	}
	if !slices.Contains(h.Logs.Dirs(), dest) {
		return kerr.LogDirNotFound.Code
	}
	// A partition the cluster does not know is UNKNOWN_TOPIC_OR_PARTITION;
	// one it knows but this broker does not host is REPLICA_NOT_AVAILABLE
	// (Kafka's ReplicaManager.alterReplicaLogDirs maps getPartitionOrError's
	// NOT_LEADER_OR_FOLLOWER to it). Either way the dir is remembered
	// for when the replica is created (maybeUpdatePreferredLogDir).
	t, known := h.Controller.Topic(topic)
	known = known && partition >= 0 && int(partition) < len(t.Partitions)
	if h.Replicas.ClusterMode() {
		if rp := h.Replicas.Get(topic, partition); rp == nil || rp.State().Role == replica.RoleNone {
			if err := h.Logs.PreferLogDir(topic, partition, dest); err != nil {
				return logErrCode(err)
			}
			if !known {
				return kerr.UnknownTopicOrPartition.Code
			}
			return kerr.ReplicaNotAvailable.Code
		}
	} else if _, ok := h.Logs.Partition(topic, partition); !ok {
		if !known {
			return kerr.UnknownTopicOrPartition.Code
		}
		if err := h.Logs.PreferLogDir(topic, partition, dest); err != nil {
			return logErrCode(err)
		}
		if _, err := h.openPartition(t, partition); err != nil {
			return logErrCode(err)
		}
	}
	err := h.Logs.AlterLogDir(topic, partition, dest)
	switch {
	case errors.Is(err, logstore.ErrNotHosted):
		return kerr.ReplicaNotAvailable.Code
	default:
		return logErrCode(err)
	}
}
