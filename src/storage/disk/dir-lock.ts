/**
 * One broker per data directory, as Kafka's `.lock` ensures: two processes appending to the same
 * segments would corrupt them, and the second one's recovery would cut off the first one's batch
 * in progress as if it were torn. Node has no flock, so the lock file names its owner (pid, and
 * on Linux the process start time, so that a reused pid is not taken for the owner); a lock whose
 * owner is gone (a crash, kill -9) is taken over.
 *
 * Brokers starting at the same moment may all find the same dead owner's lock. Removing it by name
 * could remove the fresh lock of the one that got there first, and two brokers would run; so the
 * stale file is replaced only by the one process that claims it, by creating a claim file named
 * after the stale file's inode (creation with O_EXCL has a single winner).
 */
import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { readFileOrNull, unlinkIfExists } from './fs-util.js';

export const LOCK_FILE = '.lock';

export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
}

interface Owner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat), when known. */
  started: string | null;
}

/** Directories locked by this process (a second storage on one of them is refused too). */
const lockedHere = new Set<string>();

/** Takes the lock on `dir` (which exists); the result gives it back. */
export async function lockDataDir(dir: string): Promise<{ release(): Promise<void>; forget(): void }> {
  const path = join(dir, LOCK_FILE);
  if (lockedHere.has(path)) throw new DataDirInUseError(`${dir} is already open in this process`);
  // Claimed at once: a lock file with this process's pid is then one a crash simulation left.
  lockedHere.add(path);
  try {
    await acquire(dir, path);
  } catch (e) {
    lockedHere.delete(path);
    throw e;
  }
  return {
    release: async () => {
      lockedHere.delete(path);
      await unlinkIfExists(path);
    },
    // Tests: what a killed process does (the file stays, its owner is gone).
    forget: () => lockedHere.delete(path),
  };
}

async function acquire(dir: string, path: string): Promise<void> {
  const me = JSON.stringify({ pid: process.pid, started: procStat(process.pid)?.started ?? null } satisfies Owner) + '\n';
  for (let attempt = 0; ; attempt++) {
    if (attempt > MAX_ATTEMPTS) throw new DataDirInUseError(`${dir}: could not take the lock (${path}); another broker is starting on it`);
    if (attempt > 0) await sleep(CLAIM_WAIT_MS);
    try {
      await fsp.writeFile(path, me, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const current = await readWithInode(path);
    if (current === null) continue; // released meanwhile
    const owner = parseOwner(current.data);
    if (owner !== null && owner.pid !== process.pid && alive(owner)) {
      throw new DataDirInUseError(`${dir} is in use by process ${owner.pid}: one broker per data directory (${path})`);
    }
    if (await replaceStale(path, current.ino, me)) break;
  }
}

const MAX_ATTEMPTS = 100;
const CLAIM_WAIT_MS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The file's contents and inode, read through one descriptor so that both are of the same file. */
async function readWithInode(path: string): Promise<{ data: Buffer; ino: number } | null> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return { ino: (await fh.stat()).ino, data: await fh.readFile() };
  } finally {
    await fh.close();
  }
}

/**
 * Replaces the stale lock (inode `ino`) by ours if this process wins the claim on it; false when
 * another one holds the claim or has already replaced the file (the caller looks again).
 */
async function replaceStale(path: string, ino: number, me: string): Promise<boolean> {
  const claim = `${path}.takeover-${ino}`;
  try {
    await fsp.writeFile(claim, me, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A claimer that died before finishing would block this inode for ever.
    const claimer = parseOwner(await readFileOrNull(claim));
    if (claimer !== null && !alive(claimer)) await unlinkIfExists(claim);
    return false;
  }
  try {
    // Only the claim holder replaces this inode, so once it is still there it stays until the rename.
    if ((await readWithInode(path))?.ino !== ino) return false;
    const fresh = `${path}.${process.pid}.new`;
    await fsp.writeFile(fresh, me);
    await fsp.rename(fresh, path);
    return true;
  } finally {
    await unlinkIfExists(claim);
  }
}

function parseOwner(data: Buffer | null): Owner | null {
  try {
    const o = JSON.parse(data?.toString('utf8') ?? '') as Owner;
    return Number.isInteger(o.pid) && o.pid > 0 ? o : null;
  } catch {
    return null;
  }
}

function alive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = procStat(owner.pid);
  // A killed broker nobody has reaped yet (a container's pid 1 often does not) is gone too.
  if (now !== null && (now.state === 'Z' || now.state === 'X')) return false;
  return owner.started === null || now === null || now.started === owner.started;
}

/** State and start time (fields 3 and 22 of /proc/<pid>/stat), or null where there is no /proc. */
function procStat(pid: number): { state: string; started: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], started: fields[19] };
  } catch {
    return null;
  }
}
