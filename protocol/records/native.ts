/**
 * The native compression libraries, loaded on first use: the broker's hot path never compresses,
 * and each library costs several MB of resident memory once loaded.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type Snappy = typeof import('snappy');
type Lz4 = typeof import('lz4-napi');
type Zstd = typeof import('zstd-napi');
type ZstdBinding = typeof import('zstd-napi/binding.js');

let snappy: Snappy | undefined;
let lz4: Lz4 | undefined;
let zstd: Zstd | undefined;
let zstdBinding: ZstdBinding | undefined;

export const snappyLib = (): Snappy => (snappy ??= require('snappy') as Snappy);
export const lz4Lib = (): Lz4 => (lz4 ??= require('lz4-napi') as Lz4);
export const zstdLib = (): Zstd => (zstd ??= require('zstd-napi') as Zstd);
export const zstdBindingLib = (): ZstdBinding => (zstdBinding ??= require('zstd-napi/binding.js') as ZstdBinding);
