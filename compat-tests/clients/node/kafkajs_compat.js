#!/usr/bin/env node
// Samsa compatibility scenarios with kafkajs (npm), one per call:
//
//   node kafkajs_compat.js SCENARIO [ARG]
//
// The broker is in $BOOTSTRAP. Exit 0 when everything that came back is right;
// otherwise the last line printed is "FAIL: reason". kafkajs has no assign():
// every consumer is a group member, so every read here needs consumer groups.
// Codecs: gzip built in, snappy (kafkajs-snappy) and lz4 (kafkajs-lz4); there
// is no pure-JavaScript zstd codec for kafkajs (@kafkajs/zstd is native).
'use strict'

const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = require('kafkajs')
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
CompressionCodecs[CompressionTypes.LZ4] = new (require('kafkajs-lz4'))().codec

const BOOTSTRAP = process.env.BOOTSTRAP
const RUN = process.env.COMPAT_RUN_ID || String(Date.now())
const GROUP_DEADLINE = 1000 * Number(process.env.GROUP_DEADLINE_S || 30)
const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4 }

const errors = [] // kafkajs error log lines, for failure reasons
const kafka = new Kafka({
  clientId: 'samsa-compat-kafkajs',
  brokers: [BOOTSTRAP],
  logLevel: logLevel.ERROR,
  logCreator: () => ({ label, log }) => {
    const line = `${label} ${log.message}${log.error ? ': ' + log.error : ''}`
    errors.push(line)
    console.error(line)
  },
  retry: { retries: 3 }
})

class Fail extends Error {}
function check (cond, msg) { if (!cond) throw new Fail(msg) }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function withAdmin (fn) {
  const admin = kafka.admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

async function createTopic (admin, topic, numPartitions, configEntries = []) {
  const created = await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }], waitForLeaders: true })
  check(created, `createTopics(${topic}) returned false`)
}

// Produces n records (keys k<i>, values v<i>-tag, headers seq/tag) in one send; returns the produce response.
async function produce (topic, from, n, tag, codec = 'none') {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    const messages = []
    for (let i = from; i < from + n; i++) messages.push({ key: `k${i}`, value: `v${i}-${tag}`, headers: { seq: String(i), tag } })
    const md = await producer.send({ topic, compression: CODECS[codec], acks: -1, messages })
    return { md, messages }
  } finally { await producer.disconnect() }
}

// Consumes from topic with a group until want records or the deadline; returns [{partition, message}].
async function consume (topic, groupId, want, opts = {}) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 500, ...opts.consumer })
  const got = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      autoCommit: opts.autoCommit !== false,
      autoCommitInterval: 200,
      eachMessage: async ({ partition, message }) => { got.push({ partition, message }) }
    })
    const end = Date.now() + (opts.deadline || GROUP_DEADLINE)
    while (got.length < want && Date.now() < end) await sleep(100)
    await sleep(opts.settle || 0)
  } finally { await consumer.disconnect() }
  return got
}

function verify (got, from, n, tag) {
  check(got.length === n, `consumed ${got.length} records, produced ${n}`)
  const seen = new Set()
  const byPartition = {}
  for (const { partition, message } of got) {
    const pos = `${partition}@${message.offset}`
    check(!seen.has(pos), `record at ${pos} delivered twice`)
    seen.add(pos)
    const key = message.key.toString()
    const i = Number(key.slice(1))
    check(i >= from && i < from + n, `unexpected key ${key}`)
    check(message.value.toString() === `v${i}-${tag}`, `at ${pos} value ${message.value}, want v${i}-${tag}`)
    const h = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()]))
    check(JSON.stringify(h) === JSON.stringify({ seq: String(i), tag }), `at ${pos} headers ${JSON.stringify(h)}`)
    ;(byPartition[partition] = byPartition[partition] || []).push([Number(message.offset), i])
  }
  for (const [p, recs] of Object.entries(byPartition)) {
    for (let j = 1; j < recs.length; j++) {
      check(recs[j][0] === recs[j - 1][0] + 1, `partition ${p}: offsets not dense/in order at ${recs[j][0]}`)
      check(recs[j][1] > recs[j - 1][1], `partition ${p}: records out of produce order at offset ${recs[j][0]}`)
    }
  }
  check(seen.size === n, `${seen.size} distinct records`)
}

