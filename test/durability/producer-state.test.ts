/**
 * Producer state survives restarts: after a clean stop it comes back from the snapshot alone,
 * after a crash from the last snapshot plus the log after it — either way a retried batch is still
 * recognised as a duplicate and answered with its original offset.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch } from '../../protocol/records/index.js';
import { type BrokerProcess, startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

function batch(producerId: bigint, baseSequence: number, values: string[]): Buffer {
  return buildRecordBatch({ baseOffset: 0n, producerId, producerEpoch: 0, baseSequence, records: values.map((v) => ({ key: null, value: Buffer.from(v), headers: [], timestamp: BigInt(Date.now()) })) });
}

async function produce(c: RawClient, records: Buffer) {
  const r = await c.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'ps', partitionData: [{ index: 0, records }] }] });
  return r.responses[0].partitionResponses[0];
}

/** A broker on `args` with the topic ps, and a client of it. */
async function startWithPs(args: string[]): Promise<{ broker: BrokerProcess; c: RawClient }> {
  const broker = await startBrokerProcess(args);
  const c = await RawClient.connect(broker.port);
  await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 5000, validateOnly: false, topics: [{ name: 'ps', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
  return { broker, c };
}
const idempotentProducerId = async (c: RawClient): Promise<bigint> => (await c.send(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 1000 })).producerId;

// Snapshots are not fsynced: a power loss may leave them empty, and the log is replayed instead.
for (const stop of ['SIGTERM', 'SIGKILL', 'SIGKILL, snapshots left empty'] as const) {
  test(`after ${stop}, a retried idempotent batch is still a duplicate`, { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const args = ['--port', '0', '--data-dir', dir.path, '--set', 'samsa.producer.snapshot.interval.ms=200'];
    let broker: BrokerProcess | undefined;
    try {
      let c: RawClient;
      ({ broker, c } = await startWithPs(args));
      const pid = await idempotentProducerId(c);
      assert.deepEqual([(await produce(c, batch(pid, 0, ['a', 'b']))).baseOffset, (await produce(c, batch(pid, 2, ['c']))).baseOffset], [0n, 2n]);
      await new Promise((r) => setTimeout(r, 600)); // a periodic snapshot is taken
      const last = await produce(c, batch(pid, 3, ['d', 'e']));
      assert.equal(last.baseOffset, 3n);
      c.close();
      if (stop === 'SIGTERM') await broker.stop();
      else await broker.kill();
      const snapshots = readdirSync(join(dir.path, 'ps-0')).filter((f) => f.endsWith('.producer-state'));
      assert.ok(snapshots.length >= 1, 'a snapshot file exists');
      if (stop === 'SIGTERM') assert.ok(snapshots.includes(`${'5'.padStart(20, '0')}.producer-state`), `a final snapshot at the log end: ${snapshots}`);
      if (stop === 'SIGKILL, snapshots left empty') for (const f of snapshots) writeFileSync(join(dir.path, 'ps-0', f), '');

      broker = await startBrokerProcess(args);
      c = await RawClient.connect(broker.port);
      const retried = await produce(c, batch(pid, 3, ['d', 'e']));
      assert.deepEqual([retried.errorCode, retried.baseOffset], [ErrorCode.NONE, 3n], 'the retry is answered with the original offset');
      const gap = await produce(c, batch(pid, 9, ['x']));
      assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      const next = await produce(c, batch(pid, 5, ['f']));
      assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 5n]);
      const init2 = await c.send(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 1000 });
      assert.ok(init2.producerId > pid, 'producer ids are not reused after a restart');
      c.close();
    } finally {
      await broker?.stop();
      dir.remove();
    }
  });
}

