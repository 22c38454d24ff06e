/**
 * The write path of a partition log, run on its serial I/O queue: the pending appends go out with
 * a single writev per segment, rolling where Kafka would; the indexes are updated the way Kafka's
 * LogSegment.append does; the active segment's log is fsynced per flush.messages / flush.ms, a
 * rolled segment in the background.
 */
import type { ArenaBlock, ArenaEntry, BatchArena } from '../batch-arena.js';
import { ProducerSummary } from '../compaction.js';
import { maxSegmentMs, policyCompacts, randomSegmentJitter, type LogConfig } from '../storage.js';
import type { FileHandle } from 'node:fs/promises';
import { fsyncDir } from './fs-util.js';
import { INT32_MAX } from './index-buffer.js';
import type { PartitionServices, PartitionStats } from './partition-services.js';
import { Segment } from './segment.js';

/** What the write path needs from its partition log. */
export interface WriteHost {
  readonly topic: string;
  readonly partition: number;
  readonly name: string;
  readonly dir: string;
  readonly config: LogConfig;
  /** The tail cache: the batches to write live there. */
  readonly arena: BatchArena;
  readonly stats: PartitionStats;
  /** The active segment (the last). */
  readonly active: Segment;
  /** A roll made `seg` the active segment. */
  rolled(seg: Segment): void;
  /** `bytes` more of the log are written. */
  grew(bytes: number): void;
  /** Runs `task` after every earlier I/O task of the partition. */
  enqueue(task: () => Promise<void>): Promise<void>;
  /** Closing or failed: a timed fsync is not wanted any more. */
  stopping(): boolean;
  /** After a failed write or fsync: the partition refuses everything from now on. */
  fail(e: unknown): void;
}

const INDEX_PERSIST_INTERVAL_MS = 1000;

export class PartitionWriter {
  /** Offsets written since the last fsync (of the active segment's log, and of the segments rolled meanwhile). */
  private unflushedMessages = 0;
  /** Log or index bytes written since the last full fsync (flush(), roll, close). */
  private unsyncedWrites = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private indexesPersistedAt = 0;
  /** Producer summaries of this run's appends to segments whose earlier content is not summarised. */
  private readonly lateSummaries = new WeakMap<Segment, ProducerSummary>();
  /** The fsyncs of rolled segments, in roll order. */
  private rolledFlushes: Promise<void> = Promise.resolve();
  /** Set when a rolled segment's fsync failed: no later one moves the recovery point past it. */
  private rolledFailure: unknown = null;

  constructor(
    private readonly host: WriteHost,
    private readonly services: PartitionServices,
  ) {}

  /** Whether log or index bytes were written since the last full fsync. */
  get unsynced(): boolean {
    return this.unsyncedWrites;
  }

  /** The active segment's files hold bytes written before this writer (recovery) that are not fsynced. */
  markUnsynced(): void {
    this.unsyncedWrites = true;
  }

  /** Producer summary of this run's appends to `seg`, when its earlier content is not summarised. */
  lateSummary(seg: Segment): ProducerSummary | null {
    return this.lateSummaries.get(seg) ?? null;
  }

  /**
   * Writes the appends' batches, then fsyncs the active segment's log, and waits for the fsyncs of
   * the segments rolled meanwhile (flush.messages / flush.ms say the batches are fsynced before
   * they are acknowledged), or leaves that to the flush timer.
   */
  async write(appends: readonly { readonly entry: ArenaEntry }[]): Promise<void> {
    await this.writePending(appends);
    const cfg = this.host.config;
    if (this.unflushedMessages >= cfg.flushMessages || cfg.flushMs <= 0) {
      await this.syncActive();
      await this.rolledFlushes;
      if (this.rolledFailure !== null) throw this.rolledFailure;
    } else {
      this.armFlushTimer();
    }
  }

