import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  buildControlBatch,
  buildMessageSet,
  buildRecordBatch,
  CODEC_NAMES,
  CompressionCodec,
  compress,
  compressionOf,
  decodeRecords,
  decompress,
  downConvert,
  encodeLegacyEntry,
  isXerialFramed,
  readBatchHeader,
  readLegacyEntry,
  readMessageSet,
  splitBatches,
  TimestampType,
  timestampTypeOf,
  upConvert,
  validateBatch,
  verifyBatchCrc,
} from '../../../protocol/records/index.js';
import { xxh32 } from '../../../protocol/records/xxhash32.js';
import { requireCjs, throwsRecordsError } from './helpers.js';

const legacyCodecs = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4];
const kafkajsCrc32 = requireCjs('kafkajs/src/protocol/crc32.js') as (e: { buffer: Buffer }) => number;

const five = [
  { key: 'a', value: 'one', timestamp: 1000n },
  { key: null, value: 'two', timestamp: 3000n },
  { key: 'c', value: null, timestamp: 2000n },
  { key: '', value: '', timestamp: 1500n },
  { key: 'e', value: 'five', timestamp: 2500n },
];

/** Splits a message set into its raw entries (no expansion). */
const entries = (buf: Buffer) => splitBatches(buf).batches.map((b) => readLegacyEntry(b.buf));

