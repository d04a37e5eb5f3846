package handlers

import (
	"context"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DescribeLogDirs v1-v5 (kafka-log-dirs.sh): this broker's log dir with
// the size and offset lag of every partition log in it (Kafka's
// ReplicaManager.describeLogDirs). Every broker answers for its own logs
// only (in a cluster, the replicas LeaderAndIsr gave it), so the tool
// asks each broker of --broker-list. The offset lag is Kafka's
// getLogEndOffsetLag for a log that is not a future log: max(0, high
// watermark - log end offset), so 0 for leaders and followers alike.
// Samsa's log store keeps every partition in one directory, the first of
// log.dirs, which is the one listed (see AlterReplicaLogDirs).
// Partitions with no data yet have no log and are not listed, as in
// Kafka, where a log exists once created.
func init() { register(1, 5, (*Handlers).describeLogDirs) } // Kafka 4.x removed v0 (KIP-896); v5 adds is_cordoned, always false here

func (h *Handlers) describeLogDirs(_ context.Context, _ *protocol.Request, req *kmsg.DescribeLogDirsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	// nil topics: every partition; otherwise only those asked for.
	var want map[string]map[int32]bool
	if req.Topics != nil {
		want = make(map[string]map[int32]bool, len(req.Topics))
		for _, t := range req.Topics {
			ps := make(map[int32]bool, len(t.Partitions))
			for _, p := range t.Partitions {
				ps[p] = true
			}
			want[t.Topic] = ps
		}
	}
	byTopic := map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	for _, p := range h.Logs.Partitions() {
		if want != nil && !want[p.Topic()][p.ID()] {
			continue
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size = p.ID(), p.Size()
		rp.OffsetLag = max(0, p.HighWatermark()-p.LogEndOffset())
		byTopic[p.Topic()] = append(byTopic[p.Topic()], rp)
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, _ = filepath.Abs(h.Logs.Dir())
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir.Dir, &st); err == nil {
		dir.TotalBytes, dir.UsableBytes = int64(st.Blocks)*st.Bsize, int64(st.Bavail)*st.Bsize
	} else {
		dir.TotalBytes, dir.UsableBytes = -1, -1
	}
	names := make([]string, 0, len(byTopic))
	for n := range byTopic {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ps := byTopic[n]
		sort.Slice(ps, func(i, j int) bool { return ps[i].Partition < ps[j].Partition })
		rt := kmsg.NewDescribeLogDirsResponseDirTopic()
		rt.Topic, rt.Partitions = n, ps
		dir.Topics = append(dir.Topics, rt)
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp, nil
}
