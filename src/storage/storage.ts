/**
 * The seam between Kafka semantics and where bytes live. The broker talks only to these interfaces;
 * the disk engine (segment files), the memory engine and later a shared database implement them.
 *
 * Record batches cross this seam as opaque magic-2 batches: engines read their headers (offsets,
 * lengths, timestamps) but never decode records.
 */

import type { EpochEndOffset } from './leader-epoch.js';

export type { EpochEndOffset } from './leader-epoch.js';

/** Kafka's KRaft metadata log: not a topic clients may make, nor a partition of any engine's. */
export const CLUSTER_METADATA_TOPIC = '__cluster_metadata';

/** A topic as persisted: its identity and its configuration overrides (Kafka config names). */
export interface TopicRecord {
  name: string;
  /** Kafka UUID in base64url form. */
  topicId: string;
  partitions: number;
  /** Topic-level config overrides only; defaults come from the broker config. */
  configs: Record<string, string>;
}

/**
 * Kafka's LogConfig.randomSegmentJitter: what a new segment takes off segment.ms, so that
 * partitions created together do not all roll (and expire) at the same moment.
 */
export function randomSegmentJitter(cfg: LogConfig): number {
  if (cfg.segmentJitterMs <= 0) return 0;
  return Math.floor(Math.random() * 0x7fffffff) % Math.min(cfg.segmentJitterMs, cfg.segmentMs);
}

/** The log settings a partition follows, resolved from topic overrides and broker defaults. */
export interface LogConfig {
  segmentBytes: number;
  segmentMs: number;
  /** Up to this much is taken off segmentMs for each new segment, at random (segment.jitter.ms). */
  segmentJitterMs: number;
  /** Size bound of each index file: a segment whose index is full rolls (segment.index.bytes). */
  segmentIndexBytes: number;
  /** -1: keep forever. */
  retentionMs: number;
  /** -1: no size limit. */
  retentionBytes: number;
  indexIntervalBytes: number;
  /** fsync after this many messages; Number.MAX_SAFE_INTEGER for never. */
  flushMessages: number;
  /** fsync when the oldest unflushed write is this old; Number.MAX_SAFE_INTEGER for never. */
  flushMs: number;
  /** How long a deleted segment lingers (Kafka renames to .deleted first). */
  fileDeleteDelayMs: number;
  /** cleanup.policy: retention deletes old segments ('delete'), the cleaner compacts ('compact'), both, or neither (''). */
  cleanupPolicy: CleanupPolicy;
  /** delete.retention.ms: how long a tombstone (and a removable transaction marker) outlives its first cleaning. */
  deleteRetentionMs: number;
  /** min.compaction.lag.ms: segments holding a record newer than this are not cleaned. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: dirty data older than this makes the log due whatever its dirty ratio. */
  maxCompactionLagMs: number;
  /** min.cleanable.dirty.ratio: the share of dirty bytes above which the log is due for cleaning. */
  minCleanableDirtyRatio: number;
}

/** An empty cleanup.policy, which Kafka 3.x accepts, neither deletes nor compacts: the log is kept. */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete' | '';

export const policyCompacts = (p: CleanupPolicy): boolean => p === 'compact' || p === 'compact,delete';
export const policyDeletes = (p: CleanupPolicy): boolean => p === 'delete' || p === 'compact,delete';

/**
 * Kafka's LogConfig.maxSegmentMs, how long a segment may take new batches: segment.ms, or
 * max.compaction.lag.ms when shorter on a compacted log, so that the active segment's records
 * become cleanable in time.
 */
export function maxSegmentMs(cfg: LogConfig): number {
  return policyCompacts(cfg.cleanupPolicy) && cfg.maxCompactionLagMs > 0 ? Math.min(cfg.maxCompactionLagMs, cfg.segmentMs) : cfg.segmentMs;
}

/** What one compact() call did. */
export interface CompactionResult {
  /** First dirty offset of the cleaning round this call worked on (the cleaner checkpoint before it). */
  firstDirtyOffset: bigint;
  /** Offsets below this are clean once the round completes: the next cleaner checkpoint. */
  cleanedUpTo: bigint;
  /** The round finished (the checkpoint was written); false: more of the round remains for the next call. */
  complete: boolean;
  /** Segments replaced by cleaned ones in this call. */
  segmentsCleaned: number;
  bytesRead: number;
  bytesWritten: number;
  /** Bytes of the log before minus after this call's segment replacements. */
  bytesFreed: number;
  recordsRead: number;
  recordsRetained: number;
  /**
   * ABORT markers the cleaning removed (by producer id and offset), in replacements made by this
   * call or by an earlier one that failed before it could tell: the aborted transactions they
   * ended are no longer in the log, and read_committed fetches must stop reporting them (Kafka
   * rebuilds a cleaned segment's .txnindex with only the aborted transactions it still holds).
   */
  abortMarkersRemoved: AbortMarker[];
}

