package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerRow is one broker on /.
type brokerRow struct {
	ID         int32
	Addr       string
	Rack       string
	Controller bool
}

// topicRow is one topic on /.
type topicRow struct {
	Name            string
	Internal        bool
	Partitions      int
	RF              int
	UnderReplicated int
	Offline         int
	Records         int64
	Size            int64
}

type indexData struct {
	ClusterID string
	Brokers   []brokerRow
	Topics    []topicRow
}

func (c *Console) index(ctx context.Context, r *http.Request) (string, view, error) {
	adm, _, err := c.admin()
	if err != nil {
		return "", view{}, err
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		return "", view{}, fmt.Errorf("metadata: %w", err)
	}
	d := indexData{ClusterID: md.Cluster}
	for _, b := range md.Brokers {
		row := brokerRow{ID: b.NodeID, Addr: fmt.Sprintf("%s:%d", b.Host, b.Port), Controller: b.NodeID == md.Controller}
		if b.Rack != nil {
			row.Rack = *b.Rack
		}
		d.Brokers = append(d.Brokers, row)
	}
	names := md.Topics.Names()
	starts, ends := c.offsets(ctx, adm, names)
	sizes := c.sizes(ctx, adm)
	for _, t := range md.Topics.Sorted() {
		row := topicRow{Name: t.Topic, Internal: t.IsInternal, Partitions: len(t.Partitions)}
		for _, p := range t.Partitions {
			if len(p.Replicas) > row.RF {
				row.RF = len(p.Replicas)
			}
			if len(p.ISR) < len(p.Replicas) {
				row.UnderReplicated++
			}
			if p.Leader < 0 {
				row.Offline++
			}
			s, okS := starts.Lookup(t.Topic, p.Partition)
			e, okE := ends.Lookup(t.Topic, p.Partition)
			if okS && okE && s.Err == nil && e.Err == nil && e.Offset > s.Offset {
				row.Records += e.Offset - s.Offset
			}
			row.Size += sizes[tp{t.Topic, p.Partition}]
		}
		d.Topics = append(d.Topics, row)
	}
	return "index", view{Title: "Samsa", Nav: "home", Data: d}, nil
}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

// offsets lists log start and end offsets of topics; failures leave the
// maps without those partitions (shown as "-").
func (c *Console) offsets(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends kadm.ListedOffsets) {
	if len(topics) == 0 {
		return nil, nil
	}
	var err error
	if starts, err = adm.ListStartOffsets(ctx, topics...); err != nil {
		c.log.Warn("console: list start offsets", "err", err)
	}
	if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil {
		c.log.Warn("console: list end offsets", "err", err)
	}
	return starts, ends
}

// sizes returns each partition's size in bytes: of its replicas on every
// broker, the largest (replicas differ only by what is not yet
// replicated).
func (c *Console) sizes(ctx context.Context, adm *kadm.Client) map[tp]int64 {
	out := map[tp]int64{}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		c.log.Warn("console: describe log dirs", "err", err)
		return out
	}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			k := tp{p.Topic, p.Partition}
			if p.Size > out[k] {
				out[k] = p.Size
			}
		})
	})
	return out
}

// partitionRow is one partition on /topics/{name}.
type partitionRow struct {
	Partition   int32
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Offline     []int32
	Start, End  int64
	Size        int64
	Err         string
}

// configRow is one config on /topics/{name}.
type configRow struct {
	Key, Value, Source string
}

type topicData struct {
	Name       string
	ID         string
	Internal   bool
	Partitions []partitionRow
	Configs    []configRow
}

func (c *Console) topic(ctx context.Context, r *http.Request) (string, view, error) {
	name := r.PathValue("name")
	adm, _, err := c.admin()
	if err != nil {
		return "", view{}, err
	}
	md, err := adm.Metadata(ctx, name)
	if err != nil {
		return "", view{}, fmt.Errorf("metadata: %w", err)
	}
	t, ok := md.Topics[name]
	if !ok || t.Err == kerr.UnknownTopicOrPartition {
		return "", view{}, notFound("topic %q does not exist", name)
	}
	if t.Err != nil {
		return "", view{}, fmt.Errorf("topic %q: %w", name, t.Err)
	}
	d := topicData{Name: name, ID: t.ID.String(), Internal: t.IsInternal}
	starts, ends := c.offsets(ctx, adm, []string{name})
	sizes := c.sizes(ctx, adm)
	for _, p := range t.Partitions.Sorted() {
		row := partitionRow{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: p.Replicas, ISR: p.ISR, Offline: p.OfflineReplicas, Start: -1, End: -1, Size: sizes[tp{name, p.Partition}]}
		if p.Err != nil {
			row.Err = p.Err.Error()
		}
		if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
			row.Start = o.Offset
		}
		if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
			row.End = o.Offset
		}
		d.Partitions = append(d.Partitions, row)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err == nil {
		if rc, err := rcs.On(name, nil); err == nil {
			for _, cf := range rc.Configs {
				if cf.Source == kmsg.ConfigSourceDefaultConfig {
					continue
				}
				v := cf.MaybeValue()
				if cf.Sensitive {
					v = "(sensitive)"
				}
				d.Configs = append(d.Configs, configRow{Key: cf.Key, Value: v, Source: configSource(cf.Source)})
			}
		}
	} else {
		c.log.Warn("console: describe configs", "topic", name, "err", err)
	}
	return "topic", view{Title: name, Nav: "home", Data: d}, nil
}

