/**
 * The scenarios: each is a sequence of client operations (ops.ts) with assertions on real outcomes —
 * counts, contents, offsets, committed offsets, error codes. Every scenario gets fresh topic and
 * group names from its context, and the runner deletes them afterwards.
 */
import type { HarnessAdmin } from './admin.js';
import { CheckFailed, OpFailed, ensure, eq, fail, show } from './check.js';
import type { Client } from './clients.js';
import {
  type ClientError, type GroupDescription, type GroupListing, type InMessage, type Op, type OpResult, type OutMessage, type PartitionOffset, type RebalanceResult,
  type StaticResult, payload,
} from './ops.js';

export interface Ctx {
  client: Client;
  admin: HarnessAdmin;
  bootstrap: string;
  /** A fresh name for a topic, group or transactional id; topics and groups are removed afterwards. */
  fresh(kind: 'topic' | 'group' | 'txn'): string;
  /** A topic created by the harness (not by the client under test). */
  topic(partitions: number, configs?: Record<string, string>): Promise<string>;
  /** Runs one op with the client; throws OpFailed with the client's error if it fails. */
  op<T = Record<string, unknown>>(op: Op, timeoutMs?: number): Promise<T>;
  /** Runs one op and returns its result, success or error. */
  tryOp(op: Op, timeoutMs?: number): Promise<OpResult>;
  note(text: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  /** The whole scenario's time limit. */
  timeoutMs: number;
  run(ctx: Ctx): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function values(ms: InMessage[]): (string | null)[] {
  return ms.map((m) => m.value);
}

/** Offsets as sorted [partition, offset] pairs. */
function byPartition(xs: PartitionOffset[]): [number, number][] {
  return xs.map((x): [number, number] => [x.partition, x.offset]).sort((a, b) => a[0] - b[0]);
}

function offsetsOf(ms: InMessage[]): number[] {
  return ms.map((m) => m.offset);
}

/** The client's error matches the Kafka error code or one of the names it is documented under. */
function expectError(r: OpResult, code: number, pattern: RegExp, what: string, alsoCodes: number[] = []): ClientError {
  if (r.ok) fail(`${what}: the client reported success, expected error code ${code}`);
  const e = r.error;
  if (e.name === 'DriverTimeout' || e.name === 'DriverCrash') fail(`${what}: ${e.message}`);
  if (e.code === code || (e.code !== undefined && alsoCodes.includes(e.code)) || pattern.test(`${e.name} ${e.message}`)) return e;
  fail(`${what}: got ${e.name}${e.code !== undefined ? ` (code ${e.code})` : ''}: ${e.message.slice(0, 200)}; expected code ${code} / ${pattern}`);
}

async function retryUntil<T>(f: () => Promise<T>, ok: (t: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const t = await f();
    if (ok(t) || Date.now() > deadline) return t;
    await sleep(250);
  }
}

/** Compares consumed messages with what was produced (contents, headers, timestamps, offsets). */
function compareMessages(ctx: Ctx, got: InMessage[], sent: OutMessage[], firstOffset: number, window?: [number, number]): void {
  eq(got.length, sent.length, 'messages consumed');
  eq(offsetsOf(got), sent.map((_, i) => firstOffset + i), 'offsets');
  got.forEach((g, i) => {
    const s = sent[i];
    eq(g.key, s.key, `message ${i} key`);
    if (g.value !== s.value) fail(`message ${i} value: got ${g.value === null ? 'null' : `${g.value.length} bytes ${show(g.value, 60)}`}, expected ${s.value === null ? 'null' : `${s.value.length} bytes ${show(s.value, 60)}`}`);
    if (ctx.client.features.headers) eq(g.headers, s.headers ?? [], `message ${i} headers`);
    if (ctx.client.features.timestamps && s.timestamp !== undefined) eq(g.timestamp, s.timestamp, `message ${i} timestamp`);
    else if (window) ensure(g.timestamp >= window[0] - 60_000 && g.timestamp <= window[1] + 60_000, `message ${i} timestamp ${g.timestamp} is not the time it was produced`);
  });
}

function outMessages(ctx: Ctx, ms: OutMessage[]): OutMessage[] {
  return ms.map((m) => ({
    ...m,
    ...(ctx.client.features.headers ? {} : { headers: [] }),
    ...(ctx.client.features.timestamps ? {} : { timestamp: undefined }),
  }));
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'admin-topics',
    title: 'create a topic, list it, describe its partitions, delete it',
    timeoutMs: 40_000,
    async run(ctx) {
      const topic = ctx.fresh('topic');
      const lists = ctx.client.features.listsTopics;
      await ctx.op({ op: 'createTopic', topic, partitions: 3 });
      if (lists) {
        const listed = await retryUntil(() => ctx.op<{ topics: string[] }>({ op: 'listTopics' }), (r) => r.topics.includes(topic), 3000);
        ensure(listed.topics.includes(topic), `listTopics does not show the new topic (${listed.topics.length} topics listed)`);
      } else ctx.note('client cannot list all topics: creation checked by describing the topic');
      const d = await ctx.op<{ partitions: number }>({ op: 'describeTopic', topic });
      eq(d.partitions, 3, 'partitions described');
      await ctx.op({ op: 'deleteTopic', topic });
      if (lists) {
        const after = await retryUntil(() => ctx.op<{ topics: string[] }>({ op: 'listTopics' }), (r) => !r.topics.includes(topic), 5000);
        ensure(!after.topics.includes(topic), 'the deleted topic is still listed');
      }
      ensure(!(await ctx.admin.listTopics()).includes(topic), 'the deleted topic still exists for the reference client');
    },
  },
  {
    name: 'produce-consume',
    title: 'keys, headers, timestamps, null key and null value survive a round trip',
    timeoutMs: 40_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      const base = Date.now() - 3_600_000;
      const sent = outMessages(ctx, [
        { key: 'k1', value: 'v1', headers: [['h1', 'x'], ['h2', 'y']], timestamp: base + 1 },
        { key: null, value: 'no key', headers: [], timestamp: base + 2 },
        { key: 'k3', value: null, headers: [['tombstone', '1']], timestamp: base + 3 },
        { key: 'k4', value: 'ümlaut ✓ 日本語', headers: [['utf8', 'é']], timestamp: base + 4 },
      ]);
      const t0 = Date.now();
      await ctx.op({ op: 'produce', topic, messages: sent });
      const r = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: 'earliest', count: sent.length, timeoutMs: 15000 });
      compareMessages(ctx, r.messages, sent, 0, [t0, Date.now()]);
      if (!ctx.client.features.timestamps) ctx.note('client cannot set timestamps: checked that they are the produce time');
      if (!ctx.client.features.headers) ctx.note('client has no record headers');
    },
  },
  {
    name: 'large-message',
    title: 'a ~1 MB message and a small one after it',
    timeoutMs: 60_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      const sent: OutMessage[] = [
        { key: 'big', value: payload(999_000, 7), headers: [] },
        { key: 'small', value: 'after the big one', headers: [] },
      ];
      await ctx.op({ op: 'produce', topic, messages: sent }, 30000);
      const r = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: 'earliest', count: 2, timeoutMs: 20000 }, 30000);
      compareMessages(ctx, r.messages, sent, 0);
    },
  },
  ...(['gzip', 'snappy', 'lz4', 'zstd'] as const).map(
    (codec): Scenario => ({
      name: `compression-${codec}`,
      title: `a ${codec}-compressed batch round trip`,
      timeoutMs: 40_000,
      async run(ctx) {
        const topic = await ctx.topic(1);
        const sent: OutMessage[] = Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, value: `${codec}-${i}-` + 'compressible '.repeat(20), headers: [] }));
        await ctx.op({ op: 'produce', topic, messages: sent, compression: codec });
        const r = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: 'earliest', count: sent.length, timeoutMs: 15000 });
        compareMessages(ctx, r.messages, sent, 0);
      },
    }),
  ),
  {
    name: 'group-commit-resume',
    title: 'a group member commits; a new member of the group resumes after the commit',
    timeoutMs: 60_000,
    async run(ctx) {
      const topic = await ctx.topic(2);
      const group = ctx.fresh('group');
      const first: OutMessage[] = Array.from({ length: 10 }, (_, i) => ({ key: `key-${i}`, value: `first-${i}`, headers: [] }));
      await ctx.op({ op: 'produce', topic, messages: first });
      const ends1 = await ctx.admin.offsets(topic);
      eq([...ends1.values()].reduce((s, o) => s + o.high, 0), 10, 'messages in the topic after producing 10');
      const r1 = await ctx.op<{ messages: InMessage[] }>({ op: 'groupConsume', topic, group, count: 10, timeoutMs: 20000 }, 30000);
      eq(values(r1.messages).sort(), first.map((m) => m.value).sort(), 'first member consumed');
      const c1 = await ctx.admin.committed(group, topic);
      const committedMatches = (c: Map<number, number>, ends: Map<number, { high: number }>, when: string) => {
        for (const [p, o] of ends) if (!(o.high === 0 && c.get(p) === -1)) eq(c.get(p), o.high, `committed offset of partition ${p} ${when}`);
      };
      committedMatches(c1, ends1, 'after the first member');
      const second: OutMessage[] = Array.from({ length: 5 }, (_, i) => ({ key: `key-${i}`, value: `second-${i}`, headers: [] }));
      await ctx.op({ op: 'produce', topic, messages: second });
      const r2 = await ctx.op<{ messages: InMessage[] }>({ op: 'groupConsume', topic, group, count: 5, timeoutMs: 20000 }, 30000);
      eq(values(r2.messages).sort(), second.map((m) => m.value).sort(), 'second member consumed (it must resume after the commit)');
      const ends2 = await ctx.admin.offsets(topic);
      const c2 = await ctx.admin.committed(group, topic);
      committedMatches(c2, ends2, 'after the second member');
    },
  },
  {
    name: 'rebalance',
    title: 'a second member joins: the partitions are split between the two, each consumes its own',
    timeoutMs: 90_000,
    async run(ctx) {
      const topic = await ctx.topic(4);
      const group = ctx.fresh('group');
      const pre: OutMessage[] = [];
      for (let p = 0; p < 4; p++) for (let i = 0; i < 2; i++) pre.push({ key: null, value: `pre-${p}-${i}`, partition: p });
      await ctx.admin.produce(topic, pre);
      const r = await ctx.op<RebalanceResult>({ op: 'rebalance', topic, group, partitions: 4, preCount: pre.length, timeoutMs: 40000 }, 80000);
      eq([...r.phase1].sort(), [0, 1, 2, 3], 'partitions of the only member');
      for (const m of pre) ensure(r.consumed.A.some((x) => x.value === m.value), `member A never got ${m.value}`);
      ensure(r.phase2, 'the driver reported no assignment after the second member joined');
      const a = [...r.phase2.A].sort();
      const b = [...r.phase2.B].sort();
      ensure(a.length && b.length && a.every((p) => !b.includes(p)) && a.length + b.length === 4, `assignments after the rebalance: A ${show(a)}, B ${show(b)}`);
      // Every message produced after the rebalance reaches the member that owns its partition.
      for (let p = 0; p < 4; p++)
        for (let i = 0; i < 2; i++) {
          const owner = a.includes(p) ? 'A' : 'B';
          ensure(r.consumed[owner].some((x) => x.value === `post-${p}-${i}` && x.partition === p), `post-${p}-${i} (partition ${p}) was not consumed by its owner ${owner}`);
        }
      const strays = (['A', 'B'] as const).flatMap((n) => r.consumed[n].filter((x) => x.value.startsWith('post-') && !(n === 'A' ? a : b).includes(x.partition)).map((x) => `${n}:${x.value}`));
      if (strays.length) ctx.note(`also consumed by the other member (a later rebalance, at-least-once): ${strays.join(', ')}`);
    },
  },
  {
    name: 'static-membership',
    title: 'a static member (group.instance.id) restarts within its session: same partitions, no rebalance for the other member',
    timeoutMs: 90_000,
    async run(ctx) {
      const topic = await ctx.topic(2);
      const group = ctx.fresh('group');
      const r = await ctx.op<StaticResult>({ op: 'staticMembership', topic, group, timeoutMs: 40000 }, 80000);
      eq(r.before.A.length, 1, 'partitions of member A');
      eq(r.before.B.length, 1, 'partitions of member B');
      ensure(r.before.A[0] !== r.before.B[0], `A and B were given the same partition ${r.before.A[0]}`);
      eq(r.after.A, r.before.A, 'partitions of member A after its restart');
      eq(r.bEventsAfter, r.bEventsBefore, 'assignment events of member B across the restart of A (a rebalance happened)');
    },
  },
  {
    name: 'seek-timestamp',
    title: 'offsets by timestamp, consuming from a timestamp, and seeking to an offset',
    timeoutMs: 50_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      const base = Date.now() - 600_000;
      await ctx.admin.produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: null, value: `ts-${i}`, timestamp: base + i * 1000 })));
      if (ctx.client.features.offsetForTime) {
        const o = await ctx.op<{ offset: number }>({ op: 'offsetForTime', topic, partition: 0, timestamp: base + 4500 });
        eq(o.offset, 5, 'offset for a timestamp between messages 4 and 5');
        const late = await ctx.op<{ offset: number }>({ op: 'offsetForTime', topic, partition: 0, timestamp: base + 3_600_000 });
        ensure(late.offset === 10 || late.offset === -1, `offset for a timestamp after every message: got ${late.offset}, expected the end (10) or -1`);
      }
      const a = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: { timestamp: base + 4500 }, count: 2, timeoutMs: 15000 });
      eq(a.messages.map((m) => [m.offset, m.value]), [[5, 'ts-5'], [6, 'ts-6']], 'consumed from the timestamp');
      if (!ctx.client.features.seek) return ctx.note('client cannot seek to an offset: only the timestamp part was checked');
      const b = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: { offset: 7 }, count: 3, timeoutMs: 15000 });
      eq(b.messages.map((m) => [m.offset, m.value]), [[7, 'ts-7'], [8, 'ts-8'], [9, 'ts-9']], 'consumed after seeking to offset 7');
    },
  },
  {
    name: 'idempotent-producer',
    title: 'an idempotent producer (acks=all): every message exactly once, in order',
    timeoutMs: 50_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      const a: OutMessage[] = Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 3}`, value: `idem-a-${i}`, headers: [] }));
      const b: OutMessage[] = Array.from({ length: 10 }, (_, i) => ({ key: `k${i % 3}`, value: `idem-b-${i}`, headers: [] }));
      await ctx.op({ op: 'produce', topic, messages: a, idempotent: true });
      await ctx.op({ op: 'produce', topic, messages: b, idempotent: true });
      const ends = await ctx.admin.offsets(topic);
      eq(ends.get(0)?.high, 30, 'end offset after 30 idempotent sends');
      const r = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: 'earliest', count: 30, timeoutMs: 15000 });
      compareMessages(ctx, r.messages, [...a, ...b], 0);
    },
  },
  {
    name: 'transactions',
    title: 'commit, abort, commit with offsets: read_committed sees only committed records',
    timeoutMs: 70_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      const group = ctx.fresh('group');
      const transactionalId = ctx.fresh('txn');
      const t = await ctx.op<{ sentOffsets: boolean }>({ op: 'transactions', topic, transactionalId, group }, 40000);
      const committed = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: 'earliest', count: 5, timeoutMs: 15000, isolation: 'read_committed' });
      eq(values(committed.messages), ['t1-0', 't1-1', 't1-2', 't3-0', 't3-1'], 'read_committed values');
      // Each commit or abort marker takes an offset: t1 0–2, marker 3, t2 4–5, marker 6, t3 7–8, marker 9.
      eq(offsetsOf(committed.messages), [0, 1, 2, 7, 8], 'read_committed offsets');
      const all = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: 'earliest', count: 7, timeoutMs: 15000, isolation: 'read_uncommitted' });
      eq(values(all.messages), ['t1-0', 't1-1', 't1-2', 't2-0', 't2-1', 't3-0', 't3-1'], 'read_uncommitted values');
      const ends = await ctx.admin.offsets(topic);
      eq(ends.get(0)?.high, 10, 'end offset (7 records and 3 markers)');
      if (t.sentOffsets) eq((await ctx.admin.committed(group, topic)).get(0), 3, 'offset committed inside the last transaction');
      else ctx.note('client cannot send offsets to a transaction: not checked');
    },
  },
  {
    name: 'admin-configs',
    title: 'describe a topic config set at creation, alter it, describe it again',
    timeoutMs: 30_000,
    async run(ctx) {
      const topic = await ctx.topic(1, { 'retention.ms': '123456789' });
      const d1 = await ctx.op<{ configs: Record<string, string> }>({ op: 'describeConfigs', topic, names: ['retention.ms', 'cleanup.policy'] });
      eq(d1.configs['retention.ms'], '123456789', 'retention.ms as created');
      eq(d1.configs['cleanup.policy'], 'delete', 'cleanup.policy (default)');
      await ctx.op({ op: 'alterConfigs', topic, configs: { 'retention.ms': '987654321' } });
      const d2 = await ctx.op<{ configs: Record<string, string> }>({ op: 'describeConfigs', topic, names: ['retention.ms'] });
      eq(d2.configs['retention.ms'], '987654321', 'retention.ms after the change');
    },
  },
  {
    name: 'create-partitions',
    title: 'grow a topic from 1 to 3 partitions and produce to the new one',
    timeoutMs: 30_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      await ctx.op({ op: 'createPartitions', topic, count: 3 });
      const d = await retryUntil(() => ctx.op<{ partitions: number }>({ op: 'describeTopic', topic }), (x) => x.partitions === 3, 3000);
      eq(d.partitions, 3, 'partitions after growing');
      await ctx.op({ op: 'produce', topic, messages: [{ key: null, value: 'to-new', partition: 2, headers: [] }] });
      eq((await ctx.admin.offsets(topic)).get(2)?.high, 1, 'end offset of the new partition');
    },
  },
  {
    name: 'delete-records',
    title: 'delete records before offset 4: the log start moves, consumers start there',
    timeoutMs: 30_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      await ctx.admin.produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: null, value: `r-${i}` })));
      await ctx.op({ op: 'deleteRecords', topic, partition: 0, offset: 4 });
      eq((await ctx.admin.offsets(topic)).get(0), { low: 4, high: 10 }, 'watermarks after deleting');
      const r = await ctx.op<{ messages: InMessage[] }>({ op: 'consume', topic, partition: 0, from: 'earliest', count: 1, timeoutMs: 15000 });
      eq(r.messages.map((m) => [m.offset, m.value]), [[4, 'r-4']], 'first message from the earliest offset');
    },
  },
  {
    name: 'group-admin',
    title: 'list and describe a group whose member left, read its committed offsets, delete it',
    timeoutMs: 60_000,
    async run(ctx) {
      const topic = await ctx.topic(2);
      const group = ctx.fresh('group');
      const sent: OutMessage[] = [];
      for (let p = 0; p < 2; p++) for (let i = 0; i < 3; i++) sent.push({ key: null, value: `g-${p}-${i}`, partition: p });
      await ctx.admin.produce(topic, sent);
      const r = await ctx.op<{ messages: InMessage[] }>({ op: 'groupConsume', topic, group, count: sent.length, timeoutMs: 20000 }, 30000);
      eq(values(r.messages).sort(), sent.map((m) => m.value).sort(), 'messages the group consumed');
      eq([...(await ctx.admin.committed(group, topic))].sort(), [[0, 3], [1, 3]], 'committed offsets (reference client)');

      // The member has left, so the group is Empty; clients that leave asynchronously get a moment.
      const emptyListed = (x: { groups: GroupListing[] }) => x.groups.some((g) => g.groupId === group && (g.state === undefined || g.state === 'Empty'));
      const listed = await retryUntil(() => ctx.op<{ groups: GroupListing[] }>({ op: 'listGroups' }), emptyListed, 5000);
      const mine = listed.groups.find((g) => g.groupId === group);
      ensure(mine, `listGroups does not show the group (${listed.groups.length} groups listed)`);
      if (mine.protocolType !== undefined) eq(mine.protocolType, 'consumer', 'listed protocol type');
      if (mine.state !== undefined) eq(mine.state, 'Empty', 'listed state');
      const d = await retryUntil(() => ctx.op<GroupDescription>({ op: 'describeGroup', group }), (x) => x.state === 'Empty', 5000);
      eq([d.state, d.members], ['Empty', 0], 'described state and members');
      if (d.protocolType !== undefined) eq(d.protocolType, 'consumer', 'described protocol type');
      const offsets = await ctx.op<{ offsets: PartitionOffset[] }>({ op: 'groupOffsets', group, topic, partitions: 2 });
      eq(byPartition(offsets.offsets), [[0, 3], [1, 3]], 'committed offsets');

      await ctx.op({ op: 'deleteGroup', group });
      const after = await ctx.op<{ groups: GroupListing[] }>({ op: 'listGroups' });
      ensure(!after.groups.some((g) => g.groupId === group), 'the deleted group is still listed');
      eq([...(await ctx.admin.committed(group, topic))].sort(), [[0, -1], [1, -1]], 'committed offsets after deleting (reference client)');
      // Kafka describes an unknown group as Dead; some admin clients turn that into GROUP_ID_NOT_FOUND.
      const gone = await ctx.tryOp({ op: 'describeGroup', group });
      if (gone.ok) eq((gone as unknown as GroupDescription).state, 'Dead', 'described state of the deleted group');
      else expectError(gone, 69, /GROUP_ID_NOT_FOUND|GroupIdNotFound|group.?id.?not.?found/i, 'describing the deleted group');
      const again = await ctx.tryOp({ op: 'deleteGroup', group });
      const e = expectError(again, 69, /GROUP_ID_NOT_FOUND|GroupIdNotFound|group.?id.?not.?found/i, 'deleting the group again');
      ctx.note(`second delete: ${e.name}${e.code !== undefined ? ` (${e.code})` : ''}`);
    },
  },
  {
    name: 'group-offsets-reset',
    title: "an admin moves a group's committed offset back; the next member resumes there",
    timeoutMs: 60_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      const group = ctx.fresh('group');
      const sent = Array.from({ length: 5 }, (_, i) => ({ key: null, value: `o-${i}` }));
      await ctx.admin.produce(topic, sent);
      const r1 = await ctx.op<{ messages: InMessage[] }>({ op: 'groupConsume', topic, group, count: 5, timeoutMs: 20000 }, 30000);
      eq(values(r1.messages), sent.map((m) => m.value), 'first member consumed');
      eq((await ctx.admin.committed(group, topic)).get(0), 5, 'committed offset after the first member');
      // The first member may still be leaving: an admin commit is refused while the group has members.
      const set = await retryUntil(
        () => ctx.tryOp({ op: 'setGroupOffsets', group, topic, offsets: [{ partition: 0, offset: 2 }] }),
        (x) => x.ok,
        5000,
      );
      if (!set.ok) fail(`setGroupOffsets: ${set.error.name}${set.error.code !== undefined ? ` (${set.error.code})` : ''}: ${set.error.message.slice(0, 200)}`);
      eq((await ctx.admin.committed(group, topic)).get(0), 2, 'committed offset after the admin set it');
      const r2 = await ctx.op<{ messages: InMessage[] }>({ op: 'groupConsume', topic, group, count: 3, timeoutMs: 20000 }, 30000);
      eq(r2.messages.map((m) => [m.offset, m.value]), [[2, 'o-2'], [3, 'o-3'], [4, 'o-4']], 'second member resumed at the offset set');
    },
  },
  {
    name: 'error-unknown-topic',
    title: 'using a topic that does not exist gives UNKNOWN_TOPIC_OR_PARTITION (3)',
    timeoutMs: 40_000,
    async run(ctx) {
      const topic = ctx.fresh('topic');
      const via = ctx.client.features.unknownTopicVia;
      const op: Op = via === 'deleteTopic' ? { op: 'deleteTopic', topic } : { op: 'produce', topic, messages: [{ key: null, value: 'nowhere', headers: [] }] };
      const r = await ctx.tryOp(op, 30000);
      const e = expectError(r, 3, /unknown.?topic|UNKNOWN_TOPIC_OR_PART|UnknownTopicOrPartition/i, `${via} on a missing topic`);
      ctx.note(`${via}: ${e.name}${e.code !== undefined ? ` (${e.code})` : ''}`);
      ensure(!(await ctx.admin.listTopics()).includes(topic), 'the missing topic was created');
    },
  },
  {
    name: 'error-message-too-large',
    title: 'a message over the topic max.message.bytes gives MESSAGE_TOO_LARGE (10); the topic stays usable',
    timeoutMs: 40_000,
    async run(ctx) {
      const topic = await ctx.topic(1, { 'max.message.bytes': '10000' });
      const r = await ctx.tryOp({ op: 'produce', topic, messages: [{ key: null, value: payload(20_000, 3), headers: [] }] }, 30000);
      const e = expectError(r, 10, /too.?large|MESSAGE_TOO_LARGE|MessageSizeTooLarge|RECORD_LIST_TOO_LARGE/i, 'produce of 20 kB to a 10 kB topic');
      ctx.note(`${e.name}${e.code !== undefined ? ` (${e.code})` : ''}`);
      eq((await ctx.admin.offsets(topic)).get(0)?.high, 0, 'end offset after the refused message');
      await ctx.op({ op: 'produce', topic, messages: [{ key: null, value: 'small', headers: [] }] });
      eq((await ctx.admin.offsets(topic)).get(0)?.high, 1, 'end offset after a small message');
    },
  },
  {
    name: 'error-offset-out-of-range',
    title: 'fetching from an offset past the end with no reset policy gives OFFSET_OUT_OF_RANGE (1)',
    timeoutMs: 40_000,
    async run(ctx) {
      const topic = await ctx.topic(1);
      await ctx.admin.produce(topic, [0, 1, 2].map((i) => ({ key: null, value: `m-${i}` })));
      const r = await ctx.tryOp({ op: 'consume', topic, partition: 0, from: { offset: 100 }, count: 1, timeoutMs: 10000, strict: true }, 30000);
      // librdkafka documents this case as ERR__AUTO_OFFSET_RESET (-140), raised when the broker answers OFFSET_OUT_OF_RANGE.
      const e = expectError(r, 1, /out.?of.?range|OFFSET_OUT_OF_RANGE|OffsetOutOfRange/i, 'consume from offset 100 of 3', [-140]);
      ctx.note(`${e.name}${e.code !== undefined ? ` (${e.code})` : ''}`);
    },
  },
];

export function isCheckFailure(e: unknown): e is CheckFailed | OpFailed {
  return e instanceof CheckFailed || e instanceof OpFailed;
}