describe('legacy message format', () => {
  it('v0 entry bytes match RECORDS.md §2.1 with an IEEE CRC', () => {
    const buf = encodeLegacyEntry({ offset: 5n, magic: 0, attributes: 0, timestamp: -1n, key: Buffer.from('k'), value: Buffer.from('v') });
    assert.equal(buf.length, 12 + 14 + 2);
    const body = '0000' + '000000016b' + '0000000176';
    assert.equal(buf.toString('hex'), '0000000000000005' + '00000010' + buf.subarray(12, 16).toString('hex') + body);
    assert.equal(buf.readUInt32BE(12), zlib.crc32(Buffer.from(body, 'hex')));
    assert.equal(buf.readUInt32BE(12), kafkajsCrc32({ buffer: Buffer.from(body, 'hex') }) >>> 0);
  });

  it('v1 entry carries a timestamp at byte 18 and null fields as length -1', () => {
    const buf = encodeLegacyEntry({ offset: 0n, magic: 1, attributes: 0x08, timestamp: 1_700_000_000_000n, key: null, value: null });
    assert.equal(buf.length, 12 + 22);
    assert.equal(buf[16], 1);
    assert.equal(buf[17], 0x08);
    assert.equal(buf.readBigInt64BE(18), 1_700_000_000_000n);
    assert.equal(buf.readInt32BE(26), -1);
    assert.equal(buf.readInt32BE(30), -1);
    const e = readLegacyEntry(buf);
    assert.deepEqual([e.magic, e.attributes, e.timestamp, e.key, e.value], [1, 8, 1_700_000_000_000n, null, null]);
  });

  for (const magic of [0, 1] as const) {
    it(`magic ${magic}: uncompressed round trip keeps offsets, keys, values${magic ? ', timestamps' : ''}`, () => {
      const set = buildMessageSet({ magic, baseOffset: 40n, messages: five });
      assert.equal(entries(set).length, 5);
      const { messages, truncated } = readMessageSet(set);
      assert.equal(truncated, null);
      assert.deepEqual(messages.map((m) => m.offset), [40n, 41n, 42n, 43n, 44n]);
      assert.deepEqual(messages.map((m) => m.key?.toString() ?? null), ['a', null, 'c', '', 'e']);
      assert.deepEqual(messages.map((m) => m.value?.toString() ?? null), ['one', 'two', null, '', 'five']);
      assert.deepEqual(messages.map((m) => m.timestamp), magic ? [1000n, 3000n, 2000n, 1500n, 2500n] : [-1n, -1n, -1n, -1n, -1n]);
      assert.ok(messages.every((m) => m.magic === magic && m.compression === CompressionCodec.None));
    });

    for (const codec of legacyCodecs.slice(1)) {
      it(`magic ${magic} ${CODEC_NAMES[codec]} wrapper: ${magic ? 'relative' : 'absolute'} inner offsets, wrapper = last offset`, () => {
        const set = buildMessageSet({ magic, baseOffset: 100n, messages: five, compression: codec });
        const [wrapper, ...more] = entries(set);
        assert.equal(more.length, 0);
        assert.equal(wrapper!.offset, 104n);
        assert.equal(wrapper!.attributes & 7, codec);
        assert.equal(wrapper!.key, null);
        if (magic === 1) assert.equal(wrapper!.timestamp, 3000n, 'CreateTime wrapper carries the max inner timestamp');
        const inner = decompress(codec, wrapper!.value!, { lz4LegacyChecksum: magic === 0 });
        assert.deepEqual(entries(inner).map((e) => e.offset), magic ? [0n, 1n, 2n, 3n, 4n] : [100n, 101n, 102n, 103n, 104n]);
        const { messages } = readMessageSet(set);
        assert.deepEqual(messages.map((m) => m.offset), [100n, 101n, 102n, 103n, 104n]);
        assert.deepEqual(messages.map((m) => m.value?.toString() ?? null), ['one', 'two', null, '', 'five']);
        assert.ok(messages.every((m) => m.compression === codec));
        if (magic === 1) assert.deepEqual(messages.map((m) => m.timestamp), [1000n, 3000n, 2000n, 1500n, 2500n]);
      });
    }
  }

  it('magic 1: absolute = wrapper offset − last relative + relative, gaps preserved', () => {
    const set = buildMessageSet({ magic: 1, compression: CompressionCodec.Gzip, messages: [{ offset: 10n, value: 'x' }, { offset: 12n, value: 'y' }, { offset: 15n, value: 'z' }] });
    const [wrapper] = entries(set);
    assert.equal(wrapper!.offset, 15n);
    assert.deepEqual(entries(decompress(CompressionCodec.Gzip, wrapper!.value!)).map((e) => e.offset), [0n, 2n, 5n]);
    assert.deepEqual(readMessageSet(set).messages.map((m) => m.offset), [10n, 12n, 15n]);
    // A wrapper written by someone else: inner 0..2 under wrapper offset 1000 → 998..1000.
    const inner = Buffer.concat([0n, 1n, 2n].map((o) => encodeLegacyEntry({ offset: o, magic: 1, attributes: 0, timestamp: 5n, key: null, value: Buffer.from(`m${o}`) })));
    const handMade = encodeLegacyEntry({ offset: 1000n, magic: 1, attributes: 1, timestamp: 5n, key: null, value: zlib.gzipSync(inner) });
    assert.deepEqual(readMessageSet(handMade).messages.map((m) => m.offset), [998n, 999n, 1000n]);
  });

  it('magic 1 LogAppendTime wrapper: its timestamp applies to every inner message', () => {
    const set = buildMessageSet({ magic: 1, compression: CompressionCodec.Snappy, timestampType: TimestampType.LogAppendTime, logAppendTime: 77_777n, messages: five });
    const [wrapper] = entries(set);
    assert.equal(wrapper!.attributes, 0x08 | CompressionCodec.Snappy);
    assert.equal(wrapper!.timestamp, 77_777n);
    const { messages } = readMessageSet(set);
    assert.ok(messages.every((m) => m.timestamp === 77_777n && m.timestampType === TimestampType.LogAppendTime));
  });

  it('legacy snappy is xerial-framed by default; magic-0 lz4 carries the broken header checksum, magic 1 the correct one', () => {
    const snappySet = entries(buildMessageSet({ magic: 1, compression: CompressionCodec.Snappy, messages: five }));
    assert.ok(isXerialFramed(snappySet[0]!.value!));
    for (const magic of [0, 1] as const) {
      const lz4 = entries(buildMessageSet({ magic, compression: CompressionCodec.Lz4, messages: five }))[0]!.value!;
      const correct = (xxh32(lz4.subarray(4, 6)) >>> 8) & 0xff;
      const broken = (xxh32(lz4.subarray(0, 6)) >>> 8) & 0xff;
      assert.equal(lz4[6], magic === 0 ? broken : correct);
    }
  });

  it('accepts a magic-0 lz4 wrapper as old producers wrote it', () => {
    const inner = Buffer.concat([0n, 1n].map((o) => encodeLegacyEntry({ offset: o, magic: 0, attributes: 0, timestamp: -1n, key: null, value: Buffer.from(`v${o}`) })));
    const wrapper = encodeLegacyEntry({ offset: 1n, magic: 0, attributes: 3, timestamp: -1n, key: null, value: compress(CompressionCodec.Lz4, inner, { lz4LegacyChecksum: true }) });
    assert.deepEqual(readMessageSet(wrapper).messages.map((m) => m.value!.toString()), ['v0', 'v1']);
  });

  it('rejects a CRC mismatch unless verification is off', () => {
    const set = buildMessageSet({ magic: 1, messages: five });
    set[30]! ^= 0xff;
    throwsRecordsError(() => readMessageSet(set), 'CORRUPT_MESSAGE', 'BAD_CRC');
    assert.equal(readMessageSet(set, { verifyCrc: false }).messages.length, 5);
  });

  it('rejects nested compression, inner magic mismatch, zstd wrappers and empty wrappers', () => {
    const innerWrapper = buildMessageSet({ magic: 1, compression: CompressionCodec.Gzip, messages: five });
    const nested = encodeLegacyEntry({ offset: 0n, magic: 1, attributes: 1, timestamp: 0n, key: null, value: zlib.gzipSync(innerWrapper) });
    throwsRecordsError(() => readMessageSet(nested), 'INVALID_RECORD', 'NESTED_COMPRESSION');
    const v0Inside = encodeLegacyEntry({ offset: 0n, magic: 1, attributes: 1, timestamp: 0n, key: null, value: zlib.gzipSync(buildMessageSet({ magic: 0, messages: five })) });
    throwsRecordsError(() => readMessageSet(v0Inside), 'INVALID_RECORD', 'BAD_MAGIC');
    const zstdWrapper = encodeLegacyEntry({ offset: 0n, magic: 1, attributes: 4, timestamp: 0n, key: null, value: compress(CompressionCodec.Zstd, Buffer.from('x')) });
    throwsRecordsError(() => readMessageSet(zstdWrapper), 'UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED');
    throwsRecordsError(() => buildMessageSet({ magic: 1, compression: CompressionCodec.Zstd, messages: five }), 'UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED');
    const empty = encodeLegacyEntry({ offset: 0n, magic: 1, attributes: 1, timestamp: 0n, key: null, value: zlib.gzipSync(Buffer.alloc(0)) });
    throwsRecordsError(() => readMessageSet(empty), 'CORRUPT_MESSAGE', 'BAD_RECORD');
    const nullValue = encodeLegacyEntry({ offset: 0n, magic: 1, attributes: 1, timestamp: 0n, key: null, value: null });
    throwsRecordsError(() => readMessageSet(nullValue), 'CORRUPT_MESSAGE', 'BAD_RECORD');
  });

  it('reports a truncated trailing entry, but a truncated inner set is corrupt', () => {
    const set = buildMessageSet({ magic: 0, messages: five });
    const cut = set.subarray(0, set.length - 3);
    const { messages, truncated } = readMessageSet(cut);
    assert.equal(messages.length, 4);
    assert.equal(truncated?.position, set.length - (12 + 14 + 1 + 4));
    const inner = buildMessageSet({ magic: 1, messages: five });
    const badWrapper = encodeLegacyEntry({ offset: 4n, magic: 1, attributes: 1, timestamp: 0n, key: null, value: zlib.gzipSync(inner.subarray(0, inner.length - 2)) });
    throwsRecordsError(() => readMessageSet(badWrapper), 'CORRUPT_MESSAGE', 'TRUNCATED');
  });

  it('rejects a field length that overruns the message', () => {
    const buf = encodeLegacyEntry({ offset: 0n, magic: 0, attributes: 0, timestamp: -1n, key: Buffer.from('k'), value: Buffer.from('v') });
    buf.writeInt32BE(1000, 18);
    throwsRecordsError(() => readLegacyEntry(buf, false), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
    buf.writeInt32BE(-5, 18);
    throwsRecordsError(() => readLegacyEntry(buf, false), 'CORRUPT_MESSAGE', 'BAD_LENGTH');
  });
});

describe('interop with kafkajs message sets', () => {
  const MessageSet = requireCjs('kafkajs/src/protocol/messageSet/index.js');
  const Message = requireCjs('kafkajs/src/protocol/message/index.js');
  const Encoder = requireCjs('kafkajs/src/protocol/encoder.js');
  const Decoder = requireCjs('kafkajs/src/protocol/decoder.js');
  const decodeMessageSet = requireCjs('kafkajs/src/protocol/messageSet/decoder.js');
  const entriesIn = [
    { key: 'k1', value: 'v1', timestamp: 1111 },
    { key: null, value: 'v2', timestamp: 2222 },
  ];

  for (const messageVersion of [0, 1]) {
    it(`reads kafkajs magic ${messageVersion} messages, plain and gzip-wrapped`, async () => {
      const plain: Buffer = MessageSet({ messageVersion, compression: 0, entries: entriesIn }).buffer;
      const read = readMessageSet(plain).messages;
      assert.deepEqual(read.map((m) => [m.key?.toString() ?? null, m.value?.toString()]), [['k1', 'v1'], [null, 'v2']]);
      assert.deepEqual(read.map((m) => m.timestamp), messageVersion ? [1111n, 2222n] : [-1n, -1n]);
      // kafkajs writes inner offsets 0..n-1 for compressed sets; wrap them ourselves with its Message encoder.
      const inner: Buffer = MessageSet({ messageVersion, compression: 1, entries: entriesIn }).buffer;
      const wrapperMessage = Message({ version: messageVersion })({ compression: 1, timestamp: 2222, key: null, value: zlib.gzipSync(inner) });
      const wrapped: Buffer = new Encoder().writeInt64(500).writeInt32(wrapperMessage.size()).writeEncoder(wrapperMessage).buffer;
      const expanded = readMessageSet(wrapped).messages;
      assert.deepEqual(expanded.map((m) => m.value?.toString()), ['v1', 'v2']);
      assert.deepEqual(expanded.map((m) => m.offset), messageVersion ? [499n, 500n] : [0n, 1n]);
    });
  }

  it('kafkajs reads our down-converted magic 1 gzip set with the right absolute offsets', async () => {
    const batch = buildRecordBatch({ baseOffset: 700n, compression: CompressionCodec.Gzip, records: [{ key: 'a', value: '1', timestamp: 5 }, { value: '2', offsetDelta: 4, timestamp: 9 }] });
    const set = downConvert(batch, 1);
    const decoded = await decodeMessageSet(new Decoder(set), set.length);
    assert.deepEqual(decoded.map((m: { offset: string }) => m.offset), ['700', '704']);
    assert.deepEqual(decoded.map((m: { value: Buffer }) => m.value.toString()), ['1', '2']);
    assert.deepEqual(decoded.map((m: { timestamp: string }) => m.timestamp), ['5', '9']);
  });
});

describe('up-conversion (Produce v0–v2 → stored magic 2)', () => {
  for (const codec of legacyCodecs) {
    for (const magic of [0, 1] as const) {
      it(`magic ${magic} ${CODEC_NAMES[codec]} → one v2 batch keeping the codec`, () => {
        const set = buildMessageSet({ magic, baseOffset: 0n, messages: five, compression: codec });
        const batch = upConvert(set);
        const [view, ...rest] = splitBatches(batch).batches;
        assert.equal(rest.length, 0);
        assert.equal(view!.magic, 2);
        const h = readBatchHeader(batch);
        assert.equal(compressionOf(h.attributes), codec);
        assert.equal(timestampTypeOf(h.attributes), TimestampType.CreateTime);
        assert.equal(h.recordCount, 5);
        assert.equal(h.lastOffsetDelta, 4);
        assert.ok(verifyBatchCrc(batch));
        assert.equal(validateBatch(batch), null);
        const records = decodeRecords(batch);
        assert.deepEqual(records.map((r) => r.value?.toString() ?? null), ['one', 'two', null, '', 'five']);
        assert.deepEqual(records.map((r) => r.key?.toString() ?? null), ['a', null, 'c', '', 'e']);
        assert.deepEqual(records.map((r) => r.timestamp), magic ? [1000n, 3000n, 2000n, 1500n, 2500n] : [-1n, -1n, -1n, -1n, -1n]);
        assert.equal(h.maxTimestamp, magic ? 3000n : -1n);
      });
    }
  }

  it('takes baseOffset from the first message unless given, and honours a codec override', () => {
    const set = buildMessageSet({ magic: 1, baseOffset: 33n, messages: five, compression: CompressionCodec.Gzip });
    assert.equal(readBatchHeader(upConvert(set)).baseOffset, 33n);
    const recompressed = upConvert(set, { baseOffset: 0n, compression: CompressionCodec.Zstd });
    assert.equal(readBatchHeader(recompressed).baseOffset, 0n);
    assert.equal(compressionOf(readBatchHeader(recompressed).attributes), CompressionCodec.Zstd);
    assert.equal(decodeRecords(recompressed).length, 5);
  });

  it('returns an empty buffer for an empty set and leaves a truncated tail out, as Kafka\'s log append', () => {
    assert.equal(upConvert(Buffer.alloc(0)).length, 0);
    const set = buildMessageSet({ magic: 1, messages: five });
    assert.equal(readBatchHeader(upConvert(set.subarray(0, set.length - 1))).recordCount, 4);
    assert.equal(upConvert(set.subarray(0, 20)).length, 0);
  });

  it('refuses magic 0 and 1 mixed, and a compressed wrapper with other entries (INVALID_RECORD)', () => {
    const one = (magic: 0 | 1, compression = CompressionCodec.None) => buildMessageSet({ magic, compression, messages: five.slice(0, 2) });
    throwsRecordsError(() => upConvert(Buffer.concat([one(0), one(1)])), 'INVALID_RECORD', 'BAD_MAGIC');
    throwsRecordsError(() => upConvert(Buffer.concat([one(1, CompressionCodec.Gzip), one(1)])), 'INVALID_RECORD', 'NOT_SINGLE_BATCH');
    assert.equal(readBatchHeader(upConvert(Buffer.concat([one(1), one(1)]))).recordCount, 4);
  });
});

describe('down-conversion (stored magic 2 → Fetch v0–v3)', () => {
  const records = [
    { key: 'a', value: 'one', timestamp: 1000n, headers: [{ key: 'dropped', value: 'x' }] },
    { key: null, value: 'two', timestamp: 3000n, offsetDelta: 2 },
    { key: 'c', value: null, timestamp: 2000n, offsetDelta: 3 },
  ];

  for (const codec of legacyCodecs) {
    for (const magic of [0, 1] as const) {
      it(`${CODEC_NAMES[codec]} batch → magic ${magic}: absolute offsets (with gaps), codec kept`, () => {
        const batch = buildRecordBatch({ baseOffset: 500n, records, compression: codec });
        const set = downConvert(batch, magic);
        const raw = entries(set);
        if (codec === CompressionCodec.None) {
          assert.deepEqual(raw.map((e) => e.offset), [500n, 502n, 503n]);
        } else {
          assert.equal(raw.length, 1);
          assert.equal(raw[0]!.offset, 503n, 'wrapper offset = last record offset');
          assert.equal(raw[0]!.attributes & 7, codec);
          const inner = entries(decompress(codec, raw[0]!.value!, { lz4LegacyChecksum: magic === 0 }));
          assert.deepEqual(inner.map((e) => e.offset), magic ? [0n, 2n, 3n] : [500n, 502n, 503n]);
        }
        assert.ok(raw.every((e) => e.magic === magic));
        const { messages } = readMessageSet(set);
        assert.deepEqual(messages.map((m) => m.offset), [500n, 502n, 503n]);
        assert.deepEqual(messages.map((m) => m.value?.toString() ?? null), ['one', 'two', null]);
        assert.deepEqual(messages.map((m) => m.key?.toString() ?? null), ['a', null, 'c']);
        assert.deepEqual(messages.map((m) => m.timestamp), magic ? [1000n, 3000n, 2000n] : [-1n, -1n, -1n]);
      });
    }
  }

  it('skips control batches and records below minOffset, keeps batches already legacy, ignores a truncated tail', () => {
    const data = buildRecordBatch({ baseOffset: 0n, records: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    const marker = buildControlBatch({ type: 'COMMIT', producerId: 1n, producerEpoch: 0, coordinatorEpoch: 0, timestamp: 0, baseOffset: 3n });
    const legacy = buildMessageSet({ magic: 0, baseOffset: 4n, messages: [{ value: 'd' }] });
    const next = buildRecordBatch({ baseOffset: 5n, records: [{ value: 'e' }] });
    const input = Buffer.concat([data, marker, legacy, next.subarray(0, 30)]);
    const set = downConvert(input, 0, { minOffset: 1n });
    const { messages, truncated } = readMessageSet(set);
    assert.equal(truncated, null);
    assert.deepEqual(messages.map((m) => [m.offset, m.value!.toString()]), [[1n, 'b'], [2n, 'c'], [4n, 'd']]);
  });

  it('LogAppendTime batch → magic 1 messages flagged with the append time', () => {
    const batch = buildRecordBatch({ records, compression: CompressionCodec.Gzip, timestampType: TimestampType.LogAppendTime, logAppendTime: 4242n });
    const set = downConvert(batch, 1);
    const [wrapper] = entries(set);
    assert.equal(wrapper!.attributes & 0x08, 0x08);
    assert.equal(wrapper!.timestamp, 4242n);
    assert.ok(readMessageSet(set).messages.every((m) => m.timestamp === 4242n && m.timestampType === TimestampType.LogAppendTime));
  });

  it('magic 1 → magic 0 re-encodes legacy data', () => {
    const v1 = buildMessageSet({ magic: 1, baseOffset: 8n, compression: CompressionCodec.Gzip, messages: five });
    const v0 = downConvert(v1, 0);
    const { messages } = readMessageSet(v0);
    assert.ok(messages.every((m) => m.magic === 0));
    assert.deepEqual(messages.map((m) => m.offset), [8n, 9n, 10n, 11n, 12n]);
  });

  it('refuses zstd (old fetch versions cannot receive it)', () => {
    const batch = buildRecordBatch({ records, compression: CompressionCodec.Zstd });
    throwsRecordsError(() => downConvert(batch, 1), 'UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED');
  });
});