test('a log written without producer ids is snapshotted at its end on a clean stop, so a restart need not read it, nor write it again', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const args = ['--port', '0', '--data-dir', dir.path];
  let broker: BrokerProcess | undefined;
  try {
    let c: RawClient;
    ({ broker, c } = await startWithPs(args));
    for (let i = 0; i < 3; i++) assert.equal((await produce(c, batch(-1n, -1, ['a', 'b']))).baseOffset, BigInt(2 * i));
    c.close();
    await broker.stop();
    const snapshots = readdirSync(join(dir.path, 'ps-0')).filter((f) => f.endsWith('.producer-state'));
    assert.deepEqual(snapshots, [`${'6'.padStart(20, '0')}.producer-state`]);
    const written = statSync(join(dir.path, 'ps-0', snapshots[0]!), { bigint: true }).mtimeNs;
    // A run that writes nothing leaves the snapshot it started from as it is.
    broker = await startBrokerProcess(args);
    await broker.stop();
    assert.deepEqual(readdirSync(join(dir.path, 'ps-0')).filter((f) => f.endsWith('.producer-state')), snapshots);
    assert.equal(statSync(join(dir.path, 'ps-0', snapshots[0]!), { bigint: true }).mtimeNs, written, 'not written again');
  } finally {
    await broker?.stop();
    dir.remove();
  }
});


