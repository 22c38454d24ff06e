/**
 * One segment of a partition log: `<base>.log` with its `<base>.index` and `<base>.timeindex`.
 * The in-memory state mirrors Kafka's LogSegment: size, next offset, largest timestamp and the
 * batch holding it, bytes since the last index entry, and the timestamp used for time-based rolls.
 * Only the active segment keeps a file descriptor open, its log's (for writing), as Kafka keeps a
 * channel per segment and closes index files once mapped: index files are opened to be written or
 * fsynced. Reads go through the shared FileHandleCache. Indexes of older segments are loaded on demand.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectWriter, type DirectWrites } from './direct-writer.js';
import { OPEN_RW_CREATE, datasyncFile, statOrNull, writeAllAt } from './fs-util.js';
import { INDEX_SUFFIX, LOG_SUFFIX, segmentFileName, TIME_INDEX_SUFFIX } from './names.js';
import { OFFSET_INDEX_ENTRY_SIZE, OffsetIndex } from './offset-index.js';
import type { ProducerSummary } from '../compaction.js';
import type { BatchInfo } from './scan.js';
import { NO_TIMESTAMP, TIME_INDEX_ENTRY_SIZE, TimeIndex } from './time-index.js';

/**
 * Appends from this size on are written directly. A smaller one goes through the page cache: a
 * direct write waits for the device (about 0.1 ms for a page on an SSD, more on network disks),
 * while its pages cost the cache little; a producer waiting on each small send would feel it.
 */
const DIRECT_WRITE_MIN_BYTES = 64 * 1024;

export class Segment {
  /** `<dir>/<20-digit base offset>`: the file names without their suffixes. */
  private readonly stem: string;
  /**
   * Appended to every file name: '' normally; '.cleaned' / '.swap' while the cleaner swaps this
   * segment in (Kafka's suffixes), so reads always open the files this object describes.
   */
  fileSuffix = '';

  /** Bytes of complete, written batches. */
  size = 0;
  /** Offset after the last batch (the base offset while empty). */
  nextOffset: bigint;
  /** Largest batch max timestamp, NO_TIMESTAMP when none. */
  maxTimestamp = NO_TIMESTAMP;
  /** Last offset of the first batch holding maxTimestamp. */
  maxTimestampOffset: bigint;
  /** Its position, -1 when not known (then found through the offset index). */
  maxTimestampPosition = -1;
  /** Max timestamp of the first batch: what Kafka measures segment.ms against. */
  firstBatchTimestamp: bigint | null = null;
  /** Wall-clock time the segment was created or loaded. */
  created: number;
  /** File modification time, for retention of segments without timestamps. */
  mtimeMs: number;
  bytesSinceLastIndexEntry = 0;
  /** Taken off segment.ms for this segment (segment.jitter.ms); drawn when first needed. */
  rollJitterMs: number | null = null;

  offsetIndex: OffsetIndex | null = null;
  timeIndex: TimeIndex | null = null;
  /** A pending lazy load of the indexes. */
  indexLoad: Promise<void> | null = null;

  /**
   * The last segment of its log, the one appends go to. Its log's write descriptor opens at the
   * first write (a partition left alone since start holds none), its indexes stay loaded.
   */
  active = false;
  logFh: FileHandle | null = null;
  /** An openWriter() in progress. */
  private opening: Promise<void> | null = null;
  /** Direct appends to the log, opened at the first append (undefined until then); null when they are off. */
  private direct: DirectWriter | null | undefined = undefined;

  /** Set once the segment left the log (retention, topic deletion, replaced by a cleaned one). */
  deleted = false;
  /** Set when a cleaned segment took its place: its readers retry on the current segments. */
  replaced = false;
  /** Indexes must stay loaded (a cleaned segment while its files are being renamed). */
  pinned = false;
  /**
   * Producers' last batches and transaction markers in this segment, once known (the cleaner
   * scans segments of earlier runs once; appends and cleaning keep it up to date).
   */
  summary: ProducerSummary | null = null;
  /** Max timestamp of the first batch read back from the file (max.compaction.lag.ms). */
  firstBatchTimestampLoaded = false;

