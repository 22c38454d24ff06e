/**
 * One broker per data directory, as Kafka's `.lock` ensures: two processes appending to the same
 * segments would corrupt them, and the second one's recovery would cut off the first one's batch
 * in progress as if it were torn. Node has no flock, so the lock file names its owner (pid, and
 * on Linux the process start time, so that a reused pid is not taken for the owner); a lock whose
 * owner is gone (a crash, kill -9) is taken over.
 *
 * A pid means nothing in another PID namespace (two containers sharing a volume: both brokers may
 * be pid 1), so the lock also names the owner's namespace, and its owner touches it every
 * HEARTBEAT_MS: an owner in another namespace counts as alive while the file's mtime keeps moving.
 *
 * Brokers starting at the same moment may all find the same dead owner's lock. Removing it by name
 * could remove the fresh lock of the one that got there first, and two brokers would run; so the
 * stale file is replaced only by the one process that claims it, by creating a claim file named
 * after the stale file's inode (link() has a single winner).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { StorageRefusedError } from '../storage.js';
import { readFileOrNull, unlinkIfExists } from './fs-util.js';

export const LOCK_FILE = '.lock';

export class DataDirInUseError extends StorageRefusedError {
  override readonly name = 'DataDirInUseError';
}

interface Owner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat), when known. */
  started: string | null;
  /** Its PID namespace (/proc/self/ns/pid, e.g. "pid:[4026531836]"), when known. */
  pidns?: string | null;
}

/** How often the owner touches its lock file, and how old a touch may be before the owner counts as gone. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_STALE_MS = 5000;
const OWN_PID_NAMESPACE = pidNamespace();

/** Directories locked by this process (a second storage on one of them is refused too). */
const lockedHere = new Set<string>();

/**
 * Takes the lock on `dir` (which exists); the result gives it back. `onLost` runs if the lock file
 * is ever replaced or removed while held: another broker took the directory over (one in another
 * PID namespace, after this process was frozen for longer than HEARTBEAT_STALE_MS).
 */
export async function lockDataDir(dir: string, onLost: () => void = () => {}): Promise<{ release(): Promise<void>; forget(): void }> {
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
  const ino = (await fsp.stat(path)).ino;
  const heartbeat = setInterval(() => {
    void fsp.stat(path).then((st) => st.ino, () => null).then((now) => {
      if (now !== ino) {
        clearInterval(heartbeat);
        onLost();
        return;
      }
      const t = new Date();
      return fsp.utimes(path, t, t).catch(() => undefined);
    });
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    release: async () => {
      clearInterval(heartbeat);
      lockedHere.delete(path);
      await unlinkIfExists(path);
    },
    // Tests: what a killed process does (the file stays, its owner is gone).
    forget: () => {
      clearInterval(heartbeat);
      lockedHere.delete(path);
    },
  };
}

async function acquire(dir: string, path: string): Promise<void> {
  const me: Owner = { pid: process.pid, started: procStat(process.pid)?.started ?? null, pidns: OWN_PID_NAMESPACE };
  // Written whole under a name of our own first: the lock (and a claim) appears by link(), which
  // fails if the name exists, so nobody ever reads a lock file half written.
  const mine = `${path}.${process.pid}.new`;
  await fsp.writeFile(mine, JSON.stringify(me) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new DataDirInUseError(`${dir}: could not take the lock (${path}); another broker is starting on it`);
      if (attempt > 0) await sleep(CLAIM_WAIT_MS);
      if (await linkIfAbsent(mine, path)) break;
      const current = await readWithInode(path);
      if (current === null) continue; // released meanwhile
      const owner = parseOwner(current.data);
      if (owner !== null && elsewhere(owner)) {
        if (await heartbeatGoesOn(path, current.mtimeMs)) {
          throw new DataDirInUseError(`${dir} is in use by process ${owner.pid} of another PID namespace (a container?): one broker per data directory (${path})`);
        }
      } else if (owner !== null && owner.pid !== process.pid && alive(owner)) {
        throw new DataDirInUseError(`${dir} is in use by process ${owner.pid}: one broker per data directory (${path})`);
      }
      if (await replaceStale(path, current, mine)) break;
    }
  } finally {
    await unlinkIfExists(mine);
  }
  await sweep(dir);
}

const MAX_ATTEMPTS = 100;
const CLAIM_WAIT_MS = 20;
/** Claims on one stale lock that dead claimers may have left before a start gives up. */
const MAX_CLAIMS = 16;
const CLAIM = /^\.lock\.takeover-\d+-\d+$/;
const SCRATCH = /^\.lock\.(\d+)\.new$/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function linkIfAbsent(existing: string, name: string): Promise<boolean> {
  try {
    await fsp.link(existing, name);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** An owner whose pid cannot be checked from here: it lives in another PID namespace. */
function elsewhere(owner: Owner): boolean {
  return typeof owner.pidns === 'string' && OWN_PID_NAMESPACE !== null && owner.pidns !== OWN_PID_NAMESPACE;
}

/**
 * Whether the owner of the lock at `path` still touches it: at once false when the last touch is
 * older than HEARTBEAT_STALE_MS, else watched until it moves (alive) or grows that old (gone).
 */
async function heartbeatGoesOn(path: string, seenMtimeMs: number): Promise<boolean> {
  for (;;) {
    if (Date.now() - seenMtimeMs > HEARTBEAT_STALE_MS) return false;
    await sleep(HEARTBEAT_MS / 4);
    const st = await fsp.stat(path).catch(() => null);
    if (st === null) return false;
    if (st.mtimeMs !== seenMtimeMs) return true;
  }
}

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** The file's contents, inode and mtime, read through one descriptor so that all are of the same file. */
async function readWithInode(path: string): Promise<{ data: Buffer; ino: number; mtimeMs: number } | null> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const st = await fh.stat();
    return { ino: st.ino, mtimeMs: st.mtimeMs, data: await fh.readFile() };
  } finally {
    await fh.close();
  }
}

/**
 * Replaces the stale lock `seen` by ours (the file `mine`) if this process wins a claim on it;
 * false when another one is taking it over or it changed meanwhile (the caller looks again).
 * Claims are numbered: one a dead claimer left is passed over for the next number, never removed
 * by name (that could remove a live claimer's).
 */
async function replaceStale(path: string, seen: { data: Buffer; ino: number }, mine: string): Promise<boolean> {
  for (let k = 0; k < MAX_CLAIMS; k++) {
    const claim = `${path}.takeover-${seen.ino}-${k}`;
    if (!(await linkIfAbsent(mine, claim))) {
      const claimer = parseOwner(await readFileOrNull(claim));
      if (claimer !== null && alive(claimer)) return false;
      continue;
    }
    try {
      // Only the holder of the live claim replaces this file, so if it is still the one seen
      // (same inode and contents: an inode number can be reused) it stays until the rename.
      const now = await readWithInode(path);
      if (now === null || now.ino !== seen.ino || !now.data.equals(seen.data)) return false;
      await fsp.rename(mine, path);
      return true;
    } finally {
      await unlinkIfExists(claim);
    }
  }
  return false;
}

/** With the lock held: claims and scratch files that processes which are gone left behind. */
async function sweep(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const scratch = SCRATCH.exec(name);
    if (CLAIM.test(name) || (scratch && !alive({ pid: Number(scratch[1]), started: null }))) await unlinkIfExists(join(dir, name)).catch(() => undefined);
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