  /** Writes the batches in order, one writev per segment, rolling where Kafka would. */
  private async writePending(list: readonly { readonly entry: ArenaEntry }[]): Promise<void> {
    let seg = this.host.active;
    let group: ArenaEntry[] = [];
    let groupBytes = 0;
    for (const { entry } of list) {
      if (this.shouldRoll(seg, seg.size + groupBytes, group[0] ?? null, entry)) {
        if (group.length > 0) await this.writeGroup(seg, group, groupBytes);
        group = [];
        groupBytes = 0;
        seg = await this.roll(entry.baseOffset);
      }
      group.push(entry);
      groupBytes += entry.size;
    }
    if (group.length > 0) await this.writeGroup(seg, group, groupBytes);
  }

  /**
   * Kafka's LogSegment.shouldRoll, for one batch: the segment would pass segment.bytes; or
   * segment.ms (maxSegmentMs: max.compaction.lag.ms when shorter on a compacted log) has elapsed,
   * measured from the max timestamp of the segment's first batch to this batch's (wall clock since
   * creation when the first batch has no timestamp); or the batch's last offset does not fit the
   * index's int32 relative offsets. Never rolls an empty segment.
   */
  private shouldRoll(seg: Segment, size: number, firstInGroup: ArenaEntry | null, e: ArenaEntry): boolean {
    if (size === 0) return false;
    const cfg = this.host.config;
    if (size + e.size > cfg.segmentBytes) return true;
    if (e.lastOffset - seg.baseOffset > BigInt(INT32_MAX)) return true;
    if (seg.indexFull(cfg.segmentIndexBytes)) return true;
    const first = seg.size > 0 ? seg.firstBatchTimestamp : (firstInGroup?.maxTimestamp ?? null);
    const waited = first !== null && first >= 0n ? e.maxTimestamp - first : BigInt(this.services.now() - seg.created);
    seg.rollJitterMs ??= randomSegmentJitter(cfg);
    return waited > BigInt(maxSegmentMs(cfg) - seg.rollJitterMs);
  }

