/**
 * Appending to the active segment's log with O_DIRECT, past the page cache.
 *
 * Why: a broker that keeps its log writes every byte into page-cache pages it has never touched,
 * and the kernel must find, zero and map each of them. On a VM whose host takes the guest's free
 * memory back, that costs up to ~40 times the write itself (the benchmark's "Writing new bytes"
 * table measures it on the machine at hand), and it is CPU the clients on the same machine lose.
 * A direct write copies the batches once into staging memory that is always the same, and the
 * device takes them from there.
 *
 * O_DIRECT wants the file offset, the length and the memory aligned to the device's blocks, so a
 * write starts at the page boundary before its position (the bytes of that page already in the
 * file are kept in memory and written again) and ends padded with zeros to the next boundary. The
 * file is therefore up to ALIGN - 1 bytes longer than the log while the segment is active: the
 * padding is cut at roll and close, and recovery after a crash recognises it (isZeroPadding).
 * Reads go through ordinary descriptors and the tail cache as before; the kernel keeps cached
 * pages coherent with direct writes.
 *
 * Where O_DIRECT is not available (not Linux, a filesystem that refuses it such as older tmpfs,
 * WebAssembly off) the first attempt says so and the log is written through the page cache.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { readAt, type PositionalReader } from './fs-util.js';

/** File offsets, lengths and memory of direct writes are multiples of this (4 KiB covers 512-byte and 4 KiB devices). */
export const ALIGN = 4096;
/** Bytes a single direct write takes from staging; a larger append is written in several. */
const SLOT_BYTES = 1024 * 1024;
const SLOTS = 8;
const WASM_PAGE = 64 * 1024;

const O_DIRECT: number | undefined = (constants as Record<string, number | undefined>).O_DIRECT;

/**
 * Staging memory: WebAssembly memory is page-aligned, which a Buffer's is not promised to be.
 * SLOTS slots, each lent to one write at a time; writers beyond that wait their turn (the libuv
 * thread pool runs four file operations at once anyway).
 */
class StagingSlots {
  private readonly free: Buffer[] = [];
  private readonly waiters: ((slot: Buffer) => void)[] = [];

  constructor(memory: ArrayBuffer) {
    for (let i = 0; i < SLOTS; i++) this.free.push(Buffer.from(memory, i * SLOT_BYTES, SLOT_BYTES));
  }

