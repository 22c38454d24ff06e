/**
 * The small files of a partition directory beside its segments: leader-epoch-checkpoint
 * (leader-epoch.ts has its format) and producer-state snapshots (`<20-digit offset>.producer-state`).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { LEADER_EPOCH_CHECKPOINT_FILE, formatLeaderEpochCheckpoint, parseLeaderEpochCheckpoint, type EpochEntry } from '../leader-epoch.js';
import { crc32c } from '../../../protocol/records/index.js';
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
 * A snapshot file opens with a line naming the CRC-32C of what follows (Kafka's snapshots carry one
 * too): a file a power loss left torn or empty, or a damaged one, is told apart from the state.
 * Files written before the line existed are taken as they are.
 */
const SNAPSHOT_HEADER = /^samsa-snapshot crc32c=([0-9a-f]{8})\n/;

function framedSnapshot(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`samsa-snapshot crc32c=${crc32c(data).toString(16).padStart(8, '0')}\n`), data]);
}

/** The state a snapshot file holds, or why it cannot be used. */
function unframedSnapshot(file: Buffer): { data: Buffer } | { damaged: string } {
  if (file.length === 0) return { damaged: 'empty file' };
  if (file[0] === 0x7b /* { */) return { data: file };
  const m = SNAPSHOT_HEADER.exec(file.subarray(0, 64).toString('latin1'));
  if (m === null) return { damaged: 'no snapshot header' };
  const data = file.subarray(m[0].length);
  const crc = crc32c(data).toString(16).padStart(8, '0');
  return crc === m[1] ? { data } : { damaged: `checksum ${crc}, the header says ${m[1]}` };
}

/**
 * Writes the producer-state snapshot taken at `offset`. Not fsynced: a snapshot only spares the
 * next start replaying the log, and one a crash leaves empty or damaged is passed over for the one before.
 */
export async function writeProducerSnapshot(dir: string, offset: bigint, data: Buffer): Promise<void> {
  await replaceFile(join(dir, segmentFileName(offset, SNAPSHOT_SUFFIX)), framedSnapshot(data));
  // Keep the two newest: the older one survives a snapshot that a crash leaves ahead of the log, or damaged.
  const names = (await fsp.readdir(dir)).filter((n) => SNAPSHOT_FILE.test(n)).sort();
  for (const n of names.slice(0, -2)) await fsp.unlink(join(dir, n)).catch(() => undefined);
}

/**
 * The newest intact producer-state snapshot not ahead of the log end offset; null when there is
 * none. `logEndOffset` is asked again for each candidate: appends may go on meanwhile. Damaged
 * snapshots are told to `damaged` and passed over.
 */
export async function readProducerSnapshot(
  dir: string,
  logEndOffset: () => bigint,
  damaged: (file: string, reason: string) => void,
): Promise<{ offset: bigint; data: Buffer } | null> {
  let names: string[];
  try {
    names = listDir(dir).filter((n) => SNAPSHOT_FILE.test(n)).sort().reverse();
  } catch {
    return null;
  }
  for (const n of names) {
    const offset = BigInt(SNAPSHOT_FILE.exec(n)![1]!);
    if (offset > logEndOffset()) continue;
    const file = readSmallFileOrNull(join(dir, n));
    if (file === null) continue;
    const snapshot = unframedSnapshot(file);
    if ('data' in snapshot) return { offset, data: snapshot.data };
    damaged(n, snapshot.damaged);
  }
  return null;
}
