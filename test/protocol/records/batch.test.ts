import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  buildRecordBatch,
  CompressionCodec,
  compressionOf,
  computeBatchCrc,
  CRC_OFFSET,
  crc32c,
  decodeRecords,
  hasDeleteHorizon,
  isControl,
  isTransactional,
  MAGIC_OFFSET,
  makeAttributes,
  readAttributes,
  readBaseOffset,
  readBatchHeader,
  readBatchLength,
  readBatchSize,
  readCrc,
  readLastOffset,
  readLastOffsetDelta,
  readMagic,
  readMaxTimestamp,
  readPartitionLeaderEpoch,
  readRecordCount,
  recordBatchHeaderLayout,
  type RecordBatchHeader,
  RECORDS_OFFSET,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  TimestampType,
  timestampTypeOf,
  validateBatch,
  verifyBatchCrc,
  writeBatchHeader,
} from '../../../protocol/records/index.js';
import { throwsRecordsError } from './helpers.js';

const header: RecordBatchHeader = {
  baseOffset: 0x0102030405060708n,
  batchLength: 49,
  partitionLeaderEpoch: -1,
  magic: 2,
  crc: 0xdeadbeef,
  attributes: 0x0013,
  lastOffsetDelta: 4,
  baseTimestamp: 1_700_000_000_123n,
  maxTimestamp: 9_007_199_254_740_993n, // 2^53 + 1: lost by any double-based int64 layout
  producerId: -1n,
  producerEpoch: -1,
  baseSequence: 2_147_483_647,
  recordCount: 5,
};

const sample = (): Buffer =>
  buildRecordBatch({
    baseOffset: 100n,
    records: [
      { key: 'k1', value: 'v1', timestamp: 1000n },
      { key: 'k2', value: 'v2', timestamp: 1005n },
      { key: null, value: 'v3', timestamp: 1002n },
    ],
  });

describe('batch header layout', () => {
  it('spans 61 bytes with fields at the offsets of RECORDS.md §1.1', () => {
    assert.equal(BATCH_HEADER_SIZE, 61);
    assert.equal(recordBatchHeaderLayout().span, 61);
    const expected: [string, number][] = [
      ['baseOffset', 0], ['batchLength', 8], ['partitionLeaderEpoch', 12], ['magic', 16], ['crc', 17],
      ['attributes', 21], ['lastOffsetDelta', 23], ['baseTimestamp', 27], ['maxTimestamp', 35],
      ['producerId', 43], ['producerEpoch', 51], ['baseSequence', 53], ['recordCount', 57],
    ];
    for (const [field, offset] of expected) assert.equal(recordBatchHeaderLayout().offsetOf(field), offset, field);
    assert.equal(MAGIC_OFFSET, 16);
    assert.equal(CRC_OFFSET, 17);
    assert.equal(ATTRIBUTES_OFFSET, 21);
    assert.equal(RECORDS_OFFSET, 61);
  });

  it('writes each field big-endian at its byte position', () => {
    const buf = Buffer.alloc(61, 0xaa);
    assert.equal(writeBatchHeader(buf, header), 61);
    assert.equal(buf.subarray(0, 8).toString('hex'), '0102030405060708');
    assert.equal(buf.subarray(8, 12).toString('hex'), '00000031');
    assert.equal(buf.subarray(12, 16).toString('hex'), 'ffffffff');
    assert.equal(buf[16], 2);
    assert.equal(buf.subarray(17, 21).toString('hex'), 'deadbeef');
    assert.equal(buf.subarray(21, 23).toString('hex'), '0013');
    assert.equal(buf.subarray(35, 43).toString('hex'), '0020000000000001');
    assert.equal(buf.subarray(43, 51).toString('hex'), 'ffffffffffffffff');
    assert.equal(buf.subarray(53, 57).toString('hex'), '7fffffff');
    assert.equal(buf.subarray(57, 61).toString('hex'), '00000005');
  });

  it('round-trips every field exactly, int64s as bigint', () => {
    const buf = Buffer.alloc(70);
    writeBatchHeader(buf, header, 9);
    const back = readBatchHeader(buf, 9);
    assert.deepEqual(back, header);
    assert.equal(typeof back.maxTimestamp, 'bigint');
    assert.equal(back.maxTimestamp, 9_007_199_254_740_993n);
  });

  it('throws a typed error for a header shorter than 61 bytes', () => {
    throwsRecordsError(() => readBatchHeader(Buffer.alloc(60)), 'CORRUPT_MESSAGE', 'TRUNCATED');
  });

  it('single-field readers agree with the full decode', () => {
    const batch = sample();
    const h = readBatchHeader(batch);
    assert.equal(readBaseOffset(batch), h.baseOffset);
    assert.equal(readBatchLength(batch), h.batchLength);
    assert.equal(readBatchSize(batch), batch.length);
    assert.equal(readMagic(batch), 2);
    assert.equal(readCrc(batch), h.crc);
    assert.equal(readAttributes(batch), h.attributes);
    assert.equal(readLastOffsetDelta(batch), 2);
    assert.equal(readRecordCount(batch), 3);
    assert.equal(readLastOffset(batch), 102n);
    assert.equal(h.baseTimestamp, 1000n);
    assert.equal(h.maxTimestamp, 1005n);
    // With an offset into a larger buffer.
    const padded = Buffer.concat([Buffer.alloc(7), batch]);
    assert.equal(readRecordCount(padded, 7), 3);
    assert.equal(readBaseOffset(padded, 7), 100n);
  });
});

