/**
 * Segments leaving a partition log: which ones retention deletes (Kafka's deleteOldSegments), and
 * the deletion of a segment's files (renamed `.deleted` at once, unlinked after
 * file.delete.delay.ms).
 */
import { promises as fsp } from 'node:fs';
import { policyDeletes, type LogConfig } from '../storage.js';
import { isNotFound } from './fs-util.js';
import { DELETED_SUFFIX } from './names.js';
import type { PartitionServices } from './partition-services.js';
import type { Segment } from './segment.js';

/**
 * Kafka's deleteOldSegments: how many segments, from the oldest, go. Those wholly below the log
 * start offset (DeleteRecords); then, when cleanup.policy includes 'delete', while the log stays
 * at or above retention.bytes without them; then, from there, whole segments whose largest
 * timestamp is older than retention.ms (in Kafka's order: with timestamps out of order, the time
 * rule sees the segments the size rule left). The active segment counts too when everything
 * expired (the caller rolls a new empty segment first); an empty active segment never does.
 */
export function expiredSegmentCount(segs: readonly Segment[], logStartOffset: bigint, logBytes: number, cfg: LogConfig, now: number): number {
  let n = 0;
  const deletable = (seg: Segment, i: number): boolean => !(i === segs.length - 1 && seg.size === 0);
  while (n + 1 < segs.length && segs[n + 1]!.baseOffset <= logStartOffset) n++;
  if (!policyDeletes(cfg.cleanupPolicy)) return n;
  let size = logBytes;
  for (let i = 0; i < n; i++) size -= segs[i]!.size;
  if (cfg.retentionBytes >= 0 && size >= cfg.retentionBytes) {
    let diff = size - cfg.retentionBytes;
    while (n < segs.length && deletable(segs[n]!, n) && diff - segs[n]!.size >= 0) {
      diff -= segs[n]!.size;
      n++;
    }
  }
  if (cfg.retentionMs >= 0) {
    while (n < segs.length && deletable(segs[n]!, n) && now - segs[n]!.largestTimestamp() > cfg.retentionMs) n++;
  }
  return n;
}

/** Deletes the files of one partition's segments, keeping track of the unlinks still delayed. */
export class SegmentDeleter {
  private readonly pendingDeletes = new Map<NodeJS.Timeout, () => Promise<void>>();

  constructor(
    private readonly name: string,
    private readonly services: PartitionServices,
    /** The current file.delete.delay.ms. */
    private readonly deleteDelayMs: () => number,
  ) {}

  /** Renames the segment's files to `.deleted` and unlinks them after file.delete.delay.ms. */
  async delete(seg: Segment): Promise<void> {
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
    const delayMs = this.deleteDelayMs();
    if (delayMs <= 0) {
      await unlink();
      return;
    }
    const timer = setTimeout(() => {
      this.pendingDeletes.delete(timer);
      void unlink();
    }, Math.min(delayMs, 0x7fffffff));
    timer.unref();
    this.pendingDeletes.set(timer, unlink);
  }

  /** Unlinks now the files still waiting for their delay (close). */
  async finishPending(): Promise<void> {
    for (const [timer, unlink] of this.pendingDeletes) {
      clearTimeout(timer);
      await unlink();
    }
    this.pendingDeletes.clear();
  }

  /** Drops the delayed unlinks without running them, like a killed process (abandon). */
  cancelPending(): void {
    for (const timer of this.pendingDeletes.keys()) clearTimeout(timer);
    this.pendingDeletes.clear();
  }
}
