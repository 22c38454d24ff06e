import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  BATCH_HEADER_SIZE,
  buildMessageSet,
  buildRecordBatch,
  CompressionCodec,
  compress,
  decodeRecords,
  decompress,
  iterateBatches,
  readMessageSet,
  RecordsError,
  splitBatches,
  validateBatch,
  validateProduceRecords,
  writeBatchCrc,
  writeBatchHeader,
  writeVarint,
} from '../../../protocol/records/index.js';
import { assertRecordsError, throwsRecordsError } from './helpers.js';

const good = (compression = CompressionCodec.None): Buffer =>
  buildRecordBatch({ records: [{ key: 'a', value: 'x' }, { key: 'b', value: 'y' }, { key: 'c', value: 'z' }], compression });

/** A v2 batch with an arbitrary records section and a valid CRC. */
function rawBatch(body: Buffer, o: { count?: number; lastOffsetDelta?: number; attributes?: number } = {}): Buffer {
  const batch = Buffer.alloc(BATCH_HEADER_SIZE + body.length);
  writeBatchHeader(batch, {
    baseOffset: 0n, batchLength: batch.length - 12, partitionLeaderEpoch: -1, magic: 2, crc: 0,
    attributes: o.attributes ?? 0, lastOffsetDelta: o.lastOffsetDelta ?? (o.count ?? 1) - 1,
    baseTimestamp: 0n, maxTimestamp: 0n, producerId: -1n, producerEpoch: -1, baseSequence: -1, recordCount: o.count ?? 1,
  });
  body.copy(batch, BATCH_HEADER_SIZE);
  writeBatchCrc(batch);
  return batch;
}

/** One record with a hand-chosen header count and header key length. */
function recordBytes(o: { offsetDelta?: number; headerCount?: number; headerKeyLength?: number; extra?: number } = {}): Buffer {
  const body = Buffer.alloc(64);
  let p = 0;
  body[p++] = 0; // attributes
  p = writeVarint(body, p, 0); // timestampDelta (a varlong, same bytes for 0)
  p = writeVarint(body, p, o.offsetDelta ?? 0);
  p = writeVarint(body, p, -1); // key
  p = writeVarint(body, p, 1); // value length
  body[p++] = 0x41;
  p = writeVarint(body, p, o.headerCount ?? 0);
  if (o.headerKeyLength !== undefined) {
    p = writeVarint(body, p, o.headerKeyLength);
    p = writeVarint(body, p, -1);
  }
  p += o.extra ?? 0;
  const out = Buffer.alloc(5 + p);
  const q = writeVarint(out, 0, p);
  body.copy(out, q, 0, p);
  return out.subarray(0, q + p);
}

