/**
 * The small files of a partition directory beside its segments: leader-epoch-checkpoint
 * (leader-epoch.ts has its format) and producer-state snapshots (`<20-digit offset>.producer-state`).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { LEADER_EPOCH_CHECKPOINT_FILE, formatLeaderEpochCheckpoint, parseLeaderEpochCheckpoint, type EpochEntry } from '../leader-epoch.js';
import { atomicWrite, listDir, readSmallFileOrNull, replaceFile } from './fs-util.js';
import { SNAPSHOT_FILE, SNAPSHOT_SUFFIX, segmentFileName } from './names.js';

/** The entries of `dir`'s leader-epoch-checkpoint, null when there is none; throws when it is unreadable. */
export async function readLeaderEpochCheckpoint(dir: string): Promise<EpochEntry[] | null> {
  const data = readSmallFileOrNull(join(dir, LEADER_EPOCH_CHECKPOINT_FILE));
  return data === null ? null : parseLeaderEpochCheckpoint(data.toString('utf8'));
}

export async function writeLeaderEpochCheckpoint(dir: string, entries: readonly EpochEntry[]): Promise<void> {
  await atomicWrite(join(dir, LEADER_EPOCH_CHECKPOINT_FILE), formatLeaderEpochCheckpoint(entries));
}

/**
 * Writes the producer-state snapshot taken at `offset`. Not fsynced: a snapshot only spares the
 * next start replaying the log, and one a crash leaves empty or damaged is replayed past.
 */
export async function writeProducerSnapshot(dir: string, offset: bigint, data: Buffer): Promise<void> {
  await replaceFile(join(dir, segmentFileName(offset, SNAPSHOT_SUFFIX)), data);
  // Keep the two newest: the older one survives a snapshot that a crash leaves ahead of the log.
  const names = (await fsp.readdir(dir)).filter((n) => SNAPSHOT_FILE.test(n)).sort();
  for (const n of names.slice(0, -2)) await fsp.unlink(join(dir, n)).catch(() => undefined);
}

/**
 * The newest producer-state snapshot not ahead of the log end offset; null when there is none.
 * `logEndOffset` is asked again for each candidate: appends may go on meanwhile.
 */
export async function readProducerSnapshot(dir: string, logEndOffset: () => bigint): Promise<{ offset: bigint; data: Buffer } | null> {
  let names: string[];
  try {
    names = listDir(dir).filter((n) => SNAPSHOT_FILE.test(n)).sort().reverse();
  } catch {
    return null;
  }
  for (const n of names) {
    const offset = BigInt(SNAPSHOT_FILE.exec(n)![1]!);
    if (offset > logEndOffset()) continue;
    const data = readSmallFileOrNull(join(dir, n));
    if (data !== null) return { offset, data };
  }
  return null;
}
