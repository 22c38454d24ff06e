import { DecodeError } from './errors.js';
import type { TaggedField } from './types.js';
import { uuidFromBytes } from './uuid.js';

/** Java's generated code refuses strings longer than a short can say, in both encodings. */
const MAX_STRING_LENGTH = 0x7fff;

/**
 * A bounded cursor over a frame. Every read checks the bound first, so hostile lengths and counts
 * fail with a DecodeError before anything is allocated; bytes and records come back as views
 * (subarray) into the frame, never copies.
 */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.end - this.pos < n) {
      throw new DecodeError('TRUNCATED', `needed ${n} bytes at ${this.pos}, ${this.end - this.pos} left`);
    }
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  uuid(): string {
    this.need(16);
    const v = uuidFromBytes(this.buf, this.pos);
    this.pos += 16;
    return v;
  }

  /** Unsigned LEB128 of at most 5 bytes (Kafka's ByteUtils.readUnsignedVarint). */
  uvarint(): number {
    let value = 0;
    let factor = 1;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new DecodeError('TRUNCATED', `varint runs past the end at ${this.pos}`);
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * factor;
      if ((b & 0x80) === 0) return value;
      factor *= 128;
    }
    throw new DecodeError('VARINT_TOO_LONG', `unsigned varint longer than 5 bytes at ${this.pos - 5}`);
  }

  /**
   * Length prefix of a string/bytes/array: any negative one means null, as Kafka's generated
   * readers take it (a compact length is an int there: an unsigned varint of 2^31 or more wraps).
   */
  private length(flex: boolean, wide: boolean): number {
    return flex ? (this.uvarint() | 0) - 1 : wide ? this.int32() : this.int16();
  }

  private text(n: number): string {
    if (n > MAX_STRING_LENGTH) throw new DecodeError('LENGTH_TOO_LARGE', `string of ${n} bytes is longer than ${MAX_STRING_LENGTH}`);
    this.need(n);
    const start = this.pos;
    const end = start + n;
    this.pos = end;
    const buf = this.buf;
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (buf[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return buf.toString('latin1', start, end);
    // Malformed sequences become U+FFFD, as Java's new String(bytes, UTF_8) in Kafka's readers does.
    return buf.toString('utf8', start, end);
  }

  str(flex: boolean): string {
    const n = this.length(flex, false);
    if (n < 0) throw new DecodeError('NULL_NOT_ALLOWED', `null string at ${this.pos} where a value is required`);
    return this.text(n);
  }

  nstr(flex: boolean): string | null {
    const n = this.length(flex, false);
    return n < 0 ? null : this.text(n);
  }

  private view(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  bytes(flex: boolean): Buffer {
    const n = this.length(flex, true);
    if (n < 0) throw new DecodeError('NULL_NOT_ALLOWED', `null bytes at ${this.pos} where a value is required`);
    return this.view(n);
  }

  nbytes(flex: boolean): Buffer | null {
    const n = this.length(flex, true);
    return n < 0 ? null : this.view(n);
  }

  /**
   * Element count of an array; -1 for null (only when nullable). Like Kafka, a count larger than the
   * bytes left is refused up front: every element takes at least one byte.
   */
  count(flex: boolean, nullable: boolean): number {
    const n = this.length(flex, true);
    if (n < 0) {
      if (nullable) return -1;
      throw new DecodeError('NULL_NOT_ALLOWED', `null array at ${this.pos} where a value is required`);
    }
    if (n > this.end - this.pos) {
      throw new DecodeError('LENGTH_TOO_LARGE', `array of ${n} elements but only ${this.end - this.pos} bytes left`);
    }
    return n;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A reader over the next n bytes; this one moves past them. */
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Reads a tagged-field section of which no tag is known here. */
  unknownTaggedFields(): TaggedField[] | undefined {
    const n = this.uvarint();
    if (n === 0) return undefined;
    if (n > this.end - this.pos) throw new DecodeError('LENGTH_TOO_LARGE', `${n} tagged fields but only ${this.end - this.pos} bytes left`);
    const out: TaggedField[] = [];
    for (let i = 0; i < n; i++) {
      const tag = this.uvarint();
      out.push({ tag, data: this.view(this.uvarint()) });
    }
    return out;
  }
}

/** Readers for array elements and for generic code. */
export type ElementReader<T> = (r: Reader, v: number) => T;

export function readArray<T>(r: Reader, flex: boolean, v: number, el: ElementReader<T>): T[] {
  const n = r.count(flex, false);
  // Grown by push, so memory follows the elements actually decoded, not the claimed count.
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(el(r, v));
  return out;
}

export function readNullableArray<T>(r: Reader, flex: boolean, v: number, el: ElementReader<T>): T[] | null {
  const n = r.count(flex, true);
  if (n < 0) return null;
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(el(r, v));
  return out;
}

export const readElement = {
  bool: (r: Reader) => r.bool(),
  int8: (r: Reader) => r.int8(),
  int16: (r: Reader) => r.int16(),
  uint16: (r: Reader) => r.uint16(),
  int32: (r: Reader) => r.int32(),
  uint32: (r: Reader) => r.uint32(),
  int64: (r: Reader) => r.int64(),
  float64: (r: Reader) => r.float64(),
  uuid: (r: Reader) => r.uuid(),
  string: (r: Reader) => r.str(false),
  compactString: (r: Reader) => r.str(true),
  bytes: (r: Reader) => r.bytes(false),
  compactBytes: (r: Reader) => r.bytes(true),
};
