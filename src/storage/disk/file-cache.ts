/**
 * Read-only file handles shared by every partition of a DiskStorage, capped in number: reads
 * lease a handle, the least recently used idle handles are closed when there are too many. A
 * handle is never closed under a read that holds it, so a segment deleted while being read stays
 * readable (the inode lives on until the last descriptor closes).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { once } from '../buffer-pool.js';

interface Entry {
  path: string;
  handle: Promise<FileHandle>;
  refs: number;
  /** Removed from the map: close as soon as the last lease is released. */
  doomed: boolean;
}

export interface FileLease {
  readonly fh: FileHandle;
  release(): void;
}

export class FileHandleCache {
  private readonly entries = new Map<string, Entry>();
  private closing = new Set<Promise<void>>();

  constructor(private readonly maxOpen: number) {}

  get openCount(): number {
    return this.entries.size;
  }

  /** Leases a read handle on `path`; rejects (ENOENT…) when the file cannot be opened. */
  async acquire(path: string): Promise<FileLease> {
    let e = this.entries.get(path);
    if (e) {
      this.entries.delete(path);
      this.entries.set(path, e); // most recently used last
      e.refs++;
    } else {
      e = { path, handle: fsp.open(path, 'r'), refs: 1, doomed: false };
      this.entries.set(path, e);
      this.trim();
    }
    let fh: FileHandle;
    try {
      fh = await e.handle;
    } catch (err) {
      e.refs--;
      if (this.entries.get(path) === e) this.entries.delete(path);
      throw err;
    }
    return {
      fh,
      release: once(() => {
        e.refs--;
        if (e.refs === 0 && e.doomed) this.close(e);
        else if (e.refs === 0) this.trim();
      }),
    };
  }

  /** Forgets `path` (deleted or renamed): its handle closes once idle. */
  invalidate(path: string): void {
    const e = this.entries.get(path);
    if (!e) return;
    this.entries.delete(path);
    e.doomed = true;
    if (e.refs === 0) this.close(e);
  }

  /** Closes every idle handle and the others once released; waits for the idle ones. */
  async closeAll(): Promise<void> {
    for (const path of [...this.entries.keys()]) this.invalidate(path);
    await Promise.all([...this.closing]);
  }

  private trim(): void {
    if (this.entries.size <= this.maxOpen) return;
    for (const e of this.entries.values()) {
      if (this.entries.size <= this.maxOpen) break;
      if (e.refs === 0) {
        this.entries.delete(e.path);
        e.doomed = true;
        this.close(e);
      }
    }
  }

  private close(e: Entry): void {
    const p: Promise<void> = e.handle
      .then((fh) => fh.close())
      .catch(() => undefined)
      .finally(() => this.closing.delete(p));
    this.closing.add(p);
  }
}
