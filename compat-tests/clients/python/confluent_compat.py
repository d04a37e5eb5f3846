#!/usr/bin/python3
"""Samsa compatibility scenarios with confluent-kafka-python (librdkafka),
Debian's python3-confluent-kafka. One scenario per call:

    /usr/bin/python3 confluent_compat.py SCENARIO [ARG]

The broker is in $BOOTSTRAP. Exit 0 when everything that came back is right;
otherwise the last line printed is "FAIL: reason"."""

import os
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from compat_common import BOOTSTRAP, GROUP_DEADLINE, RUN, Fail, check
import compat_common


ERRORS = []  # what librdkafka reported through error_cb, for failure reasons


def on_error(err):
    ERRORS.append(str(err))


def admin():
    return AdminClient({"bootstrap.servers": BOOTSTRAP})


def wait_futures(fs, what):
    for k, f in fs.items():
        try:
            f.result(timeout=30)
        except Exception as e:
            raise Fail("%s %s: %s" % (what, k, e))


def create_topic(a, topic, parts):
    wait_futures(a.create_topics([NewTopic(topic, num_partitions=parts, replication_factor=1)]), "create_topics")


def producer(codec="none", **extra):
    conf = {"bootstrap.servers": BOOTSTRAP, "compression.codec": codec, "enable.idempotence": True, "linger.ms": 5}
    conf.update(extra)
    return Producer(conf)


def consumer(group=None, **extra):
    conf = {"bootstrap.servers": BOOTSTRAP, "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "group.id": group or "unused-assign-only-" + RUN, "session.timeout.ms": 10000, "error_cb": on_error}
    conf.update(extra)
    return Consumer(conf)


def produce(p, topic, frm, n, tag, partition=None):
    """Produce n records (key k<i>, value v<i>-tag, headers seq/tag); return [(partition, offset)] in order."""
    delivered = [None] * n
    errors = []

    def cb(i):
        def f(err, msg):
            if err:
                errors.append(err)
            else:
                delivered[i] = (msg.partition(), msg.offset(), msg.timestamp()[1])
        return f

    for i in range(n):
        s = frm + i
        kw = {} if partition is None else {"partition": partition}
        p.produce(topic, key="k%d" % s, value="v%d-%s" % (s, tag), headers=[("seq", str(s)), ("tag", tag)], on_delivery=cb(i), **kw)
        p.poll(0)
    left = p.flush(30)
    check(left == 0, "%d records still unsent after 30s", left)
    check(not errors, "delivery errors: %s", errors[:3])
    return delivered


def poll_until(c, want, deadline):
    got = []
    end = time.time() + deadline
    while len(got) < want and time.time() < end:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise Fail("consumer error: %s" % m.error())
        got.append(m)
    return got


def verify(got, sent, frm, tag):
    compat_common.verify([(m.partition(), m.offset(), m.key(), m.value(),
                           dict((k, v.decode() if v is not None else None) for k, v in (m.headers() or [])),
                           m.timestamp()[1]) for m in got], sent, frm, tag)


# ---------------------------------------------------------------- scenarios

def roundtrip(codec):
    topic = "confluent-roundtrip-%s-%s" % (codec, RUN)
    create_topic(admin(), topic, 3)
    p = producer(codec)
    sent = produce(p, topic, 0, 300, codec)
    check(len({s[0] for s in sent}) == 3, "300 keyed records went to %d partitions, want 3", len({s[0] for s in sent}))
    c = consumer()
    c.assign([TopicPartition(topic, i, 0) for i in range(3)])
    got = poll_until(c, 300, 30)
    verify(got, sent, 0, codec)
    total = sum(c.get_watermark_offsets(TopicPartition(topic, i), timeout=10)[1] for i in range(3))
    check(total == 300, "high watermarks sum to %d, want 300", total)
    c.close()


def admin_topics():
    a = admin()
    topic = "confluent-admin-%s" % RUN
    wait_futures(a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1, config={"retention.ms": "123456"})]), "create_topics")
    fs = a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    try:
        fs[topic].result(timeout=30)
        raise Fail("creating %s twice succeeded" % topic)
    except KafkaException as e:
        check(e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, "creating twice: %s, want TOPIC_ALREADY_EXISTS", e)
    md = a.list_topics(timeout=10)
    check(topic in md.topics, "list_topics does not contain %s", topic)
    tm = md.topics[topic]
    check(len(tm.partitions) == 3, "%d partitions, want 3", len(tm.partitions))
    for pid, pm in tm.partitions.items():
        check(pm.leader == 0 and pm.replicas == [0] and pm.isrs == [0], "partition %d: leader %s replicas %s isrs %s", pid, pm.leader, pm.replicas, pm.isrs)
    check(len(md.brokers) == 1, "%d brokers, want 1", len(md.brokers))
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    cfg = list(a.describe_configs([res]).values())[0].result(timeout=20)
    check(cfg["retention.ms"].value == "123456", "retention.ms = %s, want 123456", cfg["retention.ms"].value)
    check(cfg["retention.ms"].source == 1, "retention.ms source %s, want DYNAMIC_TOPIC_CONFIG (1)", cfg["retention.ms"].source)
    res2 = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"retention.ms": "654321"})
    wait_futures(a.alter_configs([res2]), "alter_configs")
    cfg = list(a.describe_configs([res]).values())[0].result(timeout=20)
    check(cfg["retention.ms"].value == "654321", "after alter_configs retention.ms = %s", cfg["retention.ms"].value)
    bcfg = list(a.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "0")]).values())[0].result(timeout=20)
    check("num.partitions" in bcfg and int(bcfg["num.partitions"].value) >= 1, "broker config has no num.partitions")
    wait_futures(a.create_partitions([NewPartitions(topic, 5)]), "create_partitions")
    end = time.time() + 10
    while len(a.list_topics(topic, timeout=10).topics[topic].partitions) != 5:
        check(time.time() < end, "metadata does not show 5 partitions 10s after create_partitions")
        time.sleep(0.2)
    wait_futures(a.delete_topics([topic]), "delete_topics")
    end = time.time() + 10
    while topic in a.list_topics(timeout=10).topics:
        check(time.time() < end, "%s still listed 10s after delete_topics", topic)
        time.sleep(0.2)


