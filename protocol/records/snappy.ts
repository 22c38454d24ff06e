/**
 * Snappy as Kafka clients send it (RECORDS.md §1.2): raw blocks (librdkafka) or xerial
 * snappy-java stream framing (Java, kafka-python). Both are read; either can be written.
 * Every raw block starts with its uncompressed length, which is checked against the limit
 * before anything is allocated.
 */
import { snappyLib } from './native.js';
import { corrupt, RecordsError } from './errors.js';
import { limitError } from './lz4.js';

export type SnappyFraming = 'raw' | 'xerial';

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16; // magic, int32 version, int32 min compatible version
const XERIAL_VERSION = 1;
const XERIAL_BLOCK_SIZE = 32 * 1024; // snappy-java's default

const bad = (message: string, cause?: unknown): RecordsError =>
  corrupt('DECOMPRESSION_FAILED', `snappy: ${message}`, cause);

export const isXerialFramed = (buf: Buffer): boolean =>
  buf.length >= XERIAL_HEADER_SIZE && buf.subarray(0, 8).equals(XERIAL_MAGIC);

/** The uncompressed length a raw snappy block declares (unsigned LEB128, at most 5 bytes). */
function declaredLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return value;
  }
  throw bad('bad block length prefix');
}

/** Splits the input into raw snappy blocks and checks their declared total against the limit. */
function blocksOf(buf: Buffer, maxBytes: number): Buffer[] {
  const blocks: Buffer[] = [];
  if (!isXerialFramed(buf)) {
    blocks.push(buf);
  } else {
    for (let pos = XERIAL_HEADER_SIZE; pos < buf.length; ) {
      if (pos + 4 > buf.length) throw bad('truncated xerial block length');
      const size = buf.readInt32BE(pos);
      pos += 4;
      if (size < 0 || pos + size > buf.length) throw bad(`xerial block of ${size} bytes overruns the input`);
      if (size > 0) blocks.push(buf.subarray(pos, pos + size));
      pos += size;
    }
  }
  let total = 0;
  for (const block of blocks) {
    total += declaredLength(block);
    if (total > maxBytes) throw limitError(maxBytes);
  }
  return blocks;
}

const join = (parts: Buffer[]): Buffer => (parts.length === 1 ? parts[0]! : Buffer.concat(parts));

export function snappyDecompress(buf: Buffer, maxBytes: number): Buffer {
  const blocks = blocksOf(buf, maxBytes);
  try {
    return join(blocks.map((b) => snappyLib().uncompressSync(b, { asBuffer: true }) as Buffer));
  } catch (e) {
    throw e instanceof RecordsError ? e : bad((e as Error).message, e);
  }
}

export async function snappyDecompressAsync(buf: Buffer, maxBytes: number): Promise<Buffer> {
  const blocks = blocksOf(buf, maxBytes);
  try {
    return join(await Promise.all(blocks.map(async (b) => (await snappyLib().uncompress(b, { asBuffer: true })) as Buffer)));
  } catch (e) {
    throw e instanceof RecordsError ? e : bad((e as Error).message, e);
  }
}

function xerialHeader(): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_VERSION, 12);
  return header;
}

function xerialFrame(compressedBlocks: Buffer[]): Buffer {
  const parts = [xerialHeader()];
  for (const block of compressedBlocks) {
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(block.length);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}

function chunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < buf.length; pos += XERIAL_BLOCK_SIZE) out.push(buf.subarray(pos, pos + XERIAL_BLOCK_SIZE));
  return out;
}

export function snappyCompress(buf: Buffer, framing: SnappyFraming): Buffer {
  if (framing === 'raw') return snappyLib().compressSync(buf);
  return xerialFrame(chunks(buf).map((c) => snappyLib().compressSync(c)));
}

export async function snappyCompressAsync(buf: Buffer, framing: SnappyFraming): Promise<Buffer> {
  if (framing === 'raw') return snappyLib().compress(buf);
  return xerialFrame(await Promise.all(chunks(buf).map((c) => snappyLib().compress(c))));
}
