/**
 * LZ4 frame format for Kafka. lz4-napi does the real work; this module adds what it lacks:
 * - the magic-0 "broken" header checksum (RECORDS.md §2.2), accepted on read and produced on write;
 * - concatenated frames (lz4-napi silently stops after the first one);
 * - a hard output limit: when the frame's worst case (blocks x block maximum) exceeds `maxBytes`,
 *   decoding switches to a small JS decoder that stops at exactly `maxBytes`.
 */
import { lz4Lib } from './native.js';
import { corrupt, RecordsError } from './errors.js';
import { xxh32 } from './xxhash32.js';

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC = 0x184d2a50; // 0x184D2A50..0x184D2A5F
const BLOCK_MAX_BY_ID = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

interface Frame {
  start: number;
  end: number;
  skippable: boolean;
  /** Position of the header checksum byte, and whether it held the magic-0 variant. */
  hcPos: number;
  brokenHc: boolean;
  independent: boolean;
  blockChecksum: boolean;
  contentChecksum: boolean;
  blockMax: number;
  dataStart: number;
  contentSize: number | null;
  /** Most bytes this frame can decode to. */
  bound: number;
}

const bad = (message: string): RecordsError => corrupt('DECOMPRESSION_FAILED', `lz4: ${message}`);

export const limitError = (maxBytes: number): RecordsError =>
  new RecordsError('MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT', `decompressed data exceeds ${maxBytes} bytes`);

/** HC byte per the LZ4 spec (descriptor only) or Kafka's magic-0 variant (frame magic included). */
function headerChecksum(buf: Buffer, frameStart: number, hcPos: number, broken: boolean): number {
  return (xxh32(buf.subarray(broken ? frameStart : frameStart + 4, hcPos)) >>> 8) & 0xff;
}

function scanFrame(buf: Buffer, start: number, acceptBrokenHc: boolean): Frame {
  const need = (pos: number): void => {
    if (pos > buf.length) throw bad('truncated frame');
  };
  need(start + 4);
  const magic = buf.readUInt32LE(start);
  if ((magic & 0xfffffff0) === SKIPPABLE_MAGIC) {
    need(start + 8);
    const end = start + 8 + buf.readUInt32LE(start + 4);
    need(end);
    return {
      start, end, skippable: true, hcPos: 0, brokenHc: false, independent: true, blockChecksum: false,
      contentChecksum: false, blockMax: 0, dataStart: end, contentSize: 0, bound: 0,
    };
  }
  if (magic !== FRAME_MAGIC) throw bad(`bad frame magic 0x${magic.toString(16)}`);
  need(start + 7);
  const flg = buf[start + 4]!;
  const bd = buf[start + 5]!;
  if (flg >>> 6 !== 1 || flg & 0x02 || bd & 0x8f) throw bad('unsupported frame descriptor');
  if (flg & 0x01) throw bad('dictionaries are not supported');
  const blockMax = BLOCK_MAX_BY_ID[(bd >>> 4) & 7]!;
  if (blockMax === 0) throw bad('invalid block maximum size');
  let pos = start + 6;
  let contentSize: number | null = null;
  if (flg & 0x08) {
    need(pos + 9);
    contentSize = Number(buf.readBigUInt64LE(pos));
    pos += 8;
  }
  const hcPos = pos;
  const hc = buf[hcPos]!;
  let brokenHc = false;
  if (hc !== headerChecksum(buf, start, hcPos, false)) {
    if (!acceptBrokenHc || hc !== headerChecksum(buf, start, hcPos, true)) throw bad('header checksum mismatch');
    brokenHc = true;
  }
  pos++;
  const blockChecksum = (flg & 0x10) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dataStart = pos;
  let bound = 0;
  for (;;) {
    need(pos + 4);
    const word = buf.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw bad(`block of ${size} bytes exceeds the frame's ${blockMax}-byte maximum`);
    pos += size + (blockChecksum ? 4 : 0);
    need(pos);
    bound += word & 0x80000000 ? size : blockMax;
  }
  if (contentChecksum) pos += 4;
  need(pos);
  // A declared content size is not trusted to shrink the bound: only the block sizes are.
  return {
    start, end: pos, skippable: false, hcPos, brokenHc, independent: (flg & 0x20) !== 0, blockChecksum,
    contentChecksum, blockMax, dataStart, contentSize, bound,
  };
}

function scanFrames(buf: Buffer, acceptBrokenHc: boolean): Frame[] {
  if (buf.length === 0) throw bad('empty input');
  const frames: Frame[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const frame = scanFrame(buf, pos, acceptBrokenHc);
    frames.push(frame);
    pos = frame.end;
  }
  return frames;
}

/** lz4-napi verifies the HC byte strictly, so hand it a copy with the spec checksum. */
function nativeInput(buf: Buffer, f: Frame): Buffer {
  const view = buf.subarray(f.start, f.end);
  if (!f.brokenHc) return view;
  const copy = Buffer.from(view);
  copy[f.hcPos - f.start] = headerChecksum(buf, f.start, f.hcPos, false);
  return copy;
}

const OVERFLOW = -1;

