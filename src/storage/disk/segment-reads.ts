/**
 * Reading batches out of a segment file: whole batches from the one holding an offset (a fetch),
 * or the first batch whose max timestamp matches (ListOffsets by time). Reads of a fetch's usual
 * size go into pooled buffers that come back when the reader releases the result.
 */
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, readBaseOffset, readBatchSize, readLastOffset } from '../../../protocol/records/index.js';
import { BufferPool, once } from '../buffer-pool.js';
import { CorruptLogError, type ReadResult } from '../storage.js';
import type { FileHandleCache } from './file-cache.js';
import { readAt } from './fs-util.js';
import { scanBatches } from './scan.js';
import type { Segment } from './segment.js';

export const EMPTY_READ: ReadResult = Object.freeze({ records: Buffer.alloc(0) }) as ReadResult;
/** Thrown inside a read that met a replaced segment: the read starts again. */
export const RETRY = Symbol('retry read');
/**
 * Buffers for segment reads of a fetch's usual size (1 MiB and the slack read around it), shared
 * by every partition of the process.
 */
const readBuffers = new BufferPool(1024 * 1024 + 64 * 1024, 8);
/** Bytes read past maxBytes so that the batch an index entry points at and the wanted one share one read. */
const READ_SLACK = 4096;

export interface BatchesRead {
  offset: bigint;
  maxBytes: number;
  /** Batches from this offset on are not returned. */
  maxOffset: bigint;
  /** The first batch is returned even when larger than maxBytes. */
  minOne: boolean;
  indexIntervalBytes: number;
}

/**
 * Whole batches of `seg` from the one containing `o.offset`; null when no batch of this segment
 * reaches it (the caller moves to the next segment). The segment's indexes must be loaded.
 */
export async function readBatches(seg: Segment, files: FileHandleCache, o: BatchesRead): Promise<ReadResult | null> {
  const { offset, maxBytes, maxOffset, minOne } = o;
  const end = seg.size;
  // No batch of the segment's first `end` bytes goes past this (both move together on an append).
  const next = seg.nextOffset;
  const start = seg.offsetIndex!.lookup(offset).position;
  if (start >= end) return null;
  const lease = await files.acquire(seg.logPath);
  // Reads that fit go into a pooled buffer, handed back when the caller releases the result.
  let pooled: Buffer | null = null;
  const load = (length: number, at: number): Promise<Buffer> => {
    if (pooled !== null) readBuffers.give(pooled);
    pooled = length <= readBuffers.size ? readBuffers.take() : null;
    return readAt(lease.fh, length, at, pooled ?? undefined);
  };
  // The active segment has no next one to go on in: a batch holding `offset` must be here (whole
  // batches up to `end` hold every offset below `next`). Damage a clean start did not look at
  // (before the last index entry) would otherwise answer no records, and the reader wait there for ever.
  const missing = (at: number): null => {
    if (seg.active && offset < next) throw new CorruptLogError(`${seg.logPath}: no whole batch at position ${at} holds offset ${offset}, below the segment's end offset ${next}`);
    return null;
  };
  try {
    // Replaced after its indexes were read: this descriptor may be the cleaned file's.
    if (seg.replaced) throw RETRY;
    const chunk = (at: number): number => Math.min(end - at, Math.max(maxBytes, BATCH_HEADER_SIZE) + o.indexIntervalBytes + READ_SLACK);
    let buf = await load(chunk(start), start);
    let bufPos = start;
    let p = 0;
    // Walk headers from the indexed position to the batch holding `offset`.
    for (;;) {
      const at = bufPos + p;
      if (at >= end) return missing(at);
      if (buf.length - p < BATCH_HEADER_SIZE) {
        buf = await load(chunk(at), at);
        bufPos = at;
        p = 0;
        if (buf.length < BATCH_HEADER_SIZE) return missing(at);
      }
      const size = readBatchSize(buf, p);
      if (size < BATCH_HEADER_SIZE) throw new CorruptLogError(`${seg.logPath}: corrupt batch length at ${at}`);
      if (readLastOffset(buf, p) >= offset) break;
      p += size;
    }
    const base = readBaseOffset(buf, p);
    // A base offset past the segment's end (damage the batch CRC does not cover, in a segment that
    // start-up trusted): an empty answer would hold the reader at this offset forever, with no error.
    if (base >= next) throw new CorruptLogError(`${seg.logPath}: the batch at ${bufPos + p} names base offset ${base}, past the segment's end ${next}`);
    if (base >= maxOffset) return EMPTY_READ;
    const firstSize = readBatchSize(buf, p);
    // Kafka's read would return the first maxBytes of the batch (ReadResult.readable).
    if (firstSize > maxBytes && !minOne) return { records: EMPTY_READ.records, readable: maxBytes };
    const from = bufPos + p;
    const want = Math.min(Math.max(maxBytes, firstSize), end - from);
    if (bufPos + buf.length < from + want) {
      buf = await load(want, from);
      bufPos = from;
      p = 0;
    }
    // The file ends inside the batch (damaged since it was checked): nothing whole here, so the read
    // goes on in the next segment, as Kafka's LocalLog.read does, rather than stalling at this offset.
    if (buf.length - p < firstSize) return missing(from);
    // Whole batches within the budget and below maxOffset. Kafka's read would return the budget's
    // bytes (ReadResult.readable) unless maxOffset or the segment's end comes first.
    let q = p + firstSize;
    const limit = p + want;
    let readable = want;
    while (q + LOG_OVERHEAD <= buf.length) {
      const size = readBatchSize(buf, q);
      if (size < BATCH_HEADER_SIZE || readBaseOffset(buf, q) >= maxOffset) {
        readable = q - p;
        break;
      }
      if (q + size > limit) break;
      q += size;
    }
    const records = buf.subarray(p, q);
    const held: Buffer | null = pooled;
    pooled = null;
    const more = readable > records.length ? { readable } : {};
    return held === null ? { records, ...more } : { records, release: once(() => readBuffers.give(held)), ...more };
  } finally {
    if (pooled !== null) readBuffers.give(pooled);
    lease.release();
  }
}

/**
 * The first batch below `hw` at or after position `from` that satisfies `match`
 * (batch headers only, then that batch).
 */
export async function findBatch(seg: Segment, files: FileHandleCache, from: number, hw: bigint, match: (batch: { lastOffset: bigint; maxTimestamp: bigint }) => boolean): Promise<Buffer | null> {
  const lease = await files.acquire(seg.logPath);
  try {
    if (seg.replaced) throw RETRY;
    let found: { position: number; size: number } | null = null;
    await scanBatches(
      lease.fh,
      from,
      seg.size,
      { validateOffsets: false, crc: false, wholeBatches: false, minBaseOffset: seg.baseOffset, segmentBase: seg.baseOffset, chunkSize: 64 * 1024 },
      (b) => {
        if (b.baseOffset >= hw) return false;
        if (match(b)) {
          found = { position: b.position, size: b.size };
          return false;
        }
        return true;
      },
    );
    if (found === null) return null;
    const { position, size } = found;
    const bytes = await readAt(lease.fh, size, position);
    return bytes.length === size ? bytes : null;
  } finally {
    lease.release();
  }
}
