#!/usr/bin/python3
"""Samsa compatibility scenarios with kafka-python (pure Python), Debian's
python3-kafka (codecs: python3-snappy, python3-lz4, python3-zstandard).
One scenario per call:

    /usr/bin/python3 kafka_python_compat.py SCENARIO [ARG]

The broker is in $BOOTSTRAP. Exit 0 when everything that came back is right;
otherwise the last line printed is "FAIL: reason"."""

import logging
import os
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from compat_common import BOOTSTRAP, GROUP_DEADLINE, RUN, Fail, check
import compat_common
logging.basicConfig(level=logging.ERROR, stream=sys.stderr)


def admin():
    return KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=20000)


def create_topic(a, topic, parts, configs=None):
    a.create_topics([NewTopic(topic, num_partitions=parts, replication_factor=1, topic_configs=configs or {})])
    # kafka-python's metadata may lag; wait until the topic shows all partitions.
    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP)
    end = time.time() + 10
    while len(c.partitions_for_topic(topic) or ()) != parts:
        check(time.time() < end, "%s does not show %d partitions 10s after create_topics", topic, parts)
        time.sleep(0.1)
        c._client.cluster.request_update()
        c.topics()
    c.close()


def producer(codec=None):
    return KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", compression_type=codec, linger_ms=5)


def consumer(group=None, **kw):
    return KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=kw.pop("enable_auto_commit", False), session_timeout_ms=10000,
                         heartbeat_interval_ms=1000, **kw)


def produce(p, topic, frm, n, tag):
    fs = []
    for i in range(n):
        s = frm + i
        fs.append(p.send(topic, key=b"k%d" % s, value=("v%d-%s" % (s, tag)).encode(),
                         headers=[("seq", str(s).encode()), ("tag", tag.encode())]))
    p.flush(30)
    return [(m.partition, m.offset, m.timestamp) for m in (f.get(timeout=30) for f in fs)]


def poll_until(c, want, deadline):
    got = []
    end = time.time() + deadline
    while len(got) < want and time.time() < end:
        for tp, recs in c.poll(timeout_ms=200).items():
            got.extend(recs)
    return got


def verify(got, sent, frm, tag):
    compat_common.verify([(r.partition, r.offset, r.key, r.value, dict((k, v.decode()) for k, v in r.headers), r.timestamp)
                          for r in got], sent, frm, tag)


# ---------------------------------------------------------------- scenarios

def roundtrip(codec):
    topic = "kafka-python-roundtrip-%s-%s" % (codec, RUN)
    create_topic(admin(), topic, 3)
    p = producer(None if codec == "none" else codec)
    sent = produce(p, topic, 0, 300, codec)
    p.close()
    check(len({s[0] for s in sent}) == 3, "300 keyed records went to %d partitions, want 3", len({s[0] for s in sent}))
    c = consumer()
    tps = [TopicPartition(topic, i) for i in range(3)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    got = poll_until(c, 300, 30)
    verify(got, sent, 0, codec)
    check(sum(c.end_offsets(tps).values()) == 300, "end offsets %s, want a sum of 300", c.end_offsets(tps))
    c.close()


def admin_topics():
    a = admin()
    topic = "kafka-python-admin-%s" % RUN
    create_topic(a, topic, 3, {"retention.ms": "123456"})
    try:
        a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        raise Fail("creating %s twice succeeded" % topic)
    except TopicAlreadyExistsError:
        pass
    check(topic in a.list_topics(), "list_topics does not contain %s", topic)
    d = [t for t in a.describe_topics([topic]) if t["topic"] == topic]
    check(d and len(d[0]["partitions"]) == 3, "describe_topics: %r", d)
    for p in d[0]["partitions"]:
        check(p["leader"] == 0 and p["replicas"] == [0] and p["isr"] == [0], "partition %r", p)
    cl = a.describe_cluster()
    check(len(cl["brokers"]) == 1 and cl["brokers"][0]["node_id"] == 0, "describe_cluster brokers %r", cl["brokers"])
    check(cl["controller_id"] == 0 and cl["cluster_id"], "describe_cluster %r", cl)
    res = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = {e[0]: e[1] for r in res for rr in r.resources for e in rr[4]}
    check(entries.get("retention.ms") == "123456", "describe_configs retention.ms = %r", entries.get("retention.ms"))
    a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "654321"})])
    res = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = {e[0]: e[1] for r in res for rr in r.resources for e in rr[4]}
    check(entries.get("retention.ms") == "654321", "after alter_configs retention.ms = %r", entries.get("retention.ms"))
    a.create_partitions({topic: NewPartitions(5)})
    d = [t for t in a.describe_topics([topic]) if t["topic"] == topic]
    check(len(d[0]["partitions"]) == 5, "after create_partitions: %d partitions", len(d[0]["partitions"]))
    a.delete_topics([topic])
    end = time.time() + 10
    while topic in a.list_topics():
        check(time.time() < end, "%s still listed 10s after delete_topics", topic)
        time.sleep(0.2)
    a.close()