def list_offsets():
    topic = "confluent-offsets-%s" % RUN
    create_topic(admin(), topic, 1)
    p = producer()
    t0 = int(time.time() * 1000) - 60000
    for i in range(10):
        p.produce(topic, key="k%d" % i, value="v%d" % i, partition=0, timestamp=t0 + i * 1000)
    check(p.flush(30) == 0, "unsent records")
    c = consumer()
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    check((lo, hi) == (0, 10), "watermarks %s, want (0, 10)", (lo, hi))
    r = c.offsets_for_times([TopicPartition(topic, 0, t0 + 4500)], timeout=10)
    check(r[0].offset == 5, "offsets_for_times(t0+4.5s) = %d, want 5", r[0].offset)
    r = c.offsets_for_times([TopicPartition(topic, 0, t0 + 100000)], timeout=10)
    check(r[0].offset == -1, "offsets_for_times(after the last record) = %d, want -1 (end)", r[0].offset)
    # Consume from the timestamp's offset.
    c.assign([TopicPartition(topic, 0, 5)])
    got = poll_until(c, 5, 20)
    check([m.offset() for m in got] == [5, 6, 7, 8, 9], "from offset 5 read offsets %s", [m.offset() for m in got])
    check([m.timestamp()[1] for m in got] == [t0 + i * 1000 for i in range(5, 10)], "timestamps %s", [m.timestamp() for m in got])
    c.close()


