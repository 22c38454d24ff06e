/**
 * Batches kept in memory, copied into large blocks so that consecutive batches are contiguous:
 * a fetch is then one slice of a block, with no per-consumer copy. Used as the whole log by the
 * memory engine and as the recent-batches cache by the disk engine.
 *
 * A recycling arena (the disk engine's cache, which keeps turning over) hands its dropped 1 MiB
 * blocks back to a pool for the next ones: fresh memory for every megabyte produced costs page
 * faults, unmapping and garbage collection that dominate a busy broker. A block is reused only
 * once nothing can still read it: every slice handed out holds a lease on its block until the
 * reader releases it (a fetch response, once written to its socket). A reader that never releases
 * only keeps its block out of the pool; the garbage collector then frees it as before.
 */
import { readBatchSize, readLastOffsetDelta, readMaxTimestamp, readBaseOffset } from '../../protocol/records/index.js';
import { BufferPool, once } from './buffer-pool.js';

const FIRST_BLOCK_SIZE = 64 * 1024;
/**
 * Heap bytes an entry costs besides its batch (the object, three bigints, its slot): with
 * one-record batches, as offset commits or unbatched sends are, this is most of the memory.
 */
export const ENTRY_OVERHEAD = 160;
const BLOCK_SIZE = 1024 * 1024;
/** Free blocks kept for reuse, shared by every recycling arena of the process. */
const pool = new BufferPool(BLOCK_SIZE, 16);

export interface ArenaBlock {
  readonly buf: Buffer;
  /** Entries of this arena still in the block. */
  live: number;
  /** Slices handed out and not yet released (and writes in progress). */
  leases: number;
  /** No entry will be added to or kept in it again. */
  retired: boolean;
}

export interface ArenaEntry {
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
  block: ArenaBlock;
  pos: number;
  size: number;
}

/** Contiguous batches and, for a recycling arena, the release of the lease on their block. */
export interface ArenaSlice {
  records: Buffer;
  release?: () => void;
  /** When more than `records`: what a fetch counts towards MinBytes (ReadResult.readable). */
  readable?: number;
}

export class BatchArena {
  /** Dropped entries are cleared to undefined at once, so their blocks can be collected. */
  private entries: (ArenaEntry | undefined)[] = [];
  /** Index of the first live entry: dropping from the front is O(1), compaction happens in bulk. */
  private head = 0;
  private block: ArenaBlock | null = null;
  private blockUsed = 0;
  private bytesHeld = 0;

  constructor(private readonly options: { recycle?: boolean } = {}) {}

  get bytes(): number {
    return this.bytesHeld;
  }

  /** What the cached batches cost in memory: their bytes and their entries. */
  get footprint(): number {
    return this.bytesHeld + this.count * ENTRY_OVERHEAD;
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
    if (this.block === null || this.blockUsed + size > this.block.buf.length) {
      // Blocks start small and double up to 1 MiB, so thousands of quiet partitions stay cheap.
      const previous = this.block;
      const next = previous === null ? FIRST_BLOCK_SIZE : Math.min(previous.buf.length * 2, BLOCK_SIZE);
      const length = Math.max(next, size);
      const buf = length === BLOCK_SIZE && this.options.recycle ? pool.take() : Buffer.allocUnsafe(length);
      this.block = { buf, live: 0, leases: 0, retired: false };
      this.blockUsed = 0;
      if (previous !== null && previous.live === 0) this.retire(previous);
    }
    batch.copy(this.block.buf, this.blockUsed, 0, size);
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
    this.block.live++;
    this.entries.push(entry);
    this.bytesHeld += size;
    return entry;
  }

  /** The batch's bytes; only for use before the arena changes again (no lease is taken). */
  view(e: ArenaEntry): Buffer {
    return e.block.buf.subarray(e.pos, e.pos + e.size);
  }

  /** Keeps the block from reuse until unpin (e.g. while a write of its bytes is in progress). */
  pin(block: ArenaBlock): void {
    block.leases++;
  }

  unpin(block: ArenaBlock): void {
    block.leases--;
    if (block.leases === 0 && block.retired) this.recycle(block);
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
   * stopping before maxOffset and at a block boundary; with what Kafka's read would have returned
   * when that is more (ReadResult.readable): the batches past the block boundary, counted up to
   * maxBytes or `readableWanted`, and the part of the batch that maxBytes cuts.
   */
  slice(i: number, maxBytes: number, maxOffset: bigint, minOne: boolean, readableWanted = maxBytes): ArenaSlice {
    const first = this.entries[this.head + i];
    if (!first || first.baseOffset >= maxOffset) return EMPTY_SLICE;
    if (first.size > maxBytes && !minOne) return { records: EMPTY_SLICE.records, readable: maxBytes };
    let end = first.pos + first.size;
    let readable = first.size;
    let contiguous = true;
    for (let j = this.head + i + 1; j < this.entries.length; j++) {
      const e = this.entries[j]!;
      if (e.baseOffset >= maxOffset) break;
      if (readable + e.size > maxBytes) {
        readable = Math.max(maxBytes, first.size);
        break;
      }
      if (contiguous && (e.block !== first.block || e.pos !== end)) contiguous = false;
      if (contiguous) end += e.size;
      else if (readable >= readableWanted) break;
      readable += e.size;
    }
    const records = first.block.buf.subarray(first.pos, end);
    const more = readable > records.length ? { readable } : {};
    if (!this.options.recycle) return { records, ...more };
    const block = first.block;
    this.pin(block);
    return { records, release: once(() => this.unpin(block)), ...more };
  }

  /** Drops the first n live entries. */
  dropFront(n: number): void {
    for (let k = 0; k < n && this.head < this.entries.length; k++) {
      const e = this.entries[this.head]!;
      this.bytesHeld -= e.size;
      if (--e.block.live === 0 && e.block !== this.block) this.retire(e.block);
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
    for (let j = this.head; j < this.entries.length; j++) {
      const e = this.entries[j]!;
      if (--e.block.live === 0 && e.block !== this.block) this.retire(e.block);
    }
    if (this.block !== null) this.retire(this.block);
    this.entries = [];
    this.head = 0;
    this.block = null;
    this.blockUsed = 0;
    this.bytesHeld = 0;
  }

  private retire(block: ArenaBlock): void {
    block.retired = true;
    if (block.leases === 0) this.recycle(block);
  }

  private recycle(block: ArenaBlock): void {
    if (this.options.recycle) pool.give(block.buf);
  }
}

const EMPTY_SLICE: ArenaSlice = Object.freeze({ records: Buffer.alloc(0) });