export interface AbortMarker {
  producerId: bigint;
  offset: bigint;
}

/**
 * The storage will not open, for a reason of the setup rather than a fault: the data directory is
 * in use, or holds another node's data. Reported with its message alone.
 */
export class StorageRefusedError extends Error {
  override readonly name: string = 'StorageRefusedError';
}

/**
 * A partition that takes no more appends: a write or fsync failed (a full disk, say), which was
 * logged once when it happened, as Kafka reports a failed log directory once; or it is closed.
 * Callers answer KAFKA_STORAGE_ERROR (or their API's equivalent) and need not log it again.
 */
export class LogOfflineError extends Error {
  override readonly name: string = 'LogOfflineError';
}

/** The level at which to log a failed storage operation: an offline partition's refusals were reported when it went offline. */
export function storageFailureLevel(err: unknown): 'debug' | 'error' {
  return err instanceof LogOfflineError ? 'debug' : 'error';
}

/** A read met a batch whose bytes cannot be a batch (Kafka's CorruptRecordException: CORRUPT_MESSAGE). */
export class CorruptLogError extends Error {
  override readonly name: string = 'CorruptLogError';
}

/** DeleteRecords beyond the high watermark or to a negative offset (Kafka: OFFSET_OUT_OF_RANGE). */
export class OffsetOutOfRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OffsetOutOfRangeError';
  }
}

/** DeleteRecords on a partition whose cleanup.policy lacks 'delete' (Kafka: POLICY_VIOLATION). */
export class PolicyViolationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyViolationError';
  }
}

export interface AppendOptions {
  /** When set, the batch is stamped with this LogAppendTime (attribute bit and max timestamp, CRC recomputed). */
  logAppendTime?: bigint;
  /** Written into the batch's partitionLeaderEpoch field. */
  leaderEpoch: number;
}

export interface AppendResult {
  baseOffset: bigint;
  lastOffset: bigint;
  logStartOffset: bigint;
}

export interface ReadOptions {
  /** Return nothing at or past this offset (high watermark or last stable offset). */
  maxOffset: bigint;
  /** Return the first batch even when it is larger than maxBytes (KIP-74). */
  minOneBatch: boolean;
  /**
   * How much of ReadResult.readable the caller needs to know (what a fetch still lacks of its
   * MinBytes): bytes past `records` are counted up to there only, so a fetch asking for one byte
   * walks no further than what it gets. Default: all of it.
   */
  readableWanted?: number;
}

export interface ReadResult {
  /** Whole batches in offset order, contiguous; the first may start before the fetch offset. */
  records: Buffer;
  /**
   * What counts towards a fetch's MinBytes when more than `records` (default: their length): the
   * bytes Kafka's read would return from the same batch within the same limits. It returns a
   * byte range, which may end inside a batch, and is not cut where a cache block ends.
   */
  readable?: number;
  /**
   * When present, the engine reuses the memory behind `records` once this is called: a reader
   * that keeps them only while a response is written calls it then. Readers that never call it
   * just keep that memory from reuse.
   */
  release?: () => void;
}

export interface SegmentTime {
  baseOffset: bigint;
  /** Wall clock of the segment's last write, in whole ms: its file's mtime. */
  lastModified: number;
  /** Bytes of batches. */
  size: number;
}

export interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  /** First offset still in the log. */
  readonly logStartOffset: bigint;
  /** Offset the next batch gets; includes appends whose write is still in progress. */
  readonly logEndOffset: bigint;
  /** Offset after the last batch whose write completed: what readers may see. */
  readonly highWatermark: bigint;
  /** Bytes of batches held. */
  readonly size: number;
  /**
   * Base offset of the active (last) segment. Below it the log holds only rolled segments, which
   * no append will add to: a long poll reading there has nothing to wait for.
   */
  readonly activeSegmentBaseOffset: bigint;

  /** The segments, oldest first, with their sizes and last modification times (ListOffsets v0 answers from these). */
  segmentTimes(): SegmentTime[];

  /**
   * Appends one validated magic-2 batch. The offset is assigned synchronously, so calls made in
   * order land in the log in that order; the promise resolves once the batch is written.
   * The engine may modify and keep the buffer.
   */
  append(batch: Buffer, options: AppendOptions): Promise<AppendResult>;

  /** Whole batches from the one containing `offset`, up to maxBytes. */
  read(offset: bigint, maxBytes: number, options: ReadOptions): Promise<ReadResult>;

  /**
   * The first batch ending at or after `fromOffset` whose max timestamp is ≥ timestamp, or null
   * (for ListOffsets by time, which starts at the log start offset and goes on past batches
   * whose matching records all lie below it).
   */
  findBatchByTimestamp(timestamp: bigint, fromOffset?: bigint): Promise<Buffer | null>;

  /** The batch holding the largest timestamp, or null when the log is empty. */
  findMaxTimestampBatch(): Promise<Buffer | null>;

  /** Calls `listener` after each completed append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;

  /**
   * Calls `listener` each time the log starts a new segment (where Kafka snapshots the producer
   * state, so that a start after a crash replays only the active segment); returns the unsubscribe function.
   */
  onRoll(listener: () => void): () => void;

  /** Applies new settings (a config change) from now on. */
  setConfig(config: LogConfig): void;

  /**
   * Deletes segments (or batches) below the log start offset, and, when cleanup.policy includes
   * 'delete', expired ones by retention.ms / retention.bytes; returns bytes freed.
   */
  enforceRetention(now: number): Promise<number>;

  /**
   * One bounded pass of the log cleaner (Kafka's LogCleaner for this partition): null when the
   * policy has no 'compact' or the log is not due (dirty ratio not above min.cleanable.dirty.ratio
   * and no dirty data older than max.compaction.lag.ms). Never touches the active segment nor
   * segments within min.compaction.lag.ms. The broker calls it on a timer (log.cleaner.backoff.ms);
   * a round too big for one call continues at the next.
   */
  compact(now: number, lastStableOffset?: bigint): Promise<CompactionResult | null>;

  /**
   * Keeps a snapshot of state derived from the log up to `offset` (the producer state), so a
   * restart replays only what follows. Older snapshots may be dropped. The snapshot is stored
   * once every batch appended before the call is (or not at all): never on disk ahead of what it covers.
   */
  writeSnapshot(offset: bigint, data: Buffer): Promise<void>;

  /** The newest snapshot taken at or below the log end offset, or null. */
  readSnapshot(): Promise<{ offset: bigint; data: Buffer } | null>;

  /**
   * DeleteRecords: moves the log start offset to max(current, offset) (-1: the high watermark),
   * persists it and deletes the segments wholly below it. Returns the new log start offset.
   * Throws OffsetOutOfRangeError past the high watermark, PolicyViolationError without 'delete'.
   */
  deleteRecordsBefore(offset: bigint): Promise<bigint>;

  /**
   * Kafka's leader epoch cache (leader-epoch.ts): this broker leads the partition in `epoch` from
   * the log end offset on (Kafka's maybeAssignEpochStartOffset when a replica becomes leader).
   * Appends record their batches' epochs themselves; the disk engine persists the cache in the
   * partition's leader-epoch-checkpoint file.
   */
  assignLeaderEpoch(epoch: number): Promise<void>;

  /** The latest epoch in the leader epoch cache, -1 when it holds none. */
  readonly latestLeaderEpoch: number;

  /** The epoch `offset` was written in as the cache has it (Kafka's epochForOffset), -1 when unknown. */
  epochForOffset(offset: bigint): number;

  /** OffsetForLeaderEpoch: the largest epoch ≤ `epoch` and its end offset, or -1/-1 when unknown. */
  endOffsetForEpoch(epoch: number): EpochEndOffset;
}

export interface StoredState {
  clusterId: string;
  topics: TopicRecord[];
}

export interface Storage {
  readonly kind: string;
  /** Loads (or initialises) what was stored: cluster id and topics. */
  open(): Promise<StoredState>;
  /** Persists the whole topic table atomically. */
  saveTopics(topics: readonly TopicRecord[]): Promise<void>;
  /** A small named document kept beside the logs (e.g. reserved producer ids), or null if never written. */
  readState(name: string): Promise<string | null>;
  /** Replaces a named document atomically and durably. */
  writeState(name: string, text: string): Promise<void>;
  /** Opens, recovering if needed, or creates the log of one partition. */
  openPartition(topic: TopicRecord, partition: number, config: LogConfig): Promise<PartitionLog>;
  /** Removes every partition log of a topic. */
  deleteTopicData(topic: TopicRecord): Promise<void>;
  /**
   * Sets aside, without reading or removing their data, the partition logs stored for no
   * partition of `topics`, as Kafka does with the logs its metadata does not know (strays).
   * Engines whose logs cannot outlive their topic table (memory) leave it out.
   */
  setAsideUnknownPartitions?(topics: readonly TopicRecord[]): Promise<void>;
  /** Flushes everything written to stable storage (fsync for disk). */
  flush(): Promise<void>;
  /** Flushes and releases everything. */
  close(): Promise<void>;
}
