/**
 * @confluentinc/kafka-javascript driver (Node 20; librdkafka inside, built from the package's bundled
 * source into compat/clients by compat/install-clients.sh). Uses its KafkaJS-compatible API, the one
 * its documentation recommends, and its AdminClient for what that API lacks (createPartitions).
 * librdkafka error codes: broker errors keep Kafka's code, local ones are negative.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { InMessage, OpRequest, RebalanceResult, StaticResult } from '../../ops.js';
import { type Handlers, describeError, isMain, serve, sleep, until } from './runner.js';

const CLIENTS_DIR = fileURLToPath(new URL('../../../../compat/clients/', import.meta.url));
const require = createRequire(CLIENTS_DIR);
const lib: any = require('@confluentinc/kafka-javascript');
const { Kafka, logLevel } = lib.KafkaJS;

const ASSIGN = -175;
const OFFSET_INVALID = -1001;

/** The library's group states (librdkafka's enum: PREPARING_REBALANCE = 1, …) under Kafka's names ('PreparingRebalance'). */
const GROUP_STATES: Record<string, number> = lib.KafkaJS.ConsumerGroupStates;
function stateName(state: number): string {
  const key = Object.keys(GROUP_STATES).find((k) => GROUP_STATES[k] === state);
  if (key === undefined) return String(state);
  return key.toLowerCase().replace(/(^|_)([a-z])/g, (_, _u: string, c: string) => c.toUpperCase());
}

function kafka(req: OpRequest) {
  return new Kafka({ kafkaJS: { brokers: [req.bootstrap], clientId: req.clientId, logLevel: logLevel.NOTHING } });
}

async function withAdmin<T>(req: OpRequest, f: (a: any) => Promise<T>): Promise<T> {
  const admin = kafka(req).admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function toIn(partition: number, m: any): InMessage {
  const headers: [string, string][] = [];
  for (const [k, v] of Object.entries(m.headers ?? {})) for (const x of Array.isArray(v) ? v : [v]) headers.push([k, Buffer.isBuffer(x) ? x.toString('utf8') : String(x)]);
  return { partition, offset: Number(m.offset), key: m.key == null ? null : m.key.toString('utf8'), value: m.value == null ? null : m.value.toString('utf8'), headers, timestamp: Number(m.timestamp) };
}

function consumerConfig(groupId: string, extra: Record<string, unknown> = {}, kafkaJS: Record<string, unknown> = {}) {
  return { kafkaJS: { groupId, fromBeginning: true, autoCommit: false, sessionTimeout: 10000, heartbeatInterval: 500, ...kafkaJS }, 'fetch.wait.max.ms': 100, ...extra };
}

/** A group member that records its assignment events and what it consumed. */
async function member(req: OpRequest, topic: string, group: string, extra: Record<string, unknown> = {}) {
  const m = { assigned: [] as number[], events: 0, consumed: [] as { partition: number; value: string }[], consumer: null as any };
  m.consumer = kafka(req).consumer(
    consumerConfig(group, {
      ...extra,
      rebalance_cb: (err: any, assignment: { topic: string; partition: number }[]) => {
        m.events++;
        m.assigned = err.code === ASSIGN ? assignment.filter((a) => a.topic === topic).map((a) => a.partition).sort((a, b) => a - b) : [];
      },
    }, { autoCommit: true }),
  );
  await m.consumer.connect();
  await m.consumer.subscribe({ topic });
  await m.consumer.run({ eachMessage: async ({ partition, message }: any) => void m.consumed.push({ partition, value: message.value.toString() }) });
  return m;
}

/**
 * Consuming with auto.offset.reset=error: the KafkaJS-compatible API logs consumer errors instead of
 * raising them, so this uses the library's KafkaConsumer API, whose consume() reports them.
 */
async function strictConsume(op: { topic: string; partition: number; from: unknown; count: number; timeoutMs: number }, req: OpRequest) {
  const start = (op.from as { offset?: number }).offset ?? 0;
  const c = new lib.KafkaConsumer({ 'bootstrap.servers': req.bootstrap, 'client.id': req.clientId, 'group.id': `${req.clientId}-strict`, 'enable.auto.commit': false }, { 'auto.offset.reset': 'error' });
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10000 }, (e: unknown) => (e ? reject(e) : resolve())));
  let failure: unknown = null;
  c.on('event.error', (e: unknown) => (failure ??= e));
  try {
    c.assign([{ topic: op.topic, partition: op.partition, offset: start }]);
    const got: InMessage[] = [];
    const deadline = Date.now() + op.timeoutMs;
    while (got.length < op.count && Date.now() < deadline) {
      if (failure) throw failure;
      const batch = await new Promise<any[]>((resolve, reject) => c.consume(1, (e: unknown, ms: any[]) => (e ? reject(e) : resolve(ms))));
      for (const m of batch) got.push(toIn(m.partition, { ...m, headers: Object.assign({}, ...(m.headers ?? [])) }));
      if (!batch.length) await sleep(50);
    }
    return { messages: got };
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}

