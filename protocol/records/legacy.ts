/**
 * Legacy MessageSet, magic 0 and 1 (RECORDS.md §2). Reading flattens compressed wrappers into
 * their inner messages with absolute offsets; writing produces the wrappers the way the Java
 * client and broker did.
 */
import zlib from 'node:zlib';
import { LOG_OVERHEAD, TimestampType } from './batch.js';
import { type BytesInput, toBytes } from './builder.js';
import {
  CompressionCodec,
  compress,
  type CompressOptions,
  decompress,
  isKnownCodec,
} from './compression.js';
import { nodeRsCrc32 } from './crc32c.js';
import { corrupt, invalid, RecordsError } from './errors.js';
import { iterateBatches, MIN_LENGTH_BY_MAGIC, type TruncatedTail } from './iterate.js';

export const LEGACY_CRC_OFFSET = 12;
export const LEGACY_MAGIC_OFFSET = 16;
export const LEGACY_ATTRIBUTES_OFFSET = 17;
export const LEGACY_TIMESTAMP_OFFSET = 18;
export const LEGACY_ATTR_COMPRESSION_MASK = 0x07;
export const LEGACY_ATTR_TIMESTAMP_TYPE = 0x08;

/** CRC-32 (IEEE), as legacy messages use. zlib.crc32 needs Node 20.15; fall back to native. */
export const crc32Ieee: (data: Uint8Array) => number =
  typeof zlib.crc32 === 'function'
    ? (d) => zlib.crc32(d) >>> 0
    : (d) => {
        const lib = nodeRsCrc32();
        if (lib === null) throw new RecordsError('UNSUPPORTED_FOR_MESSAGE_FORMAT', 'CODEC_UNAVAILABLE', 'legacy message CRCs need Node 20.15 or later, or @node-rs/crc32');
        return lib.crc32(d) >>> 0;
      };

export type LegacyMagic = 0 | 1;

