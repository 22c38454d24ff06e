import { EncodeError } from './errors.js';
import type { TaggedField } from './types.js';
import { uuidToBytes } from './uuid.js';

/** Byte arrays at least this long are referenced, not copied, by `raw` (record batches in fetch responses). */
const ZERO_COPY_THRESHOLD = 1024;

/**
 * An append-only encoder producing a list of chunks: small values go into a growing scratch buffer,
 * large byte arrays (records) are passed through by reference, ready for socket.writev.
 */
export class Writer {
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private buf: Buffer;
  private start = 0;
  private pos = 0;
  private readonly framed: boolean;

  /** With `framed`, the output starts with the int32 size of what follows (a Kafka frame). */
  constructor(options: { initialSize?: number; framed?: boolean } = {}) {
    this.buf = Buffer.allocUnsafe(options.initialSize ?? 256);
    this.framed = options.framed ?? false;
    if (this.framed) this.pos = 4;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.chunkBytes + this.pos - this.start;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, pending + n, 256));
    // Earlier chunks keep referencing the old buffer; only the pending bytes move.
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  bool(v: boolean): void {
    this.int8(v ? 1 : 0);
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uuid(v: string): void {
    this.raw(uuidToBytes(v));
  }

  uvarint(v: number): void {
    if (v < 0 || v > 0xffffffff || !Number.isInteger(v)) throw new EncodeError(`unsigned varint out of range: ${v}`);
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** Copies small arrays, references large ones. */
  raw(b: Buffer): void {
    if (b.length >= ZERO_COPY_THRESHOLD) {
      if (this.pos > this.start) {
        this.chunks.push(this.buf.subarray(this.start, this.pos));
        this.chunkBytes += this.pos - this.start;
        this.start = this.pos;
      }
      this.chunks.push(b);
      this.chunkBytes += b.length;
      return;
    }
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  private prefix(flex: boolean, wide: boolean, n: number): void {
    if (flex) this.uvarint(n + 1);
    else if (wide) this.int32(n);
    else this.int16(n);
  }

  str(flex: boolean, s: string | null): void {
    if (s === null) throw new EncodeError('null string where a value is required');
    const n = Buffer.byteLength(s, 'utf8');
    if (n > 0x7fff) throw new EncodeError(`string of ${n} bytes is longer than 32767`);
    this.prefix(flex, false, n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  nstr(flex: boolean, s: string | null): void {
    if (s === null) this.prefix(flex, false, -1);
    else this.str(flex, s);
  }

  bytes(flex: boolean, b: Buffer | null): void {
    if (b === null) throw new EncodeError('null bytes where a value is required');
    this.prefix(flex, true, b.length);
    this.raw(b);
  }

  nbytes(flex: boolean, b: Buffer | null): void {
    if (b === null) this.prefix(flex, true, -1);
    else this.bytes(flex, b);
  }

  count(flex: boolean, n: number | null): void {
    this.prefix(flex, true, n === null ? -1 : n);
  }

  /**
   * Writes a tagged-field section: the known fields (already in tag order, as closures) merged with
   * unknown ones kept from decoding, each prefixed with its tag and size.
   */
  taggedFields(known: readonly TaggedWrite[] | undefined, unknown: readonly TaggedField[] | undefined): void {
    const k = known?.length ?? 0;
    const u = unknown?.length ?? 0;
    if (k + u === 0) {
      this.uvarint(0);
      return;
    }
    const entries: { tag: number; data: Buffer }[] = [];
    for (let i = 0; i < k; i++) {
      const [tag, write] = known![i];
      const sub = new Writer({ initialSize: 64 });
      write(sub);
      entries.push({ tag, data: sub.toBuffer() });
    }
    for (let i = 0; i < u; i++) entries.push(unknown![i]);
    if (u > 0) entries.sort((a, b) => a.tag - b.tag);
    this.uvarint(entries.length);
    for (const e of entries) {
      this.uvarint(e.tag);
      this.uvarint(e.data.length);
      this.raw(e.data);
    }
  }

  /** The encoded bytes as chunks (no copy of large arrays); for a framed writer, the size prefix is filled in. */
  finish(): Buffer[] {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.chunkBytes += this.pos - this.start;
      this.start = this.pos;
    }
    // The size prefix is always the first 4 bytes of the first chunk.
    if (this.framed) this.chunks[0].writeInt32BE(this.chunkBytes - 4, 0);
    return this.chunks;
  }

  /** The encoded bytes as one buffer (copies when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.chunkBytes);
  }
}

export type TaggedWrite = readonly [tag: number, write: (w: Writer) => void];

export type ElementWriter<T> = (w: Writer, v: number, x: T) => void;

export function writeArray<T>(w: Writer, flex: boolean, v: number, xs: readonly T[] | null | undefined, el: ElementWriter<T>): void {
  if (xs === null) throw new EncodeError('null array where a value is required');
  if (xs === undefined) {
    w.count(flex, 0);
    return;
  }
  w.count(flex, xs.length);
  for (let i = 0; i < xs.length; i++) el(w, v, xs[i]);
}

export function writeNullableArray<T>(w: Writer, flex: boolean, v: number, xs: readonly T[] | null, el: ElementWriter<T>): void {
  if (xs === null) w.count(flex, null);
  else writeArray(w, flex, v, xs, el);
}

export const writeElement = {
  bool: (w: Writer, _v: number, x: boolean) => w.bool(x),
  int8: (w: Writer, _v: number, x: number) => w.int8(x),
  int16: (w: Writer, _v: number, x: number) => w.int16(x),
  uint16: (w: Writer, _v: number, x: number) => w.uint16(x),
  int32: (w: Writer, _v: number, x: number) => w.int32(x),
  uint32: (w: Writer, _v: number, x: number) => w.uint32(x),
  int64: (w: Writer, _v: number, x: bigint) => w.int64(x),
  float64: (w: Writer, _v: number, x: number) => w.float64(x),
  uuid: (w: Writer, _v: number, x: string) => w.uuid(x),
  string: (w: Writer, _v: number, x: string) => w.str(false, x),
  compactString: (w: Writer, _v: number, x: string) => w.str(true, x),
  bytes: (w: Writer, _v: number, x: Buffer) => w.bytes(false, x),
  compactBytes: (w: Writer, _v: number, x: Buffer) => w.bytes(true, x),
};
