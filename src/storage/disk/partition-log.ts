/**
 * The disk engine's PartitionLog: a directory of segments plus an in-memory tail cache.
 *
 * Appends: the offset is assigned at call time, the batch is stamped in place (base offset, leader
 * epoch, LogAppendTime) and copied into the tail cache (a BatchArena). All file I/O of a partition
 * runs on one serial queue: a drain task takes every pending append and writes them with a single
 * writev per segment (batches that arrive meanwhile wait for the next drain, so concurrent appends
 * coalesce), updates the indexes the way Kafka's LogSegment.append does, fsyncs per flush.messages
 * / flush.ms (partition-writer.ts), and only then advances the high watermark, resolves the
 * appends and wakes listeners. Rolls, retention (segment-deletion.ts) and flushes run on the same
 * queue, so at most one write is in flight; only the fsync of a rolled segment runs beside it.
 *
 * Reads never wait for that queue: recent batches come from the tail cache, older ones from the
 * segment files (partition-reads.ts).
 *
 * Compaction (cleaner.ts) reads inactive segments and writes cleaned ones outside the queue; only
 * the swap of cleaned segments for the originals runs on it. A read that meets a segment replaced
 * meanwhile starts again on the current segments, so it returns whole batches of one version.
 */
import { promises as fsp } from 'node:fs';
import {
  BATCH_HEADER_SIZE,
  readBatchSize,
  readLastOffsetDelta,
  readMagic,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
} from '../../../protocol/records/index.js';
import { BatchArena, ENTRY_OVERHEAD, type ArenaEntry } from '../batch-arena.js';
import { LeaderEpochCache, UNDEFINED_EPOCH, epochsFromBatches, type EpochEndOffset } from '../leader-epoch.js';
import {
  LogOfflineError,
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
  type SegmentTime,
} from '../storage.js';
import { isSimulatedCrash, LogCleaner } from './cleaner.js';
import { fsyncDir, isSystemError } from './fs-util.js';
import { CLEANED_SUFFIX, SWAP_SUFFIX } from './names.js';
import { PartitionReader } from './partition-reads.js';
import type { PartitionServices, PartitionStats } from './partition-services.js';
import { readLeaderEpochCheckpoint, readProducerSnapshot, writeLeaderEpochCheckpoint, writeProducerSnapshot } from './partition-state-files.js';
import { PartitionWriter } from './partition-writer.js';
import { expiredSegmentCount, SegmentDeleter } from './segment-deletion.js';
import type { Segment } from './segment.js';

export type { PartitionServices, PartitionStats } from './partition-services.js';

export class PartitionFailedError extends LogOfflineError {
  override readonly name: string = 'PartitionFailedError';
}

/** A batch larger than segment.bytes can never be stored (Kafka: RecordBatchTooLargeException). */
export class RecordBatchTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordBatchTooLargeError';
  }
}

/**
 * Out of descriptors at the first append since start (the active segment's descriptors open
 * then), appends wait and the open is tried again every OPEN_RETRY_EVERY_MS, as reads and
 * connections give descriptors back, before the partition fails after OPEN_RETRY_FOR_MS.
 */
const OPEN_RETRY_EVERY_MS = 200;
const OPEN_RETRY_FOR_MS = 10_000;