def group(manual):
    name = "manual" if manual else "autocommit"
    topic = "confluent-group-%s-%s" % (name, RUN)
    grp = topic
    parts, n = 4, 200
    create_topic(admin(), topic, parts)
    members = [consumer(grp, **({"enable.auto.commit": not manual, "auto.commit.interval.ms": 200})) for _ in range(2)]
    assigned = [set(), set()]

    def on_assign(i):
        def f(c, ps):
            assigned[i] = {p.partition for p in ps}
        return f

    for i, c in enumerate(members):
        c.subscribe([topic], on_assign=on_assign(i))
    end = time.time() + GROUP_DEADLINE
    errs = []
    while time.time() < end and not (assigned[0] and assigned[1] and len(assigned[0] | assigned[1]) == parts):
        for c in members:
            m = c.poll(0.1)
            if m is not None and m.error() and m.error().code() != KafkaError._PARTITION_EOF:
                errs.append(str(m.error()))
    check(assigned[0] and assigned[1] and not (assigned[0] & assigned[1]) and len(assigned[0] | assigned[1]) == parts,
          "after %ds the two members hold %s and %s, want a split of %d partitions; errors: %s", GROUP_DEADLINE, assigned[0], assigned[1], parts, errs[:2])
    sent = produce(producer(), topic, 0, n, name)
    got = [[], []]
    end = time.time() + 30
    while sum(map(len, got)) < n and time.time() < end:
        for i, c in enumerate(members):
            m = c.poll(0.1)
            if m is None:
                continue
            if m.error():
                check(m.error().code() == KafkaError._PARTITION_EOF, "member %d: %s", i, m.error())
                continue
            check(m.partition() in assigned[i], "member %d got partition %d, assigned %s", i, m.partition(), assigned[i])
            got[i].append(m)
            if manual:
                c.commit(message=m, asynchronous=False)
    check(got[0] and got[1], "a member consumed nothing (%d / %d records)", len(got[0]), len(got[1]))
    verify(got[0] + got[1], sent, 0, name)
    time.sleep(0.5)
    for c in members:
        c.close()
    # Committed offsets are the ends.
    c = consumer(grp)
    ends = {}
    for p, o, _ in sent:
        ends[p] = max(ends.get(p, 0), o + 1)
    committed = c.committed([TopicPartition(topic, p) for p in range(parts)], timeout=10)
    for tp in committed:
        check(tp.offset == ends[tp.partition], "committed offset of partition %d is %d, want %d", tp.partition, tp.offset, ends[tp.partition])
    c.close()
    if manual:
        more = produce(producer(), topic, n, 20, name)
        c = consumer(grp)
        c.subscribe([topic])
        rest = poll_until(c, 20, GROUP_DEADLINE)
        rest += poll_until(c, 1, 0.5)
        verify(rest, more, n, name)
        c.close()


def admin_groups():
    topic = "confluent-admin-groups-%s" % RUN
    grp = topic
    a = admin()
    create_topic(a, topic, 2)
    produce(producer(), topic, 0, 10, "ag")
    c = consumer(grp)
    c.subscribe([topic])
    got = poll_until(c, 10, GROUP_DEADLINE)
    check(len(got) == 10, "group consumer read %d of 10", len(got))
    c.commit(asynchronous=False)
    groups = a.list_groups(timeout=10)
    g = [x for x in groups if x.id == grp]
    check(g, "list_groups %s does not contain %s", [x.id for x in groups], grp)
    g = a.list_groups(grp, timeout=10)[0]
    check(g.state == "Stable" and g.protocol_type == "consumer" and len(g.members) == 1,
          "group %s: state %s protocol_type %s members %d, want Stable/consumer/1", grp, g.state, g.protocol_type, len(g.members))
    c.close()
    g = a.list_groups(grp, timeout=10)[0]
    check(g.state == "Empty" and not g.members, "after close: state %s members %d, want Empty/0", g.state, len(g.members))


def offsets_reset():
    topic = "confluent-offsets-reset-%s" % RUN
    grp = topic
    create_topic(admin(), topic, 1)
    sent = produce(producer(), topic, 0, 10, "reset")
    c = consumer(grp)
    c.subscribe([topic])
    got = poll_until(c, 10, GROUP_DEADLINE)
    verify(got, sent, 0, "reset")
    c.commit(asynchronous=False)
    c.close()
    c = consumer(grp)
    check(c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 10, "committed offset is not 10")
    # Reset: commit an explicit offset (what kafka-consumer-groups --reset-offsets does for an empty group).
    c.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    check(c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 4, "committed offset after reset is not 4")
    c.subscribe([topic])
    got = poll_until(c, 6, GROUP_DEADLINE)
    verify(got, sent[4:], 4, "reset")
    c.close()


