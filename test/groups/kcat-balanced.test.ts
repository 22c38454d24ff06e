/**
 * kcat's balanced consumer (`kcat -G <group> <topic>`, librdkafka's KafkaConsumer with auto-commit)
 * against Samsa's group coordinator: a run that stops after N messages commits exactly those N on
 * close, and the next run of the same group resumes right after them, so that across runs every
 * message is read once; a run at the end of the log reads nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { run } from '../support/processes.js';
import { type Produced, committedAndEnd, createTopics, describeGroup, produceEach, tpKey } from './support-py/group-checks.js';

let broker: RunningBroker;
before(async () => {
  broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 } });
});
after(() => broker.stop());

interface Msg {
  t: string;
  p: number;
  o: number;
  v: string;
}

/** One `kcat -G` run; `stop` is `-c N` (stop after N messages) or `-e` (stop at the end of every assigned partition). */
async function kcatGroup(group: string, topic: string, stop: string[]): Promise<Msg[]> {
  const r = await run('kcat', [
    '-b', broker.bootstrap, '-G', group, '-q', '-f', '%t %p %o %s\\n',
    '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000', '-X', 'heartbeat.interval.ms=200', '-X', 'fetch.wait.max.ms=50',
    ...stop, topic,
  ], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `kcat exited with ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((line) => {
    const [t, p, o, ...v] = line.split(' ');
    return { t, p: Number(p), o: Number(o), v: v.join(' ') };
  });
}

function assertMatches(got: Msg[], produced: Produced[]): void {
  const want = new Map(produced.map((m) => [`${m.t}/${m.p}@${m.o}`, m.v]));
  for (const m of got) assert.equal(m.v, want.get(`${m.t}/${m.p}@${m.o}`), `value at ${m.t}/${m.p}@${m.o}`);
}

test('kcat -G: auto-committed offsets carry over to the next run of the group', { timeout: 60_000 }, async () => {
  const started = Date.now();
  const topic = 'kcat-balanced';
  const group = 'kcat-g';
  await createTopics(broker.bootstrap, [{ topic, numPartitions: 3 }]);
  const produced = await produceEach(broker.bootstrap, topic, 3, 30, 'first');

  // Run 1 stops after 40 of the 90 messages; closing commits what it consumed.
  const run1 = await kcatGroup(group, topic, ['-c', '40']);
  assert.equal(run1.length, 40);
  assertMatches(run1, produced);
  const { committed: c1 } = await committedAndEnd(broker.bootstrap, group, [topic]);
  let committedTotal = 0;
  for (let p = 0; p < 3; p++) {
    const offsets = run1.filter((m) => m.p === p).map((m) => m.o);
    // Per partition, run 1 read from offset 0 without gaps, and the commit is the next offset.
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p} read in order from 0`);
    const c = c1.get(tpKey(topic, p))!;
    assert.equal(c, offsets.length > 0 ? offsets.length : -1, `committed offset of partition ${p}`);
    committedTotal += Math.max(c, 0);
  }
  assert.equal(committedTotal, 40);
  assert.equal((await describeGroup(broker.bootstrap, group)).state, 'Empty', 'kcat left the group on exit');

  // Run 2 reads to the end: exactly the 50 messages run 1 did not, starting at the committed offsets.
  const run2 = await kcatGroup(group, topic, ['-e']);
  assertMatches(run2, produced);
  assert.equal(run2.length, 50);
  const seen = new Set(run1.map((m) => `${m.p}@${m.o}`));
  for (const m of run2) assert.ok(!seen.has(`${m.p}@${m.o}`), `run 2 re-read ${m.p}@${m.o}`);
  for (let p = 0; p < 3; p++) {
    const first = run2.filter((m) => m.p === p).map((m) => m.o);
    const start = Math.max(c1.get(tpKey(topic, p))!, 0);
    assert.deepEqual(first, Array.from({ length: 30 - start }, (_, i) => start + i), `partition ${p} resumed at ${start}`);
  }
  const { committed: c2, end } = await committedAndEnd(broker.bootstrap, group, [topic]);
  for (let p = 0; p < 3; p++) {
    assert.equal(end.get(tpKey(topic, p)), 30);
    assert.equal(c2.get(tpKey(topic, p)), 30, `partition ${p} committed at the end`);
  }

  // New messages: the next run reads exactly those; then a run at the end reads nothing.
  const more = await produceEach(broker.bootstrap, topic, 3, 5, 'second');
  const run3 = await kcatGroup(group, topic, ['-e']);
  assert.deepEqual(run3.map((m) => `${m.p}@${m.o}`).sort(), more.map((m) => `${m.p}@${m.o}`).sort());
  assertMatches(run3, more);
  const run4 = await kcatGroup(group, topic, ['-e']);
  assert.deepEqual(run4, []);
  const { committed: c4 } = await committedAndEnd(broker.bootstrap, group, [topic]);
  for (let p = 0; p < 3; p++) assert.equal(c4.get(tpKey(topic, p)), 35);
  console.log(`# kcat -G: ${Date.now() - started} ms`);
});
