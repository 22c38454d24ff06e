/**
 * What Kafka's LogValidator rewrites in a produced batch, and Samsa with it: the header's max
 * timestamp and timestamp type come from the records (kafkajs gets the max wrong when a batch mixes
 * messages with and without timestamps), a compressed batch whose offset deltas skip numbers is
 * rebuilt with consecutive ones, and a retried idempotent batch is answered with the timestamp the
 * log keeps.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import {
  ATTR_TIMESTAMP_TYPE, BASE_TIMESTAMP_OFFSET, CompressionCodec, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, buildRecordBatch, iterateBatches, readAttributes, readBaseOffset, readMaxTimestamp,
  readRecords, verifyBatchCrc, writeBatchCrc,
} from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { kafka } from '../support/kafkajs.js';
import { RawClient } from '../support/raw-client.js';

const INT64_MAX = (1n << 63n) - 1n;

let broker: RunningBroker;
let raw: RawClient;
before(async () => {
  broker = await startBroker({ port: 0, logger: 'silent' });
  raw = await RawClient.connect(broker.port);
});
after(async () => {
  raw.close();
  await broker.stop();
});

async function createTopic(name: string, configs: Record<string, string> = {}): Promise<void> {
  const r = await raw.send(ApiKey.CreateTopics, 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE);
}

async function produce(topic: string, batch: Buffer) {
  const r = await raw.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
  return r.responses[0].partitionResponses[0];
}

/** The partition's batches as stored, each checked against its CRC. */
async function storedBatches(topic: string): Promise<Buffer[]> {
  const r = await raw.send(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
  const batches = [...iterateBatches(r.responses[0].partitions[0].records)].map((b) => Buffer.from(b.buf));
  for (const b of batches) assert.ok(verifyBatchCrc(b), 'the stored batch has a valid CRC');
  return batches;
}

async function offsetForTime(topic: string, timestamp: bigint): Promise<bigint> {
  const r = await raw.send(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] });
  return r.topics[0].partitions[0].offset;
}

test('kafkajs mixing messages with and without timestamps: the stored max timestamp is the newest record, so a lookup by time finds it', async () => {
  await createTopic('lv-kafkajs');
  const producer = kafka(broker.bootstrap, 'lv-kafkajs').producer();
  await producer.connect();
  const hourAgo = Date.now() - 3_600_000;
  try {
    // kafkajs sets the batch's max timestamp from the explicit timestamps only.
    await producer.send({ topic: 'lv-kafkajs', messages: [{ value: 'old', timestamp: String(hourAgo) }, { value: 'now' }] });
  } finally {
    await producer.disconnect();
  }
  const [batch] = await storedBatches('lv-kafkajs');
  const timestamps = [...readRecords(batch!)].map((r) => r.timestamp);
  assert.equal(timestamps[0], BigInt(hourAgo));
  assert.equal(readMaxTimestamp(batch!), timestamps[1], 'the header names the newer record');
  assert.equal(await offsetForTime('lv-kafkajs', BigInt(hourAgo + 60_000)), 1n);
});

test('a header max timestamp or timestamp type that the records contradict is corrected, uncompressed and compressed', async () => {
  await createTopic('lv-header');
  const now = BigInt(Date.now());
  for (const compression of [CompressionCodec.None, CompressionCodec.Gzip]) {
    const batch = buildRecordBatch({ compression, records: [{ value: 'a', timestamp: now - 5000n }, { value: 'b', timestamp: now }] });
    batch.writeBigInt64BE(now - 5000n, MAX_TIMESTAMP_OFFSET);
    writeBatchCrc(batch);
    assert.equal((await produce('lv-header', batch)).errorCode, ErrorCode.NONE);
  }
  // A producer's LogAppendTime flag on a CreateTime topic (with a real max timestamp): Kafka stores it
  // as CreateTime, with the header's max, which every record of the flagged batch reads as.
  const flagged = buildRecordBatch({ records: [{ value: 'c', timestamp: now - 2000n }, { value: 'd', timestamp: now - 1000n }] });
  flagged.writeInt16BE(readAttributes(flagged) | ATTR_TIMESTAMP_TYPE, 21);
  flagged.writeBigInt64BE(now - 500n, MAX_TIMESTAMP_OFFSET);
  writeBatchCrc(flagged);
  assert.equal((await produce('lv-header', flagged)).errorCode, ErrorCode.NONE);
  // Timestamps past the int64 range wrap around, as Java's long arithmetic does: the largest is the first.
  const wrapping = buildRecordBatch({ records: [{ value: 'e', timestamp: 0n }, { value: 'f', timestamp: 10n }] });
  wrapping.writeBigInt64BE(INT64_MAX - 5n, BASE_TIMESTAMP_OFFSET);
  writeBatchCrc(wrapping);
  assert.equal((await produce('lv-header', wrapping)).errorCode, ErrorCode.NONE);

  const stored = await storedBatches('lv-header');
  assert.deepEqual(stored.map((b) => readMaxTimestamp(b)), [now, now, now - 500n, INT64_MAX - 5n]);
  assert.equal(readAttributes(stored[2]!) & ATTR_TIMESTAMP_TYPE, 0, 'stored as CreateTime');
  assert.deepEqual([...readRecords(stored[2]!)].map((r) => r.timestamp), [now - 2000n, now - 1000n], 'each record keeps its own time');
  assert.equal(await offsetForTime('lv-header', now - 1000n), 1n, 'the first batch is found by its newer record');
});

