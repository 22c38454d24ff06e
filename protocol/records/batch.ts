/**
 * RecordBatch v2 header (RECORDS.md §1.1–1.2): a buffer-layout description for full decode and
 * encode, plus direct accessors for the broker's hot path that read or patch single fields.
 */
import { createRequire } from 'node:module';
import type { Layout as LayoutType, Structure } from 'buffer-layout';
import { crc32c } from './crc32c.js';
import { corrupt } from './errors.js';

export interface RecordBatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

let headerLayout: Structure<RecordBatchHeader> | undefined;

/**
 * The 61-byte header as a buffer-layout Structure, for full decodes and encodes. Built on first
 * use: the hot path only touches single fields, and loading the library costs start-up time.
 */
export function recordBatchHeaderLayout(): Structure<RecordBatchHeader> {
  if (headerLayout) return headerLayout;
  const { Layout, struct, s8, s16be, s32be, u32be } = createRequire(import.meta.url)('buffer-layout') as typeof import('buffer-layout');
  /** buffer-layout's own 64-bit layouts decode to lossy doubles; offsets and ids need all 64 bits. */
  class Int64BE extends (Layout as typeof LayoutType)<bigint> {
    constructor(property: string) {
      super(8, property);
    }

    override decode(b: Buffer, offset = 0): bigint {
      return b.readBigInt64BE(offset);
    }

    override encode(src: bigint, b: Buffer, offset = 0): number {
      b.writeBigInt64BE(BigInt.asIntN(64, src), offset);
      return 8;
    }
  }
  headerLayout = struct<RecordBatchHeader>([
    new Int64BE('baseOffset'),
    s32be('batchLength'),
    s32be('partitionLeaderEpoch'),
    s8('magic'),
    u32be('crc'),
    s16be('attributes'),
    s32be('lastOffsetDelta'),
    new Int64BE('baseTimestamp'),
    new Int64BE('maxTimestamp'),
    new Int64BE('producerId'),
    s16be('producerEpoch'),
    s32be('baseSequence'),
    s32be('recordCount'),
  ]);
  return headerLayout;
}

export const BATCH_HEADER_SIZE = 61;
/** baseOffset + length: the bytes before what `batchLength` counts, in every format. */
export const LOG_OVERHEAD = 12;

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;

export const NO_TIMESTAMP = -1n;
export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

export function readBatchHeader(buf: Buffer, pos = 0): RecordBatchHeader {
  if (pos < 0 || buf.length - pos < BATCH_HEADER_SIZE) {
    throw corrupt('TRUNCATED', `record batch header needs ${BATCH_HEADER_SIZE} bytes, have ${buf.length - pos}`);
  }
  return recordBatchHeaderLayout().decode(buf, pos);
}

/** Writes all 61 header bytes as given (the CRC is not computed here). Returns bytes written. */
export function writeBatchHeader(buf: Buffer, header: RecordBatchHeader, pos = 0): number {
  return recordBatchHeaderLayout().encode(header, buf, pos);
}

// --- single-field accessors: `pos` is where the batch starts inside `buf` ---

export const readBaseOffset = (buf: Buffer, pos = 0): bigint => buf.readBigInt64BE(pos + BASE_OFFSET_OFFSET);
export const readBatchLength = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
/** Whole batch size in bytes, including offset and length fields. */
export const readBatchSize = (buf: Buffer, pos = 0): number => LOG_OVERHEAD + readBatchLength(buf, pos);
export const readPartitionLeaderEpoch = (buf: Buffer, pos = 0): number =>
  buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_OFFSET);
export const readMagic = (buf: Buffer, pos = 0): number => buf.readInt8(pos + MAGIC_OFFSET);
export const readCrc = (buf: Buffer, pos = 0): number => buf.readUInt32BE(pos + CRC_OFFSET);
export const readAttributes = (buf: Buffer, pos = 0): number => buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
export const readLastOffsetDelta = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET);
export const readBaseTimestamp = (buf: Buffer, pos = 0): bigint => buf.readBigInt64BE(pos + BASE_TIMESTAMP_OFFSET);
export const readMaxTimestamp = (buf: Buffer, pos = 0): bigint => buf.readBigInt64BE(pos + MAX_TIMESTAMP_OFFSET);
export const readProducerId = (buf: Buffer, pos = 0): bigint => buf.readBigInt64BE(pos + PRODUCER_ID_OFFSET);
export const readProducerEpoch = (buf: Buffer, pos = 0): number => buf.readInt16BE(pos + PRODUCER_EPOCH_OFFSET);
export const readBaseSequence = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + BASE_SEQUENCE_OFFSET);
export const readRecordCount = (buf: Buffer, pos = 0): number => buf.readInt32BE(pos + RECORD_COUNT_OFFSET);
/** Offset of the last record: baseOffset + lastOffsetDelta. */
export const readLastOffset = (buf: Buffer, pos = 0): bigint =>
  readBaseOffset(buf, pos) + BigInt(readLastOffsetDelta(buf, pos));

