/**
 * Topic configs the produce path obeys, changed while the broker runs (RawClient): broker-side
 * compression (the batch rebuilt only when the codec differs, records and producer fields kept),
 * LogAppendTime, timestamp bounds with Kafka's per-record errors, min.insync.replicas on a single
 * broker, max.message.bytes after recompression, and retention lowered on a live topic.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import {
  ATTRIBUTES_OFFSET, CompressionCodec, RECORDS_OFFSET, TimestampType, compressionOf, decodeRecords, isTransactional, readAttributes, readBaseSequence,
  readMaxTimestamp, readProducerEpoch, readProducerId, timestampTypeOf,
} from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import {
  BROKER, DELETE, SET, TOPIC, alter, assertOk, batchOf, createTopic, errorName, fetchBatches, incremental, listOffset, produceBatch,
} from './configs-support.js';

let broker: RunningBroker;
let client: RawClient;
const dir = tempDir('samsa-configs-');

before(async () => {
  broker = await startBroker({ port: 0, logger: 'warn', storage: 'disk', dataDir: dir.path });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  client.close();
  await broker.stop();
  dir.remove();
});

const setTopic = async (topic: string, ops: [string, number, string | null][]) => assertOk(await incremental(client, [{ type: TOPIC, name: topic, ops }]), topic);
const ok = (p: any, what: string) => assert.equal(p.errorCode, ErrorCode.NONE, `${what}: ${errorName(p.errorCode)} ${p.errorMessage}`);

const t0 = 1_700_000_000_000;
const sample = Array.from({ length: 20 }, (_, i) => ({
  key: `k${i}`,
  value: `value ${i} `.repeat(20),
  headers: [{ key: 'h', value: `v${i}` }, { key: 'h', value: null }],
  timestamp: BigInt(Date.now() - 1000 + i),
}));

const view = (batch: Buffer) => decodeRecords(batch).map((r) => ({
  key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, headers: r.headers.map((h) => [h.key, h.value?.toString() ?? null]), timestamp: r.timestamp, offsetDelta: r.offsetDelta,
}));

test('compression.type recompresses only a batch whose codec differs, keeping records and producer fields', async () => {
  await createTopic(client, 'cz', 1, { 'compression.type': 'zstd' });
  const init = await client.send(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 });
  ok(init, 'InitProducerId');
  const producer = { producerId: init.producerId as bigint, producerEpoch: init.producerEpoch as number };

  const gzip = batchOf(sample, CompressionCodec.Gzip, { ...producer, baseSequence: 0 });
  ok(await produceBatch(client, 'cz', 0, gzip), 'gzip into zstd topic');
  const plain = batchOf(sample.slice(0, 3), CompressionCodec.None, { ...producer, baseSequence: 20 });
  ok(await produceBatch(client, 'cz', 0, plain), 'uncompressed into zstd topic');
  const zstd = batchOf(sample.slice(0, 2), CompressionCodec.Zstd, { ...producer, baseSequence: 23 });
  ok(await produceBatch(client, 'cz', 0, zstd), 'zstd into zstd topic');
  // A retry of the first batch is still recognised as a duplicate after the rebuild.
  const dup = await produceBatch(client, 'cz', 0, gzip);
  ok(dup, 'duplicate');
  assert.equal(dup.baseOffset, 0n);

  const stored = await fetchBatches(client, 'cz', 0);
  assert.equal(stored.length, 3);
  for (const b of stored) {
    assert.equal(compressionOf(readAttributes(b)), CompressionCodec.Zstd);
    assert.equal(readProducerId(b), producer.producerId);
    assert.equal(readProducerEpoch(b), producer.producerEpoch);
    assert.equal(isTransactional(readAttributes(b)), false);
  }
  assert.deepEqual(stored.map((b) => readBaseSequence(b)), [0, 20, 23]);
  assert.deepEqual(view(stored[0]), view(gzip));
  assert.deepEqual(view(stored[1]), view(plain));
  // Same codec: the producer's bytes are kept as they were sent.
  assert.ok(stored[2].subarray(ATTRIBUTES_OFFSET).equals(zstd.subarray(ATTRIBUTES_OFFSET)), 'a zstd batch is not rebuilt');
  assert.equal(readMaxTimestamp(stored[0]), sample[19].timestamp);
});

test('a compacted topic refuses records without a key inside compressed batches too, and stores keyed ones as sent', async () => {
  await createTopic(client, 'cz-compact', 1, { 'cleanup.policy': 'compact' });
  for (const codec of [CompressionCodec.Gzip, CompressionCodec.Lz4, CompressionCodec.Zstd, CompressionCodec.Snappy]) {
    const keyless = batchOf([{ key: 'a', value: '1' }, { key: null, value: '2' }, { key: 'c', value: '3' }], codec);
    const p = await produceBatch(client, 'cz-compact', 0, keyless);
    assert.equal(p.errorCode, ErrorCode.INVALID_RECORD, `codec ${codec}`);
    assert.deepEqual(p.recordErrors.map((e: any) => e.batchIndex), [1]);
    assert.equal(p.recordErrors[0].batchIndexErrorMessage, 'Compacted topic cannot accept message without key in topic partition cz-compact-0');
    ok(await produceBatch(client, 'cz-compact', 0, batchOf([{ key: 'a', value: '1' }, { key: 'b', value: '2' }], codec)), `keyed, codec ${codec}`);
  }
  const stored = await fetchBatches(client, 'cz-compact', 0);
  assert.deepEqual(stored.map((b) => compressionOf(readAttributes(b))), [CompressionCodec.Gzip, CompressionCodec.Lz4, CompressionCodec.Zstd, CompressionCodec.Snappy]);
  assert.deepEqual(stored.flatMap((b) => view(b).map((r) => r.key)), ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
});

test('uncompressed, producer and snappy; the gzip level applies', async () => {
  await createTopic(client, 'cu', 1, { 'compression.type': 'uncompressed' });
  ok(await produceBatch(client, 'cu', 0, batchOf(sample, CompressionCodec.Lz4)), 'lz4 into uncompressed topic');
  let [b] = await fetchBatches(client, 'cu', 0);
  assert.equal(compressionOf(readAttributes(b)), CompressionCodec.None);
  assert.deepEqual(view(b), view(batchOf(sample)));

  await setTopic('cu', [['compression.type', DELETE, null]]);
  ok(await produceBatch(client, 'cu', 0, batchOf(sample, CompressionCodec.Lz4)), 'lz4, producer codec');
  [, b] = await fetchBatches(client, 'cu', 0);
  assert.equal(compressionOf(readAttributes(b)), CompressionCodec.Lz4, 'producer (the default) keeps the codec');

  await setTopic('cu', [['compression.type', SET, 'snappy']]);
  ok(await produceBatch(client, 'cu', 0, batchOf(sample)), 'into snappy');
  [, , b] = await fetchBatches(client, 'cu', 0);
  assert.equal(compressionOf(readAttributes(b)), CompressionCodec.Snappy);
  assert.equal(b.subarray(RECORDS_OFFSET, RECORDS_OFFSET + 8).toString('latin1'), '\x82SNAPPY\x00', 'xerial framing, as a Java broker writes');
  assert.deepEqual(view(b), view(batchOf(sample)));

  // gzip's header says how hard it compressed: XFL 2 for level 9, 4 for level 1.
  for (const [level, xfl] of [['9', 2], ['1', 4]] as const) {
    await setTopic('cu', [['compression.type', SET, 'gzip'], ['compression.gzip.level', SET, level]]);
    ok(await produceBatch(client, 'cu', 0, batchOf(sample)), `gzip level ${level}`);
    const all = await fetchBatches(client, 'cu', 0);
    const last = all[all.length - 1];
    assert.equal(compressionOf(readAttributes(last)), CompressionCodec.Gzip);
    assert.equal(last[RECORDS_OFFSET + 8], xfl, `gzip level ${level}`);
  }
});

test('max.message.bytes is checked again after the broker decompresses', async () => {
  const big = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(1000) }));
  const gz = batchOf(big, CompressionCodec.Gzip);
  assert.ok(gz.length < 4000);
  await createTopic(client, 'cm', 1, { 'compression.type': 'uncompressed', 'max.message.bytes': '4000' });
  const p = await produceBatch(client, 'cm', 0, gz);
  assert.equal(errorName(p.errorCode), 'MESSAGE_TOO_LARGE');
  await setTopic('cm', [['compression.type', SET, 'producer']]);
  ok(await produceBatch(client, 'cm', 0, gz), 'kept compressed, it fits');
});

test('message.timestamp.type=LogAppendTime: the broker\'s time, and producers may not claim it', async () => {
  await createTopic(client, 'lat');
  await setTopic('lat', [['message.timestamp.type', SET, 'LogAppendTime'], ['compression.type', SET, 'gzip']]);
  const before = BigInt(Date.now());
  const p = await produceBatch(client, 'lat', 0, batchOf(sample.slice(0, 3).map((r) => ({ ...r, timestamp: t0 }))));
  ok(p, 'produce');
  const after = BigInt(Date.now());
  assert.ok(p.logAppendTimeMs >= before && p.logAppendTimeMs <= after, `logAppendTimeMs ${p.logAppendTimeMs}`);
  const [b] = await fetchBatches(client, 'lat', 0);
  assert.equal(timestampTypeOf(readAttributes(b)), TimestampType.LogAppendTime);
  assert.equal(compressionOf(readAttributes(b)), CompressionCodec.Gzip, 'rebuilt and stamped');
  assert.deepEqual(decodeRecords(b).map((r) => r.timestamp), [p.logAppendTimeMs, p.logAppendTimeMs, p.logAppendTimeMs]);

  const claimed = batchOf([{ value: 'a' }]);
  claimed.writeInt16BE(readAttributes(claimed) | 0x08, ATTRIBUTES_OFFSET);
  const { writeBatchCrc } = await import('../../protocol/records/index.js');
  writeBatchCrc(claimed);
  const r = await produceBatch(client, 'lat', 0, claimed);
  assert.equal(errorName(r.errorCode), 'INVALID_TIMESTAMP');
  assert.match(r.recordErrors[0].batchIndexErrorMessage, /^Invalid timestamp type in message DefaultRecord\(offset=0, .*\)\. Producer should not set timestamp type to LogAppendTime\.$/);
});

test('timestamp bounds: INVALID_TIMESTAMP with a record error per record out of range; the difference config stands in', async () => {
  await createTopic(client, 'ts');
  const now = Date.now();
  const records = [
    { value: 'fine', timestamp: now },
    { value: 'two hours old', timestamp: now - 2 * 3_600_000 },
    { value: 'no timestamp', timestamp: -1 },
    { value: 'two hours ahead', timestamp: now + 2 * 3_600_000 },
  ];
  ok(await produceBatch(client, 'ts', 0, batchOf(records)), 'unbounded by default');

  await setTopic('ts', [['message.timestamp.before.max.ms', SET, '3600000']]);
  let p = await produceBatch(client, 'ts', 0, batchOf(records, CompressionCodec.Zstd));
  assert.equal(errorName(p.errorCode), 'INVALID_TIMESTAMP');
  assert.equal(p.errorMessage, 'One or more records have been rejected due to invalid timestamp');
  assert.deepEqual(p.recordErrors.map((e: any) => e.batchIndex), [1]);
  const m = /^Timestamp (\d+) of message with offset 1 is out of range\. The timestamp should be within \[(\d+), (-?\d+)\]$/.exec(p.recordErrors[0].batchIndexErrorMessage);
  assert.ok(m, p.recordErrors[0].batchIndexErrorMessage);
  assert.equal(Number(m[1]), records[1].timestamp);
  assert.ok(Math.abs(Number(m[2]) - (now - 3_600_000)) < 60_000);
  assert.ok(BigInt(m[3]) < 0n, 'now + Long.MAX_VALUE overflows in Kafka\'s message too');

  // message.timestamp.difference.max.ms bounds whichever side is left at its default.
  await setTopic('ts', [['message.timestamp.before.max.ms', DELETE, null], ['message.timestamp.difference.max.ms', SET, '3600000']]);
  p = await produceBatch(client, 'ts', 0, batchOf(records));
  assert.deepEqual(p.recordErrors.map((e: any) => e.batchIndex), [1, 3]);
  await setTopic('ts', [['message.timestamp.after.max.ms', SET, '86400000']]);
  p = await produceBatch(client, 'ts', 0, batchOf(records));
  assert.deepEqual(p.recordErrors.map((e: any) => e.batchIndex), [1]);

  // Older produce versions get the error without the per-record list.
  const v7 = await produceBatch(client, 'ts', 0, batchOf(records), -1, 7);
  assert.equal(errorName(v7.errorCode), 'INVALID_TIMESTAMP');
  const inRange = await produceBatch(client, 'ts', 0, batchOf([records[0], records[2]]));
  ok(inRange, 'in range');
  assert.equal(inRange.baseOffset, 4n, 'refused batches took no offsets');

  // The broker default applies to topics without an override, and goes away with it.
  await createTopic(client, 'ts2');
  assertOk(await alter(client, [{ type: BROKER, name: '', configs: { 'log.message.timestamp.after.max.ms': '1000' } }]), 'broker default');
  p = await produceBatch(client, 'ts2', 0, batchOf(records));
  assert.deepEqual(p.recordErrors.map((e: any) => e.batchIndex), [3]);
  assertOk(await alter(client, [{ type: BROKER, name: '', configs: {} }]), 'cleared');
  ok(await produceBatch(client, 'ts2', 0, batchOf(records)), 'unbounded again');
});

test('min.insync.replicas above the replica count does not refuse acks=all (Kafka 3.7+ counts at most the replicas)', async () => {
  await createTopic(client, 'isr', 1, { 'min.insync.replicas': '2' });
  ok(await produceBatch(client, 'isr', 0, batchOf([{ value: 'a' }]), -1), 'acks=all, topic setting 2');
  ok(await produceBatch(client, 'isr', 0, batchOf([{ value: 'a' }]), 1), 'acks=1');
  await setTopic('isr', [['min.insync.replicas', DELETE, null]]);
  assertOk(await incremental(client, [{ type: BROKER, name: '1', ops: [['min.insync.replicas', SET, '3']] }]), 'broker');
  ok(await produceBatch(client, 'isr', 0, batchOf([{ value: 'c' }]), -1), 'acks=all, broker setting 3');
  assertOk(await incremental(client, [{ type: BROKER, name: '1', ops: [['min.insync.replicas', DELETE, null]] }]), 'broker');
  assert.equal(await listOffset(client, 'isr', 0, -1n), 3n, 'all three appended');
});

test('retention.ms lowered on a live topic removes its old segments at the next retention pass', async () => {
  await createTopic(client, 'ret', 1, { 'segment.bytes': '2000' });
  for (let i = 0; i < 10; i++) ok(await produceBatch(client, 'ret', 0, batchOf([{ key: `k${i}`, value: 'y'.repeat(800) }])), `batch ${i}`);
  await broker.broker.enforceRetention();
  assert.equal(await listOffset(client, 'ret', 0, -2n), 0n, 'a week of retention keeps everything');
  await new Promise((r) => setTimeout(r, 20));
  await setTopic('ret', [['retention.ms', SET, '10']]);
  await broker.broker.enforceRetention();
  const start = await listOffset(client, 'ret', 0, -2n);
  assert.ok(start >= 8n, `log start offset ${start}: old segments gone`);
  assert.equal(await listOffset(client, 'ret', 0, -1n), 10n);

  // The same through a dynamic broker default for a topic without an override.
  await createTopic(client, 'ret2', 1, { 'segment.bytes': '2000' });
  for (let i = 0; i < 10; i++) ok(await produceBatch(client, 'ret2', 0, batchOf([{ value: 'y'.repeat(800) }])), `batch ${i}`);
  await new Promise((r) => setTimeout(r, 20));
  assertOk(await alter(client, [{ type: BROKER, name: '1', configs: { 'log.retention.ms': '10' } }]), 'broker retention');
  await broker.broker.enforceRetention();
  assert.ok((await listOffset(client, 'ret2', 0, -2n)) >= 8n);
  assertOk(await alter(client, [{ type: BROKER, name: '1', configs: {} }]), 'cleared');
});

test('compact,delete logs get their retention from the cleaner pass, not the retention pass, as in Kafka', async () => {
  // A broker of its own whose cleaner timer does not tick during the test; and one with the cleaner off.
  for (const cleaner of [true, false]) {
    const own = await startBroker({ port: 0, logger: 'warn', config: { 'log.cleaner.backoff.ms': 3_600_000, 'log.cleaner.enable': cleaner } });
    const c = await RawClient.connect(own.port);
    try {
      await createTopic(c, 'ret-cd', 1, { 'segment.bytes': '2000', 'cleanup.policy': 'compact,delete', 'retention.ms': '10' });
      for (let i = 0; i < 10; i++) ok(await produceBatch(c, 'ret-cd', 0, batchOf([{ key: `k${i}`, value: 'y'.repeat(800) }])), `batch ${i}`);
      await new Promise((r) => setTimeout(r, 20));
      await own.broker.enforceRetention();
      assert.equal(await listOffset(c, 'ret-cd', 0, -2n), 0n, 'the retention pass leaves compacted logs alone');
      if (cleaner) {
        await own.broker.compactLogs();
        assert.ok((await listOffset(c, 'ret-cd', 0, -2n)) >= 8n, 'the cleaner pass applies retention.ms');
      }
    } finally {
      c.close();
      await own.stop();
    }
  }
});
