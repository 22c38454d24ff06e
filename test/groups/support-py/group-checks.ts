/** Shared checks for the group interop tests: producing known messages, reading what members consumed. */
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import type { PyEvent, PyProcess } from './py-process.js';

const { AssignerProtocol, logLevel } = kafkajs;

export type TP = [topic: string, partition: number];
export const tpKey = (t: string, p: number) => `${t}/${p}`;

export interface Produced {
  t: string;
  p: number;
  o: number;
  v: string;
}

export function kafkaFor(bootstrap: string) {
  return new kafkajs.Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, clientId: 'groups-test', retry: { retries: 5, initialRetryTime: 100 } });
}

/** Produces `perPartition` messages to every partition, returning each with the offset the broker gave it. */
export async function produceEach(bootstrap: string, topic: string, partitions: number, perPartition: number, tag: string): Promise<Produced[]> {
  const producer = kafkaFor(bootstrap).producer();
  await producer.connect();
  try {
    const out: Produced[] = [];
    for (let p = 0; p < partitions; p++) {
      const values = Array.from({ length: perPartition }, (_, i) => `${topic}|${p}|${tag}|${i}`);
      const [r] = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition: p })) });
      assert.equal(r.errorCode, 0);
      values.forEach((v, i) => out.push({ t: topic, p, o: Number(r.baseOffset) + i, v }));
    }
    return out;
  } finally {
    await producer.disconnect();
  }
}

/** Every message consumed by these members (msg events), across their whole lives. */
export function consumed(members: PyProcess[]): (Produced & { by: string })[] {
  return members.flatMap((m) => m.of('msg').map((e) => ({ t: e.t as string, p: e.p as number, o: e.o as number, v: e.v as string, by: m.name })));
}

/** Asserts the members together consumed exactly `produced`: each message once, with its value. */
export function assertExactlyOnce(members: PyProcess[], produced: Produced[]): void {
  const got = consumed(members);
  const seen = new Map<string, (typeof got)[number]>();
  const dups: string[] = [];
  for (const m of got) {
    const k = `${m.t}/${m.p}@${m.o}`;
    const prev = seen.get(k);
    if (prev) dups.push(`${k} by ${prev.by} and ${m.by}`);
    seen.set(k, m);
  }
  assert.deepEqual(dups, [], 'messages consumed more than once');
  const missing = produced.filter((p) => !seen.has(`${p.t}/${p.p}@${p.o}`)).map((p) => `${p.t}/${p.p}@${p.o}`);
  assert.deepEqual(missing, [], 'messages never consumed');
  assert.equal(got.length, produced.length);
  for (const p of produced) assert.equal(seen.get(`${p.t}/${p.p}@${p.o}`)!.v, p.v, `value at ${p.t}/${p.p}@${p.o}`);
}

/** The partitions a member owns now, replaying its assign/revoke/lost events (incremental or eager). */
export function owned(member: PyProcess, incremental: boolean): Set<string> {
  const set = new Set<string>();
  for (const e of member.events) {
    const ps = (e.partitions as TP[] | undefined) ?? [];
    if (e.ev === 'assign') {
      if (!incremental) set.clear();
      for (const [t, p] of ps) set.add(tpKey(t, p));
    } else if (e.ev === 'revoke' || e.ev === 'lost') {
      if (!incremental) set.clear();
      else for (const [t, p] of ps) set.delete(tpKey(t, p));
    }
  }
  return set;
}

/** True when the members' current assignments are disjoint and cover `all` exactly. */
export function coversExactly(assignments: Set<string>[], all: string[]): boolean {
  const union = new Set<string>();
  let total = 0;
  for (const a of assignments) {
    total += a.size;
    for (const k of a) union.add(k);
  }
  return total === all.length && union.size === all.length && all.every((k) => union.has(k));
}

export interface BrokerMember {
  memberId: string;
  clientId: string;
  assignment: Set<string>;
}

/** The group as the broker describes it (DescribeGroups), with each member's decoded assignment. */
export async function describeGroup(bootstrap: string, groupId: string): Promise<{ state: string; protocol: string; members: BrokerMember[] }> {
  const admin = kafkaFor(bootstrap).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const g = groups[0];
    return {
      state: g.state,
      protocol: g.protocol,
      members: g.members.map((m) => {
        const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        const set = new Set<string>();
        for (const [t, ps] of Object.entries(a?.assignment ?? {})) for (const p of ps) set.add(tpKey(t, p));
        return { memberId: m.memberId, clientId: m.clientId, assignment: set };
      }),
    };
  } finally {
    await admin.disconnect();
  }
}

/** Committed offsets of a group and the topics' end offsets, by "topic/partition". */
export async function committedAndEnd(bootstrap: string, groupId: string, topics: string[]): Promise<{ committed: Map<string, number>; end: Map<string, number> }> {
  const admin = kafkaFor(bootstrap).admin();
  await admin.connect();
  try {
    const committed = new Map<string, number>();
    for (const t of await admin.fetchOffsets({ groupId, topics })) for (const p of t.partitions) committed.set(tpKey(t.topic, p.partition), Number(p.offset));
    const end = new Map<string, number>();
    for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) end.set(tpKey(t, p.partition), Number(p.high));
    return { committed, end };
  } finally {
    await admin.disconnect();
  }
}

export async function createTopics(bootstrap: string, topics: { topic: string; numPartitions: number }[]): Promise<void> {
  const admin = kafkaFor(bootstrap).admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics, waitForLeaders: true }), true);
  } finally {
    await admin.disconnect();
  }
}

const byName = (topics: [string, number][]) => [...topics].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/** Kafka's RangeAssignor: per topic, members sorted by id get contiguous blocks, the first ones one more. */
export function expectedRange(memberIds: string[], topics: [string, number][]): Map<string, Set<string>> {
  const sorted = [...memberIds].sort();
  const out = new Map(sorted.map((m) => [m, new Set<string>()]));
  for (const [t, n] of byName(topics)) {
    const per = Math.floor(n / sorted.length);
    const extra = n % sorted.length;
    sorted.forEach((m, i) => {
      const start = i * per + Math.min(i, extra);
      const len = per + (i < extra ? 1 : 0);
      for (let p = start; p < start + len; p++) out.get(m)!.add(tpKey(t, p));
    });
  }
  return out;
}

/** Kafka's RoundRobinAssignor: all partitions sorted by topic then partition, dealt to members sorted by id. */
export function expectedRoundRobin(memberIds: string[], topics: [string, number][]): Map<string, Set<string>> {
  const sorted = [...memberIds].sort();
  const out = new Map(sorted.map((m) => [m, new Set<string>()]));
  let i = 0;
  for (const [t, n] of byName(topics)) for (let p = 0; p < n; p++) out.get(sorted[i++ % sorted.length])!.add(tpKey(t, p));
  return out;
}

export const sortedKeys = (s: Iterable<string>) => [...s].sort();

export function errorsOf(members: PyProcess[]): PyEvent[] {
  return members.flatMap((m) => m.of('error').map((e) => ({ ...e, by: m.name })));
}
