/**
 * CRC-32C (Castagnoli), the checksum of RecordBatch v2. Two implementations are kept: the native
 * one from @node-rs/crc32 and a portable slicing-by-8 one, so that the benchmark in
 * bench/records/crc32c.ts can keep justifying which one `crc32c` points at, and so that tests can
 * check each against the other.
 */
import { crc32Lib } from './native.js';

/** @node-rs/crc32, loaded on first use (a native addon costs start-up time); null when it cannot be loaded. */
let native: typeof import('@node-rs/crc32') | null | undefined;
export function nodeRsCrc32(): typeof import('@node-rs/crc32') | null {
  if (native === undefined) {
    try {
      native = crc32Lib();
    } catch {
      native = null; // reported by native.ts; the portable implementation stands in
    }
  }
  return native;
}

// Reflected form of the Castagnoli polynomial 0x1EDC6F41.
const POLY = 0x82f63b78;

function makeTables(): Int32Array[] {
  const all = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    all[n] = c;
  }
  // Table k gives the CRC contribution of a byte followed by k zero bytes, which lets the
  // main loop fold 8 input bytes per step.
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = all[(k - 1) * 256 + n]!;
      all[k * 256 + n] = (prev >>> 8) ^ all[prev & 0xff]!;
    }
  }
  return Array.from({ length: 8 }, (_, k) => all.subarray(k * 256, (k + 1) * 256));
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables() as [
  Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array,
];

/** Pure-JS CRC-32C. `previous` continues a CRC computed over earlier bytes. */
export function crc32cJs(buf: Uint8Array, previous = 0): number {
  let crc = ~previous;
  let i = 0;
  const len = buf.length;
  for (const end8 = len - 7; i < end8; i += 8) {
    const lo = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ crc;
    crc =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[buf[i + 4]!]! ^
      T2[buf[i + 5]!]! ^
      T1[buf[i + 6]!]! ^
      T0[buf[i + 7]!]!;
  }
  for (; i < len; i++) crc = T0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** Native CRC-32C (SSE4.2 / ARMv8 CRC instructions via @node-rs/crc32); the portable one without it. */
export function crc32cNative(buf: Uint8Array, previous = 0): number {
  const lib = nodeRsCrc32();
  return lib === null ? crc32cJs(buf, previous) : lib.crc32c(buf, previous) >>> 0;
}

/**
 * Measured crossover (bench/records/crc32c.ts, Node 20, x64): below ~256 bytes the fixed cost of
 * the N-API call makes the JS loop faster (about 2x at 100 B); from there on native wins, about
 * 4-5x at 16 KiB and above. Batch CRCs span both ranges, so `crc32c` dispatches on length.
 */
export const CRC32C_NATIVE_THRESHOLD = 256;

/** CRC-32C as an unsigned 32-bit number, with whichever implementation measured faster. */
export function crc32c(buf: Uint8Array, previous = 0): number {
  return buf.length < CRC32C_NATIVE_THRESHOLD ? crc32cJs(buf, previous) : crc32cNative(buf, previous);
}
