/**
 * One broker per data directory, as Kafka's `.lock` ensures: two processes appending to the same
 * segments would corrupt them, and the second one's recovery would cut off the first one's batch
 * in progress as if it were torn. Node has no flock, so the lock file names its owner (pid, and
 * on Linux the process start time, so that a reused pid is not taken for the owner); a lock whose
 * owner is gone (a crash, kill -9) is taken over.
 */
import { readFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
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
  const me: Owner = { pid: process.pid, started: procStat(process.pid)?.started ?? null };
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.writeFile(path, JSON.stringify(me) + '\n', { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const owner = parseOwner(await readFileOrNull(path));
      if (owner !== null && owner.pid !== process.pid && alive(owner)) {
        throw new DataDirInUseError(`${dir} is in use by process ${owner.pid}: one broker per data directory (${path})`);
      }
      await unlinkIfExists(path); // left by a process that is gone
    }
  }
  lockedHere.add(path);
  return {
    release: async () => {
      lockedHere.delete(path);
      await unlinkIfExists(path);
    },
    // Tests: what a killed process does (the file stays, its owner is gone).
    forget: () => lockedHere.delete(path),
  };
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
