/**
 * Free lists of equal-sized buffers. A busy broker moves its data through megabyte buffers; taking
 * fresh memory for each costs page faults, unmapping and garbage collection that outweigh the
 * copying itself. A buffer goes back only when nothing can read it any more (see ReadResult.release).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Length of every buffer of this pool. */
    readonly size: number,
    private readonly maxFree: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  give(buf: Buffer): void {
    if (buf.length === this.size && this.free.length < this.maxFree) this.free.push(buf);
  }
}

/** `f` made safe to call more than once: only the first call runs it (releases of leases). */
export function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}
