/**
 * Cuts a TCP byte stream into Kafka frames (int32 size + payload). The size is checked before
 * anything is allocated for the payload; a payload inside one socket chunk is returned as a view.
 */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

/**
 * Buffers for frames that span socket chunks, reused once the request they held is answered:
 * large produce requests would otherwise cost a fresh allocation (and garbage) each.
 */
export class FramePool {
  private readonly free: Buffer[] = [];
  private freeBytes = 0;
  /** Frames handed out → the pooled buffer behind them. */
  private readonly lent = new WeakMap<Buffer, Buffer>();

  constructor(private readonly maxFreeBytes: number) {}

  acquire(n: number): Buffer {
    const i = this.free.findIndex((b) => b.length >= n);
    let buf: Buffer;
    if (i >= 0) {
      buf = this.free.splice(i, 1)[0];
      this.freeBytes -= buf.length;
    } else {
      buf = Buffer.allocUnsafe(Math.max(n, 64 * 1024));
    }
    const frame = buf.subarray(0, n);
    this.lent.set(frame, buf);
    return frame;
  }

  /** Takes a frame back; nothing may use it afterwards. Frames not from this pool are ignored. */
  release(frame: Buffer): void {
    const buf = this.lent.get(frame);
    if (!buf) return;
    this.lent.delete(frame);
    if (this.freeBytes + buf.length > this.maxFreeBytes) return;
    this.free.push(buf);
    this.freeBytes += buf.length;
  }
}

export class FrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Payload size of the frame being assembled, or -1 before its size is known. */
  private size = -1;

  constructor(
    private readonly maxSize: number,
    private readonly pool?: FramePool,
  ) {}

  /** Bytes held for a frame not yet complete. */
  get pending(): number {
    return this.buffered;
  }

  /** Feeds a chunk; returns the frames (payloads without size prefix) it completed. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.size < 0) {
        if (this.buffered < 4) break;
        const size = this.take(4).readInt32BE(0);
        if (size < 0 || size > this.maxSize) {
          throw new FrameTooLargeError(`frame size ${size} is outside 0..${this.maxSize} (socket.request.max.bytes)`);
        }
        this.size = size;
      }
      if (this.buffered < this.size) break;
      frames.push(this.take(this.size));
      this.size = -1;
    }
    return frames;
  }

  /** Removes n buffered bytes: a view when they sit in the first chunk, a copy otherwise. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.buffered -= n;
    const first = this.chunks[0];
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = this.pool && n > 4 ? this.pool.acquire(n) : Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

const EMPTY = Buffer.alloc(0);
