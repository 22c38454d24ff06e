/**
 * Encoding v2 batches: producer-style data batches and the broker's transaction markers.
 * Records are sized first and written into one allocation; the CRC is computed last.
 */
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  CRC_OFFSET,
  LOG_OVERHEAD,
  makeAttributes,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  TimestampType,
  writeBatchHeader,
} from './batch.js';
import { crc32c } from './crc32c.js';
import { CompressionCodec, compress, compressAsync, type CompressOptions } from './compression.js';
import { ControlRecordType } from './record.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export type BytesInput = Buffer | Uint8Array | string | null | undefined;

export interface HeaderInput {
  key: string;
  value: BytesInput;
}

export interface RecordInput {
  key?: BytesInput;
  value?: BytesInput;
  headers?: HeaderInput[];
  /** Milliseconds; defaults to the current time. -1 (NO_TIMESTAMP) is allowed. */
  timestamp?: bigint | number;
  /** Defaults to the record's index. Must increase. */
  offsetDelta?: number;
}

export interface BuildBatchOptions {
  baseOffset?: bigint;
  records: RecordInput[];
  compression?: CompressionCodec;
  /** Codec level and framing choices, see CompressOptions. */
  compressionOptions?: CompressOptions;
  timestampType?: TimestampType;
  /** maxTimestamp of a LogAppendTime batch; defaults to the largest record timestamp. */
  logAppendTime?: bigint;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  partitionLeaderEpoch?: number;
}

export const toBytes = (b: BytesInput): Buffer | null =>
  b === null || b === undefined ? null : typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);

interface Prepared {
  offsetDelta: number;
  timestampDelta: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: Buffer; value: Buffer | null }[];
  bodySize: number;
}

const sizeOfBytes = (b: Buffer | null): number => (b === null ? 1 : sizeOfVarint(b.length) + b.length);

function prepare(input: RecordInput, index: number, baseTimestamp: bigint, timestamp: bigint): Prepared {
  const key = toBytes(input.key);
  const value = toBytes(input.value);
  const headers = (input.headers ?? []).map((h) => ({ key: Buffer.from(h.key, 'utf8'), value: toBytes(h.value) }));
  const offsetDelta = input.offsetDelta ?? index;
  const timestampDelta = timestamp - baseTimestamp;
  let bodySize = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfBytes(key) + sizeOfBytes(value);
  bodySize += sizeOfVarint(headers.length);
  for (const h of headers) bodySize += sizeOfBytes(h.key) + sizeOfBytes(h.value);
  return { offsetDelta, timestampDelta, key, value, headers, bodySize };
}

function writeBytes(buf: Buffer, pos: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, b.length);
  return pos + b.copy(buf, pos);
}

function writeRecord(buf: Buffer, pos: number, r: Prepared): number {
  pos = writeVarint(buf, pos, r.bodySize);
  buf[pos++] = 0; // record attributes: unused
  pos = writeVarlong(buf, pos, r.timestampDelta);
  pos = writeVarint(buf, pos, r.offsetDelta);
  pos = writeBytes(buf, pos, r.key);
  pos = writeBytes(buf, pos, r.value);
  pos = writeVarint(buf, pos, r.headers.length);
  for (const h of r.headers) {
    pos = writeBytes(buf, pos, h.key);
    pos = writeBytes(buf, pos, h.value);
  }
  return pos;
}

interface Encoded {
  options: BuildBatchOptions;
  /** Uncompressed record bytes. */
  body: Buffer;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
}

function encodeRecords(options: BuildBatchOptions): Encoded {
  const { records } = options;
  if (records.length === 0) throw new RangeError('a record batch needs at least one record');
  const now = BigInt(Date.now());
  const timestamps = records.map((r) => (r.timestamp === undefined ? now : BigInt(r.timestamp)));
  const baseTimestamp = timestamps[0]!;
  const maxTimestamp = timestamps.reduce((a, b) => (b > a ? b : a));
  const prepared = records.map((r, i) => prepare(r, i, baseTimestamp, timestamps[i]!));
  let size = 0;
  let lastOffsetDelta = -1;
  for (const p of prepared) {
    if (p.offsetDelta <= lastOffsetDelta) throw new RangeError(`offsetDelta ${p.offsetDelta} does not increase`);
    lastOffsetDelta = p.offsetDelta;
    size += sizeOfVarint(p.bodySize) + p.bodySize;
  }
  const body = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const p of prepared) pos = writeRecord(body, pos, p);
  return { options, body, lastOffsetDelta, baseTimestamp, maxTimestamp };
}

function assemble(e: Encoded, payload: Buffer, control: boolean): Buffer {
  const o = e.options;
  const compression = o.compression ?? CompressionCodec.None;
  const timestampType = o.timestampType ?? TimestampType.CreateTime;
  const batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payload.length);
  writeBatchHeader(batch, {
    baseOffset: o.baseOffset ?? 0n,
    batchLength: batch.length - LOG_OVERHEAD,
    partitionLeaderEpoch: o.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    magic: 2,
    crc: 0,
    attributes: makeAttributes({ compression, timestampType, transactional: o.transactional ?? false, control }),
    lastOffsetDelta: e.lastOffsetDelta,
    baseTimestamp: e.baseTimestamp,
    maxTimestamp: timestampType === TimestampType.LogAppendTime ? (o.logAppendTime ?? e.maxTimestamp) : e.maxTimestamp,
    producerId: o.producerId ?? NO_PRODUCER_ID,
    producerEpoch: o.producerEpoch ?? NO_PRODUCER_EPOCH,
    baseSequence: o.baseSequence ?? NO_SEQUENCE,
    recordCount: o.records.length,
  });
  payload.copy(batch, BATCH_HEADER_SIZE);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

/** Builds one v2 batch with a correct CRC. baseTimestamp is the first record's timestamp. */
export function buildRecordBatch(options: BuildBatchOptions): Buffer {
  const e = encodeRecords(options);
  const codec = options.compression ?? CompressionCodec.None;
  return assemble(e, compress(codec, e.body, options.compressionOptions), false);
}

/** As `buildRecordBatch`, compressing off the JS thread where the codec allows. */
export async function buildRecordBatchAsync(options: BuildBatchOptions): Promise<Buffer> {
  const e = encodeRecords(options);
  const codec = options.compression ?? CompressionCodec.None;
  return assemble(e, await compressAsync(codec, e.body, options.compressionOptions), false);
}

export interface ControlBatchOptions {
  type: 'ABORT' | 'COMMIT';
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  timestamp: bigint | number;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
}

/** A transaction marker: one control record, attributes control + transactional. */
export function buildControlBatch(options: ControlBatchOptions): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0); // key version
  key.writeInt16BE(ControlRecordType[options.type], 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0); // marker version
  value.writeInt32BE(options.coordinatorEpoch, 2);
  const e = encodeRecords({
    records: [{ key, value, timestamp: options.timestamp }],
    baseOffset: options.baseOffset,
    partitionLeaderEpoch: options.partitionLeaderEpoch,
    producerId: options.producerId,
    producerEpoch: options.producerEpoch,
    transactional: true,
  });
  return assemble(e, e.body, true);
}
