/**
 * Aborted transactions leaving the log. On a compacted topic, as Kafka's cleaner leaves them: once the cleaner has
 * removed an aborted transaction's data and then, past delete.retention.ms, its ABORT marker,
 * Fetch no longer reports the transaction (Kafka rebuilds each cleaned segment's .txnindex with
 * only the aborted transactions whose marker it keeps). A read_committed client that was told of
 * it would drop every later transactional batch of that producer, waiting for a marker that is gone.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch, isControl, iterateBatches, readAttributes, readRecordCount } from '../../protocol/records/index.js';
import { startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import {
  addPartitions, createTopics, endTxn, errorName, fetchOnce, initProducer, kcatRead, produceBatch, READ_COMMITTED, READ_UNCOMMITTED, readPartition, stableOffsets,
  type RawProducer,
} from './support.js';

const TOPIC = 'compacted-aborted';

/** A broker (on `dir`, else in memory) whose log cleaner runs only when a test asks (compactLogs). */
const startWithIdleCleaner = (dir?: string) => startBroker({ port: 0, logger: 'warn', ...(dir ? { dataDir: dir } : {}), config: { 'log.cleaner.backoff.ms': 3_600_000 } });

/** A compacted topic of one partition where every batch gets a segment of its own and anything cleanable is cleaned. */
async function createCompacted(client: RawClient, topic: string): Promise<void> {
  const created = await client.send(ApiKey.CreateTopics, 5, {
    timeoutMs: 5000, validateOnly: false,
    topics: [{
      name: topic, numPartitions: 1, replicationFactor: 1, assignments: [],
      configs: Object.entries({ 'cleanup.policy': 'compact', 'segment.bytes': '100', 'delete.retention.ms': '0', 'min.cleanable.dirty.ratio': '0' }).map(([name, value]) => ({ name, value })),
    }],
  });
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE, created.topics[0].errorMessage);
}

/**
 * Writes of one key and value to partition 0 of `topic`: plain, or as a whole transaction of
 * `txnId` committed or aborted (resolving once its marker is written).
 */
