import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  batchRecordsData,
  buildControlBatch,
  buildRecordBatch,
  checkRecordStructure,
  buildRecordBatchAsync,
  CODEC_NAMES,
  CompressionCodec,
  compressionOf,
  ControlRecordType,
  decodeRecords,
  decodeRecordsAsync,
  isControl,
  isTransactional,
  parseControlRecordKey,
  parseEndTransactionMarker,
  readBatchHeader,
  readRecordCount,
  readControlRecord,
  readRecords,
  type RecordInput,
  TimestampType,
  timestampTypeOf,
  validateBatch,
  verifyBatchCrc,
} from '../../../protocol/records/index.js';
import { requireCjs, throwsRecordsError } from './helpers.js';

const codecs = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd];

const inputs: RecordInput[] = [
  { key: 'key-0', value: 'value-0', timestamp: 1_700_000_000_000n, headers: [{ key: 'h1', value: 'a' }, { key: 'h1', value: 'b' }] },
  { key: null, value: Buffer.from([0, 1, 2, 255]), timestamp: 1_700_000_000_500n },
  { key: Buffer.alloc(0), value: null, timestamp: 1_699_999_999_000n, headers: [{ key: 'null-valued', value: null }, { key: 'ünïcödé', value: '' }] },
  { key: 'big', value: Buffer.alloc(70_000, 'x'), timestamp: -1n },
  { key: 'last', value: 'v', timestamp: 1_700_000_000_200 },
];

function checkDecoded(records: ReturnType<typeof decodeRecords>, baseOffset: bigint): void {
  assert.equal(records.length, 5);
  assert.deepEqual(records.map((r) => r.offset), [0n, 1n, 2n, 3n, 4n].map((d) => baseOffset + d));
  assert.deepEqual(records.map((r) => r.offsetDelta), [0, 1, 2, 3, 4]);
  assert.deepEqual(records.map((r) => r.timestamp), [1_700_000_000_000n, 1_700_000_000_500n, 1_699_999_999_000n, -1n, 1_700_000_000_200n]);
  assert.deepEqual(records.map((r) => r.timestampDelta), [0n, 500n, -1000n, -1_700_000_000_001n, 200n]);
  assert.equal(records[0]!.key!.toString(), 'key-0');
  assert.equal(records[0]!.value!.toString(), 'value-0');
  assert.deepEqual(records[0]!.headers.map((h) => [h.key, h.value?.toString()]), [['h1', 'a'], ['h1', 'b']]);
  assert.equal(records[1]!.key, null);
  assert.deepEqual([...records[1]!.value!], [0, 1, 2, 255]);
  assert.equal(records[1]!.headers.length, 0);
  assert.equal(records[2]!.key!.length, 0);
  assert.equal(records[2]!.value, null);
  assert.deepEqual(records[2]!.headers.map((h) => [h.key, h.value === null ? null : h.value.toString()]), [['null-valued', null], ['ünïcödé', '']]);
  assert.equal(records[3]!.value!.length, 70_000);
  assert.ok(records[3]!.value!.every((b) => b === 0x78));
  assert.ok(records.every((r) => r.attributes === 0));
}