// configSource names a config's source as kafka-configs --describe
// --all prints it (DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, ...).
func configSource(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "DYNAMIC_TOPIC_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "DYNAMIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "STATIC_BROKER_CONFIG"
	case kmsg.ConfigSourceDefaultConfig:
		return "DEFAULT_CONFIG"
	case kmsg.ConfigSourceDynamicBrokerLoggerConfig:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	}
	return "UNKNOWN"
}

// groupRow is one group on /groups.
type groupRow struct {
	Group        string
	State        string
	ProtocolType string
	Protocol     string
	Members      int
	Lag          int64
	HasLag       bool
	Coordinator  int32
	Err          string
}

func (c *Console) groups(ctx context.Context, r *http.Request) (string, view, error) {
	adm, _, err := c.admin()
	if err != nil {
		return "", view{}, err
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return "", view{}, fmt.Errorf("list groups: %w", err)
	}
	var rows []groupRow
	if names := listed.Groups(); len(names) > 0 {
		lags, err := adm.Lag(ctx, names...)
		if err != nil {
			return "", view{}, fmt.Errorf("group lag: %w", err)
		}
		for _, name := range names {
			l := lags[name]
			row := groupRow{Group: name, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol,
				Members: len(l.Members), Coordinator: l.Coordinator.NodeID}
			if e := l.Error(); e != nil {
				row.Err = e.Error()
			}
			if row.State == "" {
				row.State = listed[name].State
			}
			row.Lag, row.HasLag = totalLag(l.Lag)
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Group < rows[j].Group })
	return "groups", view{Title: "Consumer groups", Nav: "groups", Data: rows}, nil
}

// totalLag sums a group's per-partition lag, skipping partitions whose
// lag is unknown (-1: no commit, or a listing error).
func totalLag(l kadm.GroupLag) (int64, bool) {
	var sum int64
	var any bool
	for _, ps := range l {
		for _, p := range ps {
			if p.Err == nil && p.Lag >= 0 {
				sum += p.Lag
				any = true
			}
		}
	}
	return sum, any
}

// memberRow is one member on /groups/{id}.
type memberRow struct {
	MemberID, InstanceID, ClientID, Host string
	Assigned                             []string
}

// lagRow is one partition on /groups/{id}.
type lagRow struct {
	Topic     string
	Partition int32
	Committed int64
	End       int64
	Lag       int64
	Member    string
	Err       string
}

type groupData struct {
	Group        string
	State        string
	ProtocolType string
	Protocol     string
	Coordinator  int32
	Members      []memberRow
	Lag          []lagRow
	Total        int64
	CanReset     bool
}

func (c *Console) group(ctx context.Context, r *http.Request) (string, view, error) {
	id := r.PathValue("id")
	adm, _, err := c.admin()
	if err != nil {
		return "", view{}, err
	}
	lags, err := adm.Lag(ctx, id)
	if err != nil {
		return "", view{}, fmt.Errorf("group lag: %w", err)
	}
	l, ok := lags[id]
	if !ok || l.State == "Dead" {
		return "", view{}, notFound("group %q does not exist", id)
	}
	if e := l.DescribeErr; e != nil {
		return "", view{}, fmt.Errorf("describe group %q: %w", id, e)
	}
	d := groupData{Group: id, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol,
		Coordinator: l.Coordinator.NodeID, CanReset: c.opts.AllowActions && l.State == "Empty"}
	for _, m := range l.Members {
		row := memberRow{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
		if m.InstanceID != nil {
			row.InstanceID = *m.InstanceID
		}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				row.Assigned = append(row.Assigned, fmt.Sprintf("%s %s", t.Topic, joinIDs(t.Partitions)))
			}
		}
		d.Members = append(d.Members, row)
	}
	for _, p := range l.Lag.Sorted() {
		row := lagRow{Topic: p.Topic, Partition: p.Partition, Committed: p.Commit.At, End: p.End.Offset, Lag: p.Lag}
		if p.Member != nil {
			row.Member = p.Member.ClientID + " " + p.Member.ClientHost
		}
		if p.Err != nil {
			row.Err = p.Err.Error()
		}
		if p.Lag > 0 {
			d.Total += p.Lag
		}
		d.Lag = append(d.Lag, row)
	}
	return "group", view{Title: id, Nav: "groups", Data: d}, nil
}
