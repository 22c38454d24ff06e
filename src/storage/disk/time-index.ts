/**
 * Kafka's time index (`.timeindex`): 12-byte entries, int64 timestamp, int32 offset relative to
 * the segment's base offset. An entry (T, O) says: the largest timestamp of the batches up to and
 * including the one whose last offset is O is T. Timestamps strictly increase (an entry is added
 * only when the maximum grew), offsets never decrease. When a segment stops being active (roll,
 * close) its maximum is appended, so the last entry of an inactive segment is its largest
 * timestamp.
 */
import { IndexBuffer } from './index-buffer.js';

export const TIME_INDEX_ENTRY_SIZE = 12;
export const NO_TIMESTAMP = -1n;

export interface TimestampOffset {
  timestamp: bigint;
  offset: bigint;
}

export class TimeIndex extends IndexBuffer {
  constructor(baseOffset: bigint, data: Buffer | null = null, fileBytes = data?.length ?? 0) {
    super(baseOffset, TIME_INDEX_ENTRY_SIZE, data, fileBytes);
  }

  /**
   * Loads file content, or explains why it is corrupt: size not a multiple of 12, timestamps not
   * strictly increasing, offsets decreasing or negative, or (when known) past the segment's end.
   */
  static parse(baseOffset: bigint, data: Buffer, maxOffset: bigint | null = null): TimeIndex | string {
    if (data.length % TIME_INDEX_ENTRY_SIZE !== 0) return `size ${data.length} is not a multiple of ${TIME_INDEX_ENTRY_SIZE}`;
    let lastTs: bigint | null = null;
    let lastRel = -1;
    for (let p = 0; p < data.length; p += TIME_INDEX_ENTRY_SIZE) {
      const ts = data.readBigInt64BE(p);
      const rel = data.readInt32BE(p + 8);
      const i = p / TIME_INDEX_ENTRY_SIZE;
      if (lastTs !== null && ts <= lastTs) return `entry ${i}: timestamp ${ts} after ${lastTs}`;
      if (ts < 0n) return `entry ${i}: negative timestamp ${ts}`;
      if (rel < lastRel || rel < 0) return `entry ${i}: relative offset ${rel} after ${lastRel}`;
      if (maxOffset !== null && baseOffset + BigInt(rel) > maxOffset) return `entry ${i}: offset past the segment's last offset ${maxOffset}`;
      lastTs = ts;
      lastRel = rel;
    }
    return new TimeIndex(baseOffset, data);
  }

  timestampAt(i: number): bigint {
    return this.buf.readBigInt64BE(i * TIME_INDEX_ENTRY_SIZE);
  }

  offsetAt(i: number): bigint {
    return this.baseOffset + BigInt(this.buf.readInt32BE(i * TIME_INDEX_ENTRY_SIZE + 8));
  }

  /** The last entry, or (NO_TIMESTAMP, baseOffset) when empty. */
  lastEntry(): TimestampOffset {
    return this.n === 0 ? { timestamp: NO_TIMESTAMP, offset: this.baseOffset } : { timestamp: this.timestampAt(this.n - 1), offset: this.offsetAt(this.n - 1) };
  }

  /** Kafka's rule: append only when the timestamp is larger than the last entry's (and the offset not smaller). */
  maybeAppend(timestamp: bigint, offset: bigint): boolean {
    const last = this.lastEntry();
    if (timestamp <= last.timestamp) return false;
    if (this.n > 0 && offset < last.offset) return false;
    const rel = this.relative(offset);
    if (rel === null) throw new RangeError(`offset ${offset} does not fit the time index of segment ${this.baseOffset}`);
    const p = this.reserve();
    this.buf.writeBigInt64BE(timestamp, p);
    this.buf.writeInt32BE(rel, p + 8);
    return true;
  }

  /** Largest entry with timestamp ≤ target, or (NO_TIMESTAMP, baseOffset). */
  lookup(target: bigint): TimestampOffset {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestampAt(mid) <= target) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? { timestamp: NO_TIMESTAMP, offset: this.baseOffset } : { timestamp: this.timestampAt(found), offset: this.offsetAt(found) };
  }

  /** Drops the entries whose offset is above `offset`. */
  truncateAbove(offset: bigint): void {
    let keep = this.n;
    while (keep > 0 && this.offsetAt(keep - 1) > offset) keep--;
    this.truncateToEntries(keep);
  }
}