describe('batch CRC', () => {
  it('is CRC-32C of bytes [21, end)', () => {
    const batch = sample();
    assert.equal(readCrc(batch), crc32c(batch.subarray(21)));
    assert.equal(computeBatchCrc(batch), readCrc(batch));
    assert.ok(verifyBatchCrc(batch));
  });

  it('does not cover baseOffset and partitionLeaderEpoch, so rewriting them keeps it valid', () => {
    const batch = sample();
    const crc = readCrc(batch);
    setBaseOffset(batch, 0, 123_456_789_012n);
    setPartitionLeaderEpoch(batch, 0, 42);
    assert.equal(readBaseOffset(batch), 123_456_789_012n);
    assert.equal(readPartitionLeaderEpoch(batch), 42);
    assert.equal(readCrc(batch), crc);
    assert.ok(verifyBatchCrc(batch));
    assert.equal(decodeRecords(batch)[2]!.offset, 123_456_789_014n);
  });

  it('detects a change to any byte from 21 on', () => {
    const batch = sample();
    for (const pos of [21, 30, 57, 61, batch.length - 1]) {
      const copy = Buffer.from(batch);
      copy[pos]! ^= 0x01;
      assert.equal(verifyBatchCrc(copy), false, `byte ${pos}`);
    }
  });

  it('uses the length field, not the view, to find the end', () => {
    const batch = sample();
    const withTail = Buffer.concat([batch, Buffer.from('trailing')]);
    assert.ok(verifyBatchCrc(withTail));
    throwsRecordsError(() => computeBatchCrc(batch.subarray(0, batch.length - 1)), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
  });

  it('setLogAppendTime sets bit 3 and maxTimestamp and rehashes', () => {
    const batch = sample();
    setLogAppendTime(batch, 1_800_000_000_000n);
    assert.equal(readAttributes(batch) & 0x08, 0x08);
    assert.equal(timestampTypeOf(readAttributes(batch)), TimestampType.LogAppendTime);
    assert.equal(readMaxTimestamp(batch), 1_800_000_000_000n);
    assert.ok(verifyBatchCrc(batch));
    assert.equal(validateBatch(batch), null);
    // Consumers see the append time on every record.
    assert.deepEqual(decodeRecords(batch).map((r) => r.timestamp), [1_800_000_000_000n, 1_800_000_000_000n, 1_800_000_000_000n]);
  });
});

describe('batch attributes', () => {
  it('packs and unpacks every bit of §1.2', () => {
    const a = makeAttributes({ compression: CompressionCodec.Zstd, timestampType: TimestampType.LogAppendTime, transactional: true, control: true, deleteHorizon: true });
    assert.equal(a, 0x7c);
    assert.equal(compressionOf(a), 4);
    assert.equal(timestampTypeOf(a), TimestampType.LogAppendTime);
    assert.ok(isTransactional(a) && isControl(a) && hasDeleteHorizon(a));
    const none = makeAttributes({});
    assert.equal(none, 0);
    assert.ok(!isTransactional(none) && !isControl(none) && !hasDeleteHorizon(none));
    assert.equal(timestampTypeOf(none), TimestampType.CreateTime);
    assert.equal(makeAttributes({ compression: CompressionCodec.Lz4, transactional: true }), 0x13);
  });
});
