package handlers

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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
//   - LOG_DIR_NOT_FOUND when the destination is not a log dir of this
//     broker. Samsa's log store keeps every partition in one directory,
//     the first of log.dirs (DescribeLogDirs lists only it), so that is
//     the only destination there is: a move to another directory of
//     log.dirs, which Kafka would make with its ReplicaAlterLogDirsThread,
//     is answered LOG_DIR_NOT_FOUND as well;
//   - REPLICA_NOT_AVAILABLE when this broker holds no replica of the
//     partition (Kafka keeps NotLeaderOrFollower's old code here);
//   - NONE when the replica is already in the destination, where Kafka
//     creates no future log and moves nothing.
//
// Version 0 was removed in Kafka 4.0 (KIP-896). ALTER on the cluster is
// checked in authorize.go.
func init() { register(1, 2, (*Handlers).alterReplicaLogDirs) }

// maxLogDirNameLen is the longest file name Kafka allows for a future
// log's directory (UnifiedLog.logFutureDirName).
const maxLogDirNameLen = 255

func (h *Handlers) alterReplicaLogDirs(_ context.Context, r *protocol.Request, req *kmsg.AlterReplicaLogDirsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	storeDir, _ := filepath.Abs(h.Logs.Dir())
	byTopic := map[string]int{}
	for _, d := range req.Dirs {
		dest := filepath.Clean(d.Dir)
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
				rp.ErrorCode = h.alterReplicaLogDir(storeDir, dest, t.Topic, p)
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
func (h *Handlers) alterReplicaLogDir(storeDir, dest, topic string, partition int32) int16 {
	// topic-partition.<uuid without dashes>-future
	if len(topic)+1+len(strconv.Itoa(int(partition)))+1+32+len("-future") > maxLogDirNameLen {
		return kerr.InvalidTopicException.Code
	}
	if !filepath.IsAbs(dest) || dest != storeDir {
		return kerr.LogDirNotFound.Code
	}
	if _, ok := h.Logs.Partition(topic, partition); !ok {
		return kerr.ReplicaNotAvailable.Code
	}
	if h.Replicas.ClusterMode() {
		if rp := h.Replicas.Get(topic, partition); rp == nil || rp.State().Role == replica.RoleNone {
			return kerr.ReplicaNotAvailable.Code
		}
	}
	return 0
}
