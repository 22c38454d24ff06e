/**
 * kafkajs driver (Node 20). kafkajs ships gzip only; for snappy, lz4 and zstd a kafkajs user
 * registers codecs (kafkajs's documented plug-in point), which here wrap the snappy, lz4-napi and
 * zstd-napi packages — not Samsa's own codecs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import kafkajs, { type Admin, type Consumer, type Kafka as KafkaT } from 'kafkajs';
import lz4 from 'lz4-napi';
import snappy from 'snappy';
import * as zstd from 'zstd-napi';
import type { InMessage, OpRequest, RebalanceResult } from '../../ops.js';
import { type Handlers, describeError, isMain, serve, sleep, until } from './runner.js';

const { Kafka, logLevel, CompressionTypes, CompressionCodecs, ConfigResourceTypes } = kafkajs;
const require = createRequire(import.meta.url);

const XERIAL = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
function snappyDecompress(b: Buffer): Buffer {
  if (b.length < 16 || !b.subarray(0, 8).equals(XERIAL)) return snappy.uncompressSync(b) as Buffer;
  const out: Buffer[] = [];
  for (let at = 16; at < b.length; ) {
    const n = b.readInt32BE(at);
    out.push(snappy.uncompressSync(b.subarray(at + 4, at + 4 + n)) as Buffer);
    at += 4 + n;
  }
  return Buffer.concat(out);
}
CompressionCodecs[CompressionTypes.Snappy] = () => ({
  compress: async (e: { buffer: Buffer }) => snappy.compressSync(e.buffer),
  decompress: async (b: Buffer) => snappyDecompress(b),
});
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async (e: { buffer: Buffer }) => lz4.compressFrameSync(e.buffer),
  decompress: async (b: Buffer) => lz4.decompressFrameSync(b),
});
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async (e: { buffer: Buffer }) => zstd.compress(e.buffer),
  decompress: async (b: Buffer) => zstd.decompress(b),
});

const CODEC = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD };

function client(req: OpRequest, retries = 5): KafkaT {
  return new Kafka({ brokers: [req.bootstrap], clientId: req.clientId, logLevel: logLevel.NOTHING, retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 } });
}

async function withAdmin<T>(req: OpRequest, f: (a: Admin) => Promise<T>, retries = 3): Promise<T> {
  const admin = client(req, retries).admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function toIn(partition: number, m: { offset: string; key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown>; timestamp: string }): InMessage {
  const headers: [string, string][] = [];
  for (const [k, v] of Object.entries(m.headers ?? {})) for (const x of Array.isArray(v) ? v : [v]) headers.push([k, String(x)]);
  return { partition, offset: Number(m.offset), key: m.key === null ? null : m.key.toString('utf8'), value: m.value === null ? null : m.value.toString('utf8'), headers, timestamp: Number(m.timestamp) };
}

function assignmentOf(payload: any, topic: string): number[] {
  return [...((payload?.memberAssignment?.[topic] as number[]) ?? [])].sort((a, b) => a - b);
}

const handlers: Handlers = {
  async version() {
    return { version: (JSON.parse(readFileSync(require.resolve('kafkajs/package.json'), 'utf8')) as { version: string }).version };
  },
  async createTopic(op, req) {
    await withAdmin(req, (a) =>
      a.createTopics({ waitForLeaders: true, topics: [{ topic: op.topic, numPartitions: op.partitions, configEntries: Object.entries(op.configs ?? {}).map(([name, value]) => ({ name, value })) }] }),
    );
  },
  async listTopics(_op, req) {
    return { topics: await withAdmin(req, (a) => a.listTopics()) };
  },
  async describeTopic(op, req) {
    const md = await withAdmin(req, (a) => a.fetchTopicMetadata({ topics: [op.topic] }), 1);
    return { partitions: md.topics[0].partitions.length };
  },
  async deleteTopic(op, req) {
    await withAdmin(req, (a) => a.deleteTopics({ topics: [op.topic], timeout: 10000 }));
  },
  async produce(op, req) {
    const producer = client(req, 2).producer({ allowAutoTopicCreation: false, idempotent: !!op.idempotent, ...(op.idempotent ? { maxInFlightRequests: 1 } : {}) });
    await producer.connect();
    try {
      const meta = await producer.send({
        topic: op.topic,
        acks: -1,
        compression: CODEC[op.compression ?? 'none'],
        messages: op.messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: Object.fromEntries(m.headers ?? []),
          ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      });
      return { offsets: meta.map((r) => ({ partition: r.partition, offset: Number(r.baseOffset) })) };
    } finally {
      await producer.disconnect().catch(() => {});
    }
  },
  async offsetForTime(op, req) {
    const r = await withAdmin(req, (a) => a.fetchTopicOffsetsByTimestamp(op.topic, op.timestamp));
    return { offset: Number(r.find((x) => x.partition === op.partition)!.offset) };
  },
  async consume(op, req) {
    // kafkajs consumes only in a group; a fresh group stands in for "no group".
    const kafka = client(req);
    let start: number | null = null;
    if (typeof op.from === 'object' && 'offset' in op.from) start = op.from.offset;
    if (typeof op.from === 'object' && 'timestamp' in op.from) {
      const ts = op.from.timestamp;
      const r = await withAdmin(req, (a) => a.fetchTopicOffsetsByTimestamp(op.topic, ts));
      start = Number(r.find((x) => x.partition === op.partition)!.offset);
    }
    const consumer = kafka.consumer({ groupId: `${req.clientId}-reader`, readUncommitted: op.isolation === 'read_uncommitted', maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 1000 });
    const got: InMessage[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: op.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (partition === op.partition && got.length < op.count) got.push(toIn(partition, message as any));
        },
      });
      if (start !== null) consumer.seek({ topic: op.topic, partition: op.partition, offset: String(start) });
      await until(() => got.length >= op.count, op.timeoutMs, `consumed ${got.length} of ${op.count}`).catch(() => {});
      return { messages: got };
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  },
  async groupConsume(op, req) {
    const consumer = client(req).consumer({ groupId: op.group, maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 1000 });
    const got: InMessage[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: op.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          if (got.length >= op.count) return;
          got.push(toIn(partition, message as any));
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        },
      });
      await until(() => got.length >= op.count, op.timeoutMs, `consumed ${got.length} of ${op.count}`).catch(() => {});
      await sleep(200);
      return { messages: got };
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  },
  async rebalance(op, req) {
    const kafka = client(req);
    const result: RebalanceResult = { phase1: [], phase2: null, consumed: { A: [], B: [] } };
    const assigned: Record<'A' | 'B', number[]> = { A: [], B: [] };
    const members: Record<string, Consumer> = {};
    const start = async (name: 'A' | 'B') => {
      const c = kafka.consumer({ groupId: op.group, maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 10000 });
      members[name] = c;
      c.on(c.events.GROUP_JOIN, (e) => (assigned[name] = assignmentOf(e.payload, op.topic)));
      await c.connect();
      await c.subscribe({ topic: op.topic, fromBeginning: true });
      await c.run({ eachMessage: async ({ partition, message }) => void result.consumed[name].push({ partition, value: message.value!.toString() }) });
    };
    try {
      await start('A');
      await until(() => result.consumed.A.length >= op.preCount && assigned.A.length === op.partitions, op.timeoutMs, 'member A alone');
      result.phase1 = [...assigned.A];
      await start('B');
      const split = () => assigned.A.length > 0 && assigned.B.length > 0 && assigned.A.length + assigned.B.length === op.partitions && assigned.A.every((p) => !assigned.B.includes(p));
      await until(split, op.timeoutMs, 'A and B sharing the partitions');
      result.phase2 = { A: [...assigned.A], B: [...assigned.B] };
      const producer = kafka.producer();
      await producer.connect();
      const post: { partition: number; value: string }[] = [];
      for (let p = 0; p < op.partitions; p++) for (let i = 0; i < 2; i++) post.push({ partition: p, value: `post-${p}-${i}` });
      await producer.send({ topic: op.topic, acks: -1, messages: post });
      await producer.disconnect();
      const seen = () => post.every((m) => result.consumed.A.some((x) => x.value === m.value) || result.consumed.B.some((x) => x.value === m.value));
      await until(seen, op.timeoutMs, 'post-rebalance messages consumed');
      return result as unknown as Record<string, unknown>;
    } finally {
      await Promise.all(Object.values(members).map((c) => c.disconnect().catch(() => {})));
    }
  },
  async transactions(op, req) {
    const producer = client(req).producer({ transactionalId: op.transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const batch = async (values: string[], commit: boolean, offsets?: boolean) => {
        const txn = await producer.transaction();
        await txn.send({ topic: op.topic, messages: values.map((value) => ({ value, partition: 0 })) });
        if (offsets) await txn.sendOffsets({ consumerGroupId: op.group, topics: [{ topic: op.topic, partitions: [{ partition: 0, offset: '3' }] }] });
        if (commit) await txn.commit();
        else await txn.abort();
      };
      await batch(['t1-0', 't1-1', 't1-2'], true);
      await batch(['t2-0', 't2-1'], false);
      await batch(['t3-0', 't3-1'], true, true);
      return { sentOffsets: true };
    } finally {
      await producer.disconnect().catch(() => {});
    }
  },
  async describeConfigs(op, req) {
    const r = await withAdmin(req, (a) => a.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: op.topic, configNames: op.names }] }), 0);
    return { configs: Object.fromEntries(r.resources[0].configEntries.map((c) => [c.configName, c.configValue])) };
  },
  async alterConfigs(op, req) {
    await withAdmin(req, (a) => a.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: op.topic, configEntries: Object.entries(op.configs).map(([name, value]) => ({ name, value })) }] }), 0);
  },
  async createPartitions(op, req) {
    await withAdmin(req, (a) => a.createPartitions({ topicPartitions: [{ topic: op.topic, count: op.count }] }), 0);
  },
  async deleteRecords(op, req) {
    // kafkajs 2.2.4 looks up partition leaders before loading the topic's metadata: load it first.
    await withAdmin(req, async (a) => {
      await a.fetchTopicMetadata({ topics: [op.topic] });
      await a.deleteTopicRecords({ topic: op.topic, partitions: [{ partition: op.partition, offset: String(op.offset) }] });
    }, 0);
  },
  async listGroups(_op, req) {
    const r = await withAdmin(req, (a) => a.listGroups());
    return { groups: r.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) };
  },
  async describeGroup(op, req) {
    const r = await withAdmin(req, (a) => a.describeGroups([op.group]));
    const g = r.groups[0]!;
    return { state: g.state, protocolType: g.protocolType, members: g.members.length };
  },
  async groupOffsets(op, req) {
    const r = await withAdmin(req, (a) => a.fetchOffsets({ groupId: op.group, topics: [op.topic] }));
    return { offsets: r[0]!.partitions.map((p) => ({ partition: p.partition, offset: Number(p.offset) })) };
  },
  async setGroupOffsets(op, req) {
    await withAdmin(req, (a) => a.setOffsets({ groupId: op.group, topic: op.topic, partitions: op.offsets.map((o) => ({ partition: o.partition, offset: String(o.offset) })) }), 0);
  },
  async deleteGroup(op, req) {
    await withAdmin(req, async (a) => {
      try {
        await a.deleteGroups([op.group]);
      } catch (e) {
        // KafkaJSDeleteGroupsError carries each group's own error.
        throw (e as { groups?: { error?: unknown }[] }).groups?.[0]?.error ?? e;
      }
    }, 0);
  },
};

if (isMain(import.meta.url)) void serve(handlers, (e) => describeError(e, (x) => (typeof x?.code === 'number' && x?.type ? x.code : undefined)));
