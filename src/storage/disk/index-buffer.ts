/**
 * The in-memory copy of a segment index file (.index or .timeindex) and what of it is on disk.
 * Kafka memory-maps preallocated index files and trims them on close; we hold the entries in a
 * growable buffer and append only real entries to the file, so the file always has Kafka's
 * trimmed form.
 */
import type { FileHandle } from 'node:fs/promises';
import { writeAllAt } from './fs-util.js';

export abstract class IndexBuffer {
  protected buf: Buffer;
  protected n = 0;
  /** Bytes of the file on disk (may be garbage past the valid prefix until persisted). */
  private fileBytes: number;
  /** Entries at the start of `buf` known to be identical on disk. */
  private synced: number;
  /**
   * The entries truncateToEntries dropped from memory that the file, then exact, still holds
   * after the `synced` ones: appended again unchanged (a reopened segment's time index drops its
   * closing entry and then adds it back), they need no write.
   */
  private droppedFromFile: Buffer | null = null;

  protected constructor(
    readonly baseOffset: bigint,
    readonly entrySize: number,
    data: Buffer | null,
    fileBytes: number,
  ) {
    const entries = data === null ? 0 : Math.floor(data.length / entrySize);
    this.buf = Buffer.alloc(Math.max(entries, 64) * entrySize);
    if (data !== null) data.copy(this.buf, 0, 0, entries * entrySize);
    this.n = entries;
    this.fileBytes = fileBytes;
    this.synced = data === null ? 0 : entries;
  }

  get entries(): number {
    return this.n;
  }

  /** Bytes of memory held. */
  get memoryBytes(): number {
    return this.buf.length;
  }

  /** Whether the file differs from the entries in memory. */
  get dirty(): boolean {
    return this.synced !== this.n || this.fileBytes !== this.n * this.entrySize;
  }

  /** The entries in the exact byte form of the file. */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.n * this.entrySize);
  }

  protected reserve(): number {
    const pos = this.n * this.entrySize;
    if (pos + this.entrySize > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, pos);
      this.buf = bigger;
    }
    this.n++;
    return pos;
  }

  /** Keeps the first `entries` entries. */
  truncateToEntries(entries: number): void {
    if (entries >= this.n) return;
    this.n = Math.max(0, entries);
    if (this.synced <= this.n) return;
    const exact = this.droppedFromFile === null && this.fileBytes === this.synced * this.entrySize;
    this.droppedFromFile = exact ? Buffer.from(this.buf.subarray(this.n * this.entrySize, this.fileBytes)) : null;
    this.synced = this.n;
  }

  /** Whether persist() would change the file. */
  hasChanges(): boolean {
    this.adoptUnchangedTail();
    return this.dirty;
  }

  /** Brings the file in line with memory: trims a diverging tail, appends new entries; returns the calls that changed the file. */
  async persist(fh: FileHandle): Promise<number> {
    this.adoptUnchangedTail();
    if (!this.dirty) return 0;
    let writes = 0;
    const validBytes = this.synced * this.entrySize;
    if (this.fileBytes !== validBytes) {
      await fh.truncate(validBytes);
      this.fileBytes = validBytes;
      writes++;
    }
    const end = this.n * this.entrySize;
    if (end > validBytes) {
      await writeAllAt(fh, [this.buf.subarray(validBytes, end)], validBytes);
      writes++;
    }
    this.fileBytes = end;
    this.synced = this.n;
    return writes;
  }

  /** Counts the entries dropped and appended again unchanged as on disk. */
  private adoptUnchangedTail(): void {
    const dropped = this.droppedFromFile;
    this.droppedFromFile = null;
    if (dropped === null) return;
    const from = this.synced * this.entrySize;
    const end = from + dropped.length;
    if (this.fileBytes === end && this.n * this.entrySize >= end && this.buf.subarray(from, end).equals(dropped)) this.synced = end / this.entrySize;
  }

  /** The file holds `fileBytes` bytes, none of them trusted: the next persist rewrites it whole. */
  distrustFile(fileBytes: number): void {
    this.fileBytes = fileBytes;
    this.synced = 0;
    this.droppedFromFile = null;
  }

  /** Records that the file now holds exactly the entries in memory (after a full rewrite). */
  markPersisted(): void {
    this.fileBytes = this.n * this.entrySize;
    this.synced = this.n;
    this.droppedFromFile = null;
  }

  /** Relative offset for an absolute one, or null when it does not fit Kafka's int32 encoding. */
  relative(offset: bigint): number | null {
    const rel = offset - this.baseOffset;
    return rel < 0n || rel > 0x7fffffffn ? null : Number(rel);
  }
}

export const INT32_MAX = 0x7fffffff;
