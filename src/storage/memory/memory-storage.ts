/**
 * The memory engine: every partition is a BatchArena. For tests and embedding; nothing survives
 * the process. Offsets, retention and reads behave as on disk, at batch rather than segment grain.
 *
 * Compaction must look the same as on disk, so the log is also cut into virtual segments by the
 * disk engine's roll rules (segment.bytes, segment.ms, int32 offsets): the cleaner (compaction.ts)
 * then decides and cleans exactly as the disk engine does, rebuilding the arena with the result.
 */
import { randomUuid } from '../../../protocol/primitives/uuid.js';
import {
  readLastOffsetDelta,
  readMaxTimestamp,
  readProducerId,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
} from '../../../protocol/records/index.js';
import { BatchArena, type ArenaEntry } from '../batch-arena.js';
import { LeaderEpochCache, UNDEFINED_EPOCH, type EpochEndOffset } from '../leader-epoch.js';
import {
  cleanBatch,
  DEFAULT_PRODUCER_ID_EXPIRATION_MS,
  groupSegmentsBySize,
  mapBatch,
  OffsetMap,
  planCleaning,
  ProducerSummary,
  producerStateKeeper,
  segmentsIn,
  TxnIndex,
  TxnTracker,
  type CleanContext,
} from '../compaction.js';
import {
  OffsetOutOfRangeError,
  PolicyViolationError,
  maxSegmentMs,
  policyCompacts,
  policyDeletes,
  randomSegmentJitter,
  type AppendOptions,
  type AppendResult,
  type CompactionResult,
  type LogConfig,
  type PartitionLog,
  type ReadOptions,
  type ReadResult,
  type SegmentTime,
  type Storage,
  type StoredState,
  type TopicRecord,
} from '../storage.js';

export interface MemoryStorageOptions {
  /** Wall clock in ms (tests). Default Date.now. */
  now?: () => number;
  /** Memory for a cleaning round's key → offset map. Default 32 MiB. */
  cleanerDedupeBufferBytes?: number;
  /** Producers idle longer no longer pin their last batch in compacted logs. Default 1 day. */
  producerIdExpirationMs?: number;
}

/** A segment as the disk engine would have cut it: metadata only, the batches are in the arena. */
interface VirtualSegment {
  baseOffset: bigint;
  bytes: number;
  /** Max timestamp of the first batch. */
  firstBatchTimestamp: bigint | null;
  maxTimestamp: bigint;
  created: number;
  /** Wall clock of its last append (the disk engine's file mtime). */
  lastModified: number;
  /** Taken off segment.ms for this segment (segment.jitter.ms). */
  rollJitterMs: number;
}

const INT32_MAX = 0x7fffffffn;

