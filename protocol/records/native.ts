/**
 * The native libraries, loaded on first use: the broker's hot path never compresses, and each
 * library costs several MB of resident memory once loaded. A library that cannot be loaded (an
 * install that skipped its build, a platform without a binary) leaves its codec unavailable:
 * batches using it are refused with UNSUPPORTED_COMPRESSION_TYPE, and the listener set with
 * `onNativeLibraryMissing` hears of it once, so the broker can say why.
 */
import { createRequire } from 'node:module';
import { RecordsError } from './errors.js';

const require = createRequire(import.meta.url);

type Snappy = typeof import('snappy');
type Lz4 = typeof import('lz4-napi');
type Zstd = typeof import('zstd-napi');
type ZstdBinding = typeof import('zstd-napi/binding.js');
type Crc32 = typeof import('@node-rs/crc32');

type MissingListener = (library: string, error: Error) => void;
const listeners = new Set<MissingListener>();

/** `fn` hears once of each library that fails to load, with the loader's error; returns the unsubscribe function. */
export function onNativeLibraryMissing(fn: MissingListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const reported = new Set<string>();

/** A module of package `library`, loaded at most once; a failed load is remembered, and reported once per package. */
function lazy<T>(library: string, path = library): () => T {
  let lib: T | undefined;
  let failure: Error | undefined;
  return () => {
    if (lib !== undefined) return lib;
    if (failure === undefined) {
      try {
        return (lib = require(path) as T);
      } catch (e) {
        failure = e as Error;
        if (!reported.has(library)) {
          reported.add(library);
          for (const l of listeners) l(library, failure);
        }
      }
    }
    throw new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_UNAVAILABLE', `${library} is not available on this broker: ${failure.message.split('\n')[0]}`);
  };
}

export const snappyLib = lazy<Snappy>('snappy');
export const lz4Lib = lazy<Lz4>('lz4-napi');
export const zstdLib = lazy<Zstd>('zstd-napi');
export const zstdBindingLib = lazy<ZstdBinding>('zstd-napi', 'zstd-napi/binding.js');
export const crc32Lib = lazy<Crc32>('@node-rs/crc32');
