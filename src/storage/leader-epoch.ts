/**
 * Kafka's leader epoch cache (LeaderEpochFileCache): for each leader epoch of a partition, the
 * first offset written in it. OffsetForLeaderEpoch answers from it, and both engines keep one per
 * partition; the disk engine persists it as Kafka does, in `<partition dir>/leader-epoch-checkpoint`:
 *
 *   0            version
 *   2            number of entries
 *   0 0          epoch, start offset
 *   3 1200
 *
 * Entries are strictly increasing in both epoch and start offset.
 */

import { iterateBatches, readLastOffset, readPartitionLeaderEpoch } from '../../protocol/records/index.js';
import type { PartitionLog } from './storage.js';

export interface EpochEntry {
  epoch: number;
  startOffset: bigint;
}

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1n;

export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';

/** What OffsetForLeaderEpoch reports for one partition. */
export interface EpochEndOffset {
  leaderEpoch: number;
  endOffset: bigint;
}

export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(entries: readonly EpochEntry[] = []) {
    this.entries = [];
    for (const e of entries) this.assign(e.epoch, e.startOffset);
  }

  get all(): readonly EpochEntry[] {
    return this.entries;
  }

  get latest(): EpochEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  /**
   * Records that `epoch` starts at `startOffset` (a batch appended in it, or this broker becoming its
   * leader at the log end). Entries that would break monotonicity are dropped first, as Kafka does.
   * Returns whether anything changed (the checkpoint needs writing).
   */
  assign(epoch: number, startOffset: bigint): boolean {
    if (epoch < 0 || startOffset < 0n) throw new RangeError(`invalid leader epoch entry ${epoch} ${startOffset}`);
    const latest = this.latest;
    if (latest !== undefined && latest.epoch === epoch && startOffset >= latest.startOffset) return false;
    while (this.entries.length > 0) {
      const last = this.latest!;
      if (last.epoch < epoch && last.startOffset < startOffset) break;
      this.entries.pop();
    }
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /** Kafka's epochForOffset: the epoch of the last entry starting at or before `offset`, -1 when none does. */
  epochForOffset(offset: bigint): number {
    let epoch = UNDEFINED_EPOCH;
    for (const e of this.entries) {
      if (e.startOffset > offset) break;
      epoch = e.epoch;
    }
    return epoch;
  }

  /**
   * Kafka's endOffsetFor: the largest epoch ≤ the requested one and the offset where it ends (the
   * start of the next epoch, or the log end offset for the latest epoch); UNDEFINED for -1 or an
   * epoch above every known one. An epoch below every known one ends where the first known starts.
   */
  endOffsetFor(requested: number, logEndOffset: bigint): EpochEndOffset {
    const undefinedResult = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requested === UNDEFINED_EPOCH) return undefinedResult;
    const latest = this.latest;
    if (latest !== undefined && latest.epoch === requested) return { leaderEpoch: requested, endOffset: logEndOffset };
    const higher = this.entries.findIndex((e) => e.epoch > requested);
    if (higher < 0) return undefinedResult;
    const floor = higher - 1;
    if (floor < 0) return { leaderEpoch: requested, endOffset: this.entries[higher]!.startOffset };
    return { leaderEpoch: this.entries[floor]!.epoch, endOffset: this.entries[higher]!.startOffset };
  }

  /**
   * The log start offset moved (DeleteRecords, retention): entries starting at or before it go, and
   * the last of them comes back starting at `startOffset`. Returns whether anything changed.
   */
  truncateFromStart(startOffset: bigint): boolean {
    let n = 0;
    while (n < this.entries.length && this.entries[n]!.startOffset <= startOffset) n++;
    if (n === 0) return false;
    const kept = { epoch: this.entries[n - 1]!.epoch, startOffset };
    const unchanged = n === 1 && this.entries[0]!.startOffset === startOffset;
    this.entries.splice(0, n, kept);
    return !unchanged;
  }

  /**
   * The log was cut back to `endOffset` (recovery of a torn write): entries starting after it go.
   * An entry starting exactly at the end (an epoch that has no data yet) is kept.
   */
  truncateFromEnd(endOffset: bigint): boolean {
    let n = this.entries.length;
    while (n > 0 && this.entries[n - 1]!.startOffset > endOffset) n--;
    if (n === this.entries.length) return false;
    this.entries.length = n;
    return true;
  }
}

export function formatLeaderEpochCheckpoint(entries: readonly EpochEntry[]): string {
  return ['0', String(entries.length), ...entries.map((e) => `${e.epoch} ${e.startOffset}`)].join('\n') + '\n';
}

/** Parses a leader-epoch-checkpoint file; throws on anything Kafka would not have written. */
export function parseLeaderEpochCheckpoint(text: string): EpochEntry[] {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines[0] !== '0') throw new Error(`unsupported leader-epoch-checkpoint version ${lines[0] ?? '(empty file)'}`);
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count < 0 || lines.length - 2 !== count) {
    throw new Error(`leader-epoch-checkpoint announces ${lines[1] ?? '?'} entries, holds ${lines.length - 2}`);
  }
  return lines.slice(2).map((line) => {
    const m = /^(\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`malformed leader-epoch-checkpoint line "${line}"`);
    return { epoch: Number(m[1]), startOffset: BigInt(m[2]!) };
  });
}

/**
 * The epoch history as the batches record it (each carries the epoch it was appended in): what a
 * partition whose leader-epoch-checkpoint cannot be read starts from, instead of forgetting it.
 */
export async function epochsFromBatches(log: Pick<PartitionLog, 'read' | 'logStartOffset' | 'logEndOffset'>): Promise<LeaderEpochCache> {
  const cache = new LeaderEpochCache();
  const start = log.logStartOffset;
  let offset = start;
  while (offset < log.logEndOffset) {
    const { records, release } = await log.read(offset, 1024 * 1024, { maxOffset: log.logEndOffset, minOneBatch: true, readableWanted: 0 });
    const from = offset;
    try {
      for (const { buf, baseOffset } of iterateBatches(records)) {
        const epoch = readPartitionLeaderEpoch(buf);
        if (epoch >= 0) cache.assign(epoch, baseOffset < start ? start : baseOffset);
        offset = readLastOffset(buf) + 1n;
      }
    } finally {
      release?.();
    }
    if (offset <= from) break;
  }
  return cache;
}