test('a compressed batch whose offset deltas skip numbers is stored with consecutive offsets', async () => {
  await createTopic('lv-deltas');
  const batch = buildRecordBatch({ compression: CompressionCodec.Gzip, records: [{ value: 'a', offsetDelta: 0 }, { value: 'b', offsetDelta: 1 }, { value: 'c', offsetDelta: 5 }] });
  batch.writeInt32BE(2, LAST_OFFSET_DELTA_OFFSET); // three records: consistent with the count
  writeBatchCrc(batch);
  assert.equal((await produce('lv-deltas', batch)).errorCode, ErrorCode.NONE);
  const next = await produce('lv-deltas', buildRecordBatch({ records: [{ value: 'd' }] }));
  assert.equal(next.baseOffset, 3n);
  const stored = await storedBatches('lv-deltas');
  assert.deepEqual(stored.map((b) => [readBaseOffset(b), [...readRecords(b)].map((r) => `${r.offset}:${r.value}`)]), [[0n, ['0:a', '1:b', '2:c']], [3n, ['3:d']]]);
});

test('a retried idempotent batch on a LogAppendTime topic is answered with the append time the log keeps', async () => {
  await createTopic('lv-append-time', { 'message.timestamp.type': 'LogAppendTime' });
  const init = await raw.send(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: -1, producerId: -1n, producerEpoch: -1 });
  const batch = () => buildRecordBatch({ producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: 0, records: [{ value: 'x', timestamp: BigInt(Date.now() - 3_600_000) }] });
  const first = await produce('lv-append-time', batch());
  const retry = await produce('lv-append-time', batch());
  assert.equal(first.errorCode, ErrorCode.NONE);
  assert.deepEqual([retry.errorCode, retry.baseOffset, retry.logAppendTimeMs], [ErrorCode.NONE, first.baseOffset, first.logAppendTimeMs]);
  const [stored] = await storedBatches('lv-append-time');
  assert.equal(readMaxTimestamp(stored!), first.logAppendTimeMs);
});

test('a batch the broker rebuilds may not hold a timestamp below -1 (Kafka\'s MemoryRecordsBuilder refuses it): UNKNOWN_SERVER_ERROR, nothing stored; kept as sent, it is stored', async () => {
  await createTopic('lv-negative-gzip', { 'compression.type': 'gzip' });
  await createTopic('lv-negative-producer');
  const batch = () => buildRecordBatch({ records: [{ value: 'a', timestamp: 1000n }, { value: 'b', timestamp: -5n }] });
  const rebuilt = await produce('lv-negative-gzip', batch());
  assert.deepEqual([rebuilt.errorCode, rebuilt.baseOffset, rebuilt.logStartOffset], [ErrorCode.UNKNOWN_SERVER_ERROR, -1n, 0n]);
  assert.deepEqual(await storedBatches('lv-negative-gzip'), []);
  assert.equal((await produce('lv-negative-producer', batch())).errorCode, ErrorCode.NONE, 'compression.type=producer keeps the batch as sent');
});

test('magic 1 messages with a timestamp below -1 are rebuilt as a v2 batch, which Kafka\'s MemoryRecordsBuilder refuses: UNKNOWN_SERVER_ERROR, nothing stored', async () => {
  await createTopic('lv-negative-legacy');
  const { buildMessageSet } = await import('../../protocol/records/index.js');
  const set = buildMessageSet({ magic: 1, messages: [{ offset: 0n, key: null, value: Buffer.from('a'), timestamp: 1000n }, { offset: 1n, key: null, value: Buffer.from('b'), timestamp: -5n }] });
  const r = await raw.send(ApiKey.Produce, 2, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'lv-negative-legacy', partitionData: [{ index: 0, records: set }] }] });
  const p = r.responses[0].partitionResponses[0];
  assert.deepEqual([p.errorCode, p.baseOffset], [ErrorCode.UNKNOWN_SERVER_ERROR, -1n]);
  assert.deepEqual(await storedBatches('lv-negative-legacy'), []);
});
