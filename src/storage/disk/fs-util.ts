/** Small file-system helpers: positioned full reads and writes, fsync of directories, atomic replace. */
import { closeSync, constants, fstatSync, openSync, promises as fsp, readFileSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TEMP_SUFFIX } from './names.js';

/** Read-write, created when missing, never truncated. */
export const OPEN_RW_CREATE = constants.O_RDWR | constants.O_CREAT;

export function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

export const isNotFound = (e: unknown): boolean => errorCode(e) === 'ENOENT';

/**
 * Whether reading a file failed for the system (out of descriptors, an I/O error, permissions)
 * rather than for what the file holds. A state file whose content cannot be parsed may be set
 * aside; one that could not be read says nothing about its content, and must not be replaced.
 */
export const isSystemError = (e: unknown): boolean => errorCode(e) !== undefined;

/** Flushes a directory's entries (new, renamed, removed files). A no-op where directories cannot be fsynced. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(dir, 'r');
  } catch (e) {
    if (isNotFound(e)) return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = errorCode(e);
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw e;
  } finally {
    await fh.close();
  }
}

/**
 * fdatasync of a file through a descriptor opened for the purpose: it flushes the file, whichever
 * descriptor wrote it. A file no longer there has nothing to flush.
 */
export async function datasyncFile(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, 'r+');
  } catch (e) {
    if (isNotFound(e)) return;
    throw e;
  }
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Replaces `path` atomically: write a temp file, fsync it, rename over, fsync the directory. */
export async function atomicWrite(path: string, data: string | Buffer): Promise<void> {
  const tmp = path + TEMP_SUFFIX;
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
  await fsyncDir(dirname(path));
}

/**
 * Replaces a file as atomicWrite does for readers (temporary file, rename), without fsync: for
 * files that only save work, which a crash may lose or leave empty (their readers then redo it).
 */
export async function replaceFile(path: string, data: string | Buffer): Promise<void> {
  const tmp = path + TEMP_SUFFIX;
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, path);
}

/** Reads a whole file, or null when it does not exist. */
export async function readFileOrNull(path: string): Promise<Buffer | null> {
  try {
    return await fsp.readFile(path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/*
 * Opening a partition reads a directory listing and a few files, most of a few bytes or KB
 * (metadata, checkpoint; a producer snapshot grows with its producers, the active segment's
 * indexes up to segment.index.bytes). These reads are synchronous: each asynchronous step
 * (open, stat, read, close) is a thread-pool round trip costing many times the read itself (here
 * 0.1–0.2 ms of CPU against 5–15 µs), and a start with 5,000 partitions spent about 10 s on them.
 * Only an existing directory has anything to read, and those open before the broker listens.
 */

/** A file's content, or null when it does not exist (see above: synchronous, for a partition's own files at open). */
export function readSmallFileOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** Reading a file at given positions: a FileHandle, or what openForReading gives. */
export interface PositionalReader {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<Stats>;
}

/** A file opened for positional reads (see above: synchronous, for a partition's own files at open); close() it. */
export function openForReading(path: string): PositionalReader & { close(): void } {
  const fd = openSync(path, 'r');
  return {
    read: async (buffer, offset, length, position) => ({ bytesRead: readSync(fd, buffer, offset, length, position) }),
    stat: async () => fstatSync(fd),
    close: () => closeSync(fd),
  };
}

/** The names in a partition directory (see above: synchronous). */
export function listDir(dir: string): string[] {
  return readdirSync(dir);
}

/** Whether something exists at `path` (see above: synchronous). */
export function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

export async function statOrNull(path: string): Promise<import('node:fs').Stats | null> {
  try {
    return await fsp.stat(path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await fsp.unlink(path);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/**
 * Reads up to `length` bytes at `position`, looping over short reads; the result is shorter only
 * at end of file. With `into` (at least `length` bytes) the result is a view of it.
 */
export async function readAt(fh: PositionalReader, length: number, position: number, into?: Buffer): Promise<Buffer> {
  const buf = into ?? Buffer.allocUnsafe(Math.max(0, length));
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === buf.length ? buf : buf.subarray(0, done);
}

/** Writes every buffer at `position` in order (one writev when the kernel takes it all). */
export async function writeAllAt(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let bufs = buffers;
  let pos = position;
  while (bufs.length > 0) {
    const { bytesWritten } = bufs.length === 1 ? await fh.write(bufs[0]!, 0, bufs[0]!.length, pos) : await fh.writev(bufs, pos);
    let left = bytesWritten;
    pos += bytesWritten;
    let i = 0;
    while (i < bufs.length && left >= bufs[i]!.length) left -= bufs[i++]!.length;
    const rest = bufs.slice(i);
    if (rest.length > 0 && left > 0) rest[0] = rest[0]!.subarray(left);
    if (bytesWritten === 0 && rest.length > 0) throw new Error('write made no progress');
    bufs = rest;
  }
}