def list_offsets():
    topic = "kafka-python-offsets-%s" % RUN
    create_topic(admin(), topic, 1)
    p = producer()
    t0 = int(time.time() * 1000) - 60000
    for i in range(10):
        p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0, timestamp_ms=t0 + i * 1000)
    p.flush(30)
    p.close()
    c = consumer()
    tp = TopicPartition(topic, 0)
    check(c.beginning_offsets([tp])[tp] == 0, "beginning offset %s", c.beginning_offsets([tp]))
    check(c.end_offsets([tp])[tp] == 10, "end offset %s", c.end_offsets([tp]))
    r = c.offsets_for_times({tp: t0 + 4500})[tp]
    check(r is not None and r.offset == 5 and r.timestamp == t0 + 5000, "offsets_for_times(t0+4.5s) = %r, want offset 5", r)
    r = c.offsets_for_times({tp: t0 + 100000})[tp]
    check(r is None, "offsets_for_times(after the last record) = %r, want None", r)
    c.assign([tp])
    c.seek(tp, 5)
    got = poll_until(c, 5, 20)
    check([m.offset for m in got] == [5, 6, 7, 8, 9], "from offset 5 read offsets %s", [m.offset for m in got])
    check([m.timestamp for m in got] == [t0 + i * 1000 for i in range(5, 10)], "timestamps %s", [m.timestamp for m in got])
    c.close()


def group(manual):
    """Two members, each polling in its own thread (a kafka-python consumer only
    takes part in a rebalance while it polls)."""
    import threading
    name = "manual" if manual else "autocommit"
    topic = "kafka-python-group-%s-%s" % (name, RUN)
    grp = topic
    parts, n = 4, 200
    create_topic(admin(), topic, parts)
    members = [consumer(grp, enable_auto_commit=not manual, auto_commit_interval_ms=200) for _ in range(2)]
    got, errors = [[], []], []
    assigned = [set(), set()]
    stop = threading.Event()

    def member(i, c):
        try:
            c.subscribe([topic])
            while not stop.is_set():
                for tp, recs in c.poll(timeout_ms=100).items():
                    got[i].extend(recs)
                assigned[i] = set(c.assignment())
                if manual and got[i]:
                    c.commit()
            c.close(autocommit=True)
        except Exception as e:  # reported below
            errors.append("member %d: %r" % (i, e))

    threads = [threading.Thread(target=member, args=(i, c), daemon=True) for i, c in enumerate(members)]
    for t in threads:
        t.start()

    def settled():
        a = assigned
        return a[0] and a[1] and not (a[0] & a[1]) and len(a[0] | a[1]) == parts

    end = time.time() + GROUP_DEADLINE
    while time.time() < end and not settled() and not errors:
        time.sleep(0.1)
    if not settled():
        stop.set()
        raise Fail("after %ds the two members hold %s and %s, want a split of %d partitions; errors: %s" % (
            GROUP_DEADLINE, assigned[0], assigned[1], parts, errors[:2]))
    split = [set(a) for a in assigned]
    sent = produce(producer(), topic, 0, n, name)
    end = time.time() + 30
    while sum(map(len, got)) < n and time.time() < end and not errors:
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(20)
    check(not errors, "consumer errors: %s", errors[:2])
    check(got[0] and got[1], "a member consumed nothing (%d / %d records)", len(got[0]), len(got[1]))
    for i in (0, 1):
        for r in got[i]:
            check(TopicPartition(r.topic, r.partition) in split[i], "member %d got partition %d, assigned %s", i, r.partition, split[i])
    verify(got[0] + got[1], sent, 0, name)
    ends = {}
    for p, o, _ in sent:
        ends[p] = max(ends.get(p, 0), o + 1)
    offs = admin().list_consumer_group_offsets(grp)
    for p, e in ends.items():
        got_off = offs.get(TopicPartition(topic, p))
        check(got_off is not None and got_off.offset == e, "committed offset of partition %d is %r, want %d", p, got_off, e)
    if manual:
        more = produce(producer(), topic, n, 20, name)
        c = consumer(grp)
        c.subscribe([topic])
        rest = poll_until(c, 20, GROUP_DEADLINE)
        rest += poll_until(c, 1, 0.5)
        verify(rest, more, n, name)
        c.close()


