/**
 * Cuts a TCP byte stream into Kafka frames (int32 size + payload). The size is checked before
 * anything is allocated for the payload. Once a frame's size is known, the rest of it can be read
 * by the kernel straight into the frame's buffer (`target`/`landed`), so a large produce request is
 * never copied out of socket chunks; bytes that arrive any other way are copied in (`consume`).
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

/** Frames this small come from Node's shared slab rather than the pool. */
const SMALL_FRAME = 4096;

export class FrameReader {
  private readonly sizeBytes = Buffer.alloc(4);
  private sizeFilled = 0;
  /** The frame being filled, and how much of it is. */
  private frame: Buffer | null = null;
  private filled = 0;

  constructor(
    private readonly maxSize: number,
    private readonly pool: FramePool,
  ) {}

  /** Bytes held for a frame not yet complete. */
  get pending(): number {
    return this.sizeFilled + this.filled;
  }

  /** Where the next read should land: the rest of the frame being filled, or `staging` between frames. */
  target(staging: Buffer): Buffer {
    return this.frame === null ? staging : this.frame.subarray(this.filled);
  }

  /**
   * Bytes just read; completed frames are appended to `out`. Bytes read straight into the frame
   * (the start of `target()`) are only counted; any others (the staging buffer, a socket chunk)
   * are copied into their frames.
   */
  landed(src: Buffer, out: Buffer[]): void {
    const f = this.frame;
    if (f !== null && src.buffer === f.buffer && src.byteOffset === f.byteOffset + this.filled) {
      this.filled += src.length;
      if (this.filled === f.length) this.finish(out);
      return;
    }
    this.consume(src, out);
  }

  private consume(src: Buffer, out: Buffer[]): void {
    let at = 0;
    while (at < src.length) {
      if (this.frame === null) {
        if (this.sizeFilled === 0 && src.length - at >= 4) {
          this.begin(src.readInt32BE(at), out);
          at += 4;
        } else {
          this.sizeBytes[this.sizeFilled++] = src[at++];
          if (this.sizeFilled === 4) {
            this.sizeFilled = 0;
            this.begin(this.sizeBytes.readInt32BE(0), out);
          }
        }
        continue;
      }
      const k = Math.min(src.length - at, this.frame.length - this.filled);
      src.copy(this.frame, this.filled, at, at + k);
      at += k;
      this.filled += k;
      if (this.filled === this.frame.length) this.finish(out);
    }
  }

  private begin(size: number, out: Buffer[]): void {
    if (size < 0 || size > this.maxSize) {
      throw new FrameTooLargeError(`frame size ${size} is outside 0..${this.maxSize} (socket.request.max.bytes)`);
    }
    if (size === 0) {
      out.push(EMPTY);
      return;
    }
    this.frame = size < SMALL_FRAME ? Buffer.allocUnsafe(size) : this.pool.acquire(size);
    this.filled = 0;
  }

  private finish(out: Buffer[]): void {
    out.push(this.frame!);
    this.frame = null;
    this.filled = 0;
  }
}

const EMPTY = Buffer.alloc(0);
