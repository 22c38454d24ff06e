/**
 * Zigzag varint (32-bit) and varlong (64-bit) as used inside v2 records. Reads are bounded: a
 * varint longer than 5 bytes or a varlong longer than 10 is an error, never a loop over the
 * rest of the buffer.
 */
import { RecordsError } from './errors.js';

const truncated = (what: string): RecordsError =>
  new RecordsError('INVALID_RECORD', 'TRUNCATED', `record data ends inside ${what}`);

/** A cursor over `buf[pos, end)`. Every read checks `end`, so a lying length cannot over-read. */
export class RecordReader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  int8(): number {
    if (this.pos + 1 > this.end) throw truncated('an int8');
    return this.buf.readInt8(this.pos++);
  }

  int16(): number {
    if (this.pos + 2 > this.end) throw truncated('an int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    if (this.pos + 4 > this.end) throw truncated('an int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  varint(): number {
    const { buf, end } = this;
    let pos = this.pos;
    let raw = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) throw truncated('a varint');
      const b = buf[pos++]!;
      // Bits beyond 32 in the fifth byte are dropped, as the Java client does.
      raw |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return (raw >>> 1) ^ -(raw & 1);
      }
    }
    throw new RecordsError('INVALID_RECORD', 'OVERLONG_VARINT', 'varint longer than 5 bytes');
  }

  varlong(): bigint {
    const { buf, end } = this;
    let pos = this.pos;
    // Most varlongs are small timestamp deltas: accumulate in a double while exact (49 bits).
    let small = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (pos >= end) throw truncated('a varlong');
      const b = buf[pos++]!;
      small += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return BigInt(small % 2 === 0 ? small / 2 : -(small + 1) / 2);
      }
      scale *= 128;
    }
    let raw = BigInt(small);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      if (pos >= end) throw truncated('a varlong');
      const b = buf[pos++]!;
      raw |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        raw = BigInt.asUintN(64, raw);
        return BigInt.asIntN(64, (raw >> 1n) ^ -(raw & 1n));
      }
    }
    throw new RecordsError('INVALID_RECORD', 'OVERLONG_VARINT', 'varlong longer than 10 bytes');
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.end) throw truncated('a byte field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Zigzag length then bytes; -1 means null. */
  nullableBytes(): Buffer | null {
    const n = this.varint();
    if (n === -1) return null;
    if (n < -1) throw new RecordsError('INVALID_RECORD', 'BAD_RECORD', `negative length ${n}`);
    return this.bytes(n);
  }
}

const zigzag32 = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;

export function sizeOfVarint(n: number): number {
  let v = zigzag32(n);
  let size = 1;
  while (v >= 0x80) {
    v >>>= 7;
    size++;
  }
  return size;
}

/** Writes `n` at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  let v = zigzag32(n);
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

const zigzag64 = (n: bigint): bigint => BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));

// Values whose zigzag form stays below 2^53 can be encoded with doubles, which avoids BigInt
// arithmetic per byte for ordinary timestamp deltas.
const SAFE_ZIGZAG = 1n << 51n;

export function sizeOfVarlong(n: bigint): number {
  if (n < SAFE_ZIGZAG && n > -SAFE_ZIGZAG) {
    const x = Number(n);
    let v = x >= 0 ? x * 2 : -x * 2 - 1;
    let size = 1;
    while (v >= 128) {
      v = Math.floor(v / 128);
      size++;
    }
    return size;
  }
  let v = zigzag64(n);
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

export function writeVarlong(buf: Buffer, pos: number, n: bigint): number {
  if (n < SAFE_ZIGZAG && n > -SAFE_ZIGZAG) {
    const x = Number(n);
    let v = x >= 0 ? x * 2 : -x * 2 - 1;
    while (v >= 128) {
      buf[pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[pos++] = v;
    return pos;
  }
  let v = zigzag64(n);
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}