  private async writeGroup(seg: Segment, group: ArenaEntry[], bytes: number): Promise<void> {
    const { arena, stats } = this.host;
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
      arena.pin(runBlock);
      pinned.push(runBlock);
    }
    if (runBlock) iov.push(runBlock.buf.subarray(runStart, runEnd));
    let position = seg.size;
    try {
      await seg.writeLog(iov, bytes, position, this.services.directWrites);
      // The file's mtime, which a segment without timestamps ages by (Kafka's LogSegment.lastModified).
      seg.mtimeMs = this.services.now();
      stats.logWrites++;
      this.unsyncedWrites = true;
      // Only the cleaner reads producer summaries: a log that is not compacted keeps none (one
      // entry per producer id per segment adds up), and a segment written meanwhile forgets its
      // own, to be learnt again by a scan if compaction is turned on.
      const summary = policyCompacts(this.host.config.cleanupPolicy) ? seg.summary ?? this.lateSummaryFor(seg) : null;
      if (summary === null) {
        seg.summary = null;
        this.lateSummaries.delete(seg);
      }
      for (const e of group) {
        summary?.add(arena.view(e));
        seg.appendedBatch({ position, size: e.size, baseOffset: e.baseOffset, lastOffset: e.lastOffset, maxTimestamp: e.maxTimestamp }, this.host.config.indexIntervalBytes);
        position += e.size;
        this.host.grew(e.size);
        this.unflushedMessages += Number(e.lastOffset - e.baseOffset) + 1;
      }
    } finally {
      for (const b of pinned) arena.unpin(b);
    }
    // Index entries live in memory; the files are brought up to date at most once a second (and at
    // roll, flush and close): recovery re-derives any entry a crash loses from the log itself.
    const now = this.services.now();
    if (now - this.indexesPersistedAt >= INDEX_PERSIST_INTERVAL_MS) {
      this.indexesPersistedAt = now;
      stats.indexWrites += await seg.persistIndexes();
    }
  }

  private lateSummaryFor(seg: Segment): ProducerSummary {
    let s = this.lateSummaries.get(seg);
    if (!s) this.lateSummaries.set(seg, (s = new ProducerSummary()));
    return s;
  }

  /**
   * Seals the active segment (time index, indexes written) and starts a new one at `baseOffset`.
   * The old segment is fsynced in the background, as Kafka's roll schedules its flush: appends go
   * on meanwhile instead of waiting for up to a segment's worth of dirty pages to reach the disk.
   * Until that fsync is done, the partition's recovery point stays below the old segment, so an
   * unclean shutdown has recovery check it in full.
   */
  async roll(baseOffset: bigint): Promise<Segment> {
    const { stats, dir, topic, partition } = this.host;
    const old = this.host.active;
    // Before the new segment takes any bytes: a crash then never finds padding except at the end.
    await old.endDirectWrites();
    old.sealTimeIndex();
    stats.indexWrites += await old.persistIndexes();
    await this.services.recoveryPoints.beforeRoll(topic, partition, old.baseOffset);
    const seg = new Segment(dir, baseOffset, this.services.now());
    seg.resetDerivedState(0, 0);
    seg.summary = policyCompacts(this.host.config.cleanupPolicy) ? new ProducerSummary() : null;
    try {
      // Files of an earlier, unreadable incarnation at this offset would be wrong: start empty.
      await seg.truncateFiles();
      // The new file's name is durable before anything written to it can be fsynced and acknowledged.
      await fsyncDir(dir);
    } catch (e) {
      await seg.closeWriter();
      throw e;
    }
    // Only now, the new segment ready, does the old one give up its descriptor (to its fsync).
    const descriptors = old.detachWriter();
    old.active = false;
    seg.active = true;
    this.unsyncedWrites = false;
    this.services.indexesUsed(old);
    this.host.rolled(seg);
    this.rolledFlushes = this.rolledFlushes.then(() => this.flushRolled(old, descriptors, baseOffset));
    stats.rolls++;
    this.services.logger.info({ partition: this.host.name, baseOffset: String(baseOffset) }, 'rolled segment');
    return seg;
  }

  /** fsyncs a rolled segment (its log through the descriptor it wrote with, then closed; its indexes), then moves the recovery point past it. */
  private async flushRolled(seg: Segment, descriptors: FileHandle[], nextBase: bigint): Promise<void> {
    const { stats, topic, partition } = this.host;
    try {
      // After a failed one, the recovery point stays below that segment for good.
      if (this.rolledFailure !== null) return;
      await this.services.rolledSegmentSyncHook?.(this.host.name);
      for (const fh of descriptors) {
        await fh.datasync();
        stats.syncs++;
      }
      await seg.syncIndexes();
      stats.syncs += 2;
    } catch (e) {
      this.rolledFailure = e;
      this.host.fail(e);
      return;
    } finally {
      await Promise.all(descriptors.map((fh) => fh.close().catch(() => undefined)));
    }
    try {
      await this.services.recoveryPoints.reached(topic, partition, nextBase);
    } catch (e) {
      // Recovery then checks more segments than it needs to: nothing is lost.
      this.services.logger.error({ partition: this.host.name, err: e }, 'could not write the recovery point checkpoint');
    }
  }

  /** Resolves when every rolled segment so far is fsynced (or its fsync failed the partition). */
  rolledSegmentsFlushed(): Promise<void> {
    return this.rolledFlushes;
  }

  /** fsyncs the active segment's log and indexes (flush()). */
  async syncAll(): Promise<void> {
    const { stats } = this.host;
    this.clearFlushTimer();
    stats.indexWrites += await this.host.active.persistIndexes();
    stats.syncs += await this.host.active.sync(true);
    this.unflushedMessages = 0;
    this.unsyncedWrites = false;
  }

  private async syncActive(): Promise<void> {
    this.clearFlushTimer();
    if (this.unflushedMessages === 0) return;
    this.unflushedMessages = 0;
    this.host.stats.syncs += await this.host.active.sync(false);
  }

  private armFlushTimer(): void {
    const ms = this.host.config.flushMs;
    if (this.flushTimer || this.unflushedMessages === 0 || ms >= Number.MAX_SAFE_INTEGER || ms > 0x7fffffff) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.host.enqueue(async () => {
        if (this.host.stopping()) return;
        try {
          await this.syncActive();
        } catch (e) {
          this.host.fail(e);
        }
      });
    }, ms);
    this.flushTimer.unref();
  }

  clearFlushTimer(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }
}