// ---------------------------------------------------------------- scenarios

const scenarios = {
  // Produce with a codec and check the broker's offsets (no consumer needed).
  async produce (codec) {
    const topic = `kafkajs-produce-${codec}-${RUN}`
    await withAdmin(a => createTopic(a, topic, 3))
    const { md } = await produce(topic, 0, 300, codec, codec)
    check(md.length === 3 && md.every(m => m.errorCode === 0), `produce response ${JSON.stringify(md)}`)
    const offs = await withAdmin(a => a.fetchTopicOffsets(topic))
    const total = offs.reduce((s, o) => s + Number(o.high), 0)
    check(total === 300, `high watermarks ${JSON.stringify(offs)} sum to ${total}, want 300`)
    check(offs.every(o => Number(o.low) === 0), `low watermarks ${JSON.stringify(offs)}`)
  },

  async roundtrip (codec) {
    const topic = `kafkajs-roundtrip-${codec}-${RUN}`
    await withAdmin(a => createTopic(a, topic, 3))
    await produce(topic, 0, 300, codec, codec)
    const got = await consume(topic, topic, 300)
    verify(got, 0, 300, codec)
  },

  async 'admin-topics' () {
    const topic = `kafkajs-admin-${RUN}`
    await withAdmin(async a => {
      await createTopic(a, topic, 3, [{ name: 'retention.ms', value: '123456' }])
      const again = await a.createTopics({ topics: [{ topic, numPartitions: 3 }] }).catch(e => e)
      check(again === false || (again instanceof Error && /already exists/i.test(String(again.message) + JSON.stringify(again.errors || ''))),
        `creating ${topic} twice: ${again}, want false or TOPIC_ALREADY_EXISTS`)
      check((await a.listTopics()).includes(topic), `listTopics does not contain ${topic}`)
      const md = await a.fetchTopicMetadata({ topics: [topic] })
      const ps = md.topics[0].partitions
      check(ps.length === 3, `fetchTopicMetadata: ${ps.length} partitions`)
      for (const p of ps) check(p.leader === 0 && JSON.stringify(p.replicas) === '[0]' && JSON.stringify(p.isr) === '[0]', `partition ${JSON.stringify(p)}`)
      const cl = await a.describeCluster()
      check(cl.brokers.length === 1 && cl.brokers[0].nodeId === 0 && `${cl.brokers[0].host}:${cl.brokers[0].port}` === BOOTSTRAP && cl.controller === 0 && cl.clusterId,
        `describeCluster ${JSON.stringify(cl)}`)
      const cfg = async () => (await a.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false }))
        .resources[0].configEntries.find(e => e.configName === 'retention.ms')
      let e = await cfg()
      check(e && e.configValue === '123456', `retention.ms = ${JSON.stringify(e)}`)
      await a.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.ms', value: '654321' }] }] })
      e = await cfg()
      check(e && e.configValue === '654321', `after alterConfigs retention.ms = ${JSON.stringify(e)}`)
      await a.createPartitions({ topicPartitions: [{ topic, count: 5 }] })
      const md2 = await a.fetchTopicMetadata({ topics: [topic] })
      check(md2.topics[0].partitions.length === 5, `after createPartitions: ${md2.topics[0].partitions.length} partitions`)
      await a.deleteTopics({ topics: [topic] })
      const end = Date.now() + 10000
      while ((await a.listTopics()).includes(topic)) {
        check(Date.now() < end, `${topic} still listed 10s after deleteTopics`)
        await sleep(200)
      }
    })
  },

  async 'list-offsets' () {
    const topic = `kafkajs-offsets-${RUN}`
    const t0 = Date.now() - 60000
    await withAdmin(async a => {
      await createTopic(a, topic, 1)
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: 0, timestamp: String(t0 + i * 1000) })) })
      await producer.disconnect()
      const offs = await a.fetchTopicOffsets(topic)
      check(offs.length === 1 && offs[0].low === '0' && offs[0].high === '10', `fetchTopicOffsets ${JSON.stringify(offs)}`)
      const at = await a.fetchTopicOffsetsByTimestamp(topic, t0 + 4500)
      check(at[0].offset === '5', `fetchTopicOffsetsByTimestamp(t0+4.5s) ${JSON.stringify(at)}, want 5`)
      const after = await a.fetchTopicOffsetsByTimestamp(topic, t0 + 100000)
      check(after[0].offset === '10' || after[0].offset === '-1', `fetchTopicOffsetsByTimestamp(after the last) ${JSON.stringify(after)}, want the end`)
      await a.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '3' }] })
      const offs2 = await a.fetchTopicOffsets(topic)
      check(offs2[0].low === '3', `after deleteTopicRecords(3): ${JSON.stringify(offs2)}`)
    })
  },

  // Two members; auto-commit; checks the split, contents and the group's committed offsets.
  async 'consumer-group' () {
    const topic = `kafkajs-group-${RUN}`
    const groupId = topic
    await withAdmin(a => createTopic(a, topic, 4))
    const members = [0, 1].map(() => kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 500 }))
    const assigned = [[], []]
    const got = [[], []]
    try {
      for (const [i, c] of members.entries()) {
        c.on(c.events.GROUP_JOIN, e => { assigned[i] = (e.payload.memberAssignment[topic] || []).slice().sort() })
        await c.connect()
        await c.subscribe({ topic, fromBeginning: true })
        await c.run({ autoCommitInterval: 200, eachMessage: async ({ partition, message }) => { got[i].push({ partition, message }) } })
      }
      const end = Date.now() + GROUP_DEADLINE
      const settled = () => assigned[0].length && assigned[1].length && new Set([...assigned[0], ...assigned[1]]).size === 4 && assigned[0].length + assigned[1].length === 4
      while (!settled() && Date.now() < end) await sleep(100)
      check(settled(), `after ${GROUP_DEADLINE / 1000}s the members hold ${JSON.stringify(assigned)}, want a split of 4 partitions; errors: ${errors.slice(-2).join(' | ')}`)
      await produce(topic, 0, 200, 'group')
      const end2 = Date.now() + 30000
      while (got[0].length + got[1].length < 200 && Date.now() < end2) await sleep(100)
      await sleep(500)
    } finally {
      for (const c of members) await c.disconnect()
    }
    check(got[0].length && got[1].length, `a member consumed nothing (${got[0].length} / ${got[1].length})`)
    for (const i of [0, 1]) for (const r of got[i]) check(assigned[i].includes(r.partition), `member ${i} got partition ${r.partition}, assigned ${assigned[i]}`)
    verify([...got[0], ...got[1]], 0, 200, 'group')
    const offs = await withAdmin(a => a.fetchOffsets({ groupId, topics: [topic] }))
    const ends = await withAdmin(a => a.fetchTopicOffsets(topic))
    for (const p of offs[0].partitions) {
      const e = ends.find(x => x.partition === p.partition)
      check(p.offset === e.high, `committed offset of partition ${p.partition} is ${p.offset}, want ${e.high}`)
    }
  },

  async 'admin-groups' () {
    const topic = `kafkajs-admin-groups-${RUN}`
    const groupId = topic
    await withAdmin(async a => {
      await createTopic(a, topic, 2)
      await produce(topic, 0, 10, 'ag')
      const c = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 500 })
      const got = []
      await c.connect()
      try {
        await c.subscribe({ topic, fromBeginning: true })
        await c.run({ autoCommitInterval: 100, eachMessage: async ({ message }) => { got.push(message) } })
        const end = Date.now() + GROUP_DEADLINE
        while (got.length < 10 && Date.now() < end) await sleep(100)
        check(got.length === 10, `group consumer read ${got.length} of 10`)
        await sleep(500)
        const { groups } = await a.listGroups()
        check(groups.some(g => g.groupId === groupId && g.protocolType === 'consumer'), `listGroups ${JSON.stringify(groups)} does not contain ${groupId}`)
        const d = (await a.describeGroups([groupId])).groups[0]
        check(d.state === 'Stable' && d.members.length === 1 && d.protocolType === 'consumer', `describeGroups ${JSON.stringify({ state: d.state, members: d.members.length, protocolType: d.protocolType })}`)
      } finally { await c.disconnect() }
      const offs = await a.fetchOffsets({ groupId, topics: [topic] })
      const sum = offs[0].partitions.reduce((s, p) => s + Number(p.offset), 0)
      check(sum === 10, `committed offsets ${JSON.stringify(offs)}, want a sum of 10`)
      await a.deleteGroups([groupId])
      const { groups } = await a.listGroups()
      check(!groups.some(g => g.groupId === groupId), `${groupId} still listed after deleteGroups`)
    })
  },

  // Commit everything, reset the group to offset 4 with admin.setOffsets, check a new member starts there.
  async 'offsets-reset' () {
    const topic = `kafkajs-offsets-reset-${RUN}`
    const groupId = topic
    await withAdmin(a => createTopic(a, topic, 1))
    await produce(topic, 0, 10, 'reset')
    const first = await consume(topic, groupId, 10, { settle: 500 })
    verify(first, 0, 10, 'reset')
    await withAdmin(async a => {
      const offs = await a.fetchOffsets({ groupId, topics: [topic] })
      check(offs[0].partitions[0].offset === '10', `committed ${JSON.stringify(offs)}, want 10`)
      await a.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '4' }] })
      const offs2 = await a.fetchOffsets({ groupId, topics: [topic] })
      check(offs2[0].partitions[0].offset === '4', `after setOffsets ${JSON.stringify(offs2)}, want 4`)
    })
    const rest = await consume(topic, groupId, 6, { settle: 300 })
    verify(rest, 4, 6, 'reset')
    // resetOffsets(earliest) commits kafkajs's EARLIEST sentinel, -2 (it does so against Kafka too);
    // the next member of the group then starts from the log start.
    await withAdmin(async a => {
      await a.resetOffsets({ groupId, topic, earliest: true })
      const offs = await a.fetchOffsets({ groupId, topics: [topic] })
      check(offs[0].partitions[0].offset === '-2', `after resetOffsets(earliest) ${JSON.stringify(offs)}, want kafkajs's -2`)
    })
    const all = await consume(topic, groupId, 10, { settle: 300 })
    verify(all, 0, 10, 'reset')
  },

  async 'cross-write' () {
    const topic = 'cross-kafkajs'
    await withAdmin(a => createTopic(a, topic, 1))
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const md = await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: `key-${i}`, value: `kafkajs value ${i}`, partition: 0, headers: { origin: 'kafkajs' } })) })
    await producer.disconnect()
    check(md[0].baseOffset === '0', `written at base offset ${md[0].baseOffset}, want 0`)
  },

  async 'cross-read' (writer) {
    const topic = `cross-${writer}`
    const got = await consume(topic, `kafkajs-cross-read-${writer}-${RUN}`, 10, { deadline: 20000 })
    check(got.length === 10, `read ${got.length} records from ${topic}, want 10; errors: ${errors.slice(-2).join(' | ')}`)
    got.forEach(({ message: m }, i) => {
      check(m.offset === String(i), `record ${i} at offset ${m.offset}`)
      check(String(m.key) === `key-${i}`, `offset ${i} key ${m.key}`)
      check(String(m.value) === `${writer} value ${i}`, `offset ${i} value ${m.value}`)
      check(JSON.stringify(Object.keys(m.headers)) === '["origin"]' && String(m.headers.origin) === writer, `offset ${i} headers ${JSON.stringify(m.headers)}`)
    })
  }
}

async function main () {
  const [name, ...args] = process.argv.slice(2)
  const fn = scenarios[name]
  if (!fn) { console.log(`FAIL: unknown scenario ${name}`); process.exit(2) }
  const watchdog = setTimeout(() => { console.log(`FAIL: ${name} did not finish in 80s; errors: ${errors.slice(-3).join(' | ')}`); process.exit(1) }, 80000)
  try {
    await fn(...args)
    clearTimeout(watchdog)
    console.log('OK', name, ...args)
    process.exit(0)
  } catch (e) {
    console.log(e && e.stack)
    console.log(`FAIL: ${e instanceof Fail ? e.message : `${e && e.name}: ${e && e.message}`}`)
    process.exit(1)
  }
}
main()
