/**
 * kafka-ts driver (Node 20). Producers and consumers through its high-level API; topic, config and group
 * admin through its documented low-level API (`cluster.sendRequest(API.X, …)`), which is how
 * kafka-ts users administer topics. Its producer is always idempotent.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { API, createKafkaClient } from 'kafka-ts';
import type { InMessage, OpRequest, RebalanceResult, StaticResult } from '../../ops.js';
import { type Handlers, isMain, serve, sleep, until } from './runner.js';

type Consumer = Awaited<ReturnType<ReturnType<typeof createKafkaClient>['startConsumer']>>;

const PACKAGE_JSON = fileURLToPath(new URL('../../../../node_modules/kafka-ts/package.json', import.meta.url));

function client(req: OpRequest) {
  const [host, port] = [req.bootstrap.slice(0, req.bootstrap.lastIndexOf(':')), Number(req.bootstrap.slice(req.bootstrap.lastIndexOf(':') + 1))];
  return createKafkaClient({ clientId: req.clientId, bootstrapServers: [{ host, port }], requestTimeout: 20000 });
}

class ApiError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'KafkaTSApiError';
  }
}

/** The low-level API answers per-resource error codes; the first non-zero one becomes an error. */
function check<T>(response: T, what: string): T {
  const find = (x: any, depth: number): { errorCode: number; errorMessage?: string | null } | null => {
    if (!x || typeof x !== 'object' || depth > 5) return null;
    if (typeof x.errorCode === 'number' && x.errorCode !== 0) return x;
    for (const v of Object.values(x)) {
      const f = Array.isArray(v) ? v.map((y) => find(y, depth + 1)).find(Boolean) : typeof v === 'object' ? find(v, depth + 1) : null;
      if (f) return f;
    }
    return null;
  };
  const e = find(response, 0);
  if (e) throw new ApiError(e.errorCode, `${what}: error code ${e.errorCode}${e.errorMessage ? ` (${e.errorMessage})` : ''}`);
  return response;
}

async function withCluster<T>(req: OpRequest, f: (c: any) => Promise<T>): Promise<T> {
  const cluster: any = client(req).createCluster();
  await cluster.connect();
  try {
    return await f(cluster);
  } finally {
    await cluster.disconnect().catch(() => {});
  }
}

/** The node id of a group's coordinator (FindCoordinator key type 0 = group). */
async function coordinator(c: any, group: string): Promise<number> {
  const r: any = check(await c.sendRequest(API.FIND_COORDINATOR, { keyType: 0, keys: [group] }), 'findCoordinator');
  return r.coordinators[0].nodeId;
}

/** A topic's id (OffsetFetch/OffsetCommit v10 name topics by id). */
async function topicIdOf(c: any, topic: string): Promise<string> {
  const md: any = check(await c.sendRequest(API.METADATA, { topics: [{ id: null, name: topic }], allowTopicAutoCreation: false, includeTopicAuthorizedOperations: false }), 'metadata');
  return md.topics[0].topicId;
}

function toIn(m: any): InMessage {
  return {
    partition: m.partition,
    offset: Number(m.offset),
    key: m.key === null || m.key === undefined ? null : String(m.key),
    value: m.value === null || m.value === undefined ? null : String(m.value),
    headers: Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]),
    timestamp: Number(m.timestamp),
  };
}

function assignmentOf(c: Consumer, topic: string): number[] {
  const a = (c as any).metadata?.getAssignment?.() ?? {};
  return [...((a[topic] as number[]) ?? [])].sort((x, y) => x - y);
}

