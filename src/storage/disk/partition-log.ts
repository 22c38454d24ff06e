/**
 * The disk engine's PartitionLog: a directory of segments plus an in-memory tail cache.
 *
 * Appends: the offset is assigned at call time, the batch is stamped in place (base offset, leader
 * epoch, LogAppendTime) and copied into the tail cache (a BatchArena). All file I/O of a partition
 * runs on one serial queue: a drain task takes every pending append and writes them with a single
 * writev per segment (batches that arrive meanwhile wait for the next drain, so concurrent appends
 * coalesce), updates the indexes the way Kafka's LogSegment.append does, fsyncs per flush.messages
 * / flush.ms, and only then advances the high watermark, resolves the appends and wakes listeners.
 * Rolls, retention and flushes run on the same queue, so at most one write is in flight.
 *
 * Reads never wait for that queue: recent batches come from the tail cache, older ones from the
 * segment files (segment-reads.ts: offset index lookup, then one positioned read, rarely two).
 *
 * Compaction (cleaner.ts) reads inactive segments and writes cleaned ones outside the queue; only
 * the swap of cleaned segments for the originals runs on it. A read that meets a segment replaced
 * meanwhile starts again on the current segments, so it returns whole batches of one version.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import {
  BATCH_HEADER_SIZE,
  readBatchSize,
  readLastOffsetDelta,
  readMagic,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
} from '../../../protocol/records/index.js';
import { BatchArena, ENTRY_OVERHEAD, type ArenaBlock, type ArenaEntry } from '../batch-arena.js';
import { ProducerSummary } from '../compaction.js';
import { LEADER_EPOCH_CHECKPOINT_FILE, LeaderEpochCache, formatLeaderEpochCheckpoint, parseLeaderEpochCheckpoint, type EpochEndOffset } from '../leader-epoch.js';
import {
  OffsetOutOfRangeError,
  PolicyViolationError,
  policyDeletes,
  type AppendOptions,
  type AppendResult,
  type CompactionResult,
  type LogConfig,
  type PartitionLog,
  type ReadOptions,
  type ReadResult,
} from '../storage.js';
import { isSimulatedCrash, LogCleaner, type CleanerOptions } from './cleaner.js';
import type { FileHandleCache } from './file-cache.js';
import { atomicWrite, fsyncDir, isNotFound, readFileOrNull, writeAllAt } from './fs-util.js';
import { INT32_MAX } from './index-buffer.js';
import type { StorageLogger } from './logger.js';
import { CLEANED_SUFFIX, DELETED_SUFFIX, SNAPSHOT_FILE, SNAPSHOT_SUFFIX, SWAP_SUFFIX } from './names.js';
import { loadSegmentIndexes } from './recovery.js';
import { EMPTY_READ, RETRY, findBatch, readBatches } from './segment-reads.js';
import { Segment } from './segment.js';
import type { TailCacheBudget } from './tail-cache-budget.js';

/** What a partition log needs from its DiskStorage. */
export interface PartitionServices {
  readonly logger: StorageLogger;
  readonly files: FileHandleCache;
  /** How many bytes of written batches each partition keeps in memory. */
  readonly tailCache: TailCacheBudget;
  now(): number;
  /** Persist the log start offsets (retention moved one). */
  logStartOffsetChanged(): Promise<void>;
  /** An inactive segment's indexes were loaded or used (LRU bookkeeping). */
  indexesUsed(seg: Segment): void;
  /** A segment left the log: forget its indexes. */
  segmentGone(seg: Segment): void;
  readonly cleaner: CleanerOptions;
  /** The partition's entry in cleaner-offset-checkpoint. */
  cleanerCheckpoint(topic: string, partition: number): bigint | undefined;
  /** Persists a new first dirty offset in cleaner-offset-checkpoint. */
  cleanerCheckpointChanged(topic: string, partition: number, offset: bigint): Promise<void>;
  /** Tests: called at each step of a cleaning where a crash can be simulated (by throwing). */
  cleanerHook?(stage: string): void;
}

export class PartitionFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PartitionFailedError';
  }
}

/** A batch larger than segment.bytes can never be stored (Kafka: RecordBatchTooLargeException). */
export class RecordBatchTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordBatchTooLargeError';
  }
}