const handlers: Handlers = {
  async version() {
    const pkg = JSON.parse(readFileSync(require.resolve('@confluentinc/kafka-javascript/package.json'), 'utf8')) as { version: string };
    return { version: `${pkg.version} (librdkafka ${lib.librdkafkaVersion})` };
  },
  async createTopic(op, req) {
    await withAdmin(req, (a) => a.createTopics({ topics: [{ topic: op.topic, numPartitions: op.partitions, configEntries: Object.entries(op.configs ?? {}).map(([name, value]) => ({ name, value })) }] }));
  },
  async listTopics(_op, req) {
    return { topics: await withAdmin(req, (a) => a.listTopics()) };
  },
  async describeTopic(op, req) {
    const md: any = await withAdmin(req, (a) => a.fetchTopicMetadata({ topics: [op.topic] }));
    return { partitions: md[0].partitions.length };
  },
  async deleteTopic(op, req) {
    await withAdmin(req, (a) => a.deleteTopics({ topics: [op.topic], timeout: 10000 }));
  },
  async produce(op, req) {
    const producer = kafka(req).producer({
      kafkaJS: { idempotent: !!op.idempotent, acks: -1, compression: op.compression ?? 'none', allowAutoTopicCreation: false },
      'topic.metadata.propagation.max.ms': 2000,
      'message.timeout.ms': 20000,
    });
    await producer.connect();
    try {
      const meta = await producer.send({
        topic: op.topic,
        messages: op.messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: Object.fromEntries(m.headers ?? []),
          ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      });
      return { offsets: meta.map((r: any) => ({ partition: r.partition, offset: Number(r.baseOffset ?? r.offset) })) };
    } finally {
      await producer.disconnect().catch(() => {});
    }
  },
  async offsetForTime(op, req) {
    const r: any = await withAdmin(req, (a) => a.fetchTopicOffsetsByTimestamp(op.topic, op.timestamp));
    return { offset: Number(r.find((x: any) => x.partition === op.partition).offset) };
  },
  async consume(op, req) {
    if (op.strict) return strictConsume(op, req);
    let start: number | null = null;
    if (typeof op.from === 'object' && 'offset' in op.from) start = op.from.offset;
    if (typeof op.from === 'object' && 'timestamp' in op.from) {
      const ts = op.from.timestamp;
      const r: any = await withAdmin(req, (a) => a.fetchTopicOffsetsByTimestamp(op.topic, ts));
      start = Number(r.find((x: any) => x.partition === op.partition).offset);
    }
    const got: InMessage[] = [];
    let failure: unknown = null;
    const consumer = kafka(req).consumer(
      consumerConfig(`${req.clientId}-reader`, { 'isolation.level': op.isolation ?? 'read_committed', ...(op.strict ? { 'auto.offset.reset': 'error' } : {}) }, op.strict ? { fromBeginning: undefined } : {}),
    );
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: op.topic });
      await consumer.run({
        eachMessage: async ({ partition, message }: any) => {
          if (partition === op.partition && got.length < op.count) got.push(toIn(partition, message));
        },
      });
      if (start !== null) {
        await until(() => consumer.assignment().length > 0, op.timeoutMs, 'assignment');
        consumer.seek({ topic: op.topic, partition: op.partition, offset: String(start) });
      }
      await until(() => got.length >= op.count || failure !== null, op.timeoutMs, `consumed ${got.length} of ${op.count}`).catch(() => {});
      if (failure) throw failure;
      return { messages: got };
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  },
  async groupConsume(op, req) {
    const got: InMessage[] = [];
    const consumer = kafka(req).consumer(consumerConfig(op.group));
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: op.topic });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }: any) => {
          if (got.length >= op.count) return;
          got.push(toIn(partition, message));
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        },
      });
      await until(() => got.length >= op.count, op.timeoutMs, `consumed ${got.length} of ${op.count}`).catch(() => {});
      return { messages: got };
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  },
  async rebalance(op, req) {
    const result: RebalanceResult = { phase1: [], phase2: null, consumed: { A: [], B: [] } };
    const members: any[] = [];
    try {
      const a = await member(req, op.topic, op.group);
      members.push(a);
      await until(() => a.consumed.length >= op.preCount && a.assigned.length === op.partitions, op.timeoutMs, 'member A alone');
      result.phase1 = [...a.assigned];
      const b = await member(req, op.topic, op.group);
      members.push(b);
      const split = () => a.assigned.length > 0 && b.assigned.length > 0 && a.assigned.length + b.assigned.length === op.partitions && a.assigned.every((p) => !b.assigned.includes(p));
      await until(split, op.timeoutMs, 'A and B sharing the partitions');
      result.phase2 = { A: [...a.assigned], B: [...b.assigned] };
      const producer = kafka(req).producer({ kafkaJS: { acks: -1 } });
      await producer.connect();
      const post: { partition: number; value: string }[] = [];
      for (let p = 0; p < op.partitions; p++) for (let i = 0; i < 2; i++) post.push({ partition: p, value: `post-${p}-${i}` });
      const postValues = post.map((m) => m.value);
      await producer.send({ topic: op.topic, messages: post });
      await producer.disconnect();
      const seen = () => postValues.every((v) => [...a.consumed, ...b.consumed].some((x) => x.value === v));
      await until(seen, op.timeoutMs, 'post-rebalance messages consumed').catch((e) => {
        throw new Error(`${e.message}: A ${JSON.stringify(a.assigned)} got ${JSON.stringify(a.consumed.map((x: any) => x.value))}; B ${JSON.stringify(b.assigned)} got ${JSON.stringify(b.consumed.map((x: any) => x.value))}`);
      });
      result.consumed = { A: a.consumed, B: b.consumed };
      return result as unknown as Record<string, unknown>;
    } finally {
      await Promise.all(members.map((m) => m.consumer.disconnect().catch(() => {})));
    }
  },
  async staticMembership(op, req) {
    const members: any[] = [];
    const opts = (id: string) => ({ 'group.instance.id': id, 'partition.assignment.strategy': 'range' });
    try {
      const a = await member(req, op.topic, op.group, opts('a'));
      const b = await member(req, op.topic, op.group, opts('b'));
      members.push(a, b);
      await until(() => a.assigned.length === 1 && b.assigned.length === 1 && a.assigned[0] !== b.assigned[0], op.timeoutMs, 'A and B with one partition each');
      await sleep(1500);
      const result: StaticResult = { before: { A: [...a.assigned], B: [...b.assigned] }, after: { A: [] }, bEventsBefore: b.events, bEventsAfter: 0 };
      await a.consumer.disconnect();
      const a2 = await member(req, op.topic, op.group, opts('a'));
      members.push(a2);
      await until(() => a2.assigned.length > 0, op.timeoutMs, 'restarted A assigned');
      await sleep(3000);
      result.after.A = [...a2.assigned];
      result.bEventsAfter = b.events;
      return result as unknown as Record<string, unknown>;
    } finally {
      await Promise.all(members.map((m) => m.consumer.disconnect().catch(() => {})));
    }
  },
  async transactions(op, req) {
    const k = kafka(req);
    const producer = k.producer({ kafkaJS: { transactionalId: op.transactionalId, idempotent: true, acks: -1 } });
    // sendOffsets takes a consumer of the group (its group metadata goes into the transaction).
    const consumer = k.consumer(consumerConfig(op.group));
    await producer.connect();
    await consumer.connect();
    try {
      const batch = async (values: string[], commit: boolean, offsets?: boolean) => {
        const txn = await producer.transaction();
        await txn.send({ topic: op.topic, messages: values.map((value) => ({ value, partition: 0 })) });
        if (offsets) await txn.sendOffsets({ consumer, topics: [{ topic: op.topic, partitions: [{ partition: 0, offset: '3' }] }] });
        if (commit) await txn.commit();
        else await txn.abort();
      };
      await batch(['t1-0', 't1-1', 't1-2'], true);
      await batch(['t2-0', 't2-1'], false);
      await batch(['t3-0', 't3-1'], true, true);
      return { sentOffsets: true };
    } finally {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
    }
  },
  async createPartitions(op, req) {
    const admin = lib.AdminClient.create({ 'bootstrap.servers': req.bootstrap, 'client.id': req.clientId });
    try {
      await new Promise<void>((resolve, reject) => admin.createPartitions(op.topic, op.count, 10000, (e: unknown) => (e ? reject(e) : resolve())));
    } finally {
      admin.disconnect();
    }
  },
  async deleteRecords(op, req) {
    await withAdmin(req, (a) => a.deleteTopicRecords({ topic: op.topic, partitions: [{ partition: op.partition, offset: String(op.offset) }] }));
  },
  async listGroups(_op, req) {
    const r: any = await withAdmin(req, (a) => a.listGroups());
    if (r.errors?.length) throw r.errors[0];
    // UNKNOWN when the broker's ListGroups (below v4) does not carry the state.
    return { groups: r.groups.map((g: any) => ({ groupId: g.groupId, protocolType: g.protocolType, ...(g.state !== GROUP_STATES.UNKNOWN ? { state: stateName(g.state) } : {}) })) };
  },
  async describeGroup(op, req) {
    const r: any = await withAdmin(req, (a) => a.describeGroups([op.group]));
    const g = r.groups.find((x: any) => x.groupId === op.group);
    if (g.error) throw g.error;
    return { state: stateName(g.state), protocolType: g.protocolType, members: g.members.length };
  },
  async groupOffsets(op, req) {
    const partitions = Array.from({ length: op.partitions }, (_, i) => i);
    const r: any[] = await withAdmin(req, (a) => a.fetchOffsets({ groupId: op.group, topics: [{ topic: op.topic, partitions }] }));
    const got: any[] = r.find((t) => t.topic === op.topic)?.partitions ?? [];
    return {
      offsets: partitions.map((partition) => {
        const p = got.find((x) => x.partition === partition);
        if (p?.error) throw p.error;
        // librdkafka reports a partition without a committed offset as OFFSET_INVALID (-1001).
        const offset = p ? Number(p.offset) : -1;
        return { partition, offset: offset === OFFSET_INVALID ? -1 : offset };
      }),
    };
  },
  // setGroupOffsets: the library (1.10) has no admin call to alter a group's offsets (see clients.ts).
  async deleteGroup(op, req) {
    await withAdmin(req, async (a) => {
      try {
        await a.deleteGroups([op.group]);
      } catch (e) {
        // KafkaJSDeleteGroupsError carries each group's own error.
        throw (e as { groups?: { error?: unknown }[] }).groups?.[0]?.error ?? e;
      }
    });
  },
};

if (isMain(import.meta.url)) void serve(handlers, (e) => describeError(e, (x) => (typeof x?.code === 'number' && x.code !== -1 ? x.code : undefined)));