export class MemoryPartitionLog implements PartitionLog {
  private readonly arena = new BatchArena();
  private nextOffset = 0n;
  private startOffset = 0n;
  private readonly listeners = new Set<() => void>();
  private segments: VirtualSegment[];
  private cleanerCheckpoint: bigint | undefined;
  private cleaning: Promise<CompactionResult | null> = Promise.resolve(null);
  private readonly now: () => number;
  private readonly epochs = new LeaderEpochCache();
  /** Wall clock of the last append: what a batch without timestamps ages by (the disk engine's file mtime). */
  private lastAppendMs = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private config: LogConfig,
    private readonly options: MemoryStorageOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.segments = [this.newSegment(0n)];
  }

  private newSegment(baseOffset: bigint): VirtualSegment {
    const now = this.now();
    return { baseOffset, bytes: 0, firstBatchTimestamp: null, maxTimestamp: -1n, created: now, lastModified: now, rollJitterMs: randomSegmentJitter(this.config) };
  }

  private get active(): VirtualSegment {
    return this.segments[this.segments.length - 1]!;
  }

  /** The disk engine's shouldRoll for one batch. */
  private shouldRoll(seg: VirtualSegment, e: ArenaEntry): boolean {
    if (seg.bytes === 0) return false;
    if (seg.bytes + e.size > this.config.segmentBytes) return true;
    if (e.lastOffset - seg.baseOffset > INT32_MAX) return true;
    const first = seg.firstBatchTimestamp;
    const waited = first !== null && first >= 0n ? e.maxTimestamp - first : BigInt(this.now() - seg.created);
    return waited > BigInt(maxSegmentMs(this.config) - seg.rollJitterMs);
  }

  private account(seg: VirtualSegment, e: ArenaEntry): void {
    if (seg.bytes === 0) seg.firstBatchTimestamp = e.maxTimestamp;
    if (e.maxTimestamp > seg.maxTimestamp) seg.maxTimestamp = e.maxTimestamp;
    seg.bytes += e.size;
  }

  /** After batches left the front: drop the segments wholly before the first batch, recount the first. */
  private trimSegments(): void {
    const first = this.arena.first;
    const start = first ? first.baseOffset : this.nextOffset;
    while (this.segments.length > 1 && this.segments[1]!.baseOffset <= start) this.segments.shift();
    const seg = this.segments[0]!;
    const end = this.segments[1]?.baseOffset ?? this.nextOffset;
    seg.bytes = 0;
    seg.maxTimestamp = -1n;
    seg.firstBatchTimestamp = null;
    for (let i = 0; i < this.arena.count; i++) {
      const e = this.arena.at(i);
      if (e.baseOffset >= end) break;
      this.account(seg, e);
    }
    if (this.segments.length === 1 && seg.bytes === 0 && seg.baseOffset < start) this.segments[0] = this.newSegment(start);
  }

  get logStartOffset(): bigint {
    return this.startOffset;
  }

  get logEndOffset(): bigint {
    return this.nextOffset;
  }

  get highWatermark(): bigint {
    return this.nextOffset;
  }

  get size(): number {
    return this.arena.bytes;
  }

  get activeSegmentBaseOffset(): bigint {
    return this.active.baseOffset;
  }

  segmentTimes(): SegmentTime[] {
    return this.segments.map((s) => ({ baseOffset: s.baseOffset, lastModified: s.lastModified, size: s.bytes }));
  }

  append(batch: Buffer, options: AppendOptions): Promise<AppendResult> {
    const baseOffset = this.nextOffset;
    setBaseOffset(batch, 0, baseOffset);
    setPartitionLeaderEpoch(batch, 0, options.leaderEpoch);
    if (options.logAppendTime !== undefined) setLogAppendTime(batch, options.logAppendTime);
    const lastOffset = baseOffset + BigInt(readLastOffsetDelta(batch));
    this.nextOffset = lastOffset + 1n;
    if (options.leaderEpoch >= 0) this.epochs.assign(options.leaderEpoch, baseOffset);
    const entry = this.arena.add(batch);
    if (this.shouldRoll(this.active, entry)) this.segments.push(this.newSegment(baseOffset));
    this.account(this.active, entry);
    this.lastAppendMs = this.now();
    this.active.lastModified = this.lastAppendMs;
    queueMicrotask(() => this.notify());
    return Promise.resolve({ baseOffset, lastOffset, logStartOffset: this.startOffset });
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  read(offset: bigint, maxBytes: number, options: ReadOptions): Promise<ReadResult> {
    const i = this.arena.search(offset < this.startOffset ? this.startOffset : offset);
    return Promise.resolve(this.arena.slice(i, maxBytes, options.maxOffset, options.minOneBatch, options.readableWanted));
  }

  findBatchByTimestamp(timestamp: bigint, fromOffset = 0n): Promise<Buffer | null> {
    for (let i = this.arena.search(fromOffset); i < this.arena.count; i++) {
      const e = this.arena.at(i);
      if (e.maxTimestamp >= timestamp && e.lastOffset >= fromOffset) return Promise.resolve(this.arena.view(e));
    }
    return Promise.resolve(null);
  }

  findMaxTimestampBatch(): Promise<Buffer | null> {
    let best = -1;
    for (let i = 0; i < this.arena.count; i++) {
      if (best < 0 || this.arena.at(i).maxTimestamp > this.arena.at(best).maxTimestamp) best = i;
    }
    return Promise.resolve(best < 0 ? null : this.arena.view(this.arena.at(best)));
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Nothing of a memory log outlives its process, so nothing needs to know of its (virtual) rolls. */
  onRoll(): () => void {
    return () => undefined;
  }

  setConfig(config: LogConfig): void {
    this.config = config;
  }

  enforceRetention(now: number): Promise<number> {
    const before = this.arena.bytes;
    let drop = this.arena.search(this.startOffset);
    if (!policyDeletes(this.config.cleanupPolicy)) {
      if (drop > 0) {
        this.arena.dropFront(drop);
        this.trimSegments();
      }
      return Promise.resolve(before - this.arena.bytes);
    }
    // Size first, then time from where it stopped, as Kafka's deleteOldSegments (segment-deletion.ts).
    if (this.config.retentionBytes >= 0) {
      let excess = this.arena.bytes - this.config.retentionBytes;
      for (let i = 0; i < drop; i++) excess -= this.arena.at(i).size;
      while (drop < this.arena.count && excess - this.arena.at(drop).size >= 0) {
        excess -= this.arena.at(drop).size;
        drop++;
      }
    }
    if (this.config.retentionMs >= 0) {
      const horizon = BigInt(now - this.config.retentionMs);
      // A batch without timestamps ages from the last append, as a disk segment ages from its file's
      // mtime: never earlier than its segment would go in Kafka.
      const idle = now - this.lastAppendMs > this.config.retentionMs;
      const expired = (ts: bigint) => (ts >= 0n ? ts < horizon : idle);
      while (drop < this.arena.count && expired(this.arena.at(drop).maxTimestamp)) drop++;
    }
    if (drop > 0) {
      this.arena.dropFront(drop);
      const first = this.arena.first?.baseOffset ?? this.nextOffset;
      if (first > this.startOffset) this.startOffset = first;
      this.trimSegments();
      this.epochs.truncateFromStart(this.startOffset);
    }
    return Promise.resolve(before - this.arena.bytes);
  }

  deleteRecordsBefore(offset: bigint): Promise<bigint> {
    if (!policyDeletes(this.config.cleanupPolicy)) {
      return Promise.reject(new PolicyViolationError(`Records of partition ${this.topic}-${this.partition} can not be deleted due to the configured policy`));
    }
    const target = offset === -1n ? this.highWatermark : offset;
    if (target < 0n || target > this.highWatermark) {
      return Promise.reject(new OffsetOutOfRangeError(`Cannot increment the log start offset to ${target} of partition ${this.topic}-${this.partition} since it is larger than the high watermark ${this.highWatermark}`));
    }
    if (target > this.startOffset) {
      this.startOffset = target;
      this.epochs.truncateFromStart(target);
      const drop = this.arena.search(target);
      if (drop > 0) {
        this.arena.dropFront(drop);
        this.trimSegments();
      }
    }
    return Promise.resolve(this.startOffset);
  }

  private snapshot: { offset: bigint; data: Buffer } | null = null;

  writeSnapshot(offset: bigint, data: Buffer): Promise<void> {
    this.snapshot = { offset, data: Buffer.from(data) };
    return Promise.resolve();
  }

  readSnapshot(): Promise<{ offset: bigint; data: Buffer } | null> {
    return Promise.resolve(this.snapshot !== null && this.snapshot.offset <= this.nextOffset ? this.snapshot : null);
  }

  get latestLeaderEpoch(): number {
    return this.epochs.latest?.epoch ?? UNDEFINED_EPOCH;
  }

  assignLeaderEpoch(epoch: number): Promise<void> {
    this.epochs.assign(epoch, this.nextOffset);
    return Promise.resolve();
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this.nextOffset);
  }

  epochForOffset(offset: bigint): number {
    return this.epochs.epochForOffset(offset);
  }

  /** One whole cleaning round (the disk engine's, over the arena and the virtual segments). */
  compact(now: number, lastStableOffset?: bigint): Promise<CompactionResult | null> {
    const run = this.cleaning.catch(() => null).then(() => this.compactOnce(now, lastStableOffset ?? this.highWatermark));
    this.cleaning = run;
    return run;
  }

  private async compactOnce(now: number, lastStableOffset: bigint): Promise<CompactionResult | null> {
    const cfg = this.config;
    const startBefore = this.startOffset;
    if (!policyCompacts(cfg.cleanupPolicy)) return null;
    const segs = this.segments;
    const entriesOf = (from: bigint, to: bigint): ArenaEntry[] => {
      const out: ArenaEntry[] = [];
      for (let i = this.arena.search(from); i < this.arena.count; i++) {
        const e = this.arena.at(i);
        if (e.baseOffset >= to) break;
        if (e.baseOffset >= from) out.push(e);
      }
      return out;
    };
    const plan = planCleaning({
      segments: segs.map((s) => ({ baseOffset: s.baseOffset, size: s.bytes, largestTimestamp: s.maxTimestamp >= 0n ? Number(s.maxTimestamp) : s.created, firstBatchTimestamp: s.firstBatchTimestamp })),
      logStartOffset: this.startOffset,
      logEndOffset: this.nextOffset,
      lastStableOffset,
      checkpoint: this.cleanerCheckpoint,
      now,
      minCompactionLagMs: cfg.minCompactionLagMs,
      maxCompactionLagMs: cfg.maxCompactionLagMs,
      minCleanableDirtyRatio: cfg.minCleanableDirtyRatio,
    });
    if (plan.checkpointReset) this.cleanerCheckpoint = plan.firstDirtyOffset;
    if (!plan.due) return null;
    const segEnd = (i: number): bigint => segs[i + 1]?.baseOffset ?? this.nextOffset;
    const whole = new ProducerSummary();
    for (let i = 0; i < this.arena.count; i++) whole.add(this.arena.view(this.arena.at(i)));
    const txnIndex = new TxnIndex(whole.markers);
    const result: CompactionResult = {
      firstDirtyOffset: plan.firstDirtyOffset, cleanedUpTo: 0n, complete: true, segmentsCleaned: 0, bytesRead: 0, bytesWritten: 0, bytesFreed: 0, recordsRead: 0, recordsRetained: 0, abortMarkersRemoved: [],
    };

    const map = new OffsetMap(this.options.cleanerDedupeBufferBytes ?? 32 * 1024 * 1024);
    const dirty = segmentsIn(segs, plan.firstDirtyOffset, plan.firstUncleanableOffset);
    let stopped = false;
    for (let i = 0; i < dirty.length && !stopped; i++) {
      const seg = dirty[i]!;
      const nextBase = i + 1 < dirty.length ? dirty[i + 1]!.baseOffset : plan.firstUncleanableOffset;
      for (const e of entriesOf(seg.baseOffset, nextBase)) {
        if (map.latestOffset >= 0n && map.full) {
          stopped = true;
          break;
        }
        result.bytesRead += e.size;
        await mapBatch(this.arena.view(e), map, txnIndex, plan.firstDirtyOffset);
      }
      if (!stopped) map.updateLatestOffset(nextBase - 1n);
    }
    if (map.latestOffset < plan.firstDirtyOffset) return null;
    const endOffset = map.latestOffset + 1n;
    result.cleanedUpTo = endOffset;

    const ctx: CleanContext = {
      map,
      now,
      deleteRetentionMs: cfg.deleteRetentionMs,
      txn: new TxnTracker(txnIndex),
      upperBound: plan.firstUncleanableOffset,
      keepsProducerState: producerStateKeeper(whole.producers, now, this.options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS),
    };
    const toClean = segs.slice(0, segs.length - 1).filter((s) => s.baseOffset < endOffset);
    const groups = groupSegmentsBySize(toClean.map((s) => ({ ...s, size: s.bytes })), cfg.segmentBytes, plan.firstUncleanableOffset);
    const cleanedSegments: VirtualSegment[] = [];
    const kept: Buffer[] = [];
    for (const group of groups) {
      const last = segs.indexOf(toClean[toClean.findIndex((s) => s.baseOffset === group[group.length - 1]!.baseOffset)]!);
      const seg: VirtualSegment = { baseOffset: group[0]!.baseOffset, bytes: 0, firstBatchTimestamp: null, maxTimestamp: -1n, created: segs[last]!.created, lastModified: segs[last]!.lastModified, rollJitterMs: segs[last]!.rollJitterMs };
      for (const e of entriesOf(group[0]!.baseOffset, segEnd(last))) {
        const batch = this.arena.view(e);
        result.bytesRead += e.size;
        const o = await cleanBatch(batch, ctx);
        result.recordsRead += o.recordsRead;
        result.recordsRetained += o.recordsRetained;
        if (o.abortMarkerRemoved) result.abortMarkersRemoved.push({ producerId: readProducerId(batch), offset: e.lastOffset });
        if (o.out === null) continue;
        const out = o.verbatim ? Buffer.from(o.out) : o.out;
        if (seg.bytes === 0) seg.firstBatchTimestamp = readMaxTimestamp(out);
        const ts = readMaxTimestamp(out);
        if (ts > seg.maxTimestamp) seg.maxTimestamp = ts;
        seg.bytes += out.length;
        kept.push(out);
      }
      result.segmentsCleaned += group.length;
      result.bytesWritten += seg.bytes;
      cleanedSegments.push(seg);
    }
    // Retention or DeleteRecords ran meanwhile (codecs may await): this result would bring data back.
    if (this.startOffset !== startBefore) return null;
    // Rebuild the arena: the cleaned batches, then the batches of the segments left as they were
    // (appends made meanwhile included: they are all in the active segment or later).
    const cleanedEnd = toClean.length > 0 ? segEnd(segs.indexOf(toClean[toClean.length - 1]!)) : segs[0]!.baseOffset;
    const rest = entriesOf(cleanedEnd, this.nextOffset).map((e) => Buffer.from(this.arena.view(e)));
    const before = this.arena.bytes;
    this.arena.clear();
    for (const b of kept) this.arena.add(b);
    for (const b of rest) this.arena.add(b);
    result.bytesFreed = before - this.arena.bytes;
    this.segments = [...cleanedSegments, ...this.segments.filter((s) => s.baseOffset >= cleanedEnd)];
    this.cleanerCheckpoint = endOffset;
    return result;
  }
}

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  private topics: TopicRecord[] = [];
  private readonly clusterId = randomUuid();

  constructor(private readonly options: MemoryStorageOptions = {}) {}

  open(): Promise<StoredState> {
    return Promise.resolve({ clusterId: this.clusterId, topics: [...this.topics] });
  }

  private readonly state = new Map<string, string>();

  readState(name: string): Promise<string | null> {
    return Promise.resolve(this.state.get(name) ?? null);
  }

  writeState(name: string, text: string): Promise<void> {
    this.state.set(name, text);
    return Promise.resolve();
  }

  saveTopics(topics: readonly TopicRecord[]): Promise<void> {
    this.topics = topics.map((t) => ({ ...t, configs: { ...t.configs } }));
    return Promise.resolve();
  }

  openPartition(topic: TopicRecord, partition: number, config: LogConfig): Promise<PartitionLog> {
    return Promise.resolve(new MemoryPartitionLog(topic.name, partition, config, this.options));
  }

  deleteTopicData(): Promise<void> {
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