  constructor(
    readonly dir: string,
    readonly baseOffset: bigint,
    now: number,
  ) {
    this.stem = join(dir, segmentFileName(baseOffset, ''));
    this.nextOffset = baseOffset;
    this.maxTimestampOffset = baseOffset;
    this.created = now;
    this.mtimeMs = now;
  }

  get logPath(): string {
    return this.stem + LOG_SUFFIX + this.fileSuffix;
  }

  get indexPath(): string {
    return this.stem + INDEX_SUFFIX + this.fileSuffix;
  }

  get timeIndexPath(): string {
    return this.stem + TIME_INDEX_SUFFIX + this.fileSuffix;
  }

  /** The three files under the given suffix. */
  pathsWith(suffix: string): string[] {
    return [this.stem + LOG_SUFFIX + suffix, this.stem + INDEX_SUFFIX + suffix, this.stem + TIME_INDEX_SUFFIX + suffix];
  }

  get paths(): string[] {
    return [this.logPath, this.indexPath, this.timeIndexPath];
  }

  /** Clears everything derived from the log, before a rebuild from its batches. */
  resetDerivedState(indexFileBytes: number, timeIndexFileBytes: number): void {
    this.size = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = NO_TIMESTAMP;
    this.maxTimestampOffset = this.baseOffset;
    this.maxTimestampPosition = -1;
    this.firstBatchTimestamp = null;
    this.bytesSinceLastIndexEntry = 0;
    this.offsetIndex = new OffsetIndex(this.baseOffset, null, indexFileBytes);
    this.timeIndex = new TimeIndex(this.baseOffset, null, timeIndexFileBytes);
  }

