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
 * large produce requests would otherwise cost a fresh allocation (and garbage) each. A frame gets
 * a buffer of the next power of two, so a frame never holds more than twice its size: many
 * clients pipelining mid-sized requests hold about what they sent, not a large buffer each.
 */
export class FramePool {
  /** Free buffers by length, newest last, stamped with when it came back (the oldest go first). */
  private readonly free = new Map<number, { buf: Buffer; stamp: number }[]>();
  private freeBytes = 0;
  private clock = 0;
  /** Frames handed out → the pooled buffer behind them. */
  private readonly lent = new WeakMap<Buffer, Buffer>();

  constructor(private readonly maxFreeBytes: number) {}

  /** Length of the buffer a frame of n bytes gets. */
  static sizeFor(n: number): number {
    return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
  }

  acquire(n: number): Buffer {
    const size = FramePool.sizeFor(n);
    const reused = this.free.get(size)?.pop();
    let buf: Buffer;
    if (reused !== undefined) {
      buf = reused.buf;
      this.freeBytes -= size;
    } else {
      buf = Buffer.allocUnsafe(size);
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
    if (buf.length > this.maxFreeBytes) return;
    // The buffers back longest make room: sizes no frame asks for any more do not stay for ever.
    while (this.freeBytes + buf.length > this.maxFreeBytes) this.evictOldest();
    let list = this.free.get(buf.length);
    if (list === undefined) this.free.set(buf.length, (list = []));
    list.push({ buf, stamp: this.clock++ });
    this.freeBytes += buf.length;
  }

  private evictOldest(): void {
    let oldest: { buf: Buffer; stamp: number }[] | undefined;
    for (const list of this.free.values()) if (list.length > 0 && (oldest === undefined || list[0]!.stamp < oldest[0]!.stamp)) oldest = list;
    this.freeBytes -= oldest!.shift()!.buf.length;
  }
}

/** Frames this small come from Node's shared slab rather than the pool. */
const SMALL_FRAME = 4096;
/**
 * A frame up to this size is read into one buffer taken when its size is known; a larger one
 * (rare: produce requests are usually up to 1 MiB) is read in pieces of this size and joined at
 * the end, so a client announcing a huge frame holds memory only for what it has sent.
 */
export const FRAME_PIECE = 2 * 1024 * 1024;

export class FrameReader {
  private readonly sizeBytes = Buffer.alloc(4);
  private sizeFilled = 0;
  /** Payload size of the frame being read, and the bytes of it in `pieces` (full) and `piece` (being filled). */
  private size = 0;
  private pieces: Buffer[] = [];
  private received = 0;
  private piece: Buffer | null = null;
  private filled = 0;

  constructor(
    private readonly maxSize: number,
    private readonly pool: FramePool,
  ) {}

  /** Bytes held for a frame not yet complete. */
  get pending(): number {
    return this.sizeFilled + this.received + this.filled;
  }

  /** Where the next read should land: the rest of the piece being filled, or `staging` between frames. */
  target(staging: Buffer): Buffer {
    return this.piece === null ? staging : this.piece.subarray(this.filled);
  }

  /**
   * Bytes just read; completed frames are appended to `out`. Bytes read straight into the frame
   * (the start of `target()`) are only counted; any others (the staging buffer, a socket chunk)
   * are copied into their frames.
   */
  landed(src: Buffer, out: Buffer[]): void {
    const p = this.piece;
    if (p !== null && src.buffer === p.buffer && src.byteOffset === p.byteOffset + this.filled) {
      this.filled += src.length;
      if (this.filled === p.length) this.pieceFull(out);
      return;
    }
    this.consume(src, out);
  }

  private consume(src: Buffer, out: Buffer[]): void {
    let at = 0;
    while (at < src.length) {
      if (this.piece === null) {
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
      const k = Math.min(src.length - at, this.piece.length - this.filled);
      src.copy(this.piece, this.filled, at, at + k);
      at += k;
      this.filled += k;
      if (this.filled === this.piece.length) this.pieceFull(out);
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
    this.size = size;
    this.received = 0;
    this.nextPiece();
  }

  private nextPiece(): void {
    const n = Math.min(this.size - this.received, FRAME_PIECE);
    // A frame in one piece is the frame itself (pooled); pieces of a larger one are joined later.
    this.piece = this.size > FRAME_PIECE ? Buffer.allocUnsafe(n) : n < SMALL_FRAME ? Buffer.allocUnsafe(n) : this.pool.acquire(n);
    this.filled = 0;
  }

  private pieceFull(out: Buffer[]): void {
    const piece = this.piece!;
    this.received += piece.length;
    this.piece = null;
    this.filled = 0;
    if (this.received < this.size) {
      this.pieces.push(piece);
      this.nextPiece();
      return;
    }
    if (this.pieces.length === 0) {
      out.push(piece);
      return;
    }
    out.push(Buffer.concat([...this.pieces, piece], this.size));
    this.pieces = [];
  }
}

const EMPTY = Buffer.alloc(0);
