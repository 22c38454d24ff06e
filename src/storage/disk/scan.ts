/**
 * Walking the batches of a segment file by their headers: recovery validates them (length, magic,
 * CRC-32C, monotonic offsets), index rebuilds and timestamp searches only read headers. Files are
 * read in large chunks; nothing below the batch header is decoded.
 */
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  readBaseOffset,
  readLastOffsetDelta,
  readMagic,
  readMaxTimestamp,
  verifyBatchCrc,
} from '../../../protocol/records/index.js';
import { readAt, type PositionalReader } from './fs-util.js';
import { INT32_MAX } from './index-buffer.js';

export interface BatchInfo {
  /** Byte position in the segment file. */
  position: number;
  size: number;
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
}

export interface ScanOptions {
  /** Check offsets: first base ≥ minBaseOffset, each base above the previous last, last − segmentBase fits int32. */
  validateOffsets: boolean;
  /** Verify each batch's CRC-32C (implies reading whole batches). */
  crc: boolean;
  /** Hand whole batch bytes to the callback (otherwise only headers are read). */
  wholeBatches: boolean;
  minBaseOffset: bigint;
  segmentBase: bigint;
  chunkSize?: number;
}

export interface ScanOutcome {
  /** Position after the last good batch visited (where a truncation would cut). */
  end: number;
  /** Why the scan stopped before `limit`, when it met a torn or invalid batch. */
  invalid: string | null;
}

const DEFAULT_CHUNK = 1024 * 1024;

/**
 * Visits the batches in [start, limit) of a segment file. `onBatch` may return false to stop
 * after the current batch. `bytes` is the whole batch when wholeBatches or crc is set.
 */
export async function scanBatches(
  fh: PositionalReader,
  start: number,
  limit: number,
  options: ScanOptions,
  onBatch: (batch: BatchInfo, bytes: Buffer | null) => boolean | void,
): Promise<ScanOutcome> {
  const chunk = options.chunkSize ?? DEFAULT_CHUNK;
  const whole = options.wholeBatches || options.crc;
  let buf: Buffer = Buffer.alloc(0);
  let bufPos = start;
  let p = 0;
  let minBase = options.minBaseOffset;
  for (;;) {
    const at = bufPos + p;
    if (at >= limit) return { end: at, invalid: null };
    const left = limit - at;
    if (buf.length - p < BATCH_HEADER_SIZE) {
      if (left < BATCH_HEADER_SIZE) return { end: at, invalid: `torn batch header at ${at}: ${left} bytes left` };
      buf = await readAt(fh, Math.min(left, chunk), at);
      bufPos = at;
      p = 0;
      if (buf.length < BATCH_HEADER_SIZE) return { end: at, invalid: `file ends at ${at + buf.length}, before ${limit}` };
    }
    const length = buf.readInt32BE(p + 8);
    const size = LOG_OVERHEAD + length;
    if (length < BATCH_HEADER_SIZE - LOG_OVERHEAD) return { end: at, invalid: `batch at ${at} has length ${length}` };
    if (size > left) return { end: at, invalid: `torn batch at ${at}: ${size} bytes announced, ${left} present` };
    const magic = readMagic(buf, p);
    if (magic !== 2) return { end: at, invalid: `batch at ${at} has magic ${magic}` };
    const baseOffset = readBaseOffset(buf, p);
    const lastDelta = readLastOffsetDelta(buf, p);
    if (lastDelta < 0) return { end: at, invalid: `batch at ${at} has lastOffsetDelta ${lastDelta}` };
    const lastOffset = baseOffset + BigInt(lastDelta);
    if (options.validateOffsets) {
      if (baseOffset < minBase) return { end: at, invalid: `batch at ${at} has base offset ${baseOffset}, expected ≥ ${minBase}` };
      if (lastOffset - options.segmentBase > BigInt(INT32_MAX)) {
        return { end: at, invalid: `batch at ${at} ends at offset ${lastOffset}, beyond segment ${options.segmentBase}'s int32 range` };
      }
    }
    const maxTimestamp = readMaxTimestamp(buf, p);
    let bytes: Buffer | null = null;
    if (whole) {
      if (buf.length - p < size) {
        buf = await readAt(fh, Math.min(left, Math.max(size, chunk)), at);
        bufPos = at;
        p = 0;
        if (buf.length < size) return { end: at, invalid: `file ends inside the batch at ${at}` };
      }
      bytes = buf.subarray(p, p + size);
      if (options.crc && !verifyBatchCrc(bytes)) return { end: at, invalid: `batch at ${at} fails its CRC-32C` };
    }
    minBase = lastOffset + 1n;
    p += size;
    if (onBatch({ position: at, size, baseOffset, lastOffset, maxTimestamp }, bytes) === false) return { end: at + size, invalid: null };
  }
}
