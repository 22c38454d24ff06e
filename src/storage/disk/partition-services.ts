/**
 * What a partition log needs from its DiskStorage, and what it counts: shared by partition-log.ts
 * and the modules it delegates to.
 */
import type { CleanerOptions } from './cleaner.js';
import type { DirectWrites } from './direct-writer.js';
import type { FileHandleCache } from './file-cache.js';
import type { StorageLogger } from './logger.js';
import type { RecoveryPoints } from './recovery-points.js';
import type { Segment } from './segment.js';
import type { TailCacheBudget } from './tail-cache-budget.js';

/** What a partition log needs from its DiskStorage. */
export interface PartitionServices {
  readonly logger: StorageLogger;
  readonly files: FileHandleCache;
  /** How many bytes of written batches each partition keeps in memory. */
  readonly tailCache: TailCacheBudget;
  now(): number;
  /** Whether large appends go past the page cache (direct-writer.ts). */
  readonly directWrites: DirectWrites;
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
  /** Where recovery starts checking each partition's segments after an unclean shutdown. */
  readonly recoveryPoints: RecoveryPoints;
  /** Tests: awaited before a rolled segment is fsynced. */
  rolledSegmentSyncHook?(partition: string): Promise<void>;
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
