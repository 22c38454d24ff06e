/**
 * Kafka's recovery-point-offset-checkpoint: per partition, the offset below which every segment
 * is known to be fsynced. A rolled segment is fsynced in the background (as Kafka's roll schedules
 * its flush), so after an unclean shutdown recovery checks every segment from this point on, not
 * only the last one.
 *
 * Without the file, as in Kafka (whose recovery point is then 0), every segment is checked. A
 * partition without an entry in the file never rolled since its entry was dropped: all its
 * segments but the last are trusted. So before a roll leaves a segment unflushed, the partition's
 * entry must be on disk (`beforeRoll`); an entry that may be stale (a new partition directory, or
 * a log cut below it by recovery) is dropped at open so that the next roll writes a true one first.
 */
import { join } from 'node:path';
import { CheckpointWriter, checkpointKey, readCheckpoint, type CheckpointEntry } from './checkpoint.js';
import { isSystemError } from './fs-util.js';
import type { StorageLogger } from './logger.js';

export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-offset-checkpoint';

export class RecoveryPoints {
  /** What the file says (or will say once the pending write lands). */
  private readonly entries = new Map<string, CheckpointEntry>();
  /** The file is missing or could not be read: no segment of a partition without an entry is trusted. */
  private unknown = false;
  private readonly writer: CheckpointWriter;
  private stopped = false;

  constructor(
    private readonly dataDir: string,
    private readonly logger: StorageLogger,
  ) {
    this.writer = new CheckpointWriter(this.path, () => [...this.entries.values()].map((e) => ({ ...e })));
  }

  private get path(): string {
    return join(this.dataDir, RECOVERY_POINT_CHECKPOINT_FILE);
  }

  async load(): Promise<void> {
    try {
      const entries = await readCheckpoint(this.path);
      if (entries === null) this.unknown = true;
      for (const [key, e] of entries ?? []) this.entries.set(key, e);
    } catch (e) {
      if (isSystemError(e)) throw e;
      this.unknown = true;
      this.logger.warn({ err: e }, 'unreadable recovery point checkpoint: after an unclean shutdown every segment is checked');
    }
  }

  /**
   * Where recovery of an existing partition directory starts checking inactive segments in full
   * after an unclean shutdown; undefined trusts every segment but the last.
   */
  startOf(topic: string, partition: number): bigint | undefined {
    const e = this.entries.get(checkpointKey(topic, partition));
    return e !== undefined ? e.offset : this.unknown ? 0n : undefined;
  }

  /** After a partition opened: an entry above its active segment (or of an earlier directory) no longer holds. */
  opened(topic: string, partition: number, activeBase: bigint, existed: boolean): void {
    const key = checkpointKey(topic, partition);
    const e = this.entries.get(key);
    if (e !== undefined && (!existed || e.offset > activeBase)) this.entries.delete(key);
  }

  /** Before a roll leaves the segment at `activeBase` unflushed: the partition's entry is on disk. */
  beforeRoll(topic: string, partition: number, activeBase: bigint): Promise<void> {
    const key = checkpointKey(topic, partition);
    if (this.entries.has(key)) return Promise.resolve();
    this.entries.set(key, { topic, partition, offset: activeBase });
    return this.write();
  }

  /** Every segment below `offset` is fsynced. */
  reached(topic: string, partition: number, offset: bigint): Promise<void> {
    const e = this.entries.get(checkpointKey(topic, partition));
    // No entry: the topic went away meanwhile (or the storage stopped).
    if (this.stopped || e === undefined || offset <= e.offset) return Promise.resolve();
    e.offset = offset;
    return this.write();
  }

  forget(topic: string, partition?: number): Promise<void> {
    let changed = false;
    for (const [key, e] of this.entries) {
      if (e.topic === topic && (partition === undefined || e.partition === partition)) {
        this.entries.delete(key);
        changed = true;
      }
    }
    return changed ? this.write() : Promise.resolve();
  }

  /** At a clean close, every open log fully fsynced: each one's active segment is where recovery would start. */
  closed(logs: readonly { topic: string; partition: number; activeSegmentBaseOffset: bigint }[]): Promise<void> {
    this.stopped = true;
    for (const l of logs) this.entries.set(checkpointKey(l.topic, l.partition), { topic: l.topic, partition: l.partition, offset: l.activeSegmentBaseOffset });
    return this.write();
  }

  /** Like a killed process: nothing is written any more. */
  stop(): void {
    this.stopped = true;
  }

  private write(): Promise<void> {
    return this.writer.write();
  }
}