describe('v2 build → read round trip', () => {
  for (const codec of codecs) {
    it(`${CODEC_NAMES[codec]}: header fields, records, CRC, validation`, async () => {
      const batch = buildRecordBatch({ baseOffset: 1000n, records: inputs, compression: codec });
      const h = readBatchHeader(batch);
      assert.equal(h.batchLength, batch.length - 12);
      assert.equal(h.magic, 2);
      assert.equal(compressionOf(h.attributes), codec);
      assert.equal(h.lastOffsetDelta, 4);
      assert.equal(h.recordCount, 5);
      assert.equal(h.baseTimestamp, 1_700_000_000_000n, 'first record timestamp');
      assert.equal(h.maxTimestamp, 1_700_000_000_500n, 'largest record timestamp');
      assert.equal(h.producerId, -1n);
      assert.equal(h.producerEpoch, -1);
      assert.equal(h.baseSequence, -1);
      assert.equal(h.partitionLeaderEpoch, -1);
      assert.ok(verifyBatchCrc(batch));
      assert.equal(validateBatch(batch), null);
      checkDecoded(decodeRecords(batch), 1000n);
      checkDecoded(await decodeRecordsAsync(batch), 1000n);
      const asyncBuilt = await buildRecordBatchAsync({ baseOffset: 1000n, records: inputs, compression: codec });
      assert.ok(verifyBatchCrc(asyncBuilt));
      checkDecoded(decodeRecords(asyncBuilt), 1000n);
      if (codec !== CompressionCodec.None) assert.ok(batch.length < 10_000, `compressed to ${batch.length}`);
    });
  }

  it('returns uncompressed keys and values as views into the batch', () => {
    const batch = buildRecordBatch({ records: [{ key: 'k', value: 'v' }] });
    const [r] = decodeRecords(batch);
    assert.equal(r!.value!.buffer, batch.buffer);
    assert.equal(r!.key!.byteOffset - batch.byteOffset > 61, true);
  });

  it('yields lazily from the generator', () => {
    const batch = buildRecordBatch({ records: inputs });
    const it = readRecords(batch);
    assert.equal(it.next().value?.key?.toString(), 'key-0');
    assert.equal(it.next().value?.key, null);
  });

  it('writes producer fields, transactional flag, leader epoch and explicit offset deltas', () => {
    const batch = buildRecordBatch({
      baseOffset: 5n,
      records: [{ value: 'a', offsetDelta: 0, timestamp: 10 }, { value: 'b', offsetDelta: 3, timestamp: 20 }],
      producerId: 9_007_199_254_740_993n,
      producerEpoch: 7,
      baseSequence: 41,
      transactional: true,
      partitionLeaderEpoch: 12,
    });
    const h = readBatchHeader(batch);
    assert.equal(h.producerId, 9_007_199_254_740_993n);
    assert.equal(h.producerEpoch, 7);
    assert.equal(h.baseSequence, 41);
    assert.equal(h.partitionLeaderEpoch, 12);
    assert.ok(isTransactional(h.attributes));
    assert.equal(h.lastOffsetDelta, 3);
    assert.equal(h.recordCount, 2);
    assert.deepEqual(decodeRecords(batch).map((r) => r.offset), [5n, 8n]);
    // A gap is fine for stored data but not for a producer's batch.
    assert.equal(validateBatch(batch, { producerInput: false }), null);
    assert.equal(validateBatch(batch)?.reason, 'COUNT_MISMATCH');
  });

  it('LogAppendTime batches report the append time for every record', () => {
    const batch = buildRecordBatch({
      records: [{ value: 'a', timestamp: 10 }, { value: 'b', timestamp: 30 }],
      timestampType: TimestampType.LogAppendTime,
      logAppendTime: 99n,
    });
    const h = readBatchHeader(batch);
    assert.equal(timestampTypeOf(h.attributes), TimestampType.LogAppendTime);
    assert.equal(h.maxTimestamp, 99n);
    assert.deepEqual(decodeRecords(batch).map((r) => r.timestamp), [99n, 99n]);
    assert.deepEqual(decodeRecords(batch).map((r) => r.timestampDelta), [0n, 20n]);
  });

  it('rejects an empty record list and non-increasing offset deltas', () => {
    assert.throws(() => buildRecordBatch({ records: [] }), RangeError);
    assert.throws(() => buildRecordBatch({ records: [{ offsetDelta: 2 }, { offsetDelta: 2 }] }), RangeError);
  });
});

