package samsa.compat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;

/**
 * One Samsa compatibility scenario per call, with the stock Apache Kafka Java
 * client: {@code java samsa.compat.CompatClient SCENARIO [ARG]}, the broker in
 * $BOOTSTRAP. Exit 0 when everything that came back is right; otherwise the
 * last line printed is "FAIL: reason". Lines "NOTE: ..." are observations
 * the suite keeps in RESULTS.md.
 */
public final class CompatClient {
    static final String BOOTSTRAP = Objects.requireNonNull(System.getenv("BOOTSTRAP"), "BOOTSTRAP not set");
    static final String RUN = System.getenv().getOrDefault("COMPAT_RUN_ID", Long.toString(System.currentTimeMillis()));
    static final Duration GROUP_DEADLINE = Duration.ofSeconds(Long.parseLong(System.getenv().getOrDefault("GROUP_DEADLINE_S", "30")));

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: CompatClient SCENARIO [ARG]");
            System.exit(2);
        }
        try {
            switch (args[0]) {
                case "roundtrip" -> roundtrip(args[1]);
                case "assign-no-fetch-sessions" -> assignNoFetchSessions();
                case "group-autocommit" -> group(true);
                case "group-manual-commit" -> group(false);
                case "admin-topics" -> adminTopics();
                case "admin-cluster" -> adminCluster();
                case "admin-groups" -> adminGroups();
                case "list-offsets" -> listOffsets();
                case "offsets-reset" -> offsetsReset();
                case "transactions" -> transactions();
                case "transactions-fencing" -> transactionsFencing();
                case "streams-eos" -> streamsEos();
                case "streams-eos-kill9" -> streamsEosKill9();
                case "cross-write" -> crossWrite();
                case "cross-read" -> crossRead(args[1]);
                default -> throw new IllegalArgumentException("unknown scenario " + args[0]);
            }
            System.out.println("OK " + String.join(" ", args));
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            Throwable root = t;
            while (root.getCause() != null && root.getCause() != root) root = root.getCause();
            String msg = t.toString().contains(root.toString()) ? t.toString() : t + " (cause: " + root + ")";
            System.out.println("FAIL: " + msg.replace('\n', ' '));
            System.out.flush();
            System.exit(1);
        }
    }

    static void check(boolean cond, String fmt, Object... args) {
        if (!cond) throw new AssertionError(String.format(fmt, args));
    }

    // ------------------------------------------------------------ clients

    static Properties common() {
        Properties p = new Properties();
        p.put("bootstrap.servers", BOOTSTRAP);
        p.put("client.id", "samsa-compat-java");
        return p;
    }

    /** A producer with default settings (idempotent, acks=all) and a codec. */
    static KafkaProducer<String, String> producer(String codec) {
        Properties p = common();
        p.put("compression.type", codec);
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String group, boolean autoCommit) {
        Properties p = common();
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        if (group != null) {
            p.put("group.id", group);
            p.put("enable.auto.commit", Boolean.toString(autoCommit));
            p.put("auto.commit.interval.ms", "200");
            p.put("session.timeout.ms", "10000");
            p.put("heartbeat.interval.ms", "500");
        } else {
            p.put("enable.auto.commit", "false");
        }
        return new KafkaConsumer<>(p);
    }

    static Admin admin() {
        Properties p = common();
        p.put("default.api.timeout.ms", "20000");
        p.put("request.timeout.ms", "10000");
        return Admin.create(p);
    }

    static void createTopic(Admin admin, String topic, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }

    static String header(ConsumerRecord<?, ?> r, String key) {
        Header h = r.headers().lastHeader(key);
        if (h == null) return null;
        return h.value() == null ? "<null>" : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** Produces n records to topic (keys k<i>, values v<i>-tag, headers) and returns their metadata. */
    static List<RecordMetadata> produce(KafkaProducer<String, String> prod, String topic, int from, int n, String tag) throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            ProducerRecord<String, String> r = new ProducerRecord<>(topic, "k" + i, "v" + i + "-" + tag);
            r.headers().add("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
            r.headers().add("tag", tag.getBytes(StandardCharsets.UTF_8));
            fs.add(prod.send(r));
        }
        prod.flush();
        List<RecordMetadata> out = new ArrayList<>();
        for (Future<RecordMetadata> f : fs) out.add(f.get(30, TimeUnit.SECONDS));
        return out;
    }

    static List<ConsumerRecord<String, String>> pollUntil(KafkaConsumer<String, String> c, int want, Duration deadline) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long end = System.nanoTime() + deadline.toNanos();
        while (got.size() < want && System.nanoTime() < end) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
        }
        return got;
    }

    /** Checks records produced by produce(): contents, headers, and that partition/offset match what the producer was told. */
    static void verify(List<ConsumerRecord<String, String>> got, List<RecordMetadata> sent, int from, String tag) {
        check(got.size() == sent.size(), "consumed %d records, produced %d", got.size(), sent.size());
        Map<String, ConsumerRecord<String, String>> byPos = new HashMap<>();
        for (ConsumerRecord<String, String> r : got) {
            ConsumerRecord<String, String> prev = byPos.put(r.partition() + "@" + r.offset(), r);
            check(prev == null, "record at partition %d offset %d delivered twice", r.partition(), r.offset());
        }
        for (int i = 0; i < sent.size(); i++) {
            RecordMetadata m = sent.get(i);
            ConsumerRecord<String, String> r = byPos.get(m.partition() + "@" + m.offset());
            int seq = from + i;
            check(r != null, "record k%d (partition %d offset %d) not consumed", seq, m.partition(), m.offset());
            check(("k" + seq).equals(r.key()), "at %d@%d key %s, want k%d", m.partition(), m.offset(), r.key(), seq);
            check(("v" + seq + "-" + tag).equals(r.value()), "at %d@%d value %s, want v%d-%s", m.partition(), m.offset(), r.value(), seq, tag);
            check(Integer.toString(seq).equals(header(r, "seq")), "at %d@%d header seq=%s, want %d", m.partition(), m.offset(), header(r, "seq"), seq);
            check(tag.equals(header(r, "tag")), "at %d@%d header tag=%s, want %s", m.partition(), m.offset(), header(r, "tag"), tag);
            check(r.timestamp() == m.timestamp(), "at %d@%d timestamp %d, producer was told %d", m.partition(), m.offset(), r.timestamp(), m.timestamp());
        }
        // Per partition, consumption order is offset order, offsets are dense from the first one.
        Map<Integer, List<Long>> offs = new TreeMap<>();
        for (ConsumerRecord<String, String> r : got) offs.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r.offset());
        offs.forEach((p, l) -> {
            for (int i = 1; i < l.size(); i++)
                check(l.get(i) == l.get(i - 1) + 1, "partition %d offsets not dense/in order: %s", p, l);
        });
    }

    // ------------------------------------------------------------ scenarios

    /** Produce with the given codec (default idempotent producer), read back with assign(). */
    static void roundtrip(String codec) throws Exception {
        String topic = "java-roundtrip-" + codec + "-" + RUN;
        try (Admin admin = admin()) {
            createTopic(admin, topic, 3);
        }
        List<RecordMetadata> sent;
        try (KafkaProducer<String, String> prod = producer(codec)) {
            sent = produce(prod, topic, 0, 300, codec);
        }
        Map<Integer, Long> firstOffset = new HashMap<>();
        for (RecordMetadata m : sent) firstOffset.merge(m.partition(), m.offset(), Math::min);
        check(firstOffset.size() == 3, "300 keyed records went to %d partitions, want 3", firstOffset.size());
        firstOffset.forEach((p, o) -> check(o == 0, "first offset in partition %d is %d, want 0", p, o));
        // The default partitioner hashes keys with murmur2: the same key must land in the same partition.
        for (RecordMetadata m : sent) check(m.hasOffset(), "no offset in metadata");
        try (KafkaConsumer<String, String> c = consumer(null, false)) {
            List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1), new TopicPartition(topic, 2));
            c.assign(tps);
            c.seekToBeginning(tps);
            List<ConsumerRecord<String, String>> got = pollUntil(c, 300, Duration.ofSeconds(30));
            verify(got, sent, 0, codec);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long total = end.values().stream().mapToLong(Long::longValue).sum();
            check(total == 300, "end offsets %s sum to %d, want 300", end, total);
        }
    }

    /**
     * Samsa answers every Fetch with session id 0 (no KIP-227 fetch sessions).
     * The Java consumer must fall back to full fetch requests and keep
     * consuming; this checks five produce/consume rounds on an assigned
     * partition and reports what the client's FetchSessionHandler logged.
     */
    static void assignNoFetchSessions() throws Exception {
        String topic = "java-fetch-sessions-" + RUN;
        Path logFile = Files.createTempFile("java-fetch-session", ".log");
        System.setProperty("org.slf4j.simpleLogger.logFile", logFile.toString());
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka.clients.FetchSessionHandler", "debug");
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka.clients.consumer.internals.AbstractFetch", "debug");
        try (Admin admin = admin()) {
            createTopic(admin, topic, 2);
        }
        try (KafkaProducer<String, String> prod = producer("none");
             KafkaConsumer<String, String> c = consumer(null, false)) {
            List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            int from = 0;
            for (int round = 0; round < 5; round++) {
                // An empty poll first, so the consumer has fetch requests in flight when records arrive.
                c.poll(Duration.ofMillis(300));
                List<RecordMetadata> sent = produce(prod, topic, from, 20, "fs");
                List<ConsumerRecord<String, String>> got = pollUntil(c, 20, Duration.ofSeconds(15));
                check(got.size() == 20, "round %d: consumed %d of 20 new records", round, got.size());
                verify(got, sent, from, "fs");
                from += 20;
            }
        }
        String log = Files.readString(logFile);
        long full = log.lines().filter(l -> l.contains("sent a full fetch response") && !l.contains("created a new incremental fetch session")).count();
        long created = log.lines().filter(l -> l.contains("created a new incremental fetch session")).count();
        long incremental = log.lines().filter(l -> l.contains("sent an incremental fetch response")).count();
        long built = log.lines().filter(l -> l.contains("Built full fetch (sessionId=INVALID, epoch=INITIAL)")).count();
        List<String> errors = log.lines().filter(l -> l.contains("FETCH_SESSION_ID_NOT_FOUND") || l.contains("INVALID_FETCH_SESSION_EPOCH") || l.contains("ERROR")).limit(3).collect(Collectors.toList());
        String mode = created == 0 && incremental == 0
                ? "the broker never created a fetch session, and the client stayed on full (session-less) fetches throughout"
                : "the broker created " + created + " fetch session(s) and sent " + incremental + " incremental responses";
        System.out.println("NOTE: 100 records over 5 produce/poll rounds read correctly with assign(); the client sent "
                + built + " full fetch requests (sessionId=INVALID, epoch=INITIAL) and got " + full
                + " full responses without a session; " + mode);
        check(errors.isEmpty(), "fetch-session errors logged: %s", errors);
        check(full + created + incremental > 0, "saw no FetchSessionHandler debug lines; cannot tell how fetch sessions behaved");
        if (System.getenv("KEEP_FETCH_LOG") == null) Files.deleteIfExists(logFile);
        else System.out.println("fetch session log kept in " + logFile);
    }

    /** Two members in one group, with auto-commit or commitSync; checks assignment split, contents, and committed offsets. */
    static void group(boolean autoCommit) throws Exception {
        String name = autoCommit ? "autocommit" : "manual";
        String topic = "java-group-" + name + "-" + RUN;
        String group = "java-group-" + name + "-" + RUN;
        int parts = 4, n = 200;
        try (Admin admin = admin()) {
            createTopic(admin, topic, parts);
        }
        ExecutorService ex = Executors.newFixedThreadPool(2);
        CountDownLatch produced = new CountDownLatch(1);
        CyclicBarrier bothAssigned = new CyclicBarrier(3);
        Map<Integer, List<ConsumerRecord<String, String>>> got = new ConcurrentHashMap<>();
        Map<Integer, Set<TopicPartition>> assigned = new ConcurrentHashMap<>();
        ConcurrentLinkedQueue<String> total = new ConcurrentLinkedQueue<>();
        AtomicReference<Throwable> err = new AtomicReference<>();
        List<Future<?>> fs = new ArrayList<>();
        for (int m = 0; m < 2; m++) {
            final int member = m;
            fs.add(ex.submit(() -> {
                try (KafkaConsumer<String, String> c = consumer(group, autoCommit)) {
                    c.subscribe(List.of(topic));
                    long end = System.nanoTime() + GROUP_DEADLINE.toNanos();
                    // Wait until the group has settled with both members holding partitions.
                    while (System.nanoTime() < end) {
                        c.poll(Duration.ofMillis(200));
                        if (!c.assignment().isEmpty() && c.assignment().size() < parts) break;
                    }
                    check(!c.assignment().isEmpty() && c.assignment().size() < parts,
                            "member %d: after %s its assignment is %s (want a share of %d partitions)", member, GROUP_DEADLINE, c.assignment(), parts);
                    assigned.put(member, new HashSet<>(c.assignment()));
                    bothAssigned.await(GROUP_DEADLINE.toSeconds(), TimeUnit.SECONDS);
                    produced.await();
                    List<ConsumerRecord<String, String>> mine = new ArrayList<>();
                    long stop = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                    while (total.size() < n && System.nanoTime() < stop) {
                        ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(200));
                        for (ConsumerRecord<String, String> r : rs) {
                            mine.add(r);
                            total.add(r.partition() + "@" + r.offset());
                        }
                        if (!autoCommit && !rs.isEmpty()) c.commitSync();
                    }
                    // Let the other member finish before leaving, so no rebalance moves partitions mid-way.
                    check(assigned.get(member).equals(c.assignment()), "member %d: assignment changed from %s to %s", member, assigned.get(member), c.assignment());
                    got.put(member, mine);
                    Thread.sleep(500);
                    c.poll(Duration.ofMillis(100));
                    if (!autoCommit) c.commitSync();
                } catch (Throwable t) {
                    err.compareAndSet(null, t);
                    produced.countDown();
                }
                return null;
            }));
        }
        try {
            bothAssigned.await(GROUP_DEADLINE.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (Exception e) {
            ex.shutdownNow();
            ex.awaitTermination(10, TimeUnit.SECONDS);
            if (err.get() != null) throw new RuntimeException(err.get());
            throw new AssertionError("the two members did not both get partitions within " + GROUP_DEADLINE);
        }
        List<RecordMetadata> sent;
        try (KafkaProducer<String, String> prod = producer("none")) {
            sent = produce(prod, topic, 0, n, name);
        }
        produced.countDown();
        for (Future<?> f : fs) f.get(90, TimeUnit.SECONDS);
        ex.shutdown();
        if (err.get() != null) throw new RuntimeException(err.get());
        Set<TopicPartition> a0 = assigned.get(0), a1 = assigned.get(1);
        check(Collections.disjoint(a0, a1) && a0.size() + a1.size() == parts, "assignments overlap or miss partitions: %s / %s", a0, a1);
        for (int m = 0; m < 2; m++) {
            for (ConsumerRecord<String, String> r : got.get(m))
                check(assigned.get(m).contains(new TopicPartition(r.topic(), r.partition())), "member %d got a record from unassigned partition %d", m, r.partition());
        }
        List<ConsumerRecord<String, String>> all = new ArrayList<>(got.get(0));
        all.addAll(got.get(1));
        verify(all, sent, 0, name);
        // After both left, the group's committed offsets are the end offsets.
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(20, TimeUnit.SECONDS);
            Map<TopicPartition, Long> ends = new HashMap<>();
            for (RecordMetadata m : sent) ends.merge(new TopicPartition(topic, m.partition()), m.offset() + 1, Math::max);
            for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
                OffsetAndMetadata c = committed.get(e.getKey());
                check(c != null && c.offset() == e.getValue(), "committed offset of %s is %s, want %d", e.getKey(), c, e.getValue());
            }
        }
        if (!autoCommit) {
            // A new member resumes from the commits: it sees only records produced afterwards.
            List<RecordMetadata> more;
            try (KafkaProducer<String, String> prod = producer("none")) {
                more = produce(prod, topic, n, 20, name);
            }
            try (KafkaConsumer<String, String> c = consumer(group, false)) {
                c.subscribe(List.of(topic));
                List<ConsumerRecord<String, String>> rest = pollUntil(c, 20, GROUP_DEADLINE);
                Thread.sleep(300);
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(300))) rest.add(r);
                verify(rest, more, n, name);
                c.commitSync();
            }
        }
    }

    static void adminTopics() throws Exception {
        String topic = "java-admin-" + RUN;
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "123456", "cleanup.policy", "delete"))))
                    .all().get(30, TimeUnit.SECONDS);
            try {
                admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get(30, TimeUnit.SECONDS);
                throw new AssertionError("creating " + topic + " twice succeeded");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof TopicExistsException, "creating an existing topic: %s, want TopicExistsException", e.getCause());
            }
            Set<String> names = admin.listTopics().names().get(20, TimeUnit.SECONDS);
            check(names.contains(topic), "listTopics %s does not contain %s", names, topic);
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(20, TimeUnit.SECONDS).get(topic);
            check(d.partitions().size() == 3, "describe: %d partitions, want 3", d.partitions().size());
            check(d.topicId() != null && !d.topicId().equals(Uuid.ZERO_UUID), "describe: no topic id");
            for (TopicPartitionInfo p : d.partitions()) {
                check(p.leader() != null && p.replicas().size() == 1 && p.isr().size() == 1, "partition %d: leader %s replicas %s isr %s", p.partition(), p.leader(), p.replicas(), p.isr());
            }
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config cfg = admin.describeConfigs(List.of(res)).all().get(20, TimeUnit.SECONDS).get(res);
            ConfigEntry ret = cfg.get("retention.ms");
            check(ret != null && "123456".equals(ret.value()) && ret.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                    "retention.ms = %s, want 123456 from DYNAMIC_TOPIC_CONFIG", ret);
            admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "654321"), AlterConfigOp.OpType.SET))))
                    .all().get(20, TimeUnit.SECONDS);
            ret = admin.describeConfigs(List.of(res)).all().get(20, TimeUnit.SECONDS).get(res).get("retention.ms");
            check("654321".equals(ret.value()), "after incrementalAlterConfigs retention.ms = %s, want 654321", ret.value());
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get(20, TimeUnit.SECONDS);
            d = admin.describeTopics(List.of(topic)).allTopicNames().get(20, TimeUnit.SECONDS).get(topic);
            check(d.partitions().size() == 5, "after createPartitions: %d partitions, want 5", d.partitions().size());
            admin.deleteTopics(List.of(topic)).all().get(20, TimeUnit.SECONDS);
            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (admin.listTopics().names().get(20, TimeUnit.SECONDS).contains(topic)) {
                check(System.nanoTime() < end, "%s still listed 10s after deleteTopics", topic);
                Thread.sleep(100);
            }
        }
    }

    static void adminCluster() throws Exception {
        try (Admin admin = admin()) {
            DescribeClusterResult dc = admin.describeCluster();
            Collection<Node> nodes = dc.nodes().get(20, TimeUnit.SECONDS);
            Node controller = dc.controller().get(20, TimeUnit.SECONDS);
            String id = dc.clusterId().get(20, TimeUnit.SECONDS);
            check(nodes.size() == 1, "describeCluster: %d nodes, want 1", nodes.size());
            Node n = nodes.iterator().next();
            check(BOOTSTRAP.equals(n.host() + ":" + n.port()), "describeCluster: node %s, want %s", n, BOOTSTRAP);
            check(controller != null && !controller.isEmpty(), "describeCluster: no controller");
            check(id != null && !id.isEmpty(), "describeCluster: no cluster id");
            ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(n.id()));
            Config cfg = admin.describeConfigs(List.of(broker)).all().get(20, TimeUnit.SECONDS).get(broker);
            ConfigEntry np = cfg.get("num.partitions");
            check(np != null && np.value() != null && Integer.parseInt(np.value()) >= 1, "broker config num.partitions = %s", np);
            ConfigEntry ld = cfg.get("log.dirs");
            check(ld != null && ld.value() != null && !ld.value().isEmpty(), "broker config log.dirs = %s", ld);
            System.out.println("cluster " + id + " nodes " + nodes + " controller " + controller + " configs " + cfg.entries().size());
        }
    }

    /** listGroups / describeGroups of a live one-member group, then deleteConsumerGroups. */
    static void adminGroups() throws Exception {
        String topic = "java-admin-groups-" + RUN;
        String group = "java-admin-groups-" + RUN;
        try (Admin admin = admin()) {
            createTopic(admin, topic, 2);
            try (KafkaProducer<String, String> prod = producer("none")) {
                produce(prod, topic, 0, 10, "ag");
            }
            try (KafkaConsumer<String, String> c = consumer(group, false)) {
                c.subscribe(List.of(topic));
                List<ConsumerRecord<String, String>> got = pollUntil(c, 10, GROUP_DEADLINE);
                check(got.size() == 10, "group consumer read %d of 10 records", got.size());
                c.commitSync();
                Collection<GroupListing> groups = admin.listGroups().all().get(20, TimeUnit.SECONDS);
                check(groups.stream().anyMatch(g -> g.groupId().equals(group)), "listGroups %s does not contain %s", groups, group);
                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get(20, TimeUnit.SECONDS).get(group);
                check(d.groupState() == GroupState.STABLE, "describeConsumerGroups state %s, want STABLE", d.groupState());
                check(d.members().size() == 1, "describeConsumerGroups: %d members, want 1", d.members().size());
                Set<TopicPartition> a = d.members().iterator().next().assignment().topicPartitions();
                check(a.equals(Set.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1))), "member assignment %s", a);
                check("range".equals(d.partitionAssignor()) || "cooperative-sticky".equals(d.partitionAssignor()) || !d.partitionAssignor().isEmpty(),
                        "no assignor in description");
            }
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get(20, TimeUnit.SECONDS).get(group);
            check(d.groupState() == GroupState.EMPTY && d.members().isEmpty(), "after the member left: state %s members %s, want EMPTY", d.groupState(), d.members());
            Map<TopicPartition, OffsetAndMetadata> offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(20, TimeUnit.SECONDS);
            long sum = offs.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
            check(offs.size() == 2 && sum == 10, "committed offsets %s, want 2 partitions summing to 10", offs);
            admin.deleteConsumerGroups(List.of(group)).all().get(20, TimeUnit.SECONDS);
            Collection<GroupListing> groups = admin.listGroups().all().get(20, TimeUnit.SECONDS);
            check(groups.stream().noneMatch(g -> g.groupId().equals(group)), "%s still listed after deleteConsumerGroups", group);
        }
    }

    static void listOffsets() throws Exception {
        String topic = "java-list-offsets-" + RUN;
        TopicPartition tp = new TopicPartition(topic, 0);
        long t0 = System.currentTimeMillis() - 60_000;
        try (Admin admin = admin()) {
            createTopic(admin, topic, 1);
            try (KafkaProducer<String, String> prod = producer("none")) {
                for (int i = 0; i < 10; i++) prod.send(new ProducerRecord<>(topic, 0, t0 + i * 1000L, "k" + i, "v" + i)).get();
            }
            check(offset(admin, tp, OffsetSpec.earliest()) == 0, "earliest %d, want 0", offset(admin, tp, OffsetSpec.earliest()));
            check(offset(admin, tp, OffsetSpec.latest()) == 10, "latest %d, want 10", offset(admin, tp, OffsetSpec.latest()));
            long at = offset(admin, tp, OffsetSpec.forTimestamp(t0 + 4500));
            check(at == 5, "offset for timestamp t0+4.5s is %d, want 5", at);
            long after = offset(admin, tp, OffsetSpec.forTimestamp(t0 + 100_000));
            check(after == -1, "offset for a timestamp after the last record is %d, want -1", after);
            ListOffsetsResult.ListOffsetsResultInfo max = admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).partitionResult(tp).get(20, TimeUnit.SECONDS);
            check(max.offset() == 9 && max.timestamp() == t0 + 9000, "max timestamp: offset %d ts %d, want 9 / %d", max.offset(), max.timestamp(), t0 + 9000);
            admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(3))).all().get(20, TimeUnit.SECONDS);
            check(offset(admin, tp, OffsetSpec.earliest()) == 3, "earliest after deleteRecords(3) is %d, want 3", offset(admin, tp, OffsetSpec.earliest()));
        }
    }

    static long offset(Admin admin, TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get(20, TimeUnit.SECONDS).offset();
    }

    // ------------------------------------------------------------ transactions

    static KafkaProducer<String, String> txnProducer(String txnId) {
        Properties p = common();
        p.put("transactional.id", txnId);
        p.put("transaction.timeout.ms", "30000");
        p.put("max.block.ms", "30000");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> isolationConsumer(String group, String isolation) {
        Properties p = common();
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("isolation.level", isolation);
        if (group != null) {
            p.put("group.id", group);
            p.put("session.timeout.ms", "10000");
            p.put("heartbeat.interval.ms", "500");
        }
        return new KafkaConsumer<>(p);
    }

    /** Sends records k<from>..k<from+n-1> in the open transaction, partition i%2, and returns their metadata. */
    static List<RecordMetadata> txnSend(KafkaProducer<String, String> prod, String topic, int from, int n, String tag) throws Exception {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            ProducerRecord<String, String> r = new ProducerRecord<>(topic, i % 2, "k" + i, "v" + i + "-" + tag);
            r.headers().add("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
            r.headers().add("tag", tag.getBytes(StandardCharsets.UTF_8));
            fs.add(prod.send(r));
        }
        prod.flush();
        List<RecordMetadata> out = new ArrayList<>();
        for (Future<RecordMetadata> f : fs) out.add(f.get(30, TimeUnit.SECONDS));
        return out;
    }

    /** Checks that got is exactly the records described by (sent, seqs, tags), in offset order per partition. */
    static void verifyExact(String what, List<ConsumerRecord<String, String>> got, List<RecordMetadata> sent, List<Integer> seqs, List<String> tags) {
        check(got.size() == sent.size(), "%s: consumed %d records, want %d", what, got.size(), sent.size());
        Map<String, ConsumerRecord<String, String>> byPos = new HashMap<>();
        for (ConsumerRecord<String, String> r : got) {
            ConsumerRecord<String, String> prev = byPos.put(r.partition() + "@" + r.offset(), r);
            check(prev == null, "%s: record at partition %d offset %d delivered twice", what, r.partition(), r.offset());
        }
        for (int i = 0; i < sent.size(); i++) {
            RecordMetadata m = sent.get(i);
            ConsumerRecord<String, String> r = byPos.get(m.partition() + "@" + m.offset());
            int seq = seqs.get(i);
            String tag = tags.get(i);
            check(r != null, "%s: record k%d (partition %d offset %d) not consumed; got %s", what, seq, m.partition(), m.offset(), byPos.keySet());
            check(("k" + seq).equals(r.key()), "%s: at %d@%d key %s, want k%d", what, m.partition(), m.offset(), r.key(), seq);
            check(("v" + seq + "-" + tag).equals(r.value()), "%s: at %d@%d value %s, want v%d-%s", what, m.partition(), m.offset(), r.value(), seq, tag);
            check(Integer.toString(seq).equals(header(r, "seq")), "%s: at %d@%d header seq=%s, want %d", what, m.partition(), m.offset(), header(r, "seq"), seq);
        }
        // Consumption order within a partition is offset order, and the sequence numbers rise with it.
        Map<Integer, Long> lastOff = new HashMap<>();
        Map<Integer, Integer> lastSeq = new HashMap<>();
        for (ConsumerRecord<String, String> r : got) {
            Long lo = lastOff.put(r.partition(), r.offset());
            check(lo == null || r.offset() > lo, "%s: partition %d offset %d consumed after %d", what, r.partition(), r.offset(), lo);
            int seq = Integer.parseInt(header(r, "seq"));
            Integer ls = lastSeq.put(r.partition(), seq);
            check(ls == null || seq > ls, "%s: partition %d k%d consumed after k%d", what, r.partition(), seq, ls);
        }
    }

    /** Reads everything in tps from the beginning with the isolation level until want records came, then polls 1 s more for extras. */
    static List<ConsumerRecord<String, String>> readAll(String isolation, List<TopicPartition> tps, int want) {
        try (KafkaConsumer<String, String> c = isolationConsumer(null, isolation)) {
            c.assign(tps);
            c.seekToBeginning(tps);
            List<ConsumerRecord<String, String>> got = pollUntil(c, want, Duration.ofSeconds(30));
            long end = System.nanoTime() + Duration.ofSeconds(1).toNanos();
            while (System.nanoTime() < end) for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
            return got;
        }
    }

    /**
     * Transactional producer: two committed transactions of 10 records and an
     * aborted one of 5 between them, over 2 partitions; read_committed sees the
     * 20 committed records (at the offsets the producer was told, markers
     * skipped), read_uncommitted all 25; the end offset (LSO) counts the
     * markers. Then consume-transform-produce: a group consumer reads the 20,
     * a transaction writes them transformed and sendOffsetsToTransaction
     * commits the group offsets with it.
     */
    static void transactions() throws Exception {
        String topic = "java-txn-" + RUN, out = "java-txn-out-" + RUN, group = "java-txn-group-" + RUN;
        try (Admin admin = admin()) {
            createTopic(admin, topic, 2);
            createTopic(admin, out, 2);
        }
        List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
        List<RecordMetadata> committed = new ArrayList<>(), all = new ArrayList<>();
        List<Integer> cSeq = new ArrayList<>(), aSeq = new ArrayList<>();
        List<String> cTag = new ArrayList<>(), aTag = new ArrayList<>();
        try (KafkaProducer<String, String> prod = txnProducer("java-txn-" + RUN)) {
            prod.initTransactions();
            String[] tags = {"commit1", "abort", "commit2"};
            int[] from = {0, 10, 15}, n = {10, 5, 10};
            for (int t = 0; t < 3; t++) {
                prod.beginTransaction();
                List<RecordMetadata> ms = txnSend(prod, topic, from[t], n[t], tags[t]);
                if (t == 1) prod.abortTransaction();
                else prod.commitTransaction();
                for (int i = 0; i < n[t]; i++) {
                    all.add(ms.get(i)); aSeq.add(from[t] + i); aTag.add(tags[t]);
                    if (t != 1) { committed.add(ms.get(i)); cSeq.add(from[t] + i); cTag.add(tags[t]); }
                }
            }
        }
        // Offsets the producer was told: each partition holds commit1 (5), marker, abort (3 or 2), marker, commit2 (5), marker.
        Map<Integer, List<Long>> offs = new TreeMap<>();
        for (RecordMetadata m : all) offs.computeIfAbsent(m.partition(), k -> new ArrayList<>()).add(m.offset());
        check(offs.get(0).equals(List.of(0L, 1L, 2L, 3L, 4L, 6L, 7L, 8L, 10L, 11L, 12L, 13L, 14L)),
                "partition 0 offsets %s, want 0-4 (commit1), 6-8 (aborted), 10-14 (commit2) with markers at 5, 9", offs.get(0));
        check(offs.get(1).equals(List.of(0L, 1L, 2L, 3L, 4L, 6L, 7L, 9L, 10L, 11L, 12L, 13L)),
                "partition 1 offsets %s, want 0-4 (commit1), 6-7 (aborted), 9-13 (commit2) with markers at 5, 8", offs.get(1));

        List<ConsumerRecord<String, String>> rc = readAll("read_committed", tps, 20);
        verifyExact("read_committed", rc, committed, cSeq, cTag);
        List<ConsumerRecord<String, String>> ru = readAll("read_uncommitted", tps, 25);
        verifyExact("read_uncommitted", ru, all, aSeq, aTag);
        try (KafkaConsumer<String, String> c = isolationConsumer(null, "read_committed")) {
            Map<TopicPartition, Long> lso = c.endOffsets(tps);
            check(lso.get(tps.get(0)) == 16 && lso.get(tps.get(1)) == 15, "read_committed end offsets (LSO) %s, want p0=16 p1=15 (after the last commit marker)", lso);
        }
        try (KafkaConsumer<String, String> c = isolationConsumer(null, "read_uncommitted")) {
            Map<TopicPartition, Long> hw = c.endOffsets(tps);
            check(hw.get(tps.get(0)) == 16 && hw.get(tps.get(1)) == 15, "read_uncommitted end offsets (high watermark) %s, want p0=16 p1=15", hw);
        }

        // Consume-transform-produce with the group's offsets in the transaction.
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        List<RecordMetadata> outSent;
        List<Integer> outSeq = new ArrayList<>();
        List<String> outTag = new ArrayList<>();
        try (KafkaConsumer<String, String> c = isolationConsumer(group, "read_committed");
             KafkaProducer<String, String> prod = txnProducer("java-txn-ctp-" + RUN)) {
            prod.initTransactions();
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> in = pollUntil(c, 20, GROUP_DEADLINE);
            check(in.size() == 20, "group consumer (read_committed) got %d records, want 20", in.size());
            prod.beginTransaction();
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (ConsumerRecord<String, String> r : in) {
                int seq = Integer.parseInt(header(r, "seq"));
                ProducerRecord<String, String> o = new ProducerRecord<>(out, r.partition(), r.key(), "v" + seq + "-ctp");
                o.headers().add("seq", Integer.toString(seq).getBytes(StandardCharsets.UTF_8));
                fs.add(prod.send(o));
                outSeq.add(seq);
                outTag.add("ctp");
                next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1, "ctp"));
            }
            prod.sendOffsetsToTransaction(next, c.groupMetadata());
            prod.commitTransaction();
            outSent = new ArrayList<>();
            for (Future<RecordMetadata> f : fs) outSent.add(f.get(30, TimeUnit.SECONDS));
        }
        check(next.get(tps.get(0)).offset() == 15 && next.get(tps.get(1)).offset() == 14, "offsets to commit %s, want p0=15 p1=14", next);
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetAndMetadata> got = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(20, TimeUnit.SECONDS);
            for (TopicPartition tp : tps) {
                OffsetAndMetadata o = got.get(tp);
                check(o != null, "group %s has no committed offset for %s after the transaction committed (got %s)", group, tp, got);
                check(o.offset() == next.get(tp).offset(), "group %s committed offset for %s is %d, want %d", group, tp, o.offset(), next.get(tp).offset());
                check("ctp".equals(o.metadata()), "group %s committed metadata for %s is %s, want ctp", group, tp, o.metadata());
            }
        }
        List<TopicPartition> outTps = List.of(new TopicPartition(out, 0), new TopicPartition(out, 1));
        verifyExact("transformed (read_committed)", readAll("read_committed", outTps, 20), outSent, outSeq, outTag);
        System.out.println("NOTE: 2 committed + 1 aborted transaction over 2 partitions: read_committed saw 20 records, read_uncommitted 25, LSO after the markers; consume-transform-produce committed group offsets p0=15 p1=14 with sendOffsetsToTransaction");
    }

    // ------------------------------------------------------------ Kafka Streams

    /**
     * A Kafka Streams app with processing.guarantee=exactly_once_v2 counting
     * records per key (groupByKey().count(), store "counts"), input to
     * output; run until the read_committed output has the right latest
     * count for every key, then check the changelog topic exists and holds
     * the same counts.
     */
    static void streamsEos() throws Exception {
        String app = "java-streams-eos-" + RUN, in = app + "-in", out = app + "-out", changelog = app + "-counts-changelog";
        int n = 300;
        try (Admin admin = admin()) {
            createTopic(admin, in, 3);
            createTopic(admin, out, 3);
        }
        Map<String, Long> want = new TreeMap<>();
        try (KafkaProducer<String, String> prod = producer("none")) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                // Squares mod 7 fall on 4 keys with uneven counts (43, 86, 86, 85).
                String key = "key" + (i * i % 7);
                want.merge(key, 1L, Long::sum);
                fs.add(prod.send(new ProducerRecord<>(in, key, "v" + i)));
            }
            for (Future<RecordMetadata> f : fs) f.get(30, TimeUnit.SECONDS);
        }
        Path stateDir = Files.createTempDirectory("samsa-streams");
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 10000);
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 500);
        StreamsBuilder b = new StreamsBuilder();
        b.<String, String>stream(in).groupByKey().count(Materialized.as("counts")).toStream().to(out, Produced.with(Serdes.String(), Serdes.Long()));
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Map<String, Long> latest = new TreeMap<>();
        List<String> states = Collections.synchronizedList(new ArrayList<>());
        try (KafkaStreams streams = new KafkaStreams(b.build(), p)) {
            streams.setUncaughtExceptionHandler(e -> { failure.compareAndSet(null, e); return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT; });
            streams.setStateListener((ns, os) -> states.add(os + "->" + ns));
            streams.start();
            Properties cp = common();
            cp.put("key.deserializer", StringDeserializer.class.getName());
            cp.put("value.deserializer", LongDeserializer.class.getName());
            cp.put("isolation.level", "read_committed");
            cp.put("enable.auto.commit", "false");
            try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(cp)) {
                List<TopicPartition> tps = List.of(new TopicPartition(out, 0), new TopicPartition(out, 1), new TopicPartition(out, 2));
                c.assign(tps);
                c.seekToBeginning(tps);
                long end = System.nanoTime() + Duration.ofSeconds(50).toNanos();
                while (!latest.equals(want) && System.nanoTime() < end && failure.get() == null) {
                    for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) {
                        Long prev = latest.put(r.key(), r.value());
                        check(prev == null || r.value() > prev, "output count for %s went from %d to %d", r.key(), prev, r.value());
                    }
                }
            }
            check(failure.get() == null, "streams thread died: %s (states %s)", failure.get(), states);
            check(latest.equals(want), "latest output counts (read_committed) %s, want %s; streams state %s, transitions %s", latest, want, streams.state(), states);
            streams.close(Duration.ofSeconds(15));
        }
        try (Admin admin = admin()) {
            Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get(20, TimeUnit.SECONDS);
            check(names.contains(changelog), "changelog topic %s missing; topics of the app: %s", changelog,
                    names.stream().filter(t -> t.startsWith(app)).collect(Collectors.toList()));
        }
        Properties cp = common();
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", LongDeserializer.class.getName());
        cp.put("isolation.level", "read_committed");
        cp.put("enable.auto.commit", "false");
        Map<String, Long> logged = new TreeMap<>();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(cp)) {
            List<TopicPartition> tps = c.partitionsFor(changelog).stream().map(pi -> new TopicPartition(changelog, pi.partition())).collect(Collectors.toList());
            c.assign(tps);
            c.seekToBeginning(tps);
            long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (!logged.equals(want) && System.nanoTime() < end)
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) logged.put(r.key(), r.value());
        }
        check(logged.equals(want), "changelog %s latest counts (read_committed) %s, want %s", changelog, logged, want);
        System.out.println("NOTE: exactly_once_v2 count over " + n + " records, " + want.size() + " keys: output and changelog <app>-counts-changelog hold the right latest counts");
        try (var files = Files.walk(stateDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    /** The exception (or its cause) that ends the fenced producer's call, or "none". */
    static String fencedError(Callable<?> call) {
        try {
            call.call();
            return "none";
        } catch (Exception e) {
            Throwable t = e;
            if (t instanceof ExecutionException && t.getCause() != null) t = t.getCause();
            if (t instanceof KafkaException && !(t instanceof org.apache.kafka.common.errors.ApiException) && t.getCause() != null) t = t.getCause();
            return t.getClass().getSimpleName();
        }
    }

    /**
     * Zombie fencing: producer A opens a transaction on 2 partitions and
     * writes 6 records; producer B with the same transactional.id calls
     * initTransactions, which aborts A's transaction and bumps the epoch.
     * A's next send and its commitTransaction fail as against Kafka 4.3.1
     * (measured: InvalidProducerEpochException from both); B commits 4 records.
     * read_committed sees B's 4 only, read_uncommitted A's 6 and B's 4.
     */
    static void transactionsFencing() throws Exception {
        String topic = "java-txn-fence-" + RUN, id = "java-txn-fence-" + RUN;
        try (Admin admin = admin()) {
            createTopic(admin, topic, 2);
        }
        List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
        KafkaProducer<String, String> a = txnProducer(id);
        List<RecordMetadata> aSent;
        List<RecordMetadata> bSent;
        String sendErr, commitErr;
        try {
            a.initTransactions();
            a.beginTransaction();
            aSent = txnSend(a, topic, 0, 6, "zombie");
            try (KafkaProducer<String, String> b = txnProducer(id)) {
                b.initTransactions();
                sendErr = fencedError(() -> a.send(new ProducerRecord<>(topic, 0, "late", "late")).get(30, TimeUnit.SECONDS));
                commitErr = fencedError(() -> { a.commitTransaction(); return null; });
                b.beginTransaction();
                bSent = txnSend(b, topic, 100, 4, "winner");
                b.commitTransaction();
            }
        } finally {
            a.close(Duration.ofSeconds(5));
        }
        System.out.println("NOTE: fenced producer: send -> " + sendErr + ", commitTransaction -> " + commitErr);
        List<Integer> bSeq = new ArrayList<>(), allSeq = new ArrayList<>();
        List<String> bTag = new ArrayList<>(), allTag = new ArrayList<>();
        List<RecordMetadata> all = new ArrayList<>(aSent);
        for (int i = 0; i < 6; i++) { allSeq.add(i); allTag.add("zombie"); }
        for (int i = 0; i < 4; i++) { bSeq.add(100 + i); bTag.add("winner"); allSeq.add(100 + i); allTag.add("winner"); }
        all.addAll(bSent);
        verifyExact("read_committed", readAll("read_committed", tps, 4), bSent, bSeq, bTag);
        verifyExact("read_uncommitted", readAll("read_uncommitted", tps, 10), all, allSeq, allTag);
        try (Admin admin = admin()) {
            TransactionDescription d = admin.describeTransactions(Set.of(id)).description(id).get(20, TimeUnit.SECONDS);
            check(d.state() == TransactionState.COMPLETE_COMMIT, "transaction state %s after B's commit, want CompleteCommit", d.state());
            check(d.topicPartitions().isEmpty(), "partitions %s after B's commit, want none", d.topicPartitions());
            System.out.println("NOTE: after fencing and B's commit: producer id " + d.producerId() + " epoch " + d.producerEpoch());
        }
        // Kafka 4.3.1 at transaction.version 2 and 0 alike: the leader answers the zombie's
        // Produce INVALID_PRODUCER_EPOCH (the coordinator's PRODUCER_FENCED, as producers
        // expect it from Produce), an abortable error that commitTransaction then rethrows.
        String want = "InvalidProducerEpochException";
        check(sendErr.equals(want) && commitErr.equals(want), "the fenced producer's send failed with %s and its commitTransaction with %s, want %s from both (as Kafka 4.3.1)", sendErr, commitErr, want);
    }

    /**
     * Kafka Streams word count with exactly_once_v2 over 200,000 lines of two
     * words (1,000 words, so a repartition topic carries the words to their
     * counting tasks) while the broker is killed with SIGKILL and restarted:
     * once a quarter of the counting is visible it prints KILL-NOW, and the
     * harness (java_streams_eos_kill9 in client.sh) kills and restarts
     * Samsa on the same port and data. A read_committed consumer of the
     * output checks that every word's counts arrive exactly as 1, 2, 3, ...
     * (no count repeated or skipped: each line counted once, even across the
     * crash) and end at the exact totals.
     */
    static void streamsEosKill9() throws Exception {
        String app = "java-streams-kill9-" + RUN, in = app + "-in", out = app + "-out";
        int lines = 200_000, words = 1000;
        try (Admin admin = admin()) {
            createTopic(admin, in, 3);
            createTopic(admin, out, 3);
        }
        Map<String, Long> want = new HashMap<>();
        Properties pp = common();
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        pp.put("linger.ms", "20");
        pp.put("batch.size", "262144");
        pp.put("compression.type", "lz4");
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(pp)) {
            for (int i = 0; i < lines; i++) {
                String a = "w" + (i % words), b = "w" + ((i * 7L + 3) % words);
                want.merge(a, 1L, Long::sum);
                want.merge(b, 1L, Long::sum);
                prod.send(new ProducerRecord<>(in, "line" + i, a + " " + b));
            }
            prod.flush();
        }
        long total = 2L * lines;
        Path stateDir = Files.createTempDirectory("samsa-streams-kill9");
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 10000);
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 500);
        p.put(StreamsConfig.producerPrefix("transaction.timeout.ms"), 10000);
        p.put(StreamsConfig.producerPrefix("linger.ms"), 5);
        StreamsBuilder b = new StreamsBuilder();
        b.<String, String>stream(in)
                .flatMapValues(v -> Arrays.asList(v.split(" ")))
                .groupBy((k, w) -> w)
                .count(Materialized.as("word-counts"))
                .toStream().to(out, Produced.with(Serdes.String(), Serdes.Long()));
        List<String> threadErrors = Collections.synchronizedList(new ArrayList<>());
        List<String> states = Collections.synchronizedList(new ArrayList<>());
        Map<String, Long> latest = new HashMap<>();
        long updates = 0;
        boolean killed = false;
        long t0 = System.nanoTime();
        try (KafkaStreams streams = new KafkaStreams(b.build(), p)) {
            // A stream thread that dies of the broker's disappearance is
            // replaced, as a production application would configure it;
            // exactly-once must hold across that too.
            streams.setUncaughtExceptionHandler(e -> { threadErrors.add(e.toString()); return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD; });
            streams.setStateListener((ns, os) -> states.add(os + "->" + ns));
            streams.start();
            Properties cp = common();
            cp.put("key.deserializer", StringDeserializer.class.getName());
            cp.put("value.deserializer", LongDeserializer.class.getName());
            cp.put("isolation.level", "read_committed");
            cp.put("enable.auto.commit", "false");
            cp.put("max.poll.records", "5000");
            try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(cp)) {
                List<TopicPartition> tps = List.of(new TopicPartition(out, 0), new TopicPartition(out, 1), new TopicPartition(out, 2));
                c.assign(tps);
                c.seekToBeginning(tps);
                long end = System.nanoTime() + Duration.ofSeconds(100).toNanos();
                while (updates < total && System.nanoTime() < end) {
                    for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) {
                        long prev = latest.getOrDefault(r.key(), 0L);
                        check(r.value() == prev + 1, "word %s: count %d read after %d (read_committed, partition %d offset %d): %s", r.key(), r.value(), prev,
                                r.partition(), r.offset(), r.value() <= prev ? "a line counted twice" : "a count lost");
                        latest.put(r.key(), r.value());
                        updates++;
                    }
                    if (!killed && updates >= total / 4) {
                        killed = true;
                        System.out.println("KILL-NOW after " + updates + " of " + total + " count updates");
                        System.out.flush();
                    }
                }
            }
            check(updates == total, "read %d count updates of %d within 100 s (streams state %s, transitions %s, thread errors %s)", updates, total, streams.state(), states, threadErrors);
            check(latest.equals(want), "final counts differ from the input's: %d words, want %d", latest.size(), want.size());
            streams.close(Duration.ofSeconds(15));
        }
        System.out.printf("NOTE: exactly_once_v2 word count over %d lines (%d count updates) across a kill -9 of the broker in %.1f s; %d stream thread(s) replaced%n",
                lines, total, (System.nanoTime() - t0) / 1e9, threadErrors.size());
        try (var files = Files.walk(stateDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    /** Commit, reset the group's offset with the admin client, and check a new member starts there. */
    static void offsetsReset() throws Exception {
        String topic = "java-offsets-reset-" + RUN;
        String group = "java-offsets-reset-" + RUN;
        TopicPartition tp = new TopicPartition(topic, 0);
        try (Admin admin = admin()) {
            createTopic(admin, topic, 1);
            List<RecordMetadata> sent;
            try (KafkaProducer<String, String> prod = producer("none")) {
                sent = produce(prod, topic, 0, 10, "reset");
            }
            try (KafkaConsumer<String, String> c = consumer(group, false)) {
                c.subscribe(List.of(topic));
                List<ConsumerRecord<String, String>> got = pollUntil(c, 10, GROUP_DEADLINE);
                verify(got, sent, 0, "reset");
                c.commitSync();
            }
            Map<TopicPartition, OffsetAndMetadata> offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(20, TimeUnit.SECONDS);
            check(offs.get(tp) != null && offs.get(tp).offset() == 10, "committed %s, want 10", offs);
            admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(4, "reset-by-compat"))).all().get(20, TimeUnit.SECONDS);
            offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(20, TimeUnit.SECONDS);
            check(offs.get(tp).offset() == 4 && "reset-by-compat".equals(offs.get(tp).metadata()), "after alterConsumerGroupOffsets: %s, want 4 with metadata", offs);
            try (KafkaConsumer<String, String> c = consumer(group, false)) {
                c.subscribe(List.of(topic));
                List<ConsumerRecord<String, String>> got = pollUntil(c, 6, GROUP_DEADLINE);
                verify(got, sent.subList(4, 10), 4, "reset");
            }
            admin.deleteConsumerGroupOffsets(group, Set.of(tp)).all().get(20, TimeUnit.SECONDS);
            offs = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(20, TimeUnit.SECONDS);
            check(offs.get(tp) == null, "after deleteConsumerGroupOffsets: %s, want none", offs);
        }
    }

    static void crossWrite() throws Exception {
        String topic = "cross-java";
        try (Admin admin = admin()) {
            createTopic(admin, topic, 1);
        }
        try (KafkaProducer<String, String> prod = producer("none")) {
            for (int i = 0; i < 10; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, 0, "key-" + i, "java value " + i);
                r.headers().add("origin", "java".getBytes(StandardCharsets.UTF_8));
                RecordMetadata m = prod.send(r).get(30, TimeUnit.SECONDS);
                check(m.offset() == i, "record %d written at offset %d", i, m.offset());
            }
        }
    }

    static void crossRead(String writer) throws Exception {
        String topic = "cross-" + writer;
        try (KafkaConsumer<String, String> c = consumer(null, false)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<String, String>> got = pollUntil(c, 10, Duration.ofSeconds(20));
            check(got.size() == 10, "read %d records from %s, want 10", got.size(), topic);
            for (int i = 0; i < 10; i++) {
                ConsumerRecord<String, String> r = got.get(i);
                check(r.offset() == i, "record %d at offset %d", i, r.offset());
                check(("key-" + i).equals(r.key()), "offset %d key %s, want key-%d", i, r.key(), i);
                check((writer + " value " + i).equals(r.value()), "offset %d value %s, want '%s value %d'", i, r.value(), writer, i);
                String origin = header(r, "origin");
                check(writer.equals(origin), "offset %d header origin=%s, want %s", i, origin, writer);
            }
        }
    }
}