/** Neither field is covered by the CRC, so the broker can assign them without rehashing. */
export function setBaseOffset(buf: Buffer, pos: number, baseOffset: bigint): void {
  buf.writeBigInt64BE(baseOffset, pos + BASE_OFFSET_OFFSET);
}

export function setPartitionLeaderEpoch(buf: Buffer, pos: number, epoch: number): void {
  buf.writeInt32BE(epoch, pos + PARTITION_LEADER_EPOCH_OFFSET);
}

/** The CRC region of a single batch view: bytes [21, 12 + batchLength). */
function crcRegion(batch: Buffer): Buffer {
  if (batch.length < BATCH_HEADER_SIZE) {
    throw corrupt('TRUNCATED', `record batch of ${batch.length} bytes is shorter than its header`);
  }
  const size = readBatchSize(batch);
  if (size < BATCH_HEADER_SIZE || size > batch.length) {
    throw corrupt('BAD_LENGTH', `batch length ${size - LOG_OVERHEAD} does not fit the ${batch.length}-byte view`);
  }
  return batch.subarray(ATTRIBUTES_OFFSET, size);
}

export function computeBatchCrc(batch: Buffer): number {
  return crc32c(crcRegion(batch));
}

export function verifyBatchCrc(batch: Buffer): boolean {
  return computeBatchCrc(batch) === readCrc(batch);
}

/** Recomputes and stores the CRC, for use after changing anything from byte 21 on. */
export function writeBatchCrc(batch: Buffer): number {
  const crc = computeBatchCrc(batch);
  batch.writeUInt32BE(crc, CRC_OFFSET);
  return crc;
}

/**
 * Kafka's DefaultRecordBatch.setMaxTimestamp: the batch's timestamp type and max timestamp, the
 * CRC recomputed only when either changes.
 */
export function setMaxTimestamp(batch: Buffer, type: TimestampType, maxTimestamp: bigint): void {
  const attributes = readAttributes(batch);
  const typed = type === TimestampType.LogAppendTime ? attributes | ATTR_TIMESTAMP_TYPE : attributes & ~ATTR_TIMESTAMP_TYPE;
  if (typed === attributes && readMaxTimestamp(batch) === maxTimestamp) return;
  batch.writeInt16BE(typed, ATTRIBUTES_OFFSET);
  batch.writeBigInt64BE(maxTimestamp, MAX_TIMESTAMP_OFFSET);
  writeBatchCrc(batch);
}

/** What a broker does for LogAppendTime topics: flag the batch, stamp maxTimestamp, rehash. */
export function setLogAppendTime(batch: Buffer, timestamp: bigint): void {
  setMaxTimestamp(batch, TimestampType.LogAppendTime, timestamp);
}

// --- attributes (§1.2) ---

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_TYPE = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;
export const ATTR_DELETE_HORIZON = 0x40;

export enum TimestampType {
  CreateTime = 0,
  LogAppendTime = 1,
}

export const compressionOf = (attributes: number): number => attributes & ATTR_COMPRESSION_MASK;
export const timestampTypeOf = (attributes: number): TimestampType =>
  attributes & ATTR_TIMESTAMP_TYPE ? TimestampType.LogAppendTime : TimestampType.CreateTime;
export const isTransactional = (attributes: number): boolean => (attributes & ATTR_TRANSACTIONAL) !== 0;
export const isControl = (attributes: number): boolean => (attributes & ATTR_CONTROL) !== 0;
export const hasDeleteHorizon = (attributes: number): boolean => (attributes & ATTR_DELETE_HORIZON) !== 0;

export interface BatchAttributes {
  compression?: number;
  timestampType?: TimestampType;
  transactional?: boolean;
  control?: boolean;
  deleteHorizon?: boolean;
}

export function makeAttributes(a: BatchAttributes): number {
  return (
    ((a.compression ?? 0) & ATTR_COMPRESSION_MASK) |
    (a.timestampType === TimestampType.LogAppendTime ? ATTR_TIMESTAMP_TYPE : 0) |
    (a.transactional ? ATTR_TRANSACTIONAL : 0) |
    (a.control ? ATTR_CONTROL : 0) |
    (a.deleteHorizon ? ATTR_DELETE_HORIZON : 0)
  );
}