/** Decodes one LZ4 block into out[o, limit). Returns the new output position or OVERFLOW. */
function decodeBlock(src: Buffer, s: number, sEnd: number, out: Buffer, o: number, limit: number, windowStart: number): number {
  for (;;) {
    if (s >= sEnd) throw bad('block ends inside a sequence');
    const token = src[s++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (s >= sEnd) throw bad('block ends inside a literal length');
        b = src[s++]!;
        literals += b;
      } while (b === 255);
    }
    if (s + literals > sEnd) throw bad('literals run past the block');
    if (o + literals > limit) return OVERFLOW;
    src.copy(out, o, s, s + literals);
    s += literals;
    o += literals;
    if (s === sEnd) return o; // the last sequence carries literals only
    if (s + 2 > sEnd) throw bad('block ends inside a match offset');
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > o - windowStart) throw bad('match offset points before the window');
    let length = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (s >= sEnd) throw bad('block ends inside a match length');
        b = src[s++]!;
        length += b;
      } while (b === 255);
    }
    if (o + length > limit) return OVERFLOW;
    // Overlapping matches repeat a pattern; copying from a fixed start doubles what is available.
    const from = o - offset;
    while (length > 0) {
      const n = Math.min(length, o - from);
      out.copy(out, o, from, from + n);
      o += n;
      length -= n;
    }
  }
}

/** Exact-limit decoder for frames whose worst case exceeds `maxBytes`. */
function decodeFramesJs(buf: Buffer, frames: Frame[], maxBytes: number): Buffer {
  let out = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(64 << 10, buf.length * 4)));
  let o = 0;
  const ensure = (want: number): void => {
    if (want <= out.length) return;
    const grown = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(want, out.length * 2)));
    out.copy(grown, 0, 0, o);
    out = grown;
  };
  for (const f of frames) {
    if (f.skippable) continue;
    const frameStart = o;
    let pos = f.dataStart;
    for (;;) {
      const word = buf.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      const block = buf.subarray(pos, pos + size);
      if (f.blockChecksum && xxh32(block) !== buf.readUInt32LE(pos + size)) throw bad('block checksum mismatch');
      const limit = Math.min(o + f.blockMax, maxBytes);
      ensure(limit);
      if (word & 0x80000000) {
        if (o + size > maxBytes) throw limitError(maxBytes);
        block.copy(out, o);
        o += size;
      } else {
        const next = decodeBlock(buf, pos, pos + size, out, o, limit, f.independent ? o : frameStart);
        if (next === OVERFLOW) {
          if (limit === maxBytes) throw limitError(maxBytes);
          throw bad('block decodes to more than the block maximum');
        }
        o = next;
      }
      pos += size + (f.blockChecksum ? 4 : 0);
    }
    if (f.contentChecksum && xxh32(out.subarray(frameStart, o)) !== buf.readUInt32LE(pos)) {
      throw bad('content checksum mismatch');
    }
    if (f.contentSize !== null && f.contentSize !== o - frameStart) throw bad('content size mismatch');
  }
  return out.subarray(0, o);
}

const fitsLimit = (frames: Frame[], maxBytes: number): boolean =>
  frames.reduce((sum, f) => sum + f.bound, 0) <= maxBytes;

const wrapNative = (e: unknown): RecordsError =>
  e instanceof RecordsError ? e : corrupt('DECOMPRESSION_FAILED', `lz4: ${(e as Error).message}`, e);

function joinFrames(parts: Buffer[], maxBytes: number): Buffer {
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  if (out.length > maxBytes) throw limitError(maxBytes);
  return out;
}

export function lz4Decompress(buf: Buffer, maxBytes: number, acceptBrokenHc: boolean): Buffer {
  const frames = scanFrames(buf, acceptBrokenHc);
  if (!fitsLimit(frames, maxBytes)) return decodeFramesJs(buf, frames, maxBytes);
  try {
    const parts = frames.filter((f) => !f.skippable).map((f) => lz4Lib().decompressFrameSync(nativeInput(buf, f)));
    return joinFrames(parts, maxBytes);
  } catch (e) {
    throw wrapNative(e);
  }
}

export async function lz4DecompressAsync(buf: Buffer, maxBytes: number, acceptBrokenHc: boolean): Promise<Buffer> {
  const frames = scanFrames(buf, acceptBrokenHc);
  if (!fitsLimit(frames, maxBytes)) return decodeFramesJs(buf, frames, maxBytes);
  try {
    const parts = await Promise.all(frames.filter((f) => !f.skippable).map((f) => lz4Lib().decompressFrame(nativeInput(buf, f))));
    return joinFrames(parts, maxBytes);
  } catch (e) {
    throw wrapNative(e);
  }
}

/** Rewrites the HC byte of the frame at the start of `frame` to Kafka's magic-0 variant. */
function breakHeaderChecksum(frame: Buffer): Buffer {
  const hcPos = frame[4]! & 0x08 ? 14 : 6;
  frame[hcPos] = headerChecksum(frame, 0, hcPos, true);
  return frame;
}

export function lz4Compress(buf: Buffer, brokenHc: boolean): Buffer {
  const out = lz4Lib().compressFrameSync(buf);
  return brokenHc ? breakHeaderChecksum(out) : out;
}

export async function lz4CompressAsync(buf: Buffer, brokenHc: boolean): Promise<Buffer> {
  const out = await lz4Lib().compressFrame(buf);
  return brokenHc ? breakHeaderChecksum(out) : out;
}

/** Exposed for tests: the exact-limit JS path, whatever the frame's worst case. */
export function lz4DecompressJs(buf: Buffer, maxBytes: number, acceptBrokenHc: boolean): Buffer {
  return decodeFramesJs(buf, scanFrames(buf, acceptBrokenHc), maxBytes);
}