test('producers idle for longer than producer.id.expiration.ms while the broker was down are not brought back from the snapshot, as in Kafka', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const args = ['--port', '0', '--data-dir', dir.path];
  let broker: BrokerProcess | undefined;
  const active = async (c: RawClient): Promise<bigint[]> => {
    const r = await c.send(ApiKey.DescribeProducers, 0, { topics: [{ name: 'ps', partitionIndexes: [0] }] });
    return r.topics[0].partitions[0].activeProducers.map((p: { producerId: bigint }) => p.producerId);
  };
  try {
    let c: RawClient;
    ({ broker, c } = await startWithPs(args));
    const pid = await idempotentProducerId(c);
    assert.equal((await produce(c, batch(pid, 0, ['a']))).errorCode, ErrorCode.NONE);
    c.close();
    await broker.stop();
    await new Promise((r) => setTimeout(r, 1200));
    // Within the default expiration (a day) it comes back; expiring after a second, it does not,
    // without waiting for the periodic check (producer.id.expiration.check.interval.ms, 10 minutes).
    for (const [expiration, expected] of [[null, [pid]], ['1000', []]] as const) {
      broker = await startBrokerProcess(expiration === null ? args : [...args, '--set', `producer.id.expiration.ms=${expiration}`]);
      c = await RawClient.connect(broker.port);
      assert.deepEqual(await active(c), expected, `producer.id.expiration.ms ${expiration ?? 'default'}`);
      c.close();
      await broker.stop();
    }
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('an outdated producer-id record is caught when the producers it is behind have expired; the next clean stop writes the snapshot without them', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const args = ['--port', '0', '--data-dir', dir.path];
  let broker: BrokerProcess | undefined;
  try {
    let c: RawClient;
    ({ broker, c } = await startWithPs(args));
    await idempotentProducerId(c);
    const second = await idempotentProducerId(c);
    assert.equal((await produce(c, batch(second, 0, ['a']))).errorCode, ErrorCode.NONE);
    c.close();
    await broker.stop();
    // The record goes back to before the second id was handed out.
    writeFileSync(join(dir.path, '__samsa_producer-ids.json'), JSON.stringify({ version: 1, nextProducerId: String(second) }));
    await new Promise((r) => setTimeout(r, 1200));
    broker = await startBrokerProcess([...args, '--set', 'producer.id.expiration.ms=1000']);
    c = await RawClient.connect(broker.port);
    const r = await c.send(ApiKey.DescribeProducers, 0, { topics: [{ name: 'ps', partitionIndexes: [0] }] });
    assert.deepEqual(r.topics[0].partitions[0].activeProducers, [], 'expired at load');
    const init = await c.send(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 1000 });
    assert.ok(init.producerId > second, `got ${init.producerId}: ${second} was handed out before`);
    c.close();
    await broker.stop();
    const snapshots = readdirSync(join(dir.path, 'ps-0')).filter((f) => f.endsWith('.producer-state')).sort();
    // The state follows the file's checksum line.
    const latest = JSON.parse(readFileSync(join(dir.path, 'ps-0', snapshots.at(-1)!), 'utf8').replace(/^samsa-snapshot .*\n/, '')) as { producers: unknown[] };
    assert.deepEqual(latest.producers, [], 'the expired producer is not written again');
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('a lost producer-id record does not hand out again an id an earlier run gave a producer that has not written yet', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const args = ['--port', '0', '--data-dir', dir.path];
  let broker: BrokerProcess | undefined;
  try {
    let c: RawClient;
    ({ broker, c } = await startWithPs(args));
    const early = await idempotentProducerId(c);
    assert.equal(early, 0n, 'a new data directory numbers from 0');
    c.close();
    await broker.stop();
    rmSync(join(dir.path, '__samsa_producer-ids.json'));
    broker = await startBrokerProcess(args);
    c = await RawClient.connect(broker.port);
    const later = await idempotentProducerId(c);
    assert.ok(later > early, `got ${later} again after ${early}`);
    // The earlier producer, still alive with its id, and the new one both get their first batch stored.
    assert.deepEqual([(await produce(c, batch(early, 0, ['from-early']))).baseOffset, (await produce(c, batch(later, 0, ['from-later']))).baseOffset], [0n, 1n]);
    assert.ok(broker.logs.some((l) => l.includes('producer id record missing')), 'the lost record is reported');
    c.close();
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('a lost or damaged producer-id record does not hand out an id a partition still remembers', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const args = ['--port', '0', '--data-dir', dir.path];
  let broker: BrokerProcess | undefined;
  try {
    let c: RawClient;
    ({ broker, c } = await startWithPs(args));
    const first = await idempotentProducerId(c);
    assert.equal((await produce(c, batch(first, 0, ['a']))).errorCode, ErrorCode.NONE);
    c.close();
    await broker.stop();
    const record = join(dir.path, '__samsa_producer-ids.json');
    for (const damage of ['remove', 'garble'] as const) {
      if (damage === 'remove') rmSync(record);
      else writeFileSync(record, '{"version": 1, "nextProducerId": ');
      broker = await startBrokerProcess(args);
      c = await RawClient.connect(broker.port);
      const init = await c.send(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 1000 });
      assert.equal(init.errorCode, ErrorCode.NONE, damage);
      assert.ok(init.producerId > first, `${damage}: got ${init.producerId}, the partition remembers ${first}`);
      // The new id starts its own sequences at 0: no OUT_OF_ORDER_SEQUENCE from another producer's state.
      assert.equal((await produce(c, batch(init.producerId, 0, [damage]))).errorCode, ErrorCode.NONE, damage);
      c.close();
      await broker.stop();
    }
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('a segment roll snapshots the producer state, as in Kafka: after a crash with no periodic snapshot taken, a snapshot at the active segment is there (a start replays from it) and a retried batch is still a duplicate', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const args = ['--port', '0', '--data-dir', dir.path, '--set', 'samsa.producer.snapshot.interval.ms=3600000'];
  const send = async (c: RawClient, records: Buffer) => {
    const r = await c.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'rolls', partitionData: [{ index: 0, records }] }] });
    return r.responses[0].partitionResponses[0];
  };
  const value = (i: number) => `${i}`.padEnd(300, '.');
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBrokerProcess(args);
    let c = await RawClient.connect(broker.port);
    await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 5000, validateOnly: false, topics: [{ name: 'rolls', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: '4096' }] }] });
    const pid = await idempotentProducerId(c);
    for (let i = 0; i < 12; i++) assert.equal((await send(c, batch(pid, 3 * i, [value(3 * i), value(3 * i + 1), value(3 * i + 2)]))).baseOffset, BigInt(3 * i));
    c.close();
    await broker.kill();
    const files = readdirSync(join(dir.path, 'rolls-0'));
    const offsets = (suffix: string) => files.filter((f) => f.endsWith(suffix)).map((f) => BigInt(f.slice(0, 20))).sort((a, b) => (a < b ? -1 : 1));
    const segments = offsets('.log');
    assert.ok(segments.length >= 3, `the log rolled: ${files}`);
    const snapshots = offsets('.producer-state');
    assert.ok(snapshots.length > 0 && snapshots.at(-1)! >= segments.at(-1)!, `a snapshot at or past the active segment (${segments.at(-1)}): ${snapshots}`);

    broker = await startBrokerProcess(args);
    c = await RawClient.connect(broker.port);
    const retried = await send(c, batch(pid, 33, [value(33), value(34), value(35)]));
    assert.deepEqual([retried.errorCode, retried.baseOffset], [ErrorCode.NONE, 33n], 'the last batch is a duplicate');
    const next = await send(c, batch(pid, 36, ['next']));
    assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 36n]);
    c.close();
  } finally {
    await broker?.stop();
    dir.remove();
  }
});
