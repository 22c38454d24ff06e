/**
 * Kafka's offset index (`.index`): sparse 8-byte entries, int32 offset relative to the segment's
 * base offset, int32 byte position of a batch in the `.log`. As in Kafka's LogSegment, an entry
 * maps a batch's *last* offset to the batch's position, so lookup(target) yields a position at or
 * before the batch containing target.
 */
import { IndexBuffer } from './index-buffer.js';

export const OFFSET_INDEX_ENTRY_SIZE = 8;

export interface OffsetPosition {
  offset: bigint;
  position: number;
}

export class OffsetIndex extends IndexBuffer {
  constructor(baseOffset: bigint, data: Buffer | null = null, fileBytes = data?.length ?? 0) {
    super(baseOffset, OFFSET_INDEX_ENTRY_SIZE, data, fileBytes);
  }

  /**
   * Loads file content, or explains why it is corrupt: size not a multiple of 8, offsets or
   * positions not strictly increasing, or a position at/after the end of the log.
   */
  static parse(baseOffset: bigint, data: Buffer, logSize: number): OffsetIndex | string {
    if (data.length % OFFSET_INDEX_ENTRY_SIZE !== 0) return `size ${data.length} is not a multiple of ${OFFSET_INDEX_ENTRY_SIZE}`;
    let lastRel = -1;
    let lastPos = -1;
    for (let p = 0; p < data.length; p += OFFSET_INDEX_ENTRY_SIZE) {
      const rel = data.readInt32BE(p);
      const pos = data.readInt32BE(p + 4);
      if (rel <= lastRel || rel < 0) return `entry ${p / 8}: relative offset ${rel} after ${lastRel}`;
      if (pos <= lastPos || pos < 0) return `entry ${p / 8}: position ${pos} after ${lastPos}`;
      if (pos >= logSize) return `entry ${p / 8}: position ${pos} past the log (${logSize} bytes)`;
      lastRel = rel;
      lastPos = pos;
    }
    return new OffsetIndex(baseOffset, data);
  }

  offsetAt(i: number): bigint {
    return this.baseOffset + BigInt(this.buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE));
  }

  positionAt(i: number): number {
    return this.buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4);
  }

  /** The last entry, or (baseOffset, 0) when empty. */
  lastEntry(): OffsetPosition {
    return this.n === 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsetAt(this.n - 1), position: this.positionAt(this.n - 1) };
  }

  append(offset: bigint, position: number): void {
    const rel = this.relative(offset);
    if (rel === null) throw new RangeError(`offset ${offset} does not fit the index of segment ${this.baseOffset}`);
    if (this.n > 0 && rel <= this.buf.readInt32BE((this.n - 1) * OFFSET_INDEX_ENTRY_SIZE)) {
      throw new RangeError(`index offset ${offset} does not increase`);
    }
    const p = this.reserve();
    this.buf.writeInt32BE(rel, p);
    this.buf.writeInt32BE(position, p + 4);
  }

  /** Slot of the largest entry with offset ≤ target, or -1. */
  private slotFor(target: bigint): number {
    if (target < this.baseOffset) return -1;
    const rel = target - this.baseOffset > 0x7fffffffn ? 0x7fffffff : Number(target - this.baseOffset);
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buf.readInt32BE(mid * OFFSET_INDEX_ENTRY_SIZE) <= rel) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Largest entry with offset ≤ target, or (baseOffset, 0). */
  lookup(target: bigint): OffsetPosition {
    const slot = this.slotFor(target);
    return slot < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsetAt(slot), position: this.positionAt(slot) };
  }
}