async function keyedWrites(client: RawClient, topic: string, txnId: string) {
  const p: RawProducer = await initProducer(client, txnId);
  let seq = 0;
  const write = async (key: string, value: string, transactional: boolean): Promise<void> => {
    const batch = buildRecordBatch({
      baseOffset: 0n, producerId: transactional ? p.producerId : -1n, producerEpoch: transactional ? p.epoch : -1, baseSequence: transactional ? seq : -1, transactional,
      records: [{ key: Buffer.from(key), value: Buffer.from(value), headers: [] }],
    });
    const r = await produceBatch(client, topic, 0, batch, transactional ? txnId : null);
    assert.equal(r.errorCode, ErrorCode.NONE, `${key}=${value}: ${errorName(r.errorCode)}`);
    if (transactional) seq++;
  };
  const transaction = async (key: string, value: string, commit: boolean): Promise<void> => {
    assert.deepEqual(await addPartitions(client, txnId, p, topic, [0]), [ErrorCode.NONE]);
    await write(key, value, true);
    assert.equal(await endTxn(client, txnId, p, commit), ErrorCode.NONE);
    for (let i = 0; i < 100; i++) {
      const { hw, lso } = await stableOffsets(client, topic, 0);
      if (lso === hw) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('the transaction marker was not written');
  };
  return { write, transaction };
}

for (const engine of ['memory', 'disk'] as const) {
  test(`${engine}: a compacted topic's aborted transaction whose data and marker the cleaner removed is no longer reported to read_committed fetches`, { timeout: 60_000 }, async () => {
    const dir = engine === 'disk' ? tempDir() : null;
    const start = () => startWithIdleCleaner(dir?.path);
    let broker = await start();
    let client = await RawClient.connect(broker.port);
    try {
      await createCompacted(client, TOPIC);
      const { write, transaction } = await keyedWrites(client, TOPIC, 'compacted-aborted-txn');

      await transaction('a', 'aborted', false); // 0, ABORT at 1
      await transaction('b', 'committed', true); // 2, COMMIT at 3
      await write('c', 'plain-0', false); // 4
      const aborted = (await fetchOnce(client, TOPIC, 0, 0n, READ_COMMITTED)).abortedTransactions;
      assert.deepEqual(aborted.map((a: { firstOffset: bigint }) => a.firstOffset), [0n], 'reported while its data is in the log');

      // Pass 1 removes the aborted data, keeping the marker; pass 2 marks the marker with its delete
      // horizon; pass 3 removes it. Each pass needs new dirty data.
      for (let pass = 1; pass <= 3; pass++) {
        await write('c', `plain-${pass}`, false);
        await new Promise((r) => setTimeout(r, 5));
        await broker.broker.compactLogs();
      }
      const raw = await readPartition(client, TOPIC, 0, READ_UNCOMMITTED);
      assert.ok(!raw.records.some((r) => r.offset <= 1), `the aborted data and its marker are gone: ${JSON.stringify(raw.records.map((r) => r.offset))}`);
      assert.ok(raw.records.some((r) => r.value === 'committed'), 'the committed record stays');

      const rc = await readPartition(client, TOPIC, 0, READ_COMMITTED);
      assert.deepEqual(rc.abortedTransactions, [], 'no aborted transaction is left to report');
      const seen = (await kcatRead(broker.bootstrap, TOPIC, 'read_committed')).map((m) => m.value);
      assert.ok(seen.includes('committed'), `librdkafka read_committed sees the committed record: ${JSON.stringify(seen)}`);

      if (dir) {
        // The producer state a start after a crash would load (the newest snapshot) no longer has it.
        const partDir = join(dir.path, `${TOPIC}-0`);
        const newest = readdirSync(partDir).filter((n) => n.endsWith('.producer-state')).sort().at(-1)!;
        const snapshot = JSON.parse(readFileSync(join(partDir, newest), 'utf8').replace(/^[^\n]*\n/, '')) as { aborted: unknown[] };
        assert.deepEqual(snapshot.aborted, [], `${newest} reports no aborted transaction`);
        // Nor does the state after a clean restart.
        client.close();
        await broker.stop();
        broker = await start();
        client = await RawClient.connect(broker.port);
        assert.deepEqual((await readPartition(client, TOPIC, 0, READ_COMMITTED)).abortedTransactions, [], 'not reported after a restart');
      }
    } finally {
      client.close();
      await broker.stop();
      dir?.remove();
    }
  });
}

test('aborted transactions below a new log start offset (DeleteRecords, retention) are forgotten', { timeout: 60_000 }, async () => {
  const broker = await startBroker({ port: 0, logger: 'warn' });
  const client = await RawClient.connect(broker.port);
  try {
    const topic = 'aborted-log-start';
    const created = await client.send(ApiKey.CreateTopics, 5, {
      timeoutMs: 5000, validateOnly: false, topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    const txnId = 'aborted-log-start-txn';
    const p = await initProducer(client, txnId);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await addPartitions(client, txnId, p, topic, [0]), [ErrorCode.NONE]);
      const batch = buildRecordBatch({ baseOffset: 0n, producerId: p.producerId, producerEpoch: p.epoch, baseSequence: i, transactional: true, records: [{ value: Buffer.from(`t${i}`), headers: [] }] });
      assert.equal((await produceBatch(client, topic, 0, batch, txnId)).errorCode, ErrorCode.NONE);
      assert.equal(await endTxn(client, txnId, p, false), ErrorCode.NONE); // data at 2i, ABORT marker at 2i + 1
    }
    const state = broker.broker.topics.get(topic)!.producers[0]!;
    for (let i = 0; i < 100 && state.aborted.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(state.aborted.map((a) => a.lastOffset), [1n, 3n]);
    const deleted = await client.send(ApiKey.DeleteRecords, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 2n }] }], timeoutMs: 5000 });
    assert.equal(deleted.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    assert.deepEqual(state.aborted.map((a) => a.lastOffset), [3n], 'the transaction wholly below the new log start is forgotten');
    assert.deepEqual((await fetchOnce(client, topic, 0, 2n, READ_COMMITTED)).abortedTransactions.map((a: { firstOffset: bigint }) => a.firstOffset), [2n]);
  } finally {
    client.close();
    await broker.stop();
  }
});

