/**
 * The read path of a partition log. Reads never wait for the partition's I/O queue: recent batches
 * come from the tail cache, older ones from the segment files (segment-reads.ts: offset index
 * lookup, then one positioned read, rarely two), loading an inactive segment's indexes on demand.
 * A read that meets a segment the cleaner replaced meanwhile starts again on the current segments,
 * so it returns whole batches of one version.
 */
import type { BatchArena } from '../batch-arena.js';
import type { LogConfig, ReadOptions, ReadResult } from '../storage.js';
import { isNotFound } from './fs-util.js';
import type { PartitionServices, PartitionStats } from './partition-services.js';
import { loadSegmentIndexes } from './recovery.js';
import { EMPTY_READ, RETRY, findBatch, readBatches } from './segment-reads.js';
import type { Segment } from './segment.js';

/** What the read path needs from its partition log. */
export interface ReadHost {
  readonly name: string;
  readonly highWatermark: bigint;
  readonly config: LogConfig;
  /** The tail cache. */
  readonly arena: BatchArena;
  readonly stats: PartitionStats;
  /** The current segments, oldest first; the last is active. */
  currentSegments(): readonly Segment[];
}

const MAX_READ_ATTEMPTS = 20;

export class PartitionReader {
  constructor(
    private readonly host: ReadHost,
    private readonly services: PartitionServices,
  ) {}

  /** Whole batches from `offset`, which the caller has already moved up to the log start offset. */
  read(offset: bigint, maxBytes: number, options: ReadOptions): Promise<ReadResult> {
    return this.retrying(() => this.readOnce(offset, maxBytes, options));
  }

  findBatchByTimestamp(timestamp: bigint, fromOffset = 0n): Promise<Buffer | null> {
    return this.retrying(() => this.findBatchByTimestampOnce(timestamp, fromOffset));
  }

  findMaxTimestampBatch(): Promise<Buffer | null> {
    return this.retrying(() => this.findMaxTimestampBatchOnce());
  }

  /** Runs a read again while it meets segments replaced by the cleaner under it. */
  private async retrying<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (e) {
        if (e !== RETRY) throw e;
        if (attempt >= MAX_READ_ATTEMPTS) throw new Error(`partition ${this.host.name}: segments kept changing under a read`);
      }
    }
  }

  /** Whether an error of a segment read means "the segment was swapped: read again". */
  private static mustRetry(seg: Segment, e: unknown): boolean {
    return e === RETRY || seg.replaced || (isNotFound(e) && !seg.deleted);
  }

  private async readOnce(offset: bigint, maxBytes: number, options: ReadOptions): Promise<ReadResult> {
    const { arena, stats } = this.host;
    const hw = this.host.highWatermark;
    if (offset >= hw) return EMPTY_READ;
    const maxOffset = options.maxOffset < hw ? options.maxOffset : hw;
    const budget = Math.max(0, maxBytes);
    const first = arena.first;
    if (first && offset >= first.baseOffset) {
      stats.cacheReads++;
      return arena.slice(arena.search(offset), budget, maxOffset, options.minOneBatch, options.readableWanted);
    }
    const segs = this.host.currentSegments();
    for (let i = floorSegment(segs, offset); i < segs.length; i++) {
      const seg = segs[i]!;
      if (seg.size === 0) continue;
      let out: ReadResult | null;
      try {
        out = await this.readSegment(seg, offset, budget, maxOffset, options.minOneBatch);
      } catch (e) {
        if (PartitionReader.mustRetry(seg, e)) throw RETRY;
        // The segment went away under us (retention): the caller sees the new logStartOffset.
        if (isNotFound(e) || seg.deleted) return EMPTY_READ;
        throw e;
      }
      if (out !== null) {
        stats.fileReads++;
        return out;
      }
    }
    return EMPTY_READ;
  }

  /** Inactive segments load their indexes on demand. */
  private async indexes(seg: Segment): Promise<void> {
    if (!seg.offsetIndex || !seg.timeIndex) {
      await loadSegmentIndexes(seg, { indexIntervalBytes: this.host.config.indexIntervalBytes, logger: this.services.logger, name: this.host.name, now: this.services.now() });
    }
    if (!seg.active) this.services.indexesUsed(seg);
  }

  /**
   * Whole batches of one segment from the one containing `offset`; null when no batch of this
   * segment reaches `offset` (the caller moves to the next segment).
   */
  private async readSegment(seg: Segment, offset: bigint, maxBytes: number, maxOffset: bigint, minOne: boolean): Promise<ReadResult | null> {
    await this.indexes(seg);
    return readBatches(seg, this.services.files, { offset, maxBytes, maxOffset, minOne, indexIntervalBytes: this.host.config.indexIntervalBytes });
  }

  private async findBatchByTimestampOnce(timestamp: bigint, fromOffset: bigint): Promise<Buffer | null> {
    const segs = this.host.currentSegments();
    for (let i = floorSegment(segs, fromOffset); i < segs.length; i++) {
      const seg = segs[i]!;
      if (seg.size === 0 || seg.maxTimestamp < timestamp) continue;
      try {
        await this.indexes(seg);
        const entry = seg.timeIndex!.lookup(timestamp);
        const from = seg.offsetIndex!.lookup(entry.offset > fromOffset ? entry.offset : fromOffset).position;
        const found = await findBatch(seg, this.services.files, from, this.host.highWatermark, (b) => b.maxTimestamp >= timestamp && b.lastOffset >= fromOffset);
        if (found !== null) return found;
      } catch (e) {
        if (PartitionReader.mustRetry(seg, e)) throw RETRY;
        if (isNotFound(e) || seg.deleted) continue;
        throw e;
      }
    }
    return null;
  }

  private async findMaxTimestampBatchOnce(): Promise<Buffer | null> {
    let best: Segment | null = null;
    for (const seg of this.host.currentSegments()) {
      if (seg.size > 0 && (best === null || seg.maxTimestamp > best.maxTimestamp)) best = seg;
    }
    if (best === null) return null;
    const seg = best;
    const max = seg.maxTimestamp;
    try {
      await this.indexes(seg);
      let from = 0;
      if (max >= 0n) from = seg.maxTimestampPosition >= 0 ? seg.maxTimestampPosition : seg.offsetIndex!.lookup(seg.maxTimestampOffset).position;
      return await findBatch(seg, this.services.files, from, this.host.highWatermark, (b) => b.maxTimestamp >= max);
    } catch (e) {
      if (PartitionReader.mustRetry(seg, e)) throw RETRY;
      if (isNotFound(e) || seg.deleted) return null;
      throw e;
    }
  }
}

/** Index of the last segment whose base offset is ≤ offset (0 when offset precedes them all). */
function floorSegment(segs: readonly Segment[], offset: bigint): number {
  let lo = 0;
  let hi = segs.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (segs[mid]!.baseOffset <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
