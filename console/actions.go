package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
)

// createTopic serves POST /topics: name, partitions (default: the
// broker's num.partitions, sent as -1), replication_factor (default -1,
// default.replication.factor), as kafka-topics --create.
func (c *Console) createTopic(ctx context.Context, r *http.Request) (string, error) {
	if err := r.ParseForm(); err != nil {
		return "", badRequest("bad form: %v", err)
	}
	name := r.PostForm.Get("name")
	if name == "" {
		return "", badRequest("a topic needs a name")
	}
	parts, rf := int32(-1), int16(-1)
	if p := r.PostForm.Get("partitions"); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 1 {
			return "", badRequest("partitions %q is not a positive number", p)
		}
		parts = int32(n)
	}
	if p := r.PostForm.Get("replication_factor"); p != "" {
		n, err := strconv.ParseInt(p, 10, 16)
		if err != nil || n < 1 {
			return "", badRequest("replication factor %q is not a positive number", p)
		}
		rf = int16(n)
	}
	adm, _, err := c.admin()
	if err != nil {
		return "", err
	}
	res, err := adm.CreateTopic(ctx, parts, rf, nil, name)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		msg := err.Error()
		if res.ErrMessage != "" {
			msg += ": " + res.ErrMessage
		}
		return "", badRequest("create topic %q: %s", name, msg)
	}
	return "/topics/" + url.PathEscape(name) + "?notice=" + url.QueryEscape("created topic "+name), nil
}

// resetOffsets serves POST /groups/{id}/reset with to=earliest|latest:
// every partition the group has committed is set to that offset. Like
// kafka-consumer-groups --reset-offsets, it refuses a group with members
// (the commit would race theirs); the coordinator itself refuses a
// commit for a non-empty group with UNKNOWN_MEMBER_ID.
func (c *Console) resetOffsets(ctx context.Context, r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		return "", badRequest("bad form: %v", err)
	}
	to := r.PostForm.Get("to")
	if to != "earliest" && to != "latest" {
		return "", badRequest("to must be earliest or latest, not %q", to)
	}
	adm, _, err := c.admin()
	if err != nil {
		return "", err
	}
	groups, err := adm.DescribeGroups(ctx, id)
	if err != nil {
		return "", fmt.Errorf("describe group: %w", err)
	}
	g, ok := groups[id]
	if !ok || g.State == "Dead" {
		return "", notFound("group %q does not exist", id)
	}
	if g.State != "Empty" {
		return "", badRequest("group %q is %s: offsets can only be reset while it has no members (stop its consumers first)", id, g.State)
	}
	committed, err := adm.FetchOffsets(ctx, id)
	if err != nil {
		return "", fmt.Errorf("fetch offsets: %w", err)
	}
	topics := committed.Offsets().TopicsSet().Topics()
	var listed kadm.ListedOffsets
	if to == "earliest" {
		listed, err = adm.ListStartOffsets(ctx, topics...)
	} else {
		listed, err = adm.ListEndOffsets(ctx, topics...)
	}
	if err != nil {
		return "", fmt.Errorf("list offsets: %w", err)
	}
	next := make(kadm.Offsets)
	committed.Each(func(o kadm.OffsetResponse) {
		if l, ok := listed.Lookup(o.Topic, o.Partition); ok && l.Err == nil {
			next.AddOffset(o.Topic, o.Partition, l.Offset, -1)
		}
	})
	resp, err := adm.CommitOffsets(ctx, id, next)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return "", fmt.Errorf("commit offsets: %w", err)
	}
	return "/groups/" + url.PathEscape(id) + "?notice=" + url.QueryEscape("offsets reset to "+to), nil
}