  take(): Promise<Buffer> {
    const slot = this.free.pop();
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  give(slot: Buffer): void {
    const next = this.waiters.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

let slots: StagingSlots | string | null = O_DIRECT === undefined ? 'O_DIRECT is not available on this platform' : null;

/** The staging slots, or why there can be none. */
function staging(): StagingSlots | string {
  if (slots === null) {
    try {
      slots = new StagingSlots(new WebAssembly.Memory({ initial: (SLOTS * SLOT_BYTES) / WASM_PAGE }).buffer);
    } catch (e) {
      slots = `no aligned staging memory: ${(e as Error).message}`;
    }
  }
  return slots;
}

/**
 * Whether a storage writes large appends directly: on until the platform, the filesystem or the
 * kernel refuses, then off for good, said once.
 */
export class DirectWrites {
  constructor(
    private on: boolean,
    private readonly report: {
      /** Direct writes are off from now on. */
      refused(reason: string): void;
      /** One segment could not open its direct descriptor (say, out of descriptors): it writes through the page cache. */
      openFailed(path: string, err: unknown): void;
    },
  ) {}

  get enabled(): boolean {
    return this.on;
  }

  refused(reason: string): void {
    if (!this.on) return;
    this.on = false;
    this.report.refused(reason);
  }

  openFailed(path: string, err: unknown): void {
    this.report.openFailed(path, err);
  }
}

/** The errors with which open or write refuse O_DIRECT (the filesystem or the alignment). */
function refusesDirect(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

export class DirectWriter {
  /** The file's bytes from the page boundary before `tailEnd` up to it: written again by the next append. */
  private readonly tail = Buffer.allocUnsafe(ALIGN);
  private tailLength = 0;
  /** Log position `tail` ends at; -1 until the file's last page has been read. */
  private tailEnd = -1;
  /** End of what direct writes put in the file, padding included. */
  end = 0;

  private constructor(
    private readonly fh: FileHandle,
    /** An ordinary descriptor of the same file, for reading back its last page. */
    private readonly reader: FileHandle,
    private readonly policy: DirectWrites,
  ) {}

  /** A direct writer for the log at `path`, or null when direct writes are off or it cannot be opened (told to `policy`). */
  static async open(path: string, reader: FileHandle, policy: DirectWrites): Promise<DirectWriter | null> {
    const pool = policy.enabled ? staging() : null;
    if (typeof pool === 'string') policy.refused(pool);
    if (!policy.enabled) return null;
    try {
      return new DirectWriter(await fsp.open(path, constants.O_WRONLY | O_DIRECT!), reader, policy);
    } catch (e) {
      // Writes need no new descriptor otherwise: a passing shortage must not fail the partition.
      if (refusesDirect(e)) policy.refused(`the filesystem refuses O_DIRECT: ${(e as Error).message}`);
      else policy.openFailed(path, e);
      return null;
    }
  }

  /**
   * Writes `buffers` at log position `position` (the log's end). Returns false, having written
   * nothing, when the kernel refuses the aligned write (told to the policy; the caller then
   * writes through the page cache).
   */
  async append(buffers: readonly Buffer[], position: number): Promise<boolean> {
    if (this.tailEnd !== position) await this.loadTail(position);
    const pool = staging() as StagingSlots;
    const slot = await pool.take();
    try {
      let fileAt = position - this.tailLength;
      this.tail.copy(slot, 0, 0, this.tailLength);
      let filled = this.tailLength;
      for (const buf of buffers) {
        let at = 0;
        while (at < buf.length) {
          const k = Math.min(buf.length - at, SLOT_BYTES - filled);
          buf.copy(slot, filled, at, at + k);
          filled += k;
          at += k;
          if (filled === SLOT_BYTES) {
            if (!(await this.writeSlot(slot, SLOT_BYTES, fileAt))) return false;
            fileAt += SLOT_BYTES;
            filled = 0;
          }
        }
      }
      const keep = filled % ALIGN;
      if (filled > 0) {
        const padded = filled - keep + (keep > 0 ? ALIGN : 0);
        slot.fill(0, filled, padded);
        if (!(await this.writeSlot(slot, padded, fileAt))) return false;
      }
      slot.copy(this.tail, 0, filled - keep, filled);
      this.tailLength = keep;
      this.tailEnd = fileAt + filled;
      return true;
    } finally {
      pool.give(slot);
    }
  }

  private async writeSlot(slot: Buffer, length: number, fileAt: number): Promise<boolean> {
    let done = 0;
    while (done < length) {
      let written: number;
      try {
        ({ bytesWritten: written } = await this.fh.write(slot, done, length - done, fileAt + done));
      } catch (e) {
        // Refused before anything was written: the caller falls back to the page cache.
        if (done === 0 && this.end === 0 && refusesDirect(e)) {
          this.policy.refused(`the kernel refused an aligned direct write: ${(e as Error).message}`);
          return false;
        }
        throw e;
      }
      if (written <= 0 || written % ALIGN !== 0) throw new Error(`direct write of ${length - done} bytes wrote ${written}`);
      done += written;
    }
    this.end = Math.max(this.end, fileAt + length);
    return true;
  }

  /** Reads the log's last partial page (up to `position`) back from the file. */
  private async loadTail(position: number): Promise<void> {
    const keep = position % ALIGN;
    const bytes = keep === 0 ? Buffer.alloc(0) : await readAt(this.reader, keep, position - keep);
    if (bytes.length !== keep) throw new Error(`log file ends before position ${position}`);
    bytes.copy(this.tail);
    this.tailLength = keep;
    this.tailEnd = position;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * Whether [from, to) of the file is what direct appends leave past the log when a crash stops
 * them before roll or close: fewer than ALIGN zero bytes ending on a page boundary.
 */
export async function isZeroPadding(fh: PositionalReader, from: number, to: number): Promise<boolean> {
  if (to <= from || to - from >= ALIGN || to % ALIGN !== 0) return false;
  const bytes = await readAt(fh, to - from, from);
  return bytes.length === to - from && bytes.every((b) => b === 0);
}
