/**
 * Records inside a v2 batch (RECORDS.md §1.3–1.4). Uncompressed records come back as views into
 * the batch; compressed ones as views into the single decompressed buffer.
 */
import {
  ATTR_TIMESTAMP_TYPE,
  BATCH_HEADER_SIZE,
  compressionOf,
  isControl,
  LOG_OVERHEAD,
  readAttributes,
  readBaseOffset,
  readBaseTimestamp,
  readBatchSize,
  readMagic,
  readMaxTimestamp,
  readRecordCount,
  RECORDS_OFFSET,
} from './batch.js';
import {
  CompressionCodec,
  decompress,
  decompressAsync,
  type DecompressOptions,
} from './compression.js';
import { corrupt, invalid } from './errors.js';
import { RecordReader } from './varint.js';

// The zigzag varint reader/writer lives in varint.ts; re-exported here with the record codec.
export { RecordReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface Record {
  offset: bigint;
  offsetDelta: number;
  /** The record's timestamp, or the batch's maxTimestamp when the batch uses LogAppendTime. */
  timestamp: bigint;
  timestampDelta: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  attributes: number;
}

export interface ReadRecordsOptions extends DecompressOptions {
  /** The batch's records section, already decompressed (by an earlier check): used instead of decompressing again. */
  recordsData?: Buffer;
}

function checkedBatch(batch: Buffer): number {
  if (batch.length < BATCH_HEADER_SIZE) throw corrupt('TRUNCATED', 'record batch shorter than its header');
  const magic = readMagic(batch);
  if (magic !== 2) throw corrupt('BAD_MAGIC', `expected a magic 2 batch, found magic ${magic}`);
  const size = readBatchSize(batch);
  if (size < BATCH_HEADER_SIZE || size > batch.length) {
    throw corrupt('BAD_LENGTH', `batch length ${size - LOG_OVERHEAD} does not fit the ${batch.length}-byte view`);
  }
  return size;
}

/** The uncompressed record bytes of a batch: a view when uncompressed, else decompressed. */
export function batchRecordsData(batch: Buffer, options?: ReadRecordsOptions): Buffer {
  const size = checkedBatch(batch);
  if (options?.recordsData !== undefined) return options.recordsData;
  const body = batch.subarray(RECORDS_OFFSET, size);
  const codec = compressionOf(readAttributes(batch));
  return codec === CompressionCodec.None ? body : decompress(codec, body, options);
}

export async function batchRecordsDataAsync(batch: Buffer, options?: ReadRecordsOptions): Promise<Buffer> {
  const size = checkedBatch(batch);
  if (options?.recordsData !== undefined) return options.recordsData;
  const body = batch.subarray(RECORDS_OFFSET, size);
  const codec = compressionOf(readAttributes(batch));
  return codec === CompressionCodec.None ? body : decompressAsync(codec, body, options);
}

interface BatchContext {
  baseOffset: bigint;
  baseTimestamp: bigint;
  /** Set when the batch uses LogAppendTime: every record reports it. */
  logAppendTime: bigint | null;
  count: number;
}

function contextOf(batch: Buffer): BatchContext {
  return {
    baseOffset: readBaseOffset(batch),
    baseTimestamp: readBaseTimestamp(batch),
    logAppendTime: readAttributes(batch) & ATTR_TIMESTAMP_TYPE ? readMaxTimestamp(batch) : null,
    count: readRecordCount(batch),
  };
}

function readRecord(r: RecordReader, ctx: BatchContext): Record {
  const length = r.varint();
  if (length < 0 || length > r.remaining) {
    throw invalid('BAD_RECORD', `record length ${length} with ${r.remaining} bytes left`);
  }
  const end = r.pos + length;
  const outerEnd = r.end;
  r.end = end;
  const attributes = r.int8();
  const timestampDelta = r.varlong();
  const offsetDelta = r.varint();
  const key = r.nullableBytes();
  const value = r.nullableBytes();
  const headerCount = r.varint();
  if (headerCount < 0) throw invalid('BAD_RECORD', `negative header count ${headerCount}`);
  // Each header takes at least 2 bytes, so a huge count fails here rather than in a long loop.
  if (headerCount * 2 > r.remaining) throw invalid('BAD_RECORD', `header count ${headerCount} exceeds record size`);
  const headers: RecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    const keyLength = r.varint();
    if (keyLength < 0) throw invalid('BAD_RECORD', `header key length ${keyLength}`);
    const headerKey = r.bytes(keyLength).toString('utf8');
    headers.push({ key: headerKey, value: r.nullableBytes() });
  }
  if (r.pos !== end) throw invalid('BAD_RECORD', `record declares ${length} bytes but uses ${length - (end - r.pos)}`);
  r.end = outerEnd;
  return {
    offset: ctx.baseOffset + BigInt(offsetDelta),
    offsetDelta,
    timestamp: ctx.logAppendTime ?? ctx.baseTimestamp + timestampDelta,
    timestampDelta,
    key,
    value,
    headers,
    attributes,
  };
}