describe('the shape of a batch\'s records (checkRecordStructure)', () => {
  const shapeOf = (records: RecordInput[]) => {
    const batch = buildRecordBatch({ records });
    return checkRecordStructure(batchRecordsData(batch), readRecordCount(batch));
  };
  it('gives the largest timestamp delta exactly, from one-byte varlongs to ten-byte ones and negative ones', () => {
    assert.equal(shapeOf(inputs).maxTimestampDelta, 500n);
    assert.equal(shapeOf([{ value: 'a', timestamp: 0n }, { value: 'b', timestamp: -5n }]).maxTimestampDelta, 0n);
    // Past 49 bits a delta no longer fits a double exactly: it is read as a bigint.
    const big = (1n << 60n) + 3n;
    assert.equal(shapeOf([{ value: 'a', timestamp: 0n }, { value: 'b', timestamp: big }, { value: 'c', timestamp: 7n }]).maxTimestampDelta, big);
    assert.equal(shapeOf([{ value: 'a', timestamp: big }, { value: 'b', timestamp: 0n }]).maxTimestampDelta, 0n);
    assert.equal(shapeOf([{ value: 'a', timestamp: 0n }, { value: 'b', timestamp: -(1n << 55n) }]).maxTimestampDelta, 0n);
    assert.equal(shapeOf([{ value: 'a', timestamp: 0n }, { value: 'b', timestamp: (1n << 48n) }]).maxTimestampDelta, 1n << 48n);
  });
  it('tells whether the offset deltas run 0, 1, 2, …', () => {
    assert.equal(shapeOf(inputs).consecutiveOffsets, true);
    assert.equal(shapeOf([{ value: 'a', offsetDelta: 0 }, { value: 'b', offsetDelta: 2 }]).consecutiveOffsets, false);
    assert.equal(shapeOf([{ value: 'a', offsetDelta: 1 }, { value: 'b', offsetDelta: 2 }]).consecutiveOffsets, false);
  });
});

describe('control batches', () => {
  for (const type of ['COMMIT', 'ABORT'] as const) {
    it(`${type} marker: attributes, producer, key and value bytes`, () => {
      const batch = buildControlBatch({ type, producerId: 4000n, producerEpoch: 3, coordinatorEpoch: 17, timestamp: 1_700_000_000_000n, baseOffset: 77n });
      const h = readBatchHeader(batch);
      assert.equal(h.attributes, 0x30, 'control + transactional, uncompressed, CreateTime');
      assert.ok(isControl(h.attributes) && isTransactional(h.attributes));
      assert.equal(h.producerId, 4000n);
      assert.equal(h.producerEpoch, 3);
      assert.equal(h.baseSequence, -1);
      assert.equal(h.recordCount, 1);
      assert.equal(h.lastOffsetDelta, 0);
      assert.equal(h.baseOffset, 77n);
      assert.equal(h.maxTimestamp, 1_700_000_000_000n);
      assert.ok(verifyBatchCrc(batch));
      const [r] = decodeRecords(batch);
      assert.equal(r!.key!.toString('hex'), type === 'COMMIT' ? '00000001' : '00000000');
      assert.equal(r!.value!.toString('hex'), '000000000011');
      assert.deepEqual(parseControlRecordKey(r!.key), { version: 0, type: ControlRecordType[type] });
      assert.deepEqual(parseEndTransactionMarker(r!.value), { version: 0, coordinatorEpoch: 17 });
      assert.deepEqual(readControlRecord(batch), { type: ControlRecordType[type], offset: 77n, marker: { version: 0, coordinatorEpoch: 17 } });
      // A client may not write one; the broker itself may.
      assert.equal(validateBatch(batch)?.reason, 'CONTROL_NOT_ALLOWED');
      assert.equal(validateBatch(batch, { allowControl: true }), null);
    });
  }

  it('reads a higher marker version through its v0 prefix, and unknown control types', () => {
    assert.deepEqual(parseEndTransactionMarker(Buffer.from('0001000000050000ff', 'hex')), { version: 1, coordinatorEpoch: 5 });
    assert.deepEqual(parseControlRecordKey(Buffer.from('00000063', 'hex')), { version: 0, type: 99 });
    throwsRecordsError(() => parseControlRecordKey(Buffer.from('0000', 'hex')), 'INVALID_RECORD', 'BAD_RECORD');
    throwsRecordsError(() => parseEndTransactionMarker(null), 'INVALID_RECORD', 'BAD_RECORD');
    throwsRecordsError(() => readControlRecord(buildRecordBatch({ records: [{ value: 'x' }] })), 'INVALID_RECORD', 'BAD_ATTRIBUTES');
  });
});