interface PendingAppend {
  entry: ArenaEntry;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

export interface PartitionStats {
  /** write/writev calls on .log files. */
  logWrites: number;
  /** write calls on index files. */
  indexWrites: number;
  /** fdatasync calls. */
  syncs: number;
  rolls: number;
  /** Reads served from the tail cache / from segment files. */
  cacheReads: number;
  fileReads: number;
}

const INDEX_PERSIST_INTERVAL_MS = 1000;
const MAX_READ_ATTEMPTS = 20;

export class DiskPartitionLog implements PartitionLog {
  /** Recent batches (and those being written), served to readers at the tail without file reads. */
  private readonly arena = new BatchArena({ recycle: true });
  private pending: PendingAppend[] = [];
  private drainQueued = false;
  /** The serial I/O queue. */
  private queue: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  private nextOffset: bigint;
  private hw: bigint;
  private startOffset: bigint;
  private bytes: number;
  /** Offsets written since the last fsync of the active segment's log. */
  private unflushedMessages = 0;
  /** Log or index bytes written since the last full fsync (flush(), roll, close). */
  private unsynced = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private indexesPersistedAt = 0;
  private readonly pendingDeletes = new Map<NodeJS.Timeout, () => Promise<void>>();
  private failure: Error | null = null;
  private closing = false;
  private readonly cleaner: LogCleaner;
  /** The compact() call in progress. */
  private cleaning: Promise<CompactionResult | null> | null = null;
  /** Producer summaries of this run's appends to segments whose earlier content is not summarised. */
  private readonly lateSummaries = new WeakMap<Segment, ProducerSummary>();
  /** Leader epochs and their start offsets, kept in leader-epoch-checkpoint. */
  private epochs = new LeaderEpochCache();
  readonly stats: PartitionStats = { logWrites: 0, indexWrites: 0, syncs: 0, rolls: 0, cacheReads: 0, fileReads: 0 };

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly topicId: string,
    readonly dir: string,
    private segments: Segment[],
    logStartOffset: bigint,
    private config: LogConfig,
    private readonly services: PartitionServices,
  ) {
    const active = segments[segments.length - 1]!;
    this.nextOffset = active.nextOffset;
    this.hw = active.nextOffset;
    this.startOffset = logStartOffset;
    this.bytes = segments.reduce((n, s) => n + s.size, 0);
    const self = this; // for the getters below
    this.cleaner = new LogCleaner(
      {
        name: this.name,
        dir,
        get logStartOffset() {
          return self.startOffset;
        },
        get logEndOffset() {
          return self.nextOffset;
        },
        get highWatermark() {
          return self.hw;
        },
        get config() {
          return self.config;
        },
        logger: services.logger,
        currentSegments: () => this.segments,
        stopping: () => this.closing || this.failure !== null,
        lateSummary: (seg) => this.lateSummaries.get(seg) ?? null,
        replaceSegments: (group, cleaned) => this.replaceSegments(group, cleaned),
        readCheckpoint: () => services.cleanerCheckpoint(topic, partition),
        writeCheckpoint: (offset) => services.cleanerCheckpointChanged(topic, partition, offset),
        hook: (stage) => services.cleanerHook?.(stage),
      },
      services.cleaner,
    );
  }

  get logStartOffset(): bigint {
    return this.startOffset;
  }

  get logEndOffset(): bigint {
    return this.nextOffset;
  }

  get highWatermark(): bigint {
    return this.hw;
  }

  get size(): number {
    return this.bytes;
  }

  /** Whether a write or fsync failed: the partition then refuses appends until reopened. */
  get failed(): Error | null {
    return this.failure;
  }

