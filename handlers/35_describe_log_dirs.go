package handlers

import (
	"context"
	"slices"
	"sort"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/logstore"
	"samsa/protocol"
)

// DescribeLogDirs v1-v5 (kafka-log-dirs.sh): every log dir of this
// broker (log.dirs, in order) with the size and offset lag of every
// partition log in it (Kafka's ReplicaManager.describeLogDirs), and from
// v4 the file system's total and usable bytes. Every broker answers for
// its own logs only (in a cluster, the replicas LeaderAndIsr gave it),
// so the tool asks each broker of --broker-list. The offset lag is
// Kafka's getLogEndOffsetLag: for a current log max(0, high watermark -
// log end offset), so 0 for leaders and followers alike; for the future
// log of a move between log dirs (is_future true) the current log's end
// minus the future log's. Partitions with no data yet have no log and
// are not listed, as in Kafka, where a log exists once created.
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
	dirs := h.Logs.Dirs()
	byDir := make([]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition, len(dirs))
	add := func(p *logstore.Partition, future bool) {
		if want != nil && !want[p.Topic()][p.ID()] {
			return
		}
		i := slices.Index(dirs, p.LogDir())
		if i < 0 {
			return
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size, rp.IsFuture = p.ID(), p.Size(), future
		if future {
			if cur, ok := h.Logs.Partition(p.Topic(), p.ID()); ok {
				rp.OffsetLag = max(0, cur.LogEndOffset()-p.LogEndOffset())
			}
		} else {
			rp.OffsetLag = max(0, p.HighWatermark()-p.LogEndOffset())
		}
		if byDir[i] == nil {
			byDir[i] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
		}
		byDir[i][p.Topic()] = append(byDir[i][p.Topic()], rp)
	}
	for _, p := range h.Logs.Partitions() {
		add(p, false)
	}
	for _, p := range h.Logs.Futures() {
		add(p, true)
	}
	for i, d := range dirs {
		dir := kmsg.NewDescribeLogDirsResponseDir()
		dir.Dir = d
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir.Dir, &st); err == nil {
			dir.TotalBytes, dir.UsableBytes = int64(st.Blocks)*st.Bsize, int64(st.Bavail)*st.Bsize
		} else {
			dir.TotalBytes, dir.UsableBytes = -1, -1
		}
		names := make([]string, 0, len(byDir[i]))
		for n := range byDir[i] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ps := byDir[i][n]
			sort.Slice(ps, func(a, b int) bool { return ps[a].Partition < ps[b].Partition })
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic, rt.Partitions = n, ps
			dir.Topics = append(dir.Topics, rt)
		}
		resp.Dirs = append(resp.Dirs, dir)
	}
	return resp, nil
}
