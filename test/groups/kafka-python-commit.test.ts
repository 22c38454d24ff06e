/**
 * kafka-python's KafkaConsumer(group_id=..., enable_auto_commit=False) against Samsa's group
 * coordinator: commit() after consuming part of a topic stores exactly the consumed positions; a new
 * consumer of the group reads them back with committed() and resumes exactly there; committed() and
 * end_offsets() agree once everything is read; consuming without commit() leaves the offsets alone.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { PYTHON, run } from '../support/processes.js';
import { type Produced, committedAndEnd, createTopics, produceEach, tpKey } from './support-py/group-checks.js';
import { SUPPORT_PY } from './support-py/py-process.js';

let broker: RunningBroker;
before(async () => {
  broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 } });
});
after(() => broker.stop());

interface KpResult {
  partitions: number[];
  assignment: number[];
  committed_before: Record<string, number | null>;
  messages: [number, number, string][];
  positions: Record<string, number>;
  committed_after: Record<string, number | null>;
  end_offsets: Record<string, number>;
}

async function kafkaPython(group: string, topic: string, count: number | null, commit: boolean): Promise<KpResult> {
  const r = await run(PYTHON, [join(SUPPORT_PY, 'kp_consume.py'), JSON.stringify({ bootstrap: broker.bootstrap, group, topic, count, commit })], { timeoutMs: 45_000 });
  assert.equal(r.code, 0, `kafka-python exited with ${r.code} ${r.signal ?? ''}:\n${r.stderr.slice(-3000)}\n${r.stdout}`);
  return JSON.parse(r.stdout) as KpResult;
}

function checkValues(got: KpResult, produced: Produced[]): void {
  const want = new Map(produced.map((m) => [`${m.p}@${m.o}`, m.v]));
  for (const [p, o, v] of got.messages) assert.equal(v, want.get(`${p}@${o}`), `value at ${p}@${o}`);
}

/** Offsets read per partition, in order. */
function perPartition(got: KpResult, partitions: number): number[][] {
  return Array.from({ length: partitions }, (_, p) => got.messages.filter(([mp]) => mp === p).map(([, o]) => o));
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('kafka-python: commit() part-way, a new consumer resumes at the committed offsets', { timeout: 60_000 }, async () => {
  const started = Date.now();
  const topic = 'kp-commit';
  const group = 'kp-group';
  await createTopics(broker.bootstrap, [{ topic, numPartitions: 3 }]);
  const produced = await produceEach(broker.bootstrap, topic, 3, 20, 'first');

  // First consumer: 25 of the 60 messages, then commit() and close.
  const a = await kafkaPython(group, topic, 25, true);
  assert.deepEqual(a.partitions, [0, 1, 2]);
  assert.deepEqual(a.assignment, [0, 1, 2]);
  assert.deepEqual(a.committed_before, { 0: null, 1: null, 2: null }, 'a new group has no committed offsets');
  assert.equal(a.messages.length, 25);
  checkValues(a, produced);
  const readA = perPartition(a, 3);
  for (let p = 0; p < 3; p++) {
    assert.deepEqual(readA[p], range(0, readA[p].length), `partition ${p} read from 0 in order`);
    assert.equal(a.positions[p], readA[p].length, `position of partition ${p}`);
    // Nothing read on a partition: commit() still stores its position (0), as Kafka's client does.
    assert.equal(a.committed_after[p], readA[p].length, `committed() of partition ${p} after commit()`);
    assert.equal(a.end_offsets[p], 20);
  }
  // The broker agrees (OffsetFetch from another client).
  const brokerView = await committedAndEnd(broker.bootstrap, group, [topic]);
  for (let p = 0; p < 3; p++) assert.equal(brokerView.committed.get(tpKey(topic, p)), readA[p].length);

  // Second consumer of the group: committed() before polling is what the first one committed, and it
  // reads exactly the rest, starting at those offsets.
  const b = await kafkaPython(group, topic, null, true);
  checkValues(b, produced);
  const readB = perPartition(b, 3);
  for (let p = 0; p < 3; p++) {
    assert.equal(b.committed_before[p], readA[p].length, `committed() of partition ${p} seen by the new consumer`);
    assert.deepEqual(readB[p], range(readA[p].length, 20), `partition ${p} resumed at ${readA[p].length}`);
    assert.equal(b.committed_after[p], 20);
    assert.equal(b.end_offsets[p], 20, 'committed() == end_offsets() once all is read');
  }
  assert.equal(a.messages.length + b.messages.length, 60);

  // Consuming without commit() changes nothing: the next consumer reads the same messages again.
  const more = await produceEach(broker.bootstrap, topic, 3, 5, 'second');
  const c = await kafkaPython(group, topic, null, false);
  checkValues(c, more);
  for (let p = 0; p < 3; p++) {
    assert.equal(c.committed_before[p], 20);
    assert.deepEqual(perPartition(c, 3)[p], range(20, 25));
    assert.equal(c.committed_after[p], 20, 'no commit(): committed() unchanged');
    assert.equal(c.end_offsets[p], 25);
  }
  const d = await kafkaPython(group, topic, null, true);
  for (let p = 0; p < 3; p++) {
    assert.deepEqual(perPartition(d, 3)[p], range(20, 25), `partition ${p} re-read from the last commit`);
    assert.equal(d.committed_after[p], d.end_offsets[p]);
    assert.equal(d.end_offsets[p], 25);
  }
  const final = await committedAndEnd(broker.bootstrap, group, [topic]);
  for (let p = 0; p < 3; p++) assert.equal(final.committed.get(tpKey(topic, p)), 25);
  console.log(`# kafka-python: ${Date.now() - started} ms`);
});