describe('interop with kafkajs record batches (independent encoder/decoder)', () => {
  const Long = requireCjs('kafkajs/src/utils/long.js');
  const { RecordBatch } = requireCjs('kafkajs/src/protocol/recordBatch/v0/index.js');
  const Record = requireCjs('kafkajs/src/protocol/recordBatch/record/v0/index.js');
  const Decoder = requireCjs('kafkajs/src/protocol/decoder.js');
  const decodeBatch = requireCjs('kafkajs/src/protocol/recordBatch/v0/decoder.js');

  for (const compression of [0, 1]) {
    it(`decodes a kafkajs-encoded batch (${compression ? 'gzip' : 'uncompressed'})`, async () => {
      const encoder = await RecordBatch({
        compression,
        firstOffset: Long.fromValue(50),
        firstTimestamp: 1_700_000_000_000,
        maxTimestamp: 1_700_000_000_900,
        lastOffsetDelta: 2,
        producerId: Long.fromValue(1234),
        producerEpoch: 2,
        firstSequence: 10,
        records: [
          Record({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('a'), value: Buffer.from('1'), headers: { trace: Buffer.from('t1') } }),
          Record({ offsetDelta: 1, timestampDelta: 900, key: null, value: Buffer.from('2') }),
          Record({ offsetDelta: 2, timestampDelta: 450, key: Buffer.from('c'), value: null }),
        ],
      });
      const batch: Buffer = encoder.buffer;
      assert.ok(verifyBatchCrc(batch), 'kafkajs CRC verifies');
      assert.equal(validateBatch(batch), null);
      const h = readBatchHeader(batch);
      assert.equal(h.producerId, 1234n);
      assert.equal(h.baseSequence, 10);
      const records = decodeRecords(batch);
      assert.deepEqual(records.map((r) => r.offset), [50n, 51n, 52n]);
      assert.deepEqual(records.map((r) => r.timestamp), [1_700_000_000_000n, 1_700_000_000_900n, 1_700_000_000_450n]);
      assert.deepEqual(records.map((r) => r.key?.toString() ?? null), ['a', null, 'c']);
      assert.deepEqual(records.map((r) => r.value?.toString() ?? null), ['1', '2', null]);
      assert.deepEqual(records[0]!.headers.map((x) => [x.key, x.value?.toString()]), [['trace', 't1']]);
    });

    it(`kafkajs decodes our batch (${compression ? 'gzip' : 'uncompressed'})`, async () => {
      const batch = buildRecordBatch({ baseOffset: 9n, records: inputs, compression, partitionLeaderEpoch: 3 });
      const decoded = await decodeBatch(new Decoder(batch));
      assert.equal(decoded.firstOffset, '9');
      assert.equal(decoded.lastOffsetDelta, 4);
      assert.equal(decoded.partitionLeaderEpoch, 3);
      assert.equal(decoded.records.length, 5);
      assert.deepEqual(decoded.records.map((r: { offset: string }) => r.offset), ['9', '10', '11', '12', '13']);
      assert.deepEqual(decoded.records.map((r: { timestamp: string }) => r.timestamp), ['1700000000000', '1700000000500', '1699999999000', '-1', '1700000000200']);
      assert.equal(decoded.records[0].key.toString(), 'key-0');
      assert.deepEqual(decoded.records[0].headers.h1.map(String), ['a', 'b']);
      assert.equal(decoded.records[1].key, null);
      assert.equal(decoded.records[2].value, null);
      assert.equal(decoded.records[3].value.length, 70_000);
    });
  }
});