const handlers: Handlers = {
  async version() {
    return { version: (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version };
  },
  async createTopic(op, req) {
    await withCluster(req, async (c) =>
      check(
        await c.sendRequest(API.CREATE_TOPICS, {
          validateOnly: false,
          timeoutMs: 10000,
          topics: [{ name: op.topic, numPartitions: op.partitions, replicationFactor: 1, assignments: [], configs: Object.entries(op.configs ?? {}).map(([name, value]) => ({ name, value })) }],
        }),
        'createTopics',
      ),
    );
  },
  async listTopics(_op, req) {
    const md: any = await withCluster(req, (c) => c.sendRequest(API.METADATA, { topics: null, allowTopicAutoCreation: false, includeTopicAuthorizedOperations: false }));
    return { topics: md.topics.map((t: any) => t.name) };
  },
  async describeTopic(op, req) {
    const md: any = await withCluster(req, async (c) => check(await c.sendRequest(API.METADATA, { topics: [{ id: null, name: op.topic }], allowTopicAutoCreation: false, includeTopicAuthorizedOperations: false }), 'metadata'));
    return { partitions: md.topics[0].partitions.length };
  },
  async deleteTopic(op, req) {
    await withCluster(req, async (c) => check(await c.sendRequest(API.DELETE_TOPICS, { topics: [{ name: op.topic, topicId: null }], timeoutMs: 10000 }), 'deleteTopics'));
  },
  async produce(op, req) {
    const producer = client(req).createProducer({ allowTopicAutoCreation: false, maxRetries: 2 });
    try {
      await producer.send(
        op.messages.map((m) => ({
          topic: op.topic,
          key: m.key,
          value: m.value,
          headers: Object.fromEntries(m.headers ?? []),
          ...(m.timestamp !== undefined ? { timestamp: BigInt(m.timestamp) } : {}),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      );
      return {};
    } finally {
      await producer.close().catch(() => {});
    }
  },
  async consume(op, req) {
    const got: InMessage[] = [];
    const from = op.from;
    const fromTimestamp = from === 'earliest' ? -2n : 'timestamp' in from ? BigInt(from.timestamp) : -2n;
    if (typeof from === 'object' && 'offset' in from) throw Object.assign(new Error('kafka-ts cannot start consuming at an offset'), { name: 'NotImplemented' });
    const consumer = await client(req).startConsumer({
      topics: [op.topic],
      fromTimestamp,
      isolationLevel: (op.isolation === 'read_uncommitted' ? 0 : 1) as any,
      maxWaitMs: 100,
      onBatch: (messages) => {
        for (const m of messages) if (m.partition === op.partition && got.length < op.count) got.push(toIn(m));
      },
    });
    try {
      await until(() => got.length >= op.count, op.timeoutMs, `consumed ${got.length} of ${op.count}`).catch(() => {});
      return { messages: got };
    } finally {
      await consumer.close(true).catch(() => {});
    }
  },
  async groupConsume(op, req) {
    const got: InMessage[] = [];
    let commits = 0;
    const consumer = await client(req).startConsumer({
      topics: [op.topic],
      groupId: op.group,
      fromBeginning: true,
      maxWaitMs: 100,
      sessionTimeoutMs: 10000,
      onBatch: (messages) => {
        for (const m of messages) got.push(toIn(m));
      },
    });
    consumer.on('offsetCommit', () => void commits++);
    try {
      await until(() => got.length >= op.count, op.timeoutMs, `consumed ${got.length} of ${op.count}`).catch(() => {});
      const seen = commits;
      await until(() => commits > seen, 5000, 'offset commit').catch(() => {});
      return { messages: got };
    } finally {
      await consumer.close().catch(() => {});
    }
  },
  async rebalance(op, req) {
    const kafka = client(req);
    const result: RebalanceResult = { phase1: [], phase2: null, consumed: { A: [], B: [] } };
    const members: Consumer[] = [];
    const start = async (name: 'A' | 'B') => {
      const c = await kafka.startConsumer({
        topics: [op.topic],
        groupId: op.group,
        fromBeginning: true,
        maxWaitMs: 100,
        sessionTimeoutMs: 10000,
        onBatch: (messages) => {
          for (const m of messages) result.consumed[name].push({ partition: m.partition, value: String(m.value) });
        },
      });
      members.push(c);
      return c;
    };
    try {
      const a = await start('A');
      await until(() => result.consumed.A.length >= op.preCount && assignmentOf(a, op.topic).length === op.partitions, op.timeoutMs, 'member A alone');
      result.phase1 = assignmentOf(a, op.topic);
      const b = await start('B');
      const split = () => {
        const x = assignmentOf(a, op.topic);
        const y = assignmentOf(b, op.topic);
        return x.length > 0 && y.length > 0 && x.length + y.length === op.partitions && x.every((p) => !y.includes(p));
      };
      await until(split, op.timeoutMs, 'A and B sharing the partitions');
      result.phase2 = { A: assignmentOf(a, op.topic), B: assignmentOf(b, op.topic) };
      const producer = kafka.createProducer({});
      const post: string[] = [];
      const messages = [];
      for (let p = 0; p < op.partitions; p++)
        for (let i = 0; i < 2; i++) {
          post.push(`post-${p}-${i}`);
          messages.push({ topic: op.topic, partition: p, value: `post-${p}-${i}` });
        }
      await producer.send(messages);
      await producer.close();
      await until(() => post.every((v) => [...result.consumed.A, ...result.consumed.B].some((x) => x.value === v)), op.timeoutMs, 'post-rebalance messages consumed');
      return result as unknown as Record<string, unknown>;
    } finally {
      await Promise.all(members.map((c) => c.close().catch(() => {})));
    }
  },
  async staticMembership(op, req) {
    const kafka = client(req);
    const members: Consumer[] = [];
    const start = async (id: string) => {
      const c = await kafka.startConsumer({ topics: [op.topic], groupId: op.group, groupInstanceId: id, fromBeginning: true, maxWaitMs: 100, sessionTimeoutMs: 10000, onBatch: () => {} });
      members.push(c);
      return c;
    };
    try {
      const a = await start('a');
      const b = await start('b');
      // Member B's rebalances: each REBALANCE_IN_PROGRESS it is told about, and each change of its assignment.
      let bEvents = 0;
      let bLast = '';
      b.on('rebalanceInProgress', () => void bEvents++);
      const watch = setInterval(() => {
        const now = JSON.stringify(assignmentOf(b, op.topic));
        if (now !== bLast) {
          bEvents++;
          bLast = now;
        }
      }, 20);
      try {
        await until(() => assignmentOf(a, op.topic).length === 1 && assignmentOf(b, op.topic).length === 1 && assignmentOf(a, op.topic)[0] !== assignmentOf(b, op.topic)[0], op.timeoutMs, 'A and B with one partition each');
        await sleep(1500);
        const result: StaticResult = { before: { A: assignmentOf(a, op.topic), B: assignmentOf(b, op.topic) }, after: { A: [] }, bEventsBefore: bEvents, bEventsAfter: 0 };
        await a.close();
        const a2 = await start('a');
        await until(() => assignmentOf(a2, op.topic).length > 0, op.timeoutMs, 'restarted A assigned');
        await sleep(3000);
        result.after.A = assignmentOf(a2, op.topic);
        result.bEventsAfter = bEvents;
        return result as unknown as Record<string, unknown>;
      } finally {
        clearInterval(watch);
      }
    } finally {
      await Promise.all(members.map((c) => c.close().catch(() => {})));
    }
  },
  async describeConfigs(op, req) {
    const r: any = await withCluster(req, async (c) => check(await c.sendRequest(API.DESCRIBE_CONFIGS, { resources: [{ resourceType: 2, resourceName: op.topic, configurationKeys: op.names }], includeSynonyms: false }), 'describeConfigs'));
    return { configs: Object.fromEntries(r.results[0].configs.map((x: any) => [x.name, x.value])) };
  },
  async alterConfigs(op, req) {
    await withCluster(req, async (c) =>
      check(await c.sendRequest(API.ALTER_CONFIGS, { resources: [{ resourceType: 2, resourceName: op.topic, configs: Object.entries(op.configs).map(([name, value]) => ({ name, value })) }], validateOnly: false }), 'alterConfigs'),
    );
  },
  async createPartitions(op, req) {
    await withCluster(req, async (c) => check(await c.sendRequest(API.CREATE_PARTITIONS, { topics: [{ name: op.topic, count: op.count, assignments: null }], timeoutMs: 10000, validateOnly: false }), 'createPartitions'));
  },
  async deleteRecords(op, req) {
    await withCluster(req, async (c) =>
      check(await c.sendRequest(API.DELETE_RECORDS, { topics: [{ name: op.topic, partitions: [{ partitionIndex: op.partition, offset: BigInt(op.offset) }] }], timeoutMs: 10000 }), 'deleteRecords'),
    );
  },
  // Group admin: what Kafka's own admin client does, through the same low-level API. Every broker
  // is asked for its groups; the rest goes to the group's coordinator.
  async listGroups(_op, req) {
    const groups = await withCluster(req, async (c) => {
      const md: any = await c.sendRequest(API.METADATA, { topics: [], allowTopicAutoCreation: false, includeTopicAuthorizedOperations: false });
      const all: any[] = [];
      for (const b of md.brokers) all.push(...(check(await c.sendRequestToNode(b.nodeId)(API.LIST_GROUPS, {}), 'listGroups') as any).groups);
      return all;
    });
    // group_state is in ListGroups from v4: below that there is none to report.
    return { groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, ...(g.groupState ? { state: g.groupState } : {}) })) };
  },
  async describeGroup(op, req) {
    const r: any = await withCluster(req, async (c) => check(await c.sendRequestToNode(await coordinator(c, op.group))(API.DESCRIBE_GROUPS, { groups: [op.group], includeAuthorizedOperations: false }), 'describeGroups'));
    const g = r.groups.find((x: any) => x.groupId === op.group);
    return { state: g.groupState, protocolType: g.protocolType, members: g.members.length };
  },
  async groupOffsets(op, req) {
    const partitionIndexes = Array.from({ length: op.partitions }, (_, i) => i);
    const r: any = await withCluster(req, async (c) => {
      const topicId = await topicIdOf(c, op.topic);
      const groups = [{ groupId: op.group, topics: [{ name: op.topic, topicId, partitionIndexes }] }];
      return { topicId, ...check(await c.sendRequestToNode(await coordinator(c, op.group))(API.OFFSET_FETCH, { groups, requireStable: false }), 'offsetFetch') };
    });
    // The answer names the topic, or gives its id from v10.
    const topic = r.groups.find((g: any) => g.groupId === op.group)?.topics.find((t: any) => t.name === op.topic || t.topicId === r.topicId);
    const parts: any[] = topic?.partitions ?? [];
    return { offsets: partitionIndexes.map((partition) => ({ partition, offset: Number(parts.find((p) => p.partitionIndex === partition)?.committedOffset ?? -1) })) };
  },
  async setGroupOffsets(op, req) {
    // An admin commit, as Kafka's AdminClient.alterConsumerGroupOffsets sends it: no member, generation -1.
    await withCluster(req, async (c) => {
      const topicId = await topicIdOf(c, op.topic);
      const partitions = op.offsets.map((o) => ({ partitionIndex: o.partition, committedOffset: BigInt(o.offset), committedLeaderEpoch: -1, committedMetadata: null }));
      return check(
        await c.sendRequestToNode(await coordinator(c, op.group))(API.OFFSET_COMMIT, { groupId: op.group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: op.topic, topicId, partitions }] }),
        'offsetCommit',
      );
    });
  },
  async deleteGroup(op, req) {
    await withCluster(req, async (c) => check(await c.sendRequestToNode(await coordinator(c, op.group))(API.DELETE_GROUPS, { groupsNames: [op.group] }), 'deleteGroups'));
  },
};

function describe(e: any) {
  const code = typeof e?.errorCode === 'number' ? e.errorCode : undefined;
  return { name: String(e?.name ?? 'Error'), ...(code !== undefined ? { code } : {}), message: String(e?.message ?? e).slice(0, 600) };
}

if (isMain(import.meta.url)) void serve(handlers, describe);