function* recordsIn(data: Buffer, ctx: BatchContext): Generator<Record, void, undefined> {
  if (ctx.count < 0) throw invalid('COUNT_MISMATCH', `negative record count ${ctx.count}`);
  const r = new RecordReader(data, 0, data.length);
  for (let i = 0; i < ctx.count; i++) {
    if (r.remaining === 0) throw invalid('COUNT_MISMATCH', `batch declares ${ctx.count} records but holds ${i}`);
    yield readRecord(r, ctx);
  }
  if (r.remaining !== 0) {
    throw invalid('TRAILING_BYTES', `${r.remaining} bytes left after the ${ctx.count} declared records`);
  }
}

/**
 * Iterates the records of one v2 batch view. Decompresses (bounded by `maxBytes`) on the first
 * `next()`. Errors are RecordsError: INVALID_RECORD for bad record structure,
 * CORRUPT_MESSAGE / MESSAGE_TOO_LARGE for bad or oversized compressed data.
 */
export function* readRecords(batch: Buffer, options?: ReadRecordsOptions): Generator<Record, void, undefined> {
  const data = batchRecordsData(batch, options);
  yield* recordsIn(data, contextOf(batch));
}

export function decodeRecords(batch: Buffer, options?: ReadRecordsOptions): Record[] {
  return [...readRecords(batch, options)];
}

/** As `decodeRecords`, decompressing off the JS thread where the codec allows. */
export async function decodeRecordsAsync(batch: Buffer, options?: ReadRecordsOptions): Promise<Record[]> {
  const data = await batchRecordsDataAsync(batch, options);
  return [...recordsIn(data, contextOf(batch))];
}

// --- control records (§1.4) ---

export enum ControlRecordType {
  ABORT = 0,
  COMMIT = 1,
  LEADER_CHANGE = 2,
  SNAPSHOT_HEADER = 3,
  SNAPSHOT_FOOTER = 4,
  KRAFT_VERSION = 5,
  KRAFT_VOTERS = 6,
}

export interface ControlRecordKey {
  version: number;
  /** A ControlRecordType, or another number: readers must ignore types they do not know. */
  type: number;
}

export interface EndTransactionMarker {
  version: number;
  coordinatorEpoch: number;
}

export function parseControlRecordKey(key: Buffer | null): ControlRecordKey {
  if (key === null || key.length < 4) throw invalid('BAD_RECORD', 'control record key needs 4 bytes');
  const version = key.readInt16BE(0);
  if (version < 0) throw invalid('BAD_RECORD', `control record key version ${version}`);
  return { version, type: key.readInt16BE(2) };
}

/** The value of an ABORT/COMMIT record. Higher versions are read through their v0 prefix. */
export function parseEndTransactionMarker(value: Buffer | null): EndTransactionMarker {
  if (value === null || value.length < 6) throw invalid('BAD_RECORD', 'end transaction marker needs 6 bytes');
  const version = value.readInt16BE(0);
  if (version < 0) throw invalid('BAD_RECORD', `end transaction marker version ${version}`);
  return { version, coordinatorEpoch: value.readInt32BE(2) };
}

export interface ControlRecordInfo {
  type: number;
  offset: bigint;
  /** Only for ABORT and COMMIT. */
  marker: EndTransactionMarker | null;
}

/** Reads the single control record of a control batch. */
export function readControlRecord(batch: Buffer, options?: ReadRecordsOptions): ControlRecordInfo {
  if (!isControl(readAttributes(batch))) throw invalid('BAD_ATTRIBUTES', 'not a control batch');
  const first = readRecords(batch, options).next();
  if (first.done) throw invalid('BAD_RECORD', 'control batch holds no record');
  const { type } = parseControlRecordKey(first.value.key);
  const isMarker = type === ControlRecordType.ABORT || type === ControlRecordType.COMMIT;
  return { type, offset: first.value.offset, marker: isMarker ? parseEndTransactionMarker(first.value.value) : null };
}