def cross_write():
    topic = "cross-confluent-python"
    create_topic(admin(), topic, 1)
    p = producer()
    for i in range(10):
        p.produce(topic, key="key-%d" % i, value="confluent-python value %d" % i, partition=0, headers=[("origin", "confluent-python")])
    check(p.flush(30) == 0, "unsent records")


def cross_read(writer):
    c = consumer()
    c.assign([TopicPartition("cross-" + writer, 0, 0)])
    got = poll_until(c, 10, 20)
    check(len(got) == 10, "read %d records, want 10", len(got))
    for i, m in enumerate(got):
        check(m.offset() == i, "record %d at offset %d", i, m.offset())
        check(m.key() == b"key-%d" % i, "offset %d key %r", i, m.key())
        check(m.value() == ("%s value %d" % (writer, i)).encode(), "offset %d value %r", i, m.value())
        check(m.headers() == [("origin", writer.encode())], "offset %d headers %r", i, m.headers())
    c.close()


def txn_produce(p, topic, frm, n, tag):
    """Produce n records k<i> to partition i%2 in p's open transaction; return [(partition, offset, ts)] in order."""
    delivered = [None] * n
    errors = []

    def cb(i):
        def f(err, msg):
            if err:
                errors.append(err)
            else:
                delivered[i] = (msg.partition(), msg.offset(), msg.timestamp()[1])
        return f

    for i in range(n):
        s = frm + i
        p.produce(topic, key="k%d" % s, value="v%d-%s" % (s, tag), headers=[("seq", str(s)), ("tag", tag)],
                  partition=s % 2, on_delivery=cb(i))
        p.poll(0)
    check(p.flush(30) == 0, "records still unsent after 30s")
    check(not errors, "delivery errors: %s", errors[:3])
    return delivered


def read_isolated(topic, isolation, want):
    c = consumer(**{"isolation.level": isolation})
    c.assign([TopicPartition(topic, i, 0) for i in range(2)])
    got = poll_until(c, want, 30)
    got += poll_until(c, 1, 1)  # anything extra
    ends = [c.get_watermark_offsets(TopicPartition(topic, i), timeout=10, cached=False)[1] for i in range(2)]
    c.close()
    return got, ends


def check_exact(what, got, want):
    """got: consumed messages; want: [(partition, offset, seq, tag)] in production order."""
    pos = {}
    for m in got:
        check((m.partition(), m.offset()) not in pos, "%s: %d@%d delivered twice", what, m.partition(), m.offset())
        pos[(m.partition(), m.offset())] = m
    check(len(got) == len(want), "%s: consumed %d records, want %d", what, len(got), len(want))
    for part, off, seq, tag in want:
        m = pos.get((part, off))
        check(m is not None, "%s: k%d (partition %d offset %d) not consumed; got %s", what, seq, part, off, sorted(pos))
        check(m.key() == b"k%d" % seq and m.value() == ("v%d-%s" % (seq, tag)).encode(),
              "%s: at %d@%d key %r value %r, want k%d v%d-%s", what, part, off, m.key(), m.value(), seq, seq, tag)