describe('splitting records into batches', () => {
  it('splits mixed-magic input into zero-copy views', () => {
    const a = good();
    const b = buildMessageSet({ magic: 1, messages: [{ value: 'x' }, { value: 'y' }] });
    const c = buildMessageSet({ magic: 0, messages: [{ value: 'z' }] });
    const input = Buffer.concat([a, b, c]);
    const { batches, truncated } = splitBatches(input);
    assert.equal(truncated, null);
    assert.deepEqual(batches.map((v) => v.magic), [2, 1, 1, 0]);
    assert.deepEqual(batches.map((v) => v.position), [0, a.length, a.length + b.length / 2, a.length + b.length]);
    assert.ok(batches.every((v) => v.buf.buffer === input.buffer), 'views share the input memory');
    assert.deepEqual(Buffer.concat(batches.map((v) => v.buf)), input);
  });

  it('reports a truncated trailing batch instead of throwing', () => {
    const a = good();
    const b = good();
    for (const cut of [1, 11, 12, 16, 17, 60, b.length - 1]) {
      const { batches, truncated } = splitBatches(Buffer.concat([a, b.subarray(0, cut)]));
      assert.equal(batches.length, 1, `cut ${cut}`);
      assert.equal(truncated?.position, a.length);
      assert.equal(truncated?.available, cut);
      assert.equal(truncated?.needed, cut >= 12 ? b.length : null);
    }
    const it = iterateBatches(Buffer.concat([a, b.subarray(0, 20)]));
    assert.equal(it.next().done, false);
    const end = it.next();
    assert.equal(end.done, true);
    assert.deepEqual(end.value, { position: a.length, available: 20, needed: b.length });
  });

  it('throws CORRUPT_MESSAGE for negative or too small lengths and unknown magic', () => {
    const neg = good();
    neg.writeInt32BE(-1, 8);
    throwsRecordsError(() => splitBatches(neg), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
    const small = good();
    small.writeInt32BE(48, 8); // a v2 batch needs at least 49
    throwsRecordsError(() => splitBatches(small), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
    const v0small = buildMessageSet({ magic: 0, messages: [{ value: 'x' }] });
    v0small.writeInt32BE(13, 8);
    throwsRecordsError(() => splitBatches(v0small), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
    for (const magic of [3, -1, 127]) {
      const bad = good();
      bad.writeInt8(magic, 16);
      throwsRecordsError(() => splitBatches(Buffer.concat([good(), bad])), 'CORRUPT_MESSAGE', 'BAD_MAGIC');
    }
  });
});

describe('validateBatch', () => {
  const expectError = (batch: Buffer, code: string, reason: string, options = {}): void => {
    const e = validateBatch(batch, options);
    assert.ok(e instanceof RecordsError, `expected ${reason}, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.reason, reason, e.message);
  };

  it('accepts a well-formed batch of each codec', () => {
    for (const codec of [0, 1, 2, 3, 4]) assert.equal(validateBatch(good(codec)), null);
  });

  it('rejects structural problems with CORRUPT_MESSAGE', () => {
    expectError(good().subarray(0, 60), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
    expectError(Buffer.concat([good(), Buffer.alloc(1)]), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
    const crc = good();
    crc[crc.length - 1]! ^= 1;
    expectError(crc, 'CORRUPT_MESSAGE', 'BAD_CRC');
    const crcField = good();
    crcField[18]! ^= 1;
    expectError(crcField, 'CORRUPT_MESSAGE', 'BAD_CRC');
  });

  it('rejects a legacy magic for produce with INVALID_RECORD', () => {
    const legacy = buildMessageSet({ magic: 1, messages: [{ value: 'x' }] });
    expectError(Buffer.concat([legacy, Buffer.alloc(40)]), 'INVALID_RECORD', 'BAD_MAGIC');
  });

  it('rejects unknown codecs and zstd when not allowed with UNSUPPORTED_COMPRESSION_TYPE', () => {
    expectError(rawBatch(recordBytes(), { attributes: 5 }), 'UNSUPPORTED_COMPRESSION_TYPE', 'UNKNOWN_CODEC');
    expectError(good(CompressionCodec.Zstd), 'UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED', { allowZstd: false });
  });

  it('checks recordCount against lastOffsetDelta + 1 and against the records present', () => {
    expectError(rawBatch(recordBytes(), { count: 2, lastOffsetDelta: 0 }), 'INVALID_RECORD', 'COUNT_MISMATCH');
    expectError(rawBatch(Buffer.alloc(0), { count: 0, lastOffsetDelta: -1 }), 'INVALID_RECORD', 'COUNT_MISMATCH');
    // Header consistent (2 = 1 + 1) but only one record present.
    expectError(rawBatch(recordBytes(), { count: 2, lastOffsetDelta: 1 }), 'INVALID_RECORD', 'COUNT_MISMATCH');
    // Bytes left over after the declared records.
    expectError(rawBatch(Buffer.concat([recordBytes(), Buffer.from([0])]), { count: 1 }), 'INVALID_RECORD', 'TRAILING_BYTES');
    // Offset deltas are kept as sent (Kafka's LogValidator does not check them in place): 0 twice passes.
    assert.equal(validateBatch(rawBatch(Buffer.concat([recordBytes(), recordBytes()]), { count: 2 })), null);
    // The same checks also hold inside compressed data.
    const body = Buffer.concat([recordBytes(), recordBytes({ offsetDelta: 1 })]);
    expectError(rawBatch(compress(CompressionCodec.Gzip, body), { count: 3, attributes: 1 }), 'INVALID_RECORD', 'COUNT_MISMATCH');
    assert.equal(validateBatch(rawBatch(compress(CompressionCodec.Gzip, body), { count: 2, attributes: 1 })), null);
  });

  it('rejects malformed records with INVALID_RECORD', () => {
    expectError(rawBatch(Buffer.from('ffffffffffffffff', 'hex')), 'INVALID_RECORD', 'OVERLONG_VARINT');
    // Record length 19 covers the attributes byte, 11 bytes of varlong continuation and 7 more.
    const overlongInside = Buffer.from('26' + '00' + 'ffffffffffffffffffffff' + '00000000000000', 'hex');
    expectError(rawBatch(overlongInside), 'INVALID_RECORD', 'OVERLONG_VARINT');
    expectError(rawBatch(Buffer.from('0100', 'hex')), 'INVALID_RECORD', 'BAD_RECORD'); // record length -1
    expectError(rawBatch(Buffer.from('7f00', 'hex')), 'INVALID_RECORD', 'BAD_RECORD'); // length beyond the batch
    expectError(rawBatch(recordBytes({ headerCount: -1 })), 'INVALID_RECORD', 'BAD_RECORD');
    expectError(rawBatch(recordBytes({ headerCount: 1_000_000_000 })), 'INVALID_RECORD', 'BAD_RECORD');
    expectError(rawBatch(recordBytes({ headerCount: 1, headerKeyLength: -1 })), 'INVALID_RECORD', 'BAD_RECORD');
    // A key or value length below -1 is null too, as Kafka's DefaultRecord.readFrom reads it.
    const minusTwoKey = recordBytes();
    minusTwoKey[4] = 0x03; // the key length's varint (after length, attributes, timestamp and offset deltas): zigzag(-2) instead of zigzag(-1)
    assert.equal(validateBatch(rawBatch(minusTwoKey)), null);
    expectError(rawBatch(recordBytes({ extra: 3 })), 'INVALID_RECORD', 'BAD_RECORD'); // declared length > used
  });

  it('rejects a producer id without a sequence, a non-zero baseOffset on request, and control batches', () => {
    expectError(buildRecordBatch({ records: [{ value: 'x' }], producerId: 5n, producerEpoch: 0 }), 'INVALID_RECORD', 'BAD_SEQUENCE');
    expectError(buildRecordBatch({ baseOffset: 3n, records: [{ value: 'x' }] }), 'INVALID_RECORD', 'BAD_OFFSETS', { requireZeroBaseOffset: true });
    assert.equal(validateBatch(buildRecordBatch({ baseOffset: 3n, records: [{ value: 'x' }] })), null);
  });

  it('bounds decompression: a bomb batch gives MESSAGE_TOO_LARGE, garbage gives CORRUPT_MESSAGE', () => {
    const many = Array.from({ length: 2000 }, () => ({ value: Buffer.alloc(1000) }));
    for (const codec of [1, 2, 3, 4]) {
      const bomb = buildRecordBatch({ records: many, compression: codec });
      assert.ok(bomb.length < 200_000);
      expectError(bomb, 'MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT', { maxBytes: 100_000 });
      assert.equal(validateBatch(bomb, { maxBytes: 10_000_000 }), null);
      expectError(rawBatch(Buffer.from('definitely not compressed'), { attributes: codec }), 'CORRUPT_MESSAGE', 'DECOMPRESSION_FAILED');
    }
  });
});

describe('validateProduceRecords', () => {
  it('accepts exactly one complete v2 batch and returns its view', () => {
    const batch = good();
    const r = validateProduceRecords(batch, 3);
    assert.ok(r.ok);
    assert.equal(r.batch.buffer, batch.buffer);
  });

  it('ignores an incomplete batch after a whole one, as Kafka\'s batch iterator does', () => {
    const batch = good();
    const r = validateProduceRecords(Buffer.concat([batch, good().subarray(0, 20)]), 3);
    assert.ok(r.ok);
    assert.equal(r.batch.length, batch.length);
  });

  it('rejects zero, two, partial, legacy or (before v7) zstd batches with Kafka\'s errors', () => {
    const check = (records: Buffer, code: string, reason: string, version = 3): void => {
      const r = validateProduceRecords(records, version);
      assert.ok(!r.ok);
      assert.equal(r.error.code, code);
      assert.equal(r.error.reason, reason);
    };
    check(Buffer.alloc(0), 'INVALID_RECORD', 'NOT_SINGLE_BATCH');
    check(Buffer.concat([good(), good()]), 'INVALID_RECORD', 'NOT_SINGLE_BATCH');
    check(good().subarray(0, 70), 'INVALID_RECORD', 'NOT_SINGLE_BATCH');
    check(buildMessageSet({ magic: 1, messages: [{ value: 'x' }] }), 'INVALID_RECORD', 'BAD_MAGIC');
    const zstd = rawBatch(Buffer.from('not looked at'), { attributes: CompressionCodec.Zstd });
    check(zstd, 'UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED', 6);
    assert.ok(validateProduceRecords(zstd, 7).ok);
    const neg = good();
    neg.writeInt32BE(-100, 8);
    check(neg, 'CORRUPT_MESSAGE', 'BAD_LENGTH');
  });
});

describe('fuzzing: corrupt input only ever yields RecordsError, and terminates', () => {
  const expectOnlyRecordsErrors = (fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      assertRecordsError(e, (e as RecordsError).code);
    }
  };

  it('random byte flips in v2 batches of every codec (CRC not checked, so the parsers see them)', () => {
    const seeds = [0, 1, 2, 3, 4].map((codec) =>
      buildRecordBatch({
        records: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `value-${i}`.repeat(i), headers: [{ key: 'h', value: `${i}` }], timestamp: 1000 + i })),
        compression: codec,
      }),
    );
    const start = Date.now();
    for (let i = 0; i < 3000; i++) {
      const batch = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++) {
        const pos = 57 + Math.floor(Math.random() * (batch.length - 57));
        batch[pos] = Math.floor(Math.random() * 256);
      }
      expectOnlyRecordsErrors(() => decodeRecords(batch, { maxBytes: 1 << 20 }));
      expectOnlyRecordsErrors(() => validateBatch(batch, { maxBytes: 1 << 20 }));
    }
    assert.ok(Date.now() - start < 20_000);
  });

  it('random garbage through splitting, legacy reading and every decompressor', () => {
    for (let i = 0; i < 2000; i++) {
      const junk = randomBytes(1 + Math.floor(Math.random() * 300));
      // Often give it a plausible length field so parsing gets past the first check.
      if (i % 3 === 0 && junk.length >= 12) junk.writeInt32BE(Math.floor(Math.random() * 200) - 20, 8);
      expectOnlyRecordsErrors(() => splitBatches(junk));
      expectOnlyRecordsErrors(() => readMessageSet(junk));
      for (const codec of [1, 2, 3, 4]) expectOnlyRecordsErrors(() => decompress(codec, junk, { maxBytes: 1 << 20, lz4LegacyChecksum: true }));
    }
  });

  it('random flips in legacy compressed wrappers', () => {
    const seeds = [1, 2, 3].flatMap((codec) =>
      ([0, 1] as const).map((magic) => buildMessageSet({ magic, compression: codec, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}`.repeat(i) })) })),
    );
    for (let i = 0; i < 1500; i++) {
      const set = Buffer.from(seeds[i % seeds.length]!);
      const pos = 12 + Math.floor(Math.random() * (set.length - 12));
      set[pos] = Math.floor(Math.random() * 256);
      expectOnlyRecordsErrors(() => readMessageSet(set, { verifyCrc: false, maxBytes: 1 << 20 }));
    }
  });
});