test('a crash right after the cleaner removed an ABORT marker, before the producer state was snapshotted again, does not bring the transaction back', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const topic = 'compacted-aborted-crash';
  const partDir = join(dir.path, `${topic}-0`);
  const start = () => startWithIdleCleaner(dir.path);
  let broker = await start();
  let client = await RawClient.connect(broker.port);
  try {
    await createCompacted(client, topic);
    const { write, transaction } = await keyedWrites(client, topic, 'compacted-aborted-crash-txn');
    const snapshots = () => new Map(readdirSync(partDir).filter((n) => n.endsWith('.producer-state')).map((n) => [n, readFileSync(join(partDir, n))]));

    await transaction('a', 'aborted', false); // 0, ABORT at 1
    await transaction('b', 'committed', true); // 2, COMMIT at 3
    await write('c', 'plain-0', false); // 4
    // Passes 1 and 2: the aborted data goes, the marker gets its delete horizon.
    let before = snapshots();
    for (let pass = 1; pass <= 3; pass++) {
      await write('c', `plain-${pass}`, false);
      await new Promise((r) => setTimeout(r, 50)); // the roll's snapshot is written
      before = snapshots();
      await broker.broker.compactLogs();
    }
    const raw = await readPartition(client, topic, 0, READ_UNCOMMITTED);
    assert.ok(!raw.records.some((r) => r.offset <= 1), `pass 3 removed the ABORT marker: ${JSON.stringify(raw.records.map((r) => r.offset))}`);
    const stale = [...before.values()].map((d) => d.toString('utf8')).filter((s) => s.includes('"aborted":[{'));
    assert.ok(stale.length > 0, 'before pass 3 the snapshots report the aborted transaction');

    // A kill right after pass 3 swapped its segment in, before the broker snapshotted the producer
    // state without the transaction: the segment files as they are, the snapshots as they were.
    client.close();
    await broker.stop();
    for (const name of snapshots().keys()) if (!before.has(name)) rmSync(join(partDir, name));
    for (const [name, data] of before) writeFileSync(join(partDir, name), data);
    broker = await start();
    client = await RawClient.connect(broker.port);

    const rc = await readPartition(client, topic, 0, READ_COMMITTED);
    assert.deepEqual(rc.abortedTransactions, [], 'the transaction whose marker is gone is not reported');
    const seen = (await kcatRead(broker.bootstrap, topic, 'read_committed')).map((m) => m.value);
    assert.ok(seen.includes('committed'), `librdkafka read_committed sees the committed record: ${JSON.stringify(seen)}`);
  } finally {
    client.close();
    await broker.stop();
    dir.remove();
  }
});

/** The batches of a partition directory's segment files: base offset, control or not, record count. */
function storedBatches(partDir: string): { offset: bigint; control: boolean; records: number }[] {
  const out: { offset: bigint; control: boolean; records: number }[] = [];
  for (const name of readdirSync(partDir).filter((n) => n.endsWith('.log')).sort()) {
    const data = readFileSync(join(partDir, name));
    for (const b of iterateBatches(data)) out.push({ offset: b.baseOffset, control: isControl(readAttributes(b.buf)), records: readRecordCount(b.buf) });
  }
  return out;
}