def transactions():
    """librdkafka's transactional producer: commit (10 records), abort (5),
    commit (10) over 2 partitions; read_committed sees exactly the 20
    committed records at the offsets the producer was told, read_uncommitted
    all 25; both end offsets count the 3 markers per partition. Then
    consume-transform-produce with send_offsets_to_transaction, and a second
    producer with the same transactional.id fences the first."""
    topic, out, group, tid = "confluent-txn-" + RUN, "confluent-txn-out-" + RUN, "confluent-txn-group-" + RUN, "confluent-txn-" + RUN
    a = admin()
    create_topic(a, topic, 2)
    create_topic(a, out, 2)
    p = Producer({"bootstrap.servers": BOOTSTRAP, "transactional.id": tid, "transaction.timeout.ms": 30000, "linger.ms": 5, "error_cb": on_error})
    p.init_transactions(30)
    committed, everything = [], []
    for tag, frm, n in (("commit1", 0, 10), ("abort", 10, 5), ("commit2", 15, 10)):
        p.begin_transaction()
        sent = txn_produce(p, topic, frm, n, tag)
        recs = [(part, off, frm + i, tag) for i, (part, off, _) in enumerate(sent)]
        everything += recs
        if tag == "abort":
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
            committed += recs
    offs = {0: [], 1: []}
    for part, off, _, _ in everything:
        offs[part].append(off)
    want0 = [0, 1, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14]
    want1 = [0, 1, 2, 3, 4, 6, 7, 9, 10, 11, 12, 13]
    check(offs[0] == want0 and offs[1] == want1, "offsets the producer was told %s, want p0 %s p1 %s (commit markers after each transaction)", offs, want0, want1)
    got, ends = read_isolated(topic, "read_committed", 20)
    check_exact("read_committed", got, committed)
    check(ends == [16, 15], "read_committed end offsets %s, want [16, 15]", ends)
    got, ends = read_isolated(topic, "read_uncommitted", 25)
    check_exact("read_uncommitted", got, everything)
    check(ends == [16, 15], "read_uncommitted end offsets %s, want [16, 15]", ends)

    # Consume-transform-produce: the group's offsets commit with the transaction.
    c = consumer(group, **{"isolation.level": "read_committed"})
    c.subscribe([topic])
    got = poll_until(c, 20, GROUP_DEADLINE)
    check(len(got) == 20, "group consumer got %d records, want 20", len(got))
    p.begin_transaction()
    for m in got:
        p.produce(out, key=m.key(), value=m.value() + b"-ctp", partition=m.partition())
    nxt = {}
    for m in got:
        nxt[m.partition()] = max(nxt.get(m.partition(), 0), m.offset() + 1)
    p.send_offsets_to_transaction([TopicPartition(topic, part, off) for part, off in sorted(nxt.items())], c.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    c.close()
    check(nxt == {0: 15, 1: 14}, "offsets sent to the transaction %s, want {0: 15, 1: 14}", nxt)
    c = consumer(group)
    co = {tp.partition: tp.offset for tp in c.committed([TopicPartition(topic, i) for i in range(2)], timeout=30)}
    c.close()
    check(co == {0: 15, 1: 14}, "group %s committed offsets %s after the transaction, want {0: 15, 1: 14}", group, co)
    got, _ = read_isolated(out, "read_committed", 20)
    check(len(got) == 20 and all(m.value().endswith(b"-ctp") for m in got), "read_committed on %s got %d transformed records, want 20", out, len(got))

    # Fencing: a second producer with the same transactional.id.
    p.begin_transaction()
    txn_produce(p, topic, 100, 2, "zombie")
    p2 = Producer({"bootstrap.servers": BOOTSTRAP, "transactional.id": tid, "transaction.timeout.ms": 30000})
    p2.init_transactions(30)
    try:
        p.commit_transaction(30)
        raise Fail("the fenced producer's commit succeeded")
    except KafkaException as e:
        err = e.args[0]
        print("NOTE: fenced producer's commit: %s (fatal %s)" % (err.name(), err.fatal()))
        check(err.fatal() and err.code() == KafkaError._FENCED, "the fenced producer's commit failed with %s (fatal %s), want _FENCED, fatal", err.name(), err.fatal())
    p2.begin_transaction()
    txn_produce(p2, topic, 200, 2, "winner")
    p2.commit_transaction(30)
    got, _ = read_isolated(topic, "read_committed", 22)
    seqs = sorted(int(dict(m.headers())["seq"]) for m in got)
    check(seqs == list(range(0, 10)) + list(range(15, 25)) + [200, 201], "read_committed after fencing: seqs %s, want 0-9, 15-24, 200-201", seqs)


SCENARIOS = {
    "roundtrip": roundtrip, "admin-topics": admin_topics, "list-offsets": list_offsets,
    "group-autocommit": lambda: group(False), "group-manual-commit": lambda: group(True),
    "admin-groups": admin_groups, "offsets-reset": offsets_reset,
    "cross-write": cross_write, "cross-read": cross_read, "transactions": transactions,
}

if __name__ == "__main__":
    compat_common.main(SCENARIOS, lambda: "; librdkafka errors: %s" % "; ".join(dict.fromkeys(ERRORS)) if ERRORS else "")
