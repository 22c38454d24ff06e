/**
 * Batches kept in memory, copied into large blocks so that consecutive batches are contiguous:
 * a fetch is then one slice of a block, with no per-consumer copy. Used as the whole log by the
 * memory engine and as the recent-batches cache by the disk engine.
 */
import { readBatchSize, readLastOffsetDelta, readMaxTimestamp, readBaseOffset } from '../../protocol/records/index.js';

const FIRST_BLOCK_SIZE = 64 * 1024;
const BLOCK_SIZE = 1024 * 1024;

export interface ArenaEntry {
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
  block: Buffer;
  pos: number;
  size: number;
}

export class BatchArena {
  /** Dropped entries are cleared to undefined at once, so their blocks can be collected. */
  private entries: (ArenaEntry | undefined)[] = [];
  /** Index of the first live entry: dropping from the front is O(1), compaction happens in bulk. */
  private head = 0;
  private block: Buffer | null = null;
  private blockUsed = 0;
  private bytesHeld = 0;

  get bytes(): number {
    return this.bytesHeld;
  }

  get count(): number {
    return this.entries.length - this.head;
  }

  get first(): ArenaEntry | undefined {
    return this.entries[this.head];
  }

  get last(): ArenaEntry | undefined {
    return this.count > 0 ? this.entries[this.entries.length - 1] : undefined;
  }

  at(i: number): ArenaEntry {
    return this.entries[this.head + i]!;
  }

  /** Copies a batch (its offsets already assigned) into the arena; returns the stored view. */
  add(batch: Buffer): ArenaEntry {
    const size = readBatchSize(batch);
    if (this.block === null || this.blockUsed + size > this.block.length) {
      // Blocks start small and double up to 1 MiB, so thousands of quiet partitions stay cheap.
      const next = this.block === null ? FIRST_BLOCK_SIZE : Math.min(this.block.length * 2, BLOCK_SIZE);
      this.block = Buffer.allocUnsafe(Math.max(next, size));
      this.blockUsed = 0;
    }
    batch.copy(this.block, this.blockUsed, 0, size);
    const baseOffset = readBaseOffset(batch);
    const entry: ArenaEntry = {
      baseOffset,
      lastOffset: baseOffset + BigInt(readLastOffsetDelta(batch)),
      maxTimestamp: readMaxTimestamp(batch),
      block: this.block,
      pos: this.blockUsed,
      size,
    };
    this.blockUsed += size;
    this.entries.push(entry);
    this.bytesHeld += size;
    return entry;
  }

  view(e: ArenaEntry): Buffer {
    return e.block.subarray(e.pos, e.pos + e.size);
  }

  /** Position (relative to the first live entry) of the first batch whose last offset is ≥ offset; count if none. */
  search(offset: bigint): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo - this.head;
  }

  /**
   * Contiguous batches starting at position i, up to maxBytes (the first always, when minOne),
   * stopping before maxOffset and at a block boundary.
   */
  slice(i: number, maxBytes: number, maxOffset: bigint, minOne: boolean): Buffer {
    const first = this.entries[this.head + i];
    if (!first || first.baseOffset >= maxOffset) return EMPTY;
    if (first.size > maxBytes && !minOne) return EMPTY;
    let end = first.pos + first.size;
    for (let j = this.head + i + 1; j < this.entries.length; j++) {
      const e = this.entries[j]!;
      if (e.block !== first.block || e.pos !== end || e.baseOffset >= maxOffset) break;
      if (end + e.size - first.pos > maxBytes) break;
      end += e.size;
    }
    return first.block.subarray(first.pos, end);
  }

  /** Drops the first n live entries. */
  dropFront(n: number): void {
    for (let k = 0; k < n && this.head < this.entries.length; k++) {
      this.bytesHeld -= this.entries[this.head]!.size;
      this.entries[this.head] = undefined;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.count === 0) {
      this.entries = [];
      this.head = 0;
    }
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.block = null;
    this.blockUsed = 0;
    this.bytesHeld = 0;
  }
}

const EMPTY = Buffer.alloc(0);