  /** The segments' base offsets, oldest first. */
  get segmentBaseOffsets(): bigint[] {
    return this.segments.map((s) => s.baseOffset);
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get name(): string {
    return `${this.topic}-${this.partition}`;
  }

  // ---------------------------------------------------------------- append

  append(batch: Buffer, options: AppendOptions): Promise<AppendResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new PartitionFailedError(`partition ${this.name} is closed`));
    if (batch.length < BATCH_HEADER_SIZE || readMagic(batch) !== 2) {
      return Promise.reject(new RangeError(`not a magic-2 record batch (${batch.length} bytes)`));
    }
    const size = readBatchSize(batch);
    if (size < BATCH_HEADER_SIZE || size > batch.length) {
      return Promise.reject(new RangeError(`batch length field says ${size} bytes, the buffer holds ${batch.length}`));
    }
    if (size > this.config.segmentBytes) {
      return Promise.reject(new RecordBatchTooLargeError(`batch of ${size} bytes exceeds segment.bytes ${this.config.segmentBytes}`));
    }
    const baseOffset = this.nextOffset;
    setBaseOffset(batch, 0, baseOffset);
    setPartitionLeaderEpoch(batch, 0, options.leaderEpoch);
    if (options.logAppendTime !== undefined) setLogAppendTime(batch, options.logAppendTime);
    this.nextOffset = baseOffset + BigInt(readLastOffsetDelta(batch)) + 1n;
    if (options.leaderEpoch >= 0 && this.epochs.assign(options.leaderEpoch, baseOffset)) void this.enqueue(() => this.writeLeaderEpochs());
    const entry = this.arena.add(batch);
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (!this.drainQueued) {
        this.drainQueued = true;
        void this.enqueue(() => this.drain());
      }
    });
  }

  /** Runs `task` after every earlier I/O task of this partition. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async drain(): Promise<void> {
    this.drainQueued = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return;
    }
    try {
      await this.writePending(batch);
      const cfg = this.config;
      if (this.unflushedMessages >= cfg.flushMessages || cfg.flushMs <= 0) await this.syncActive();
      else this.armFlushTimer();
    } catch (e) {
      this.fail(e);
      for (const p of batch) p.reject(this.failure);
      return;
    }
    const last = batch[batch.length - 1]!.entry;
    this.hw = last.lastOffset + 1n;
    for (const p of batch) p.resolve({ baseOffset: p.entry.baseOffset, lastOffset: p.entry.lastOffset, logStartOffset: this.startOffset });
    this.trimTailCache();
    for (const l of this.listeners) {
      try {
        l();
      } catch (e) {
        this.services.logger.error({ partition: this.name, err: e }, 'append listener threw');
      }
    }
  }

  /** Writes the batches in order, one writev per segment, rolling where Kafka would. */
  private async writePending(list: PendingAppend[]): Promise<void> {
    let seg = this.active;
    let group: ArenaEntry[] = [];
    let groupBytes = 0;
    for (const { entry } of list) {
      if (this.shouldRoll(seg, seg.size + groupBytes, group[0] ?? null, entry)) {
        if (group.length > 0) await this.writeGroup(seg, group);
        group = [];
        groupBytes = 0;
        seg = await this.roll(entry.baseOffset);
      }
      group.push(entry);
      groupBytes += entry.size;
    }
    if (group.length > 0) await this.writeGroup(seg, group);
  }

  /**
   * Kafka's LogSegment.shouldRoll, for one batch: the segment would pass segment.bytes; or
   * segment.ms has elapsed, measured from the max timestamp of the segment's first batch to this
   * batch's (wall clock since creation when the first batch has no timestamp); or the batch's
   * last offset does not fit the index's int32 relative offsets. Never rolls an empty segment.
   */
  private shouldRoll(seg: Segment, size: number, firstInGroup: ArenaEntry | null, e: ArenaEntry): boolean {
    if (size === 0) return false;
    if (size + e.size > this.config.segmentBytes) return true;
    if (e.lastOffset - seg.baseOffset > BigInt(INT32_MAX)) return true;
    const first = seg.size > 0 ? seg.firstBatchTimestamp : (firstInGroup?.maxTimestamp ?? null);
    const waited = first !== null && first >= 0n ? e.maxTimestamp - first : BigInt(this.services.now() - seg.created);
    return waited > BigInt(this.config.segmentMs);
  }

  private async writeGroup(seg: Segment, group: ArenaEntry[]): Promise<void> {
    // Consecutive arena entries in one block are contiguous: one iovec for each run. The blocks
    // stay pinned while the write is in progress, so the cache cannot hand them out for reuse.
    const iov: Buffer[] = [];
    const pinned: ArenaBlock[] = [];
    let runBlock: ArenaBlock | null = null;
    let runStart = 0;
    let runEnd = 0;
    for (const e of group) {
      if (e.block === runBlock && e.pos === runEnd) {
        runEnd += e.size;
        continue;
      }
      if (runBlock) iov.push(runBlock.buf.subarray(runStart, runEnd));
      runBlock = e.block;
      runStart = e.pos;
      runEnd = e.pos + e.size;
      this.arena.pin(runBlock);
      pinned.push(runBlock);
    }
    if (runBlock) iov.push(runBlock.buf.subarray(runStart, runEnd));
    let position = seg.size;
    try {
      await writeAllAt(seg.logFh!, iov, position);
      this.stats.logWrites++;
      this.unsynced = true;
      const summary = seg.summary ?? this.lateSummary(seg);
      for (const e of group) {
        summary.add(this.arena.view(e));
        seg.appendedBatch({ position, size: e.size, baseOffset: e.baseOffset, lastOffset: e.lastOffset, maxTimestamp: e.maxTimestamp }, this.config.indexIntervalBytes);
        position += e.size;
        this.bytes += e.size;
        this.unflushedMessages += Number(e.lastOffset - e.baseOffset) + 1;
      }
    } finally {
      for (const b of pinned) this.arena.unpin(b);
    }
    // Index entries live in memory; the files are brought up to date at most once a second (and at
    // roll, flush and close): recovery re-derives any entry a crash loses from the log itself.
    const now = this.services.now();
    if (now - this.indexesPersistedAt >= INDEX_PERSIST_INTERVAL_MS) {
      this.indexesPersistedAt = now;
      this.stats.indexWrites += await seg.persistIndexes();
    }
  }

  private lateSummary(seg: Segment): ProducerSummary {
    let s = this.lateSummaries.get(seg);
    if (!s) this.lateSummaries.set(seg, (s = new ProducerSummary()));
    return s;
  }

  /**
   * Closes the active segment (sealed time index, fsynced log and indexes, descriptors closed)
   * and starts a new one at `baseOffset`.
   */
  private async roll(baseOffset: bigint): Promise<Segment> {
    const old = this.active;
    old.sealTimeIndex();
    this.stats.indexWrites += await old.persistIndexes();
    this.stats.syncs += await old.sync(true);
    this.unflushedMessages = 0;
    this.unsynced = false;
    this.clearFlushTimer();
    await old.closeWriter();
    this.services.indexesUsed(old);
    const seg = new Segment(this.dir, baseOffset, this.services.now());
    seg.resetDerivedState(0, 0);
    seg.summary = new ProducerSummary();
    await seg.openWriter();
    // Files of an earlier, unreadable incarnation at this offset would be wrong: start empty.
    for (const fh of [seg.logFh!, seg.indexFh!, seg.timeIndexFh!]) await fh.truncate(0);
    await fsyncDir(this.dir);
    this.segments = [...this.segments, seg];
    this.stats.rolls++;
    this.services.logger.info({ partition: this.name, baseOffset: String(baseOffset) }, 'rolled segment');
    return seg;
  }

  private async syncActive(): Promise<void> {
    this.clearFlushTimer();
    if (this.unflushedMessages === 0) return;
    this.unflushedMessages = 0;
    this.stats.syncs += await this.active.sync(false);
  }

  private armFlushTimer(): void {
    const ms = this.config.flushMs;
    if (this.flushTimer || this.unflushedMessages === 0 || ms >= Number.MAX_SAFE_INTEGER || ms > 0x7fffffff) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.enqueue(async () => {
        if (this.failure || this.closing) return;
        try {
          await this.syncActive();
        } catch (e) {
          this.fail(e);
        }
      });
    }, ms);
    this.flushTimer.unref();
  }

  private clearFlushTimer(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  /** After a failed write or fsync: refuse everything from now on; reject what is pending. */
  private fail(e: unknown): void {
    if (!this.failure) {
      const message = e instanceof Error ? e.message : String(e);
      this.failure = new PartitionFailedError(`partition ${this.name} failed: ${message}`, { cause: e });
      this.services.logger.error({ partition: this.name, err: e }, 'log write failed; partition refuses further appends');
    }
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p.reject(this.failure);
  }

  /** Keeps the tail cache within this partition's share, and tells the shared budget its size. */
  private trimTailCache(): void {
    const budget = this.services.tailCache;
    budget.report(this, this.shrinkTailCache(budget.perPartition));
  }

  /** Drops the first n cached batches (retention, DeleteRecords, compaction) and tells the budget. */
  private dropCached(n: number): void {
    this.arena.dropFront(n);
    this.services.tailCache.resize(this, this.arena.footprint);
  }

  /**
   * Drops the oldest written batches of the tail cache until it costs at most `limit` bytes of
   * memory, entries included (batches not yet written always stay); returns what it costs.
   */
  shrinkTailCache(limit: number): number {
    let drop = 0;
    let bytes = this.arena.footprint;
    while (drop < this.arena.count && bytes > limit) {
      const e = this.arena.at(drop);
      if (e.lastOffset >= this.hw) break;
      bytes -= e.size + ENTRY_OVERHEAD;
      drop++;
    }
    if (drop > 0) this.arena.dropFront(drop);
    return this.arena.footprint;
  }

  // ---------------------------------------------------------------- read

  async read(offset: bigint, maxBytes: number, options: ReadOptions): Promise<ReadResult> {
    // Below the log start offset (retention, DeleteRecords) nothing is served: read from the start.
    const from = offset < this.startOffset ? this.startOffset : offset;
    return this.retrying(() => this.readOnce(from, maxBytes, options));
  }

  /** Runs a read again while it meets segments replaced by the cleaner under it. */
  private async retrying<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (e) {
        if (e !== RETRY) throw e;
        if (attempt >= MAX_READ_ATTEMPTS) throw new Error(`partition ${this.name}: segments kept changing under a read`);
      }
    }
  }

  /** Whether an error of a segment read means "the segment was swapped: read again". */
  private static mustRetry(seg: Segment, e: unknown): boolean {
    return e === RETRY || seg.replaced || (isNotFound(e) && !seg.deleted);
  }

  private async readOnce(offset: bigint, maxBytes: number, options: ReadOptions): Promise<ReadResult> {
    const hw = this.hw;
    if (offset >= hw) return EMPTY_READ;
    const maxOffset = options.maxOffset < hw ? options.maxOffset : hw;
    const budget = Math.max(0, maxBytes);
    const first = this.arena.first;
    if (first && offset >= first.baseOffset) {
      this.stats.cacheReads++;
      return this.arena.slice(this.arena.search(offset), budget, maxOffset, options.minOneBatch);
    }
    const segs = this.segments;
    for (let i = floorSegment(segs, offset); i < segs.length; i++) {
      const seg = segs[i]!;
      if (seg.size === 0) continue;
      let out: ReadResult | null;
      try {
        out = await this.readSegment(seg, offset, budget, maxOffset, options.minOneBatch);
      } catch (e) {
        if (DiskPartitionLog.mustRetry(seg, e)) throw RETRY;
        // The segment went away under us (retention): the caller sees the new logStartOffset.
        if (isNotFound(e) || seg.deleted) return EMPTY_READ;
        throw e;
      }
      if (out !== null) {
        this.stats.fileReads++;
        return out;
      }
    }
    return EMPTY_READ;
  }

  /** Inactive segments load their indexes on demand. */
  private async indexes(seg: Segment): Promise<void> {
    if (!seg.offsetIndex || !seg.timeIndex) {
      await loadSegmentIndexes(seg, { indexIntervalBytes: this.config.indexIntervalBytes, logger: this.services.logger, name: this.name, now: this.services.now() });
    }
    if (!seg.writable) this.services.indexesUsed(seg);
  }

  /**
   * Whole batches of one segment from the one containing `offset`; null when no batch of this
   * segment reaches `offset` (the caller moves to the next segment).
   */
  private async readSegment(seg: Segment, offset: bigint, maxBytes: number, maxOffset: bigint, minOne: boolean): Promise<ReadResult | null> {
    await this.indexes(seg);
    return readBatches(seg, this.services.files, { offset, maxBytes, maxOffset, minOne, indexIntervalBytes: this.config.indexIntervalBytes });
  }

  findBatchByTimestamp(timestamp: bigint): Promise<Buffer | null> {
    return this.retrying(() => this.findBatchByTimestampOnce(timestamp));
  }

  private async findBatchByTimestampOnce(timestamp: bigint): Promise<Buffer | null> {
    for (const seg of this.segments) {
      if (seg.size === 0 || seg.maxTimestamp < timestamp) continue;
      try {
        await this.indexes(seg);
        const entry = seg.timeIndex!.lookup(timestamp);
        const from = seg.offsetIndex!.lookup(entry.offset).position;
        return await findBatch(seg, this.services.files, from, this.hw, (ts) => ts >= timestamp);
      } catch (e) {
        if (DiskPartitionLog.mustRetry(seg, e)) throw RETRY;
        if (isNotFound(e) || seg.deleted) continue;
        throw e;
      }
    }
    return null;
  }

  findMaxTimestampBatch(): Promise<Buffer | null> {
    return this.retrying(() => this.findMaxTimestampBatchOnce());
  }

  private async findMaxTimestampBatchOnce(): Promise<Buffer | null> {
    let best: Segment | null = null;
    for (const seg of this.segments) {
      if (seg.size > 0 && (best === null || seg.maxTimestamp > best.maxTimestamp)) best = seg;
    }
    if (best === null) return null;
    const seg = best;
    const max = seg.maxTimestamp;
    try {
      await this.indexes(seg);
      let from = 0;
      if (max >= 0n) from = seg.maxTimestampPosition >= 0 ? seg.maxTimestampPosition : seg.offsetIndex!.lookup(seg.maxTimestampOffset).position;
      return await findBatch(seg, this.services.files, from, this.hw, (ts) => ts >= max);
    } catch (e) {
      if (DiskPartitionLog.mustRetry(seg, e)) throw RETRY;
      if (isNotFound(e) || seg.deleted) return null;
      throw e;
    }
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setConfig(config: LogConfig): void {
    if (config.cleanupPolicy !== this.config.cleanupPolicy) this.cleaner.reset();
    this.config = config;
  }

  // ---------------------------------------------------------------- retention

  enforceRetention(now: number): Promise<number> {
    return this.enqueue(() => this.deleteExpired(now));
  }

  /**
   * Kafka's deleteOldSegments: segments wholly below the log start offset (DeleteRecords); then,
   * when cleanup.policy includes 'delete', from the oldest, whole segments whose largest timestamp
   * is older than retention.ms, then while the log stays at or above retention.bytes without them.
   * The active segment goes too when everything expired (a new empty segment is rolled first); an
   * empty active segment never does.
   */
  private async deleteExpired(now: number): Promise<number> {
    if (this.failure || this.closing) return 0;
    const cfg = this.config;
    const segs = this.segments;
    let n = 0;
    const deletable = (seg: Segment, i: number): boolean => !(i === segs.length - 1 && seg.size === 0);
    while (n + 1 < segs.length && segs[n + 1]!.baseOffset <= this.startOffset) n++;
    if (!policyDeletes(cfg.cleanupPolicy)) return this.deleteFront(n);
    if (cfg.retentionMs >= 0) {
      while (n < segs.length && deletable(segs[n]!, n) && now - segs[n]!.largestTimestamp() > cfg.retentionMs) n++;
    }
    if (cfg.retentionBytes >= 0 && this.bytes >= cfg.retentionBytes) {
      let diff = this.bytes - cfg.retentionBytes;
      for (let i = 0; i < n; i++) diff -= segs[i]!.size;
      while (n < segs.length && deletable(segs[n]!, n) && diff - segs[n]!.size >= 0) {
        diff -= segs[n]!.size;
        n++;
      }
    }
    return this.deleteFront(n);
  }

  /** Deletes the first n segments (all of them: after rolling an empty one); moves the log start. */
  private async deleteFront(n: number): Promise<number> {
    if (n === 0) return 0;
    try {
      if (n === this.segments.length) await this.roll(this.active.nextOffset);
    } catch (e) {
      this.fail(e);
      return 0;
    }
    const gone = this.segments.slice(0, n);
    this.segments = this.segments.slice(n);
    let freed = 0;
    for (const seg of gone) {
      freed += seg.size;
      await this.deleteSegment(seg);
    }
    this.bytes -= freed;
    if (this.segments[0]!.baseOffset > this.startOffset) this.startOffset = this.segments[0]!.baseOffset;
    const keep = this.arena.search(this.startOffset);
    if (keep > 0) this.dropCached(keep);
    if (this.epochs.truncateFromStart(this.startOffset)) await this.writeLeaderEpochs();
    this.services.logger.info({ partition: this.name, segments: gone.length, bytes: freed, logStartOffset: String(this.startOffset) }, 'retention deleted segments');
    try {
      await this.services.logStartOffsetChanged();
    } catch (e) {
      this.services.logger.error({ partition: this.name, err: e }, 'could not write the log start offset checkpoint');
    }
    return freed;
  }

  // ---------------------------------------------------------------- DeleteRecords

  deleteRecordsBefore(offset: bigint): Promise<bigint> {
    return this.enqueue(async () => {
      if (this.failure) throw this.failure;
      if (this.closing) throw new PartitionFailedError(`partition ${this.name} is closed`);
      if (!policyDeletes(this.config.cleanupPolicy)) {
        throw new PolicyViolationError(`Records of partition ${this.name} can not be deleted due to the configured policy`);
      }
      const target = offset === -1n ? this.hw : offset;
      if (target < 0n) throw new OffsetOutOfRangeError(`The offset ${offset} for partition ${this.name} is not valid`);
      if (target > this.hw) {
        throw new OffsetOutOfRangeError(`Cannot increment the log start offset to ${target} of partition ${this.name} since it is larger than the high watermark ${this.hw}`);
      }
      if (target <= this.startOffset) return this.startOffset;
      this.startOffset = target;
      const keep = this.arena.search(target);
      if (keep > 0) this.dropCached(keep);
      this.services.logger.info({ partition: this.name, logStartOffset: String(target) }, 'log start offset moved by DeleteRecords');
      if (this.epochs.truncateFromStart(target)) await this.writeLeaderEpochs();
      let n = 0;
      while (n + 1 < this.segments.length && this.segments[n + 1]!.baseOffset <= target) n++;
      if (n > 0) await this.deleteFront(n);
      else await this.services.logStartOffsetChanged();
      return this.startOffset;
    });
  }

  // ---------------------------------------------------------------- leader epochs

  /** Reads leader-epoch-checkpoint at open, dropping entries the recovered log no longer covers. */
  async loadLeaderEpochs(): Promise<void> {
    const path = join(this.dir, LEADER_EPOCH_CHECKPOINT_FILE);
    let changed = false;
    try {
      const data = await readFileOrNull(path);
      this.epochs = new LeaderEpochCache(data === null ? [] : parseLeaderEpochCheckpoint(data.toString('utf8')));
    } catch (e) {
      this.services.logger.warn({ partition: this.name, err: e }, 'ignoring an unreadable leader-epoch-checkpoint');
      this.epochs = new LeaderEpochCache();
      changed = true;
    }
    if (this.epochs.truncateFromEnd(this.nextOffset)) changed = true;
    if (this.epochs.truncateFromStart(this.startOffset)) changed = true;
    if (changed) await this.enqueue(() => this.writeLeaderEpochs());
  }

  assignLeaderEpoch(epoch: number): Promise<void> {
    if (!this.epochs.assign(epoch, this.nextOffset)) return Promise.resolve();
    return this.enqueue(() => this.writeLeaderEpochs());
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this.nextOffset);
  }

  /** Rewrites leader-epoch-checkpoint (on the I/O queue); a failure is logged, the cache stays right in memory. */
  private async writeLeaderEpochs(): Promise<void> {
    if (this.failure || this.segments.some((s) => s.deleted)) return;
    try {
      await atomicWrite(join(this.dir, LEADER_EPOCH_CHECKPOINT_FILE), formatLeaderEpochCheckpoint(this.epochs.all));
    } catch (e) {
      this.services.logger.error({ partition: this.name, err: e }, 'could not write leader-epoch-checkpoint');
    }
  }

  // ---------------------------------------------------------------- compaction

  /** `lastStableOffset`: cleaning never goes past it (open transactions); the high watermark by default. */
  compact(now: number, lastStableOffset?: bigint): Promise<CompactionResult | null> {
    if (this.failure || this.closing) return Promise.resolve(null);
    const previous = this.cleaning ?? Promise.resolve(null);
    const run = previous
      .catch(() => null)
      .then(() => (this.failure || this.closing ? null : this.cleaner.run(now, lastStableOffset ?? this.hw)));
    this.cleaning = run;
    void run.catch(() => undefined).finally(() => {
      if (this.cleaning === run) this.cleaning = null;
    });
    return run;
  }

  /**
   * Kafka's replaceSegments, on the I/O queue: the cleaned segment's files go from `.cleaned` to
   * `.swap` (from then on recovery completes the swap), the segment list changes in memory, the
   * replaced segments are deleted (renamed `.deleted`, except the one whose name the cleaned
   * segment takes), and the `.swap` files take their final names. Returns false, changing nothing,
   * when the group is no longer in the log as it was.
   */
  private replaceSegments(group: Segment[], cleaned: Segment): Promise<boolean> {
    return this.enqueue(async () => {
      if (this.failure || this.closing) return false;
      const at = this.segments.indexOf(group[0]!);
      if (at < 0 || group.some((s, i) => this.segments[at + i] !== s || s.deleted) || at + group.length >= this.segments.length) return false;
      const hook = (stage: string): void => this.services.cleanerHook?.(stage);
      // 1. .cleaned → .swap, indexes first: a .log.swap means a complete cleaned segment.
      const renameAll = async (fromSuffix: string, toSuffix: string, stage: string): Promise<void> => {
        const from = cleaned.pathsWith(fromSuffix);
        const to = cleaned.pathsWith(toSuffix);
        for (const i of [2, 1, 0]) {
          await fsp.rename(from[i]!, to[i]!);
          hook(`${stage}:${i === 0 ? 'log' : i === 1 ? 'index' : 'timeindex'}`);
        }
        await fsyncDir(this.dir);
      };
      await renameAll(CLEANED_SUFFIX, SWAP_SUFFIX, 'swap');
      cleaned.fileSuffix = SWAP_SUFFIX;
      // 2. In memory: readers of the old segments start again on the new list.
      cleaned.pinned = true;
      for (const old of group) {
        old.replaced = true;
        old.deleted = true;
        this.services.segmentGone(old);
        for (const p of old.paths) this.services.files.invalidate(p);
      }
      this.segments = [...this.segments.slice(0, at), cleaned, ...this.segments.slice(at + group.length)];
      const before = group.reduce((n, s) => n + s.size, 0);
      this.bytes += cleaned.size - before;
      // The tail cache may hold batches of the segments just cleaned: keep only the active segment's.
      const stale = this.arena.search(this.active.baseOffset);
      if (stale > 0) this.dropCached(stale);
      await Promise.allSettled(group.map((s) => s.indexLoad));
      hook('in-memory');
      // 3. The replaced segments go, except the one at the cleaned segment's base (renamed over below).
      for (const old of group) if (old.baseOffset !== cleaned.baseOffset) await this.deleteSegment(old);
      hook('old-deleted');
      // 4. .swap → final names, the log last.
      const finals = cleaned.pathsWith('');
      await renameAll(SWAP_SUFFIX, '', 'final');
      for (const p of [...finals, ...cleaned.pathsWith(SWAP_SUFFIX)]) this.services.files.invalidate(p);
      cleaned.fileSuffix = '';
      cleaned.pinned = false;
      this.services.indexesUsed(cleaned);
      this.services.logger.info(
        { partition: this.name, segments: group.map((s) => String(s.baseOffset)), bytesBefore: before, bytesAfter: cleaned.size },
        'swapped in a cleaned segment',
      );
      return true;
    }).catch((e: unknown) => {
      if (isSimulatedCrash(e)) throw e;
      this.fail(e);
      throw e;
    });
  }

  /** Renames the segment's files to `.deleted` and unlinks them after file.delete.delay.ms. */
  private async deleteSegment(seg: Segment): Promise<void> {
    seg.deleted = true;
    this.services.segmentGone(seg);
    await seg.closeWriter();
    const renamed: string[] = [];
    for (const path of seg.paths) {
      this.services.files.invalidate(path);
      try {
        await fsp.rename(path, path + DELETED_SUFFIX);
        renamed.push(path + DELETED_SUFFIX);
      } catch (e) {
        if (!isNotFound(e)) this.services.logger.warn({ partition: this.name, file: path, err: e }, 'could not rename a deleted segment file');
      }
    }
    const unlink = async (): Promise<void> => {
      for (const p of renamed) await fsp.unlink(p).catch(() => undefined);
    };
    const delay = this.config.fileDeleteDelayMs;
    if (delay <= 0) {
      await unlink();
      return;
    }
    const timer = setTimeout(() => {
      this.pendingDeletes.delete(timer);
      void unlink();
    }, Math.min(delay, 0x7fffffff));
    timer.unref();
    this.pendingDeletes.set(timer, unlink);
  }

  // ---------------------------------------------------------------- snapshots

  writeSnapshot(offset: bigint, data: Buffer): Promise<void> {
    return this.enqueue(async () => {
      if (this.failure || this.closing) return;
      await atomicWrite(join(this.dir, `${offset.toString().padStart(20, '0')}${SNAPSHOT_SUFFIX}`), data);
      // Keep the two newest: the older one survives a snapshot that a crash leaves ahead of the log.
      const names = (await fsp.readdir(this.dir)).filter((n) => SNAPSHOT_FILE.test(n)).sort();
      for (const n of names.slice(0, -2)) await fsp.unlink(join(this.dir, n)).catch(() => undefined);
    });
  }

  async readSnapshot(): Promise<{ offset: bigint; data: Buffer } | null> {
    let names: string[];
    try {
      names = (await fsp.readdir(this.dir)).filter((n) => SNAPSHOT_FILE.test(n)).sort().reverse();
    } catch {
      return null;
    }
    for (const n of names) {
      const offset = BigInt(SNAPSHOT_FILE.exec(n)![1]!);
      if (offset > this.nextOffset) continue;
      const data = await readFileOrNull(join(this.dir, n));
      if (data !== null) return { offset, data };
    }
    return null;
  }

  // ---------------------------------------------------------------- flush and close

  /** fsyncs the active segment's log and indexes, when anything was written since the last time. */
  flush(): Promise<void> {
    return this.enqueue(async () => {
      if (this.failure || !this.unsynced) return;
      try {
        this.clearFlushTimer();
        this.stats.indexWrites += await this.active.persistIndexes();
        this.stats.syncs += await this.active.sync(true);
        this.unflushedMessages = 0;
        this.unsynced = false;
      } catch (e) {
        this.fail(e);
        throw this.failure;
      }
    });
  }

  /**
   * Waits for every queued write, seals and fsyncs the active segment, closes descriptors and
   * finishes delayed deletions. Returns whether the log is consistent on disk (no failure).
   */
  async close(): Promise<boolean> {
    this.closing = true;
    await this.cleaning?.catch(() => undefined);
    return this.enqueue(async () => {
      this.clearFlushTimer();
      for (const [timer, unlink] of this.pendingDeletes) {
        clearTimeout(timer);
        await unlink();
      }
      this.pendingDeletes.clear();
      const active = this.active;
      if (!this.failure && active.writable) {
        try {
          active.sealTimeIndex();
          await active.persistIndexes();
          await active.sync(true);
        } catch (e) {
          this.fail(e);
        }
      }
      for (const seg of this.segments) await seg.closeWriter();
      for (const seg of this.segments) for (const p of seg.paths) this.services.files.invalidate(p);
      this.arena.clear();
      this.services.tailCache.forget(this);
      return this.failure === null;
    });
  }

  /** Tests: drop descriptors and timers like a killed process, without flushing or sealing anything. */
  async abandon(): Promise<void> {
    this.closing = true;
    await this.cleaning?.catch(() => undefined);
    await this.queue;
    this.clearFlushTimer();
    for (const timer of this.pendingDeletes.keys()) clearTimeout(timer);
    this.pendingDeletes.clear();
    this.services.tailCache.forget(this);
    for (const seg of this.segments) await seg.closeWriter();
    for (const seg of this.segments) for (const p of seg.paths) this.services.files.invalidate(p);
  }

  /** Marks every segment deleted (the topic is going away). */
  markDeleted(): void {
    this.services.tailCache.forget(this);
    for (const seg of this.segments) {
      seg.deleted = true;
      this.services.segmentGone(seg);
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