/** One message entry exactly as stored (no wrapper expansion). */
export interface LegacyEntry {
  offset: bigint;
  magic: LegacyMagic;
  attributes: number;
  crc: number;
  /** -1 for magic 0. */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

/** A message after wrapper expansion: absolute offset and effective timestamp. */
export interface LegacyMessage {
  offset: bigint;
  magic: LegacyMagic;
  timestamp: bigint;
  timestampType: TimestampType;
  key: Buffer | null;
  value: Buffer | null;
  /** Codec of the wrapper it came out of (None when it was not wrapped). */
  compression: CompressionCodec;
}

function readNullableBytes(entry: Buffer, pos: number): [Buffer | null, number] {
  if (pos + 4 > entry.length) throw corrupt('BAD_LENGTH', 'message ends inside a length field');
  const n = entry.readInt32BE(pos);
  pos += 4;
  if (n === -1) return [null, pos];
  if (n < -1 || pos + n > entry.length) throw corrupt('BAD_LENGTH', `message field length ${n} overruns the message`);
  return [entry.subarray(pos, pos + n), pos + n];
}

/** Parses one complete entry view (offset, size, message). */
export function readLegacyEntry(entry: Buffer, verifyCrc = true): LegacyEntry {
  if (entry.length < LOG_OVERHEAD + MIN_LENGTH_BY_MAGIC[0]!) throw corrupt('BAD_LENGTH', `message entry of ${entry.length} bytes is too short`);
  const magic = entry.readInt8(LEGACY_MAGIC_OFFSET);
  if (magic !== 0 && magic !== 1) throw corrupt('BAD_MAGIC', `expected legacy magic 0 or 1, found ${magic}`);
  if (entry.length < LOG_OVERHEAD + MIN_LENGTH_BY_MAGIC[magic]!) throw corrupt('BAD_LENGTH', `magic ${magic} message entry is too short`);
  if (LOG_OVERHEAD + entry.readInt32BE(8) !== entry.length) throw corrupt('BAD_LENGTH', 'message size does not match the entry');
  const crc = entry.readUInt32BE(LEGACY_CRC_OFFSET);
  if (verifyCrc && crc32Ieee(entry.subarray(LEGACY_MAGIC_OFFSET)) !== crc) throw corrupt('BAD_CRC', 'message CRC-32 mismatch');
  let pos = LEGACY_TIMESTAMP_OFFSET;
  let timestamp = -1n;
  if (magic === 1) {
    timestamp = entry.readBigInt64BE(pos);
    pos += 8;
  }
  const [key, afterKey] = readNullableBytes(entry, pos);
  const [value, end] = readNullableBytes(entry, afterKey);
  if (end !== entry.length) throw corrupt('BAD_LENGTH', `${entry.length - end} unexpected bytes after the value`);
  return { offset: entry.readBigInt64BE(0), magic, attributes: entry.readInt8(LEGACY_ATTRIBUTES_OFFSET), crc, timestamp, key, value };
}

export interface ReadMessageSetOptions {
  maxBytes?: number;
  verifyCrc?: boolean;
}

export interface MessageSetResult {
  messages: LegacyMessage[];
  truncated: TruncatedTail | null;
  /** Outer entries: messages and compressed wrappers as they lie in the set. */
  entries: number;
  /** How many of the outer entries are compressed wrappers. */
  wrappers: number;
}

function entriesOf(buf: Buffer, verifyCrc: boolean): { entries: LegacyEntry[]; truncated: TruncatedTail | null } {
  const entries: LegacyEntry[] = [];
  const it = iterateBatches(buf);
  for (;;) {
    const step = it.next();
    if (step.done) return { entries, truncated: step.value };
    if (step.value.magic === 2) throw corrupt('BAD_MAGIC', 'a magic 2 batch inside a legacy message set');
    entries.push(readLegacyEntry(step.value.buf, verifyCrc));
  }
}

const tsTypeOf = (e: LegacyEntry): TimestampType =>
  e.magic === 1 && e.attributes & LEGACY_ATTR_TIMESTAMP_TYPE ? TimestampType.LogAppendTime : TimestampType.CreateTime;

const plain = (e: LegacyEntry, offset: bigint, timestamp: bigint, timestampType: TimestampType, codec: CompressionCodec): LegacyMessage =>
  ({ offset, magic: e.magic, timestamp, timestampType, key: e.key, value: e.value, compression: codec });

function expandWrapper(w: LegacyEntry, out: LegacyMessage[], o: ReadMessageSetOptions): void {
  const codec = w.attributes & LEGACY_ATTR_COMPRESSION_MASK;
  if (!isKnownCodec(codec) || codec === CompressionCodec.Zstd) {
    throw new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED', `codec ${codec} is not allowed below magic 2`);
  }
  if (w.value === null) throw corrupt('BAD_RECORD', 'compressed wrapper message has a null value');
  const data = decompress(codec, w.value, { maxBytes: o.maxBytes, lz4LegacyChecksum: w.magic === 0 });
  const { entries, truncated } = entriesOf(data, o.verifyCrc ?? true);
  if (truncated) throw corrupt('TRUNCATED', 'compressed message set ends inside a message');
  if (entries.length === 0) throw corrupt('BAD_RECORD', 'compressed wrapper holds no message');
  // magic 1 wrappers carry the absolute offset of their last inner message; inner offsets are relative.
  const base = w.magic === 1 ? w.offset - entries[entries.length - 1]!.offset : 0n;
  const wrapperType = tsTypeOf(w);
  for (const e of entries) {
    if (e.magic !== w.magic) throw invalid('BAD_MAGIC', `magic ${e.magic} message inside a magic ${w.magic} wrapper`);
    if (e.attributes & LEGACY_ATTR_COMPRESSION_MASK) throw invalid('NESTED_COMPRESSION', 'compressed message inside a compressed wrapper');
    const logAppend = wrapperType === TimestampType.LogAppendTime;
    out.push(plain(e, base + e.offset, logAppend ? w.timestamp : e.timestamp, wrapperType, codec));
  }
}

/** Reads a magic 0/1 message set, expanding compressed wrappers. A truncated tail is reported. */
export function readMessageSet(buf: Buffer, options: ReadMessageSetOptions = {}): MessageSetResult {
  const { entries, truncated } = entriesOf(buf, options.verifyCrc ?? true);
  const messages: LegacyMessage[] = [];
  let wrappers = 0;
  for (const e of entries) {
    if (e.attributes & LEGACY_ATTR_COMPRESSION_MASK) {
      wrappers++;
      expandWrapper(e, messages, options);
    } else messages.push(plain(e, e.offset, e.timestamp, tsTypeOf(e), CompressionCodec.None));
  }
  return { messages, truncated, entries: entries.length, wrappers };
}

// --- writing ---

export interface LegacyEntryInput {
  offset: bigint;
  magic: LegacyMagic;
  attributes: number;
  /** Ignored for magic 0. */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

/** Encodes one entry with its CRC. */
export function encodeLegacyEntry(m: LegacyEntryInput): Buffer {
  const keyLength = m.key?.length ?? 0;
  const valueLength = m.value?.length ?? 0;
  const size = (m.magic === 1 ? 22 : 14) + keyLength + valueLength;
  const buf = Buffer.allocUnsafe(LOG_OVERHEAD + size);
  buf.writeBigInt64BE(m.offset, 0);
  buf.writeInt32BE(size, 8);
  buf.writeInt8(m.magic, LEGACY_MAGIC_OFFSET);
  buf.writeInt8(m.attributes, LEGACY_ATTRIBUTES_OFFSET);
  let pos = LEGACY_TIMESTAMP_OFFSET;
  if (m.magic === 1) pos = buf.writeBigInt64BE(m.timestamp, pos);
  pos = buf.writeInt32BE(m.key === null ? -1 : keyLength, pos);
  if (m.key) pos += m.key.copy(buf, pos);
  pos = buf.writeInt32BE(m.value === null ? -1 : valueLength, pos);
  if (m.value) m.value.copy(buf, pos);
  buf.writeUInt32BE(crc32Ieee(buf.subarray(LEGACY_MAGIC_OFFSET)), LEGACY_CRC_OFFSET);
  return buf;
}

export interface LegacyMessageInput {
  key?: BytesInput;
  value?: BytesInput;
  /** Milliseconds (magic 1 only); defaults to now. */
  timestamp?: bigint | number;
  /** Absolute offset; defaults to baseOffset + index. */
  offset?: bigint;
}

export interface BuildMessageSetOptions {
  magic: LegacyMagic;
  messages: LegacyMessageInput[];
  baseOffset?: bigint;
  compression?: CompressionCodec;
  /** Defaults for legacy output: xerial snappy framing; magic-0 LZ4 header checksum for magic 0. */
  compressionOptions?: CompressOptions;
  timestampType?: TimestampType;
  /** Wrapper/message timestamp under LogAppendTime (magic 1). */
  logAppendTime?: bigint;
}

/**
 * Builds a magic 0/1 message set. With compression it is one wrapper: inner offsets absolute
 * (magic 0) or relative to the first message (magic 1), wrapper offset = last absolute offset.
 */
export function buildMessageSet(o: BuildMessageSetOptions): Buffer {
  const codec = o.compression ?? CompressionCodec.None;
  if (!isKnownCodec(codec) || codec === CompressionCodec.Zstd) {
    throw new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED', `codec ${codec} is not allowed below magic 2`);
  }
  if (o.messages.length === 0) return Buffer.alloc(0);
  const logAppend = o.magic === 1 && o.timestampType === TimestampType.LogAppendTime;
  const tsBit = logAppend ? LEGACY_ATTR_TIMESTAMP_TYPE : 0;
  const now = BigInt(Date.now());
  const base = o.baseOffset ?? 0n;
  const items = o.messages.map((m, i) => {
    const own = m.timestamp === undefined ? now : BigInt(m.timestamp);
    return {
      offset: m.offset ?? base + BigInt(i),
      timestamp: o.magic === 0 ? -1n : logAppend ? (o.logAppendTime ?? own) : own,
      key: toBytes(m.key),
      value: toBytes(m.value),
    };
  });
  if (codec === CompressionCodec.None) {
    return Buffer.concat(items.map((m) => encodeLegacyEntry({ ...m, magic: o.magic, attributes: tsBit })));
  }
  const first = items[0]!.offset;
  const last = items[items.length - 1]!.offset;
  const inner = Buffer.concat(
    items.map((m) =>
      encodeLegacyEntry({ ...m, offset: o.magic === 1 ? m.offset - first : m.offset, magic: o.magic, attributes: tsBit }),
    ),
  );
  const compressOptions: CompressOptions = {
    snappyFraming: 'xerial',
    lz4LegacyChecksum: o.magic === 0,
    ...o.compressionOptions,
  };
  const maxTimestamp = items.reduce((a, m) => (m.timestamp > a ? m.timestamp : a), items[0]!.timestamp);
  return encodeLegacyEntry({
    offset: last,
    magic: o.magic,
    attributes: codec | tsBit,
    timestamp: logAppend ? (o.logAppendTime ?? maxTimestamp) : maxTimestamp,
    key: null,
    value: compress(codec, inner, compressOptions),
  });
}
