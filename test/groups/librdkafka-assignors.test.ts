/**
 * confluent-kafka-python (librdkafka) consumer groups against Samsa's classic group coordinator,
 * each member a separate Python process:
 *  - `range` and `roundrobin` (eager): three members split two topics (6 + 3 partitions) exactly as
 *    Kafka's assignors define, client side (on_assign) and broker side (DescribeGroups) alike; after
 *    one member leaves (range) or is killed and times out (roundrobin), the other two split everything
 *    again; every message is consumed exactly once and the committed offsets end at the log end.
 *  - `cooperative-sticky` (incremental): when a member joins, the existing ones are revoked only the
 *    partitions that move and keep the rest (incremental on_revoke/on_assign); when one leaves, the
 *    others are only given its partitions; every message is consumed exactly once across the rebalances.
 * Members commit every message synchronously before polling again, so commits precede rebalances.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RunningBroker, startBroker } from '../../src/index.js';
import {
  type Produced, type TP, assertExactlyOnce, committedAndEnd, consumed, coversExactly, createTopics, describeGroup, errorsOf, expectedRange, expectedRoundRobin, owned,
  produceEach, sortedKeys, tpKey,
} from './support-py/group-checks.js';
import { PyProcess, waitUntil } from './support-py/py-process.js';

let broker: RunningBroker;
const live: PyProcess[] = [];

before(async () => {
  broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000, 'num.partitions': 1 } });
});
after(async () => {
  for (const p of live) p.kill();
  await broker.stop();
});

function member(name: string, group: string, topics: string[], strategy: string, conf: Record<string, unknown> = {}): PyProcess {
  const p = new PyProcess(name, 'ck_member.py', {
    topics,
    conf: { 'bootstrap.servers': broker.bootstrap, 'group.id': group, 'client.id': name, 'partition.assignment.strategy': strategy, ...conf },
  });
  live.push(p);
  return p;
}

const allKeys = (topics: [string, number][]) => topics.flatMap(([t, n]) => Array.from({ length: n }, (_, p) => tpKey(t, p)));

async function waitConsumed(members: PyProcess[], produced: Produced[], timeoutMs: number): Promise<void> {
  await waitUntil(`${produced.length} messages consumed and committed`, () => {
    const commits = new Map<string, number>();
    for (const m of members) for (const e of m.of('commit')) commits.set(tpKey(e.t as string, e.p as number), Math.max(commits.get(tpKey(e.t as string, e.p as number)) ?? 0, e.o as number));
    const ends = new Map<string, number>();
    for (const p of produced) ends.set(tpKey(p.t, p.p), Math.max(ends.get(tpKey(p.t, p.p)) ?? 0, p.o + 1));
    return consumed(members).length >= produced.length && [...ends].every(([k, o]) => commits.get(k) === o);
  }, timeoutMs, members);
  // Anything more would be a duplicate: give a straggler a moment to show up.
  await new Promise((r) => setTimeout(r, 300));
}

async function assertCommittedAtEnd(group: string, topics: string[]): Promise<void> {
  const { committed, end } = await committedAndEnd(broker.bootstrap, group, topics);
  assert.ok(end.size > 0);
  for (const [k, o] of end) assert.equal(committed.get(k), o, `committed offset of ${k} is the log end`);
}

for (const strategy of ['range', 'roundrobin'] as const) {
  // With range the departing member leaves the group (LeaveGroup); with roundrobin it is killed and
  // the coordinator notices when its session expires.
  const departure = strategy === 'range' ? 'leaves' : 'is killed';
  test(`confluent-kafka-python: three members with partition.assignment.strategy=${strategy}, then one ${departure}`, { timeout: 60_000 }, async () => {
    const started = Date.now();
    const group = `ck-${strategy}`;
    const topics: [string, number][] = [[`${strategy}-a`, 6], [`${strategy}-b`, 3]];
    const names = topics.map(([t]) => t);
    await createTopics(broker.bootstrap, topics.map(([topic, numPartitions]) => ({ topic, numPartitions })));
    const produced: Produced[] = [];
    for (const [t, n] of topics) produced.push(...(await produceEach(broker.bootstrap, t, n, 20, 'first')));

    const members = ['m0', 'm1', 'm2'].map((n) => member(n, group, names, strategy, { 'session.timeout.ms': 2000 }));
    const all = allKeys(topics);
    const settled = (ms: PyProcess[]) => () => ms.every((m) => owned(m, false).size > 0) && coversExactly(ms.map((m) => owned(m, false)), all);
    await waitUntil('three members owning every partition once', settled(members), 30_000, members);

    // Broker side: the stored assignment of each member is what that member was told.
    const described = await describeGroup(broker.bootstrap, group);
    assert.equal(described.state, 'Stable');
    assert.equal(described.protocol, strategy);
    assert.equal(described.members.length, 3);
    const expected = (strategy === 'range' ? expectedRange : expectedRoundRobin)(described.members.map((m) => m.memberId), topics);
    for (const bm of described.members) {
      const client = members.find((m) => m.name === bm.clientId)!;
      assert.ok(client, `member ${bm.memberId} has client.id ${bm.clientId}`);
      assert.deepEqual(sortedKeys(owned(client, false)), sortedKeys(bm.assignment), `${bm.clientId}: client and broker agree`);
      assert.deepEqual(sortedKeys(bm.assignment), sortedKeys(expected.get(bm.memberId)!), `${bm.clientId}: ${strategy} shape`);
    }
    // The shape, spelled out: range gives contiguous blocks per topic, roundrobin deals partitions in turn.
    const shapes = described.members.map((bm) => sortedKeys(bm.assignment).join(' ')).sort();
    const [a, b] = names;
    if (strategy === 'range') assert.deepEqual(shapes, [`${a}/0 ${a}/1 ${b}/0`, `${a}/2 ${a}/3 ${b}/1`, `${a}/4 ${a}/5 ${b}/2`]);
    else assert.deepEqual(shapes, [`${a}/0 ${a}/3 ${b}/0`, `${a}/1 ${a}/4 ${b}/1`, `${a}/2 ${a}/5 ${b}/2`]);

    await waitConsumed(members, produced, 20_000);
    assertExactlyOnce(members, produced);

    // The member in the middle departs: the other two split everything, and resume where it committed.
    const leaving = members[1];
    const departed = Date.now();
    if (departure === 'leaves') assert.equal((await leaving.close()).code, 0, leaving.diagnostics());
    else {
      leaving.kill();
      assert.equal((await leaving.exited).signal, 'SIGKILL');
    }
    const stay = [members[0], members[2]];
    await waitUntil('two members owning every partition once', settled(stay), 20_000, stay);
    // A killed member is only noticed when its 2 s session expires.
    if (departure === 'is killed') assert.ok(Date.now() - departed >= 1500, `rebalanced ${Date.now() - departed} ms after the kill`);
    const after2 = await describeGroup(broker.bootstrap, group);
    assert.equal(after2.members.length, 2);
    const expected2 = (strategy === 'range' ? expectedRange : expectedRoundRobin)(after2.members.map((m) => m.memberId), topics);
    for (const bm of after2.members) {
      assert.deepEqual(sortedKeys(bm.assignment), sortedKeys(expected2.get(bm.memberId)!), `${bm.clientId}: ${strategy} shape with two members`);
      assert.deepEqual(sortedKeys(owned(members.find((m) => m.name === bm.clientId)!, false)), sortedKeys(bm.assignment));
    }
    for (const [t, n] of topics) produced.push(...(await produceEach(broker.bootstrap, t, n, 10, 'second')));
    await waitConsumed(members, produced, 20_000);
    assertExactlyOnce(members, produced);
    await assertCommittedAtEnd(group, names);
    // Eager members stop fetching before they rejoin, so no commit is ever refused.
    assert.deepEqual(errorsOf(members), []);
    for (const m of stay) assert.equal((await m.close()).code, 0, m.diagnostics());
    assert.equal((await describeGroup(broker.bootstrap, group)).state, 'Empty');
    console.log(`# ${strategy}: ${Date.now() - started} ms`);
  });
}

test('confluent-kafka-python: cooperative-sticky moves only the partitions that change owner', { timeout: 60_000 }, async () => {
  const started = Date.now();
  const group = 'ck-cooperative';
  const topic = 'coop';
  const topics: [string, number][] = [[topic, 6]];
  const all = allKeys(topics);
  await createTopics(broker.bootstrap, [{ topic, numPartitions: 6 }]);
  const produced = await produceEach(broker.bootstrap, topic, 6, 20, 'first');

  const m0 = member('m0', group, [topic], 'cooperative-sticky');
  await waitUntil('m0 owning all six partitions', () => owned(m0, true).size === 6, 20_000, [m0]);
  assert.deepEqual(m0.of('revoke'), []);
  // Let m0 get going on the backlog before the group changes.
  await waitUntil('m0 consuming', () => m0.of('msg').length >= 30, 10_000, [m0]);

  // m1 joins: m0 gives up exactly three partitions and keeps three.
  const mark0 = m0.events.length;
  const m1 = member('m1', group, [topic], 'cooperative-sticky');
  await waitUntil('m0 and m1 owning three partitions each', () => owned(m0, true).size === 3 && owned(m1, true).size === 3 && coversExactly([owned(m0, true), owned(m1, true)], all), 20_000, [m0, m1]);
  const revoked0 = m0.events.slice(mark0).filter((e) => e.ev === 'revoke').flatMap((e) => (e.partitions as TP[]).map(([t, p]) => tpKey(t, p)));
  const assigned0 = m0.events.slice(mark0).filter((e) => e.ev === 'assign').flatMap((e) => (e.partitions as TP[]).map(([t, p]) => tpKey(t, p)));
  assert.equal(revoked0.length, 3, `m0 revoked only the moving partitions: ${revoked0}`);
  assert.deepEqual(assigned0, [], 'm0 was not re-assigned anything it kept');
  assert.deepEqual(m0.of('lost'), []);
  assert.deepEqual(sortedKeys(owned(m1, true)), sortedKeys(revoked0), 'm1 got exactly what m0 gave up');
  const kept0 = owned(m0, true);
  const owned1 = owned(m1, true);

  const g2 = await describeGroup(broker.bootstrap, group);
  assert.equal(g2.protocol, 'cooperative-sticky');
  assert.equal(g2.state, 'Stable');
  assert.deepEqual(g2.members.map((m) => [m.clientId, sortedKeys(m.assignment)]).sort(), [['m0', sortedKeys(kept0)], ['m1', sortedKeys(owned1)]]);

  produced.push(...(await produceEach(broker.bootstrap, topic, 6, 10, 'second')));

  // m2 joins: each of m0 and m1 gives up exactly one partition, nothing else moves.
  const mark0b = m0.events.length;
  const mark1 = m1.events.length;
  const m2 = member('m2', group, [topic], 'cooperative-sticky');
  const members = [m0, m1, m2];
  await waitUntil('two partitions each', () => members.every((m) => owned(m, true).size === 2) && coversExactly(members.map((m) => owned(m, true)), all), 20_000, members);
  const revokedNow = (m: PyProcess, mark: number) => m.events.slice(mark).filter((e) => e.ev === 'revoke').flatMap((e) => (e.partitions as TP[]).map(([t, p]) => tpKey(t, p)));
  const r0 = revokedNow(m0, mark0b);
  const r1 = revokedNow(m1, mark1);
  assert.equal(r0.length, 1, `m0 revoked ${r0}`);
  assert.equal(r1.length, 1, `m1 revoked ${r1}`);
  assert.ok(kept0.has(r0[0]) && owned1.has(r1[0]));
  assert.deepEqual(sortedKeys(owned(m2, true)), sortedKeys([...r0, ...r1]), 'm2 got exactly the two revoked partitions');
  for (const k of owned(m0, true)) assert.ok(kept0.has(k), 'm0 only kept partitions it owned');
  for (const k of owned(m1, true)) assert.ok(owned1.has(k), 'm1 only kept partitions it owned');

  produced.push(...(await produceEach(broker.bootstrap, topic, 6, 10, 'third')));
  await waitConsumed(members, produced, 20_000);
  assertExactlyOnce(members, produced);
  await assertCommittedAtEnd(group, [topic]);

  // m1 leaves: m0 and m2 are only given its two partitions on top of what they have; nobody is revoked.
  const own0 = owned(m0, true);
  const own2 = owned(m2, true);
  const marks = [m0.events.length, m2.events.length];
  assert.equal((await m1.close()).code, 0, m1.diagnostics());
  await waitUntil('three partitions each after m1 left', () => owned(m0, true).size === 3 && owned(m2, true).size === 3 && coversExactly([owned(m0, true), owned(m2, true)], all), 20_000, members);
  assert.deepEqual(revokedNow(m0, marks[0]), [], 'm0 revoked nothing when m1 left');
  assert.deepEqual(revokedNow(m2, marks[1]), [], 'm2 revoked nothing when m1 left');
  for (const k of own0) assert.ok(owned(m0, true).has(k));
  for (const k of own2) assert.ok(owned(m2, true).has(k));
  produced.push(...(await produceEach(broker.bootstrap, topic, 6, 10, 'fourth')));
  await waitConsumed(members, produced, 20_000);
  assertExactlyOnce(members, produced);
  await assertCommittedAtEnd(group, [topic]);

  const errors = errorsOf(members);
  // A cooperative member keeps fetching while the group rebalances; Kafka refuses its commits with
  // REBALANCE_IN_PROGRESS while the group awaits the leader's assignment, and the member retries.
  for (const e of errors) assert.equal(e.code, 'REBALANCE_IN_PROGRESS', JSON.stringify(e));
  if (errors.length > 0) console.log(`# cooperative-sticky: ${errors.length} commits refused with REBALANCE_IN_PROGRESS and retried`);
  for (const m of [m0, m2]) assert.equal((await m.close()).code, 0, m.diagnostics());
  console.log(`# cooperative-sticky: ${Date.now() - started} ms`);
});