  /**
   * Accounts for one batch written at `batch.position` (Kafka's LogSegment.append, per batch):
   * track the largest timestamp; once more than indexIntervalBytes were appended since the last
   * index entry, index this batch (its last offset → its position) and the largest timestamp so far.
   */
  appendedBatch(batch: BatchInfo, indexIntervalBytes: number): void {
    if (batch.position === 0) this.firstBatchTimestamp = batch.maxTimestamp;
    if (batch.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = batch.maxTimestamp;
      this.maxTimestampOffset = batch.lastOffset;
      this.maxTimestampPosition = batch.position;
    }
    if (this.bytesSinceLastIndexEntry > indexIntervalBytes) {
      this.offsetIndex!.append(batch.lastOffset, batch.position);
      this.timeIndex!.maybeAppend(this.maxTimestamp, this.maxTimestampOffset);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += batch.size;
    this.size = batch.position + batch.size;
    this.nextOffset = batch.lastOffset + 1n;
  }

  /** Kafka's onBecomeInactiveSegment / close: the time index ends with the segment's largest timestamp. */
  sealTimeIndex(): void {
    if (this.timeIndex && this.maxTimestamp >= 0n) this.timeIndex.maybeAppend(this.maxTimestamp, this.maxTimestampOffset);
  }

  /** Kafka's index isFull: either index holds as many entries as segment.index.bytes allows. */
  indexFull(maxIndexBytes: number): boolean {
    const offsets = this.offsetIndex?.entries ?? 0;
    const times = this.timeIndex?.entries ?? 0;
    return offsets >= Math.floor(maxIndexBytes / OFFSET_INDEX_ENTRY_SIZE) || times >= Math.floor(maxIndexBytes / TIME_INDEX_ENTRY_SIZE);
  }

  /** What retention.ms compares: the largest timestamp, or the file's mtime when there is none. */
  largestTimestamp(): number {
    return this.maxTimestamp >= 0n ? Number(this.maxTimestamp) : this.mtimeMs;
  }

  /** Opens the log for appending (the three files created when missing, never truncated), unless open. */
  async openWriter(): Promise<void> {
    if (this.logFh) return;
    this.opening ??= this.openFiles().finally(() => (this.opening = null));
    return this.opening;
  }

  private async openFiles(): Promise<void> {
    const log = await fsp.open(this.logPath, OPEN_RW_CREATE, 0o644);
    try {
      // The index files exist from the start, as Kafka creates a segment's files together (only
      // those missing are opened: thousands of partitions first written at once would otherwise
      // want three descriptors each for that moment).
      for (const path of [this.indexPath, this.timeIndexPath]) {
        if ((await statOrNull(path)) === null) await (await fsp.open(path, OPEN_RW_CREATE, 0o644)).close();
      }
    } catch (e) {
      await log.close().catch(() => undefined);
      throw e;
    }
    this.logFh = log;
  }

  /** Empties the three files (a new segment where files of an earlier, unreadable incarnation may lie). */
  async truncateFiles(): Promise<void> {
    await this.openWriter();
    await this.logFh!.truncate(0);
    for (const path of [this.indexPath, this.timeIndexPath]) await fsp.truncate(path, 0);
  }

  /**
   * Writes `bytes` bytes (`buffers`) at `position` of the log: a large write past the page cache
   * where the filesystem allows (direct-writer.ts), anything else through it.
   */
  async writeLog(buffers: Buffer[], bytes: number, position: number, policy: DirectWrites): Promise<void> {
    await this.openWriter();
    if (policy.enabled && bytes >= DIRECT_WRITE_MIN_BYTES) {
      if (this.direct === undefined) this.direct = await DirectWriter.open(this.logPath, this.logFh!, policy);
      if (this.direct !== null) {
        if (await this.direct.append(buffers, position)) return;
        await this.direct.close();
        this.direct = null;
      }
    }
    await writeAllAt(this.logFh!, buffers, position);
  }

  /**
   * Ends direct appends: the zeros padding the file past the log are cut (a roll or a clean
   * close; after a crash, recovery cuts them) and the direct descriptor closed.
   */
  async endDirectWrites(): Promise<void> {
    const direct = this.direct;
    this.direct = undefined;
    if (!direct) return;
    try {
      if (direct.end > this.size) await this.logFh!.truncate(this.size);
    } finally {
      await direct.close();
    }
  }

  /** Writes index entries not yet on disk (of a segment being written); returns the number of write calls. */
  async persistIndexes(): Promise<number> {
    if (!this.offsetIndex?.hasChanges() && !this.timeIndex?.hasChanges()) return 0;
    if (this.active) await this.openWriter();
    if (!this.logFh) return 0;
    let writes = 0;
    for (const [index, path] of [[this.offsetIndex, this.indexPath], [this.timeIndex, this.timeIndexPath]] as const) {
      if (!index?.hasChanges()) continue;
      const fh = await fsp.open(path, OPEN_RW_CREATE, 0o644);
      try {
        writes += await index.persist(fh);
      } finally {
        await fh.close();
      }
    }
    return writes;
  }

  /** fdatasync of the log, and of the indexes when `indexes`. */
  async sync(indexes: boolean): Promise<number> {
    if (this.active) await this.openWriter();
    if (!this.logFh) return 0;
    await this.logFh.datasync();
    if (!indexes) return 1;
    await this.syncIndexes();
    return 3;
  }

  /** fdatasync of the index files (by path: written through descriptors since closed). */
  async syncIndexes(): Promise<void> {
    await datasyncFile(this.indexPath);
    await datasyncFile(this.timeIndexPath);
  }

  /** Closes the write descriptors (errors ignored: used on shutdown and failure paths too). */
  async closeWriter(): Promise<void> {
    await this.opening?.catch(() => undefined);
    const direct = this.direct;
    this.direct = undefined;
    await direct?.close().catch(() => undefined);
    await Promise.all(this.detachWriter().map((fh) => fh.close().catch(() => undefined)));
  }

  /** The log's write descriptor, handed over to the caller. Direct writes must have ended (endDirectWrites). */
  detachWriter(): FileHandle[] {
    const fhs = this.logFh === null ? [] : [this.logFh];
    this.logFh = null;
    return fhs;
  }

  /** Drops loaded indexes of an inactive segment (they are reloaded on demand). */
  unloadIndexes(): void {
    if (this.active || this.pinned) return;
    this.offsetIndex = null;
    this.timeIndex = null;
  }
}