test('a marker the cleaner kept as a bare header (a transaction with no data on the partition) is passed over when the producer state is replayed at start', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const topic = 'compacted-empty-marker';
  const partDir = join(dir.path, `${topic}-0`);
  const start = () => startWithIdleCleaner(dir.path);
  let broker = await start();
  let client = await RawClient.connect(broker.port);
  try {
    await createCompacted(client, topic);
    const txnId = 'compacted-empty-marker-txn';
    const p: RawProducer = await initProducer(client, txnId);
    // The partition joins the transaction, which is aborted before anything is written to it: an ABORT marker alone at 0.
    assert.deepEqual(await addPartitions(client, txnId, p, topic, [0]), [ErrorCode.NONE]);
    assert.equal(await endTxn(client, txnId, p, false), ErrorCode.NONE);
    for (let pass = 0; pass <= 3; pass++) {
      const batch = buildRecordBatch({ baseOffset: 0n, records: [{ key: Buffer.from('c'), value: Buffer.from(`plain-${pass}`), headers: [] }] });
      assert.equal((await produceBatch(client, topic, 0, batch)).errorCode, ErrorCode.NONE);
      await new Promise((r) => setTimeout(r, 5));
      await broker.broker.compactLogs();
    }
    // The marker's producer has no data here, so Kafka's cleaner keeps its last batch (the marker) as an empty header.
    assert.deepEqual(storedBatches(partDir)[0], { offset: 0n, control: true, records: 0 }, 'the marker is a bare header');

    // A start without a producer snapshot (a crash that left none usable) replays the whole log.
    client.close();
    await broker.stop();
    for (const name of readdirSync(partDir).filter((n) => n.endsWith('.producer-state'))) rmSync(join(partDir, name));
    broker = await start();
    client = await RawClient.connect(broker.port);
    const rc = await readPartition(client, topic, 0, READ_COMMITTED);
    assert.equal(rc.records.at(-1)?.value, 'plain-3', `the latest value is read: ${JSON.stringify(rc.records.map((r) => r.value))}`);
    assert.equal(rc.lastStableOffset, rc.highWatermark);
  } finally {
    client.close();
    await broker.stop();
    dir.remove();
  }
});

test('an ABORT marker the cleaner kept as a bare header in __consumer_offsets does not stop the groups and offsets loading at the next start', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const partDir = join(dir.path, '__consumer_offsets-0');
  const start = () => startBroker({
    port: 0, logger: 'warn', dataDir: dir.path,
    config: {
      'log.cleaner.backoff.ms': 3_600_000, 'offsets.topic.num.partitions': 1, 'offsets.topic.segment.bytes': 150,
      'log.cleaner.delete.retention.ms': 0, 'log.cleaner.min.cleanable.ratio': 0,
    },
  });
  let broker = await start();
  let client = await RawClient.connect(broker.port);
  try {
    await createTopics(client, [{ name: 'offsets-of', partitions: 1 }]);
    const commit = async (offset: bigint): Promise<void> => {
      const r = await client.send(ApiKey.OffsetCommit, 2, {
        groupId: 'plain-group', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1n,
        topics: [{ name: 'offsets-of', partitions: [{ partitionIndex: 0, committedOffset: offset, committedMetadata: '' }] }],
      });
      assert.equal(r.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    };
    const fetched = async (): Promise<bigint> =>
      (await client.send(ApiKey.OffsetFetch, 1, { groupId: 'plain-group', topics: [{ name: 'offsets-of', partitionIndexes: [0] }] })).topics[0].partitions[0].committedOffset;
    await commit(1n);
    // A transaction adds the group's offsets partition and is aborted before committing any offset: an ABORT marker with no data.
    const txnId = 'offsets-empty-marker-txn';
    const p: RawProducer = await initProducer(client, txnId);
    const added = await client.send(ApiKey.AddOffsetsToTxn, 3, { transactionalId: txnId, producerId: p.producerId, producerEpoch: p.epoch, groupId: 'txn-group' });
    assert.equal(added.errorCode, ErrorCode.NONE);
    assert.equal(await endTxn(client, txnId, p, false), ErrorCode.NONE);
    for (let pass = 2; pass <= 5; pass++) {
      await commit(BigInt(pass));
      await new Promise((r) => setTimeout(r, 5));
      await broker.broker.compactLogs();
    }
    assert.ok(storedBatches(partDir).some((b) => b.control && b.records === 0), `a bare marker header: ${JSON.stringify(storedBatches(partDir), (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    assert.equal(await fetched(), 5n);

    client.close();
    await broker.stop();
    broker = await start(); // settles once groups and offsets are loaded
    client = await RawClient.connect(broker.port);
    assert.equal(await fetched(), 5n, 'the committed offset is back');
  } finally {
    client.close();
    await broker.stop();
    dir.remove();
  }
});