interface PendingAppend {
  entry: ArenaEntry;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

export class DiskPartitionLog implements PartitionLog {
  /** Recent batches (and those being written), served to readers at the tail without file reads. */
  private readonly arena = new BatchArena({ recycle: true });
  private pending: PendingAppend[] = [];
  private drainQueued = false;
  /** Since when the active segment's descriptors could not be opened for want of descriptors. */
  private openFailingSince: number | null = null;
  private openRetry: NodeJS.Timeout | null = null;
  /** The serial I/O queue. */
  private queue: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  private readonly rollListeners = new Set<() => void>();
  private nextOffset: bigint;
  private hw: bigint;
  private startOffset: bigint;
  private bytes: number;
  private failure: Error | null = null;
  private closing = false;
  private readonly writer: PartitionWriter;
  private readonly reader: PartitionReader;
  private readonly deleter: SegmentDeleter;
  private readonly cleaner: LogCleaner;
  /** The compact() call in progress. */
  private cleaning: Promise<CompactionResult | null> | null = null;
  /** Leader epochs and their start offsets, kept in leader-epoch-checkpoint. */
  private epochs = new LeaderEpochCache();
  /** Whether leader-epoch-checkpoint is on disk, and whether the cache holds an epoch it lacks (assignLeaderEpoch). */
  private epochsFileExists = false;
  private epochsUnsaved = false;
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
    // What the read and write paths and the cleaner see of this log: one view, live through getters.
    const host = {
      topic,
      partition,
      name: this.name,
      dir,
      arena: this.arena,
      stats: this.stats,
      logger: services.logger,
      get config() {
        return self.config;
      },
      get logStartOffset() {
        return self.startOffset;
      },
      get logEndOffset() {
        return self.nextOffset;
      },
      get highWatermark() {
        return self.hw;
      },
      get active() {
        return self.active;
      },
      currentSegments: () => this.segments,
      rolled: (seg: Segment) => {
        this.segments = [...this.segments, seg];
        this.notify(this.rollListeners, 'roll listener threw');
      },
      grew: (bytes: number) => {
        this.bytes += bytes;
      },
      enqueue: (task: () => Promise<void>) => this.enqueue(task),
      stopping: (): boolean => this.closing || this.failure !== null,
      fail: (e: unknown) => this.fail(e),
      lateSummary: (seg: Segment) => this.writer.lateSummary(seg),
      replaceSegments: (group: Segment[], cleaned: Segment) => this.replaceSegments(group, cleaned),
      readCheckpoint: () => services.cleanerCheckpoint(topic, partition),
      writeCheckpoint: (offset: bigint) => services.cleanerCheckpointChanged(topic, partition, offset),
      hook: (stage: string) => services.cleanerHook?.(stage),
    };
    this.writer = new PartitionWriter(host, services);
    this.reader = new PartitionReader(host, services);
    this.deleter = new SegmentDeleter(this.name, services, () => this.config.fileDeleteDelayMs);
    this.cleaner = new LogCleaner(host, services.cleaner);
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

  get activeSegmentBaseOffset(): bigint {
    return this.active.baseOffset;
  }

  /** The active segment may hold bytes not fsynced (found at open): flush() and close() fsync it even if nothing is appended. */
  markUnsynced(): void {
    this.writer.markUnsynced();
  }

  /** Whether a write or fsync failed: the partition then refuses appends until reopened. */
  get failed(): Error | null {
    return this.failure;
  }

  segmentTimes(): SegmentTime[] {
    // A file's mtime read back from disk has a fraction of a millisecond.
    return this.segments.map((s) => ({ baseOffset: s.baseOffset, lastModified: Math.floor(s.mtimeMs), size: s.size }));
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
    if (options.leaderEpoch >= 0 && (this.epochs.assign(options.leaderEpoch, baseOffset) || this.epochsUnsaved)) {
      this.epochsUnsaved = false;
      void this.enqueue(() => this.writeLeaderEpochs());
    }
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
      if (!(await this.activeOpened(batch))) return;
      await this.writer.write(batch);
    } catch (e) {
      this.fail(e);
      for (const p of batch) p.reject(this.failure);
      return;
    }
    const last = batch[batch.length - 1]!.entry;
    this.hw = last.lastOffset + 1n;
    for (const p of batch) p.resolve({ baseOffset: p.entry.baseOffset, lastOffset: p.entry.lastOffset, logStartOffset: this.startOffset });
    this.trimTailCache();
    this.notify(this.listeners, 'append listener threw');
  }

  private notify(listeners: ReadonlySet<() => void>, failure: string): void {
    for (const l of listeners) {
      try {
        l();
      } catch (e) {
        this.services.logger.error({ partition: this.name, err: e }, failure);
      }
    }
  }

  /** Opens the active segment's descriptors (the first append since start); false: out of descriptors, `batch` waits for a retry. */
  private async activeOpened(batch: PendingAppend[]): Promise<boolean> {
    try {
      await this.active.openWriter();
      this.openFailingSince = null;
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const now = this.services.now();
      if ((code !== 'EMFILE' && code !== 'ENFILE') || this.closing) throw e;
      if (this.openFailingSince === null) {
        this.openFailingSince = now;
        this.services.logger.warn({ partition: this.name, err: e }, 'out of file descriptors: appends wait for the log files to open');
      } else if (now - this.openFailingSince >= OPEN_RETRY_FOR_MS) {
        throw e;
      }
      this.pending = batch.concat(this.pending);
      // Appends meanwhile join the pending ones rather than start drains of their own.
      this.drainQueued = true;
      this.openRetry = setTimeout(() => {
        this.openRetry = null;
        void this.enqueue(() => this.drain());
      }, OPEN_RETRY_EVERY_MS);
      return false;
    }
  }

