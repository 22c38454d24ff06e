/**
 * Batch compression codecs (attributes bits 0–2). Every decompression is bounded by
 * `maxBytes`: exceeding it raises RecordsError MESSAGE_TOO_LARGE / DECOMPRESSION_LIMIT
 * without first allocating the claimed size.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { zstdBindingLib, zstdLib } from './native.js';
import { corrupt, RecordsError } from './errors.js';
import { limitError, lz4Compress, lz4CompressAsync, lz4Decompress, lz4DecompressAsync } from './lz4.js';
import {
  snappyCompress,
  snappyCompressAsync,
  snappyDecompress,
  snappyDecompressAsync,
  type SnappyFraming,
} from './snappy.js';

export enum CompressionCodec {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export const CODEC_NAMES: Readonly<Record<CompressionCodec, string>> = {
  [CompressionCodec.None]: 'none',
  [CompressionCodec.Gzip]: 'gzip',
  [CompressionCodec.Snappy]: 'snappy',
  [CompressionCodec.Lz4]: 'lz4',
  [CompressionCodec.Zstd]: 'zstd',
};

/** Default ceiling for one decompressed batch; callers with a real budget should pass theirs. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

export interface CompressOptions {
  /** gzip 1–9, zstd level; ignored by snappy and lz4. */
  level?: number;
  /** Snappy output framing; raw (librdkafka style) unless told otherwise. */
  snappyFraming?: SnappyFraming;
  /** Write Kafka's magic-0 LZ4 header checksum (only for legacy magic-0 messages). */
  lz4LegacyChecksum?: boolean;
}

export interface DecompressOptions {
  maxBytes?: number;
  /** Also accept Kafka's magic-0 LZ4 header checksum (only for legacy magic-0 messages). */
  lz4LegacyChecksum?: boolean;
}

export function isKnownCodec(codec: number): codec is CompressionCodec {
  return Number.isInteger(codec) && codec >= 0 && codec <= 4;
}

function checkCodec(codec: number): asserts codec is CompressionCodec {
  if (!isKnownCodec(codec)) {
    throw new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'UNKNOWN_CODEC', `unknown compression codec ${codec}`);
  }
}

const normalize = (o: number | CompressOptions | undefined): CompressOptions =>
  typeof o === 'number' ? { level: o } : (o ?? {});

const gzipAsync = promisify(zlib.gzip);
const gunzipAsync = promisify(zlib.gunzip);

const gzipOptions = (level: number | undefined): zlib.ZlibOptions => (level === undefined ? {} : { level });

function gunzipError(e: unknown, maxBytes: number): RecordsError {
  if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return limitError(maxBytes);
  return corrupt('DECOMPRESSION_FAILED', `gzip: ${(e as Error).message}`, e);
}

// zlib rejects maxOutputLength < 1; a 0 limit is then enforced by the length check.
const gunzipLimit = (maxBytes: number): zlib.ZlibOptions => ({ maxOutputLength: Math.max(1, maxBytes) });

function zstdCompress(buf: Buffer, level: number | undefined): Buffer {
  return zstdLib().compress(buf, level === undefined ? {} : { compressionLevel: level });
}

let zstdDctx: InstanceType<ReturnType<typeof zstdBindingLib>['DCtx']> | undefined;

/**
 * Streams through the input in output chunks we size ourselves, so neither a missing content
 * size (Java and librdkafka may omit it) nor a lying one makes us allocate past `maxBytes`.
 */