def admin_groups():
    topic = "kafka-python-admin-groups-%s" % RUN
    grp = topic
    a = admin()
    create_topic(a, topic, 2)
    produce(producer(), topic, 0, 10, "ag")
    c = consumer(grp)
    c.subscribe([topic])
    got = poll_until(c, 10, GROUP_DEADLINE)
    check(len(got) == 10, "group consumer read %d of 10", len(got))
    c.commit()
    groups = a.list_consumer_groups()
    check((grp, "consumer") in groups, "list_consumer_groups %s does not contain (%s, consumer)", groups, grp)
    d = a.describe_consumer_groups([grp])[0]
    check(d.state == "Stable" and d.protocol_type == "consumer" and len(d.members) == 1,
          "describe_consumer_groups: state %s protocol_type %s members %d", d.state, d.protocol_type, len(d.members))
    asg = d.members[0].member_assignment
    check(sorted(p for t, ps in asg.assignment for p in ps) == [0, 1], "member assignment %r", asg)
    c.close()
    offs = a.list_consumer_group_offsets(grp)
    check(sum(o.offset for o in offs.values()) == 10 and len(offs) == 2, "committed offsets %r", offs)
    d = a.describe_consumer_groups([grp])[0]
    check(d.state == "Empty", "after close: state %s, want Empty", d.state)
    res = a.delete_consumer_groups([grp])
    check(all(e.errno == 0 for _, e in res), "delete_consumer_groups: %r", res)
    check(grp not in [g for g, _ in a.list_consumer_groups()], "%s still listed after delete_consumer_groups", grp)


def offsets_reset():
    topic = "kafka-python-offsets-reset-%s" % RUN
    grp = topic
    create_topic(admin(), topic, 1)
    sent = produce(producer(), topic, 0, 10, "reset")
    c = consumer(grp)
    c.subscribe([topic])
    got = poll_until(c, 10, GROUP_DEADLINE)
    verify(got, sent, 0, "reset")
    c.commit()
    c.close()
    tp = TopicPartition(topic, 0)
    offs = admin().list_consumer_group_offsets(grp)
    check(offs.get(tp) and offs[tp].offset == 10, "committed %r, want 10", offs)
    # Reset by committing an explicit offset with an assigned (group-less join) consumer of the group.
    c = consumer(grp)
    c.assign([tp])
    c.commit({tp: OffsetAndMetadata(4, "reset")})
    c.close()
    offs = admin().list_consumer_group_offsets(grp)
    check(offs[tp].offset == 4 and offs[tp].metadata == "reset", "after reset committed %r, want 4", offs)
    c = consumer(grp)
    c.subscribe([topic])
    got = poll_until(c, 6, GROUP_DEADLINE)
    verify(got, sent[4:], 4, "reset")
    c.close()


def cross_write():
    topic = "cross-kafka-python"
    create_topic(admin(), topic, 1)
    p = producer()
    for i in range(10):
        m = p.send(topic, key=b"key-%d" % i, value=b"kafka-python value %d" % i, partition=0,
                   headers=[("origin", b"kafka-python")]).get(timeout=30)
        check(m.offset == i, "record %d written at offset %d", i, m.offset)
    p.close()


def cross_read(writer):
    c = consumer()
    tp = TopicPartition("cross-" + writer, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = poll_until(c, 10, 20)
    check(len(got) == 10, "read %d records, want 10", len(got))
    for i, r in enumerate(got):
        check(r.offset == i, "record %d at offset %d", i, r.offset)
        check(r.key == b"key-%d" % i, "offset %d key %r", i, r.key)
        check(r.value == ("%s value %d" % (writer, i)).encode(), "offset %d value %r", i, r.value)
        check(r.headers == [("origin", writer.encode())], "offset %d headers %r", i, r.headers)
    c.close()


SCENARIOS = {
    "roundtrip": roundtrip, "admin-topics": admin_topics, "list-offsets": list_offsets,
    "group-autocommit": lambda: group(False), "group-manual-commit": lambda: group(True),
    "admin-groups": admin_groups, "offsets-reset": offsets_reset,
    "cross-write": cross_write, "cross-read": cross_read,
}

if __name__ == "__main__":
    compat_common.main(SCENARIOS)