  /** Refuses every append from now on (the data directory was taken over by another broker). */
  refuseWrites(reason: string): void {
    this.fail(new Error(reason));
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
    return this.reader.read(from, maxBytes, options);
  }

  findBatchByTimestamp(timestamp: bigint, fromOffset = 0n): Promise<Buffer | null> {
    return this.reader.findBatchByTimestamp(timestamp, fromOffset);
  }

  findMaxTimestampBatch(): Promise<Buffer | null> {
    return this.reader.findMaxTimestampBatch();
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onRoll(listener: () => void): () => void {
    this.rollListeners.add(listener);
    return () => this.rollListeners.delete(listener);
  }

  setConfig(config: LogConfig): void {
    if (config.cleanupPolicy !== this.config.cleanupPolicy) this.cleaner.reset();
    this.config = config;
  }

  // ---------------------------------------------------------------- retention

  enforceRetention(now: number): Promise<number> {
    return this.enqueue(async () => {
      if (this.failure || this.closing) return 0;
      return this.deleteFront(expiredSegmentCount(this.segments, this.startOffset, this.bytes, this.config, now));
    });
  }

  /** Deletes the first n segments (all of them: after rolling an empty one); moves the log start. */
  private async deleteFront(n: number): Promise<number> {
    if (n === 0) return 0;
    try {
      if (n === this.segments.length) await this.writer.roll(this.active.nextOffset);
    } catch (e) {
      this.fail(e);
      return 0;
    }
    // As Kafka's deleteSegments: the log start moves first (readers below it get OFFSET_OUT_OF_RANGE
    // at once, and a crash from here on restarts there), then the files go, oldest first, so that
    // an interrupted deletion never leaves a hole in the log.
    const gone = this.segments.slice(0, n);
    this.segments = this.segments.slice(n);
    const freed = gone.reduce((bytes, seg) => bytes + seg.size, 0);
    this.bytes -= freed;
    if (this.segments[0]!.baseOffset > this.startOffset) this.startOffset = this.segments[0]!.baseOffset;
    const keep = this.arena.search(this.startOffset);
    if (keep > 0) this.dropCached(keep);
    try {
      await this.services.logStartOffsetChanged();
    } catch (e) {
      this.services.logger.error({ partition: this.name, err: e }, 'could not write the log start offset checkpoint');
    }
    if (this.epochs.truncateFromStart(this.startOffset)) await this.writeLeaderEpochs();
    for (const seg of gone) await this.deleter.delete(seg);
    this.services.logger.info({ partition: this.name, segments: gone.length, bytes: freed, logStartOffset: String(this.startOffset) }, 'retention deleted segments');
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

  /**
   * Reads leader-epoch-checkpoint at open, dropping entries the recovered log no longer covers. A
   * file that cannot be read, or is missing beside batches, is rebuilt from the batches' own epochs
   * (Kafka takes the log directory offline or starts from nothing).
   */
  async loadLeaderEpochs(): Promise<void> {
    let changed = false;
    try {
      const entries = await readLeaderEpochCheckpoint(this.dir);
      if (entries === null && this.nextOffset > this.startOffset) {
        this.epochs = await epochsFromBatches(this);
        this.services.logger.warn({ partition: this.name, epochs: this.epochs.all.length }, 'no leader-epoch-checkpoint beside the batches: epochs rebuilt from them');
        changed = true;
      } else {
        this.epochs = new LeaderEpochCache(entries ?? []);
        this.epochsFileExists = entries !== null;
      }
    } catch (e) {
      if (isSystemError(e)) throw e;
      this.epochs = await epochsFromBatches(this);
      this.services.logger.warn({ partition: this.name, err: e, epochs: this.epochs.all.length }, 'unreadable leader-epoch-checkpoint: epochs rebuilt from the batches');
      changed = true;
    }
    if (this.epochs.truncateFromEnd(this.nextOffset)) changed = true;
    if (this.epochs.truncateFromStart(this.startOffset)) changed = true;
    if (changed) await this.enqueue(() => this.writeLeaderEpochs());
  }

  get latestLeaderEpoch(): number {
    return this.epochs.latest?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * A new partition gets its leader-epoch-checkpoint at once, as in Kafka. One that has it keeps
   * a new epoch in memory until the epoch's first batch is appended: every start takes a new
   * epoch for every partition, and writing (and fsyncing) thousands of checkpoints held the start
   * up for seconds. An epoch that never held a batch needs no record: the next start takes a higher one.
   */
  assignLeaderEpoch(epoch: number): Promise<void> {
    if (!this.epochs.assign(epoch, this.nextOffset)) return Promise.resolve();
    if (this.epochsFileExists) {
      this.epochsUnsaved = true;
      return Promise.resolve();
    }
    return this.enqueue(() => this.writeLeaderEpochs());
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this.nextOffset);
  }

  epochForOffset(offset: bigint): number {
    return this.epochs.epochForOffset(offset);
  }

  /** Rewrites leader-epoch-checkpoint (on the I/O queue); a failure is logged, the cache stays right in memory. */
  private async writeLeaderEpochs(): Promise<void> {
    this.epochsUnsaved = false;
    if (this.failure || this.segments.some((s) => s.deleted)) return;
    try {
      await writeLeaderEpochCheckpoint(this.dir, this.epochs.all);
      this.epochsFileExists = true;
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
      for (const old of group) if (old.baseOffset !== cleaned.baseOffset) await this.deleter.delete(old);
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

  // ---------------------------------------------------------------- snapshots

  writeSnapshot(offset: bigint, data: Buffer): Promise<void> {
    return this.enqueue(async () => {
      // The drains queued before this task have written every batch below `offset`, unless one is
      // waiting for descriptors (activeOpened): then the snapshot waits for a later one.
      if (this.failure || this.closing || offset > this.hw) return;
      await writeProducerSnapshot(this.dir, offset, data);
    });
  }

  readSnapshot(): Promise<{ offset: bigint; data: Buffer } | null> {
    return readProducerSnapshot(this.dir, () => this.nextOffset, (file, reason) =>
      this.services.logger.warn({ partition: this.name, file, reason }, 'passing over a damaged producer snapshot'));
  }

  // ---------------------------------------------------------------- flush and close

  /** fsyncs the active segment's log and indexes, when anything was written since the last time, and waits for rolled segments' fsyncs. */
  async flush(): Promise<void> {
    await this.enqueue(async () => {
      if (this.failure || !this.writer.unsynced) return;
      try {
        await this.writer.syncAll();
      } catch (e) {
        this.fail(e);
      }
    });
    await this.writer.rolledSegmentsFlushed();
    if (this.failure) throw this.failure;
  }

  /**
   * Waits for every queued write, seals and fsyncs the active segment, waits for the fsyncs of
   * rolled segments, closes descriptors and finishes delayed deletions. Returns whether the log is consistent on disk (no failure).
   */
  async close(): Promise<boolean> {
    this.closing = true;
    await this.cleaning?.catch(() => undefined);
    this.stopOpenRetry();
    return this.enqueue(async () => {
      this.writer.clearFlushTimer();
      await this.deleter.finishPending();
      const active = this.active;
      if (!this.failure) {
        try {
          await active.endDirectWrites();
          active.sealTimeIndex();
          const indexWrites = await active.persistIndexes();
          // Left alone since a clean start, the files are as the last fsync left them.
          if (this.writer.unsynced || indexWrites > 0) await active.sync(true);
        } catch (e) {
          this.fail(e);
        }
      }
      await this.writer.rolledSegmentsFlushed();
      for (const seg of this.segments) await seg.closeWriter();
      for (const seg of this.segments) for (const p of seg.paths) this.services.files.invalidate(p);
      this.arena.clear();
      this.services.tailCache.forget(this);
      return this.failure === null;
    });
  }

  /** Appends waiting for descriptors when the log closes are refused. */
  private stopOpenRetry(): void {
    if (this.openRetry === null) return;
    clearTimeout(this.openRetry);
    this.openRetry = null;
    const waiting = this.pending;
    this.pending = [];
    for (const p of waiting) p.reject(new PartitionFailedError(`partition ${this.name} is closed`));
  }

  /** Tests: drop descriptors and timers like a killed process, without flushing or sealing anything. */
  async abandon(): Promise<void> {
    this.closing = true;
    await this.cleaning?.catch(() => undefined);
    this.stopOpenRetry();
    await this.queue;
    this.writer.clearFlushTimer();
    this.deleter.cancelPending();
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