function zstdDecompress(buf: Buffer, maxBytes: number): Buffer {
  if (buf.length === 0) throw corrupt('DECOMPRESSION_FAILED', 'zstd: empty input');
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    const dctx = (zstdDctx ??= new (zstdBindingLib().DCtx)());
    dctx.reset(zstdBindingLib().ResetDirective.sessionOnly);
    const declared = zstdBindingLib().getFrameContentSize(buf);
    if (declared !== null && declared > maxBytes) throw limitError(maxBytes);
    let chunkSize = declared !== null && declared > 0 ? declared : Math.max(zstdBindingLib().dStreamOutSize(), buf.length * 4);
    let src = buf;
    for (;;) {
      // One byte beyond the limit is enough to detect that it has been crossed.
      const room = Math.min(chunkSize, maxBytes - total + 1);
      const dst = Buffer.allocUnsafe(room);
      const [ret, produced, consumed] = dctx.decompressStream(dst, src);
      src = src.subarray(consumed);
      if (produced > 0) {
        total += produced;
        if (total > maxBytes) throw limitError(maxBytes);
        chunks.push(dst.subarray(0, produced));
      }
      if (ret === 0 && src.length === 0) break;
      if (src.length === 0 && produced < room) throw corrupt('DECOMPRESSION_FAILED', 'zstd: truncated frame');
      if (produced === 0 && consumed === 0) throw corrupt('DECOMPRESSION_FAILED', 'zstd: decoder made no progress');
      chunkSize = Math.max(chunkSize, total);
    }
  } catch (e) {
    if (e instanceof RecordsError) throw e;
    throw corrupt('DECOMPRESSION_FAILED', `zstd: ${(e as Error).message}`, e);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

export function compress(codec: number, buf: Buffer, options?: number | CompressOptions): Buffer {
  checkCodec(codec);
  const o = normalize(options);
  switch (codec) {
    case CompressionCodec.None:
      return buf;
    case CompressionCodec.Gzip:
      return zlib.gzipSync(buf, gzipOptions(o.level));
    case CompressionCodec.Snappy:
      return snappyCompress(buf, o.snappyFraming ?? 'raw');
    case CompressionCodec.Lz4:
      return lz4Compress(buf, o.lz4LegacyChecksum ?? false);
    case CompressionCodec.Zstd:
      return zstdCompress(buf, o.level);
  }
}

export function decompress(codec: number, buf: Buffer, options: DecompressOptions = {}): Buffer {
  checkCodec(codec);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  switch (codec) {
    case CompressionCodec.None:
      if (buf.length > maxBytes) throw limitError(maxBytes);
      return buf;
    case CompressionCodec.Gzip: {
      let out: Buffer;
      try {
        out = zlib.gunzipSync(buf, gunzipLimit(maxBytes));
      } catch (e) {
        throw gunzipError(e, maxBytes);
      }
      if (out.length > maxBytes) throw limitError(maxBytes);
      return out;
    }
    case CompressionCodec.Snappy:
      return snappyDecompress(buf, maxBytes);
    case CompressionCodec.Lz4:
      return lz4Decompress(buf, maxBytes, options.lz4LegacyChecksum ?? false);
    case CompressionCodec.Zstd:
      return zstdDecompress(buf, maxBytes);
  }
}

/** Like `compress`, but off the JS thread where the codec's binding allows it (not zstd-napi). */
export async function compressAsync(codec: number, buf: Buffer, options?: number | CompressOptions): Promise<Buffer> {
  checkCodec(codec);
  const o = normalize(options);
  switch (codec) {
    case CompressionCodec.Gzip:
      return gzipAsync(buf, gzipOptions(o.level));
    case CompressionCodec.Snappy:
      return snappyCompressAsync(buf, o.snappyFraming ?? 'raw');
    case CompressionCodec.Lz4:
      return lz4CompressAsync(buf, o.lz4LegacyChecksum ?? false);
    default:
      return compress(codec, buf, o);
  }
}

/** Like `decompress`, but off the JS thread where the codec's binding allows it (not zstd-napi). */
export async function decompressAsync(codec: number, buf: Buffer, options: DecompressOptions = {}): Promise<Buffer> {
  checkCodec(codec);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  switch (codec) {
    case CompressionCodec.Gzip: {
      let out: Buffer;
      try {
        out = await gunzipAsync(buf, gunzipLimit(maxBytes));
      } catch (e) {
        throw gunzipError(e, maxBytes);
      }
      if (out.length > maxBytes) throw limitError(maxBytes);
      return out;
    }
    case CompressionCodec.Snappy:
      return snappyDecompressAsync(buf, maxBytes);
    case CompressionCodec.Lz4:
      return lz4DecompressAsync(buf, maxBytes, options.lz4LegacyChecksum ?? false);
    default:
      return decompress(codec, buf, options);
  }
}
