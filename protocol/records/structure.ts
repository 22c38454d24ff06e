/**
 * The record-structure check Kafka makes of every produced batch (DefaultRecordBatch's
 * skipKeyValueIterator under LogValidator): each record's fields must fill exactly its declared
 * length, the batch must hold exactly its declared count and nothing after it. Keys, values and
 * headers are stepped over, never copied or decoded, so the produce path stays cheap.
 */
import { RecordsError, invalid } from './errors.js';
import { RecordReader } from './varint.js';

const structure = (message: string): RecordsError => invalid('BAD_RECORD', `Found invalid record structure: ${message}`);

/** Position just after the varint read by `varintAt` (module state: no allocation per read). */
let next = 0;

/**
 * The zigzag varint at `pos`, bounded by `end`; the position after it goes to `next`. Kept small
 * (the usual one- and two-byte cases) so that the compiler inlines it into the walk.
 */
function varintAt(buf: Buffer, pos: number, end: number): number {
  const b = pos < end ? buf[pos]! : 0x80;
  if (b < 0x80) {
    next = pos + 1;
    return (b >>> 1) ^ -(b & 1);
  }
  if (pos + 1 < end) {
    const b2 = buf[pos + 1]!;
    if (b2 < 0x80) {
      next = pos + 2;
      const raw = (b & 0x7f) | (b2 << 7);
      return (raw >>> 1) ^ -(raw & 1);
    }
  }
  return longVarintAt(buf, pos, end);
}

/** The rare longer varints: RecordReader's bounded read. */
function longVarintAt(buf: Buffer, pos: number, end: number): number {
  const r = new RecordReader(buf, pos, end);
  const v = r.varint();
  next = r.pos;
  return v;
}

/** The value of a varlong too long for a number, read by `varlongAt` (module state, as `next`). */
let wide = 0n;

/**
 * The zigzag varlong at `pos` (at most 10 bytes); the position after it goes to `next`. A number
 * while it is exact (up to 7 bytes, 49 bits: every sane timestamp delta); for a longer one NaN,
 * with the value in `wide`, so that the usual case never makes a bigint.
 */
function varlongAt(buf: Buffer, pos: number, end: number): number {
  let raw = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw structure('a varlong runs past the record');
    const b = buf[pos++]!;
    if (i === 7) return longVarlongAt(buf, pos - 8, end);
    raw += (b & 0x7f) * scale;
    if (b < 0x80) {
      next = pos;
      return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    }
    scale *= 128;
  }
  throw invalid('OVERLONG_VARINT', 'Found invalid record structure: varlong longer than 10 bytes');
}

/** The rare varlong of 8 to 10 bytes, into `wide`; NaN. */
function longVarlongAt(buf: Buffer, pos: number, end: number): number {
  let raw = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw structure('a varlong runs past the record');
    const b = buf[pos++]!;
    raw |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) {
      next = pos;
      raw = BigInt.asUintN(64, raw);
      wide = BigInt.asIntN(64, (raw >> 1n) ^ -(raw & 1n));
      return NaN;
    }
  }
  throw invalid('OVERLONG_VARINT', 'Found invalid record structure: varlong longer than 10 bytes');
}

/**
 * Steps over a length-prefixed field; returns the position after it. In a nullable field any
 * negative length is null, as Kafka's DefaultRecord.readFrom reads it.
 */
function skipField(buf: Buffer, pos: number, end: number, nullable: boolean): number {
  const n = varintAt(buf, pos, end);
  const after = next + n;
  if (n >= 0 ? after > end : !nullable) throw fieldError(n, end - next);
  return n >= 0 ? after : next;
}

const fieldError = (n: number, left: number): RecordsError => structure(`a field of length ${n} with ${left} bytes left in the record`);

/** What a batch's records say about it, beyond its header (Kafka's LogValidator reads both). */
export interface RecordsShape {
  /** The largest timestamp delta of its records: their max timestamp is the base timestamp plus this. */
  maxTimestampDelta: bigint;
  /** Whether its records' offset deltas run 0, 1, 2, … */
  consecutiveOffsets: boolean;
}

/**
 * Checks the uncompressed records `data` of a v2 batch declaring `count` (> 0) records, and
 * returns their shape. Offset deltas are not checked: Kafka's LogValidator keeps an uncompressed
 * batch's as sent (and rewrites a compressed batch whose deltas do not run 0, 1, 2, …). Throws
 * RecordsError (INVALID_RECORD) on the first fault.
 */
export function checkRecordStructure(data: Buffer, count: number): RecordsShape {
  const total = data.length;
  let pos = 0;
  let maxDelta = -Infinity;
  let maxWideDelta: bigint | null = null;
  let consecutiveOffsets = true;
  for (let i = 0; i < count; i++) {
    if (pos >= total) throw invalid('COUNT_MISMATCH', `Incorrect declared batch size, premature EOF reached: ${i} of ${count} records`);
    const length = varintAt(data, pos, total);
    const start = next;
    const end = start + length;
    if (length < 0 || end > total) throw structure(`record ${i} declares ${length} bytes, ${total - start} left`);
    const timestampDelta = varlongAt(data, start + 1, end); // after the attributes
    if (timestampDelta > maxDelta) maxDelta = timestampDelta;
    else if (timestampDelta !== timestampDelta && (maxWideDelta === null || wide > maxWideDelta)) maxWideDelta = wide;
    if (varintAt(data, next, end) !== i) consecutiveOffsets = false;
    pos = skipField(data, next, end, true); // key
    pos = skipField(data, pos, end, true); // value
    const headers = varintAt(data, pos, end);
    pos = next;
    // Each header takes at least 2 bytes: a huge count fails here rather than in a long loop.
    if (headers < 0 || headers * 2 > end - pos) throw structure(`invalid header count ${headers}`);
    for (let h = 0; h < headers; h++) {
      pos = skipField(data, pos, end, false); // header key
      pos = skipField(data, pos, end, true); // header value
    }
    if (pos !== end) throw structure(`record ${i} declares ${length} bytes but its fields take ${pos - start}`);
  }
  if (pos !== total) throw invalid('TRAILING_BYTES', `Incorrect declared batch size, records still remaining in file: ${total - pos} bytes after ${count} records`);
  const small = maxDelta === -Infinity ? null : BigInt(maxDelta);
  const maxTimestampDelta = maxWideDelta !== null && (small === null || maxWideDelta > small) ? maxWideDelta : small!;
  return { maxTimestampDelta, consecutiveOffsets };
}
