import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import snappy from 'snappy';
import zstd from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import {
  CODEC_NAMES,
  CompressionCodec,
  compress,
  compressAsync,
  decompress,
  decompressAsync,
  isXerialFramed,
} from '../../../protocol/records/index.js';
import { lz4DecompressJs } from '../../../protocol/records/lz4.js';
import { xxh32 } from '../../../protocol/records/xxhash32.js';
import { hasCli, rejectsRecordsError, runCli, throwsRecordsError } from './helpers.js';

const codecs = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd];

/** Compressible but not trivial: repeated words with random bytes sprinkled in. */
function corpus(size: number): Buffer {
  const words = Buffer.from('kafka record batch offset timestamp producer epoch sequence header ');
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = i % 97 === 0 ? Math.floor(Math.random() * 256) : words[i % words.length]!;
  return out;
}

describe('codec round trips', () => {
  for (const codec of codecs) {
    it(`${CODEC_NAMES[codec]}: sync and async, empty to 300 KB`, async () => {
      for (const data of [Buffer.alloc(0), Buffer.from('x'), corpus(1000), corpus(300_000), randomBytes(50_000)]) {
        const z = compress(codec, data);
        assert.deepEqual(decompress(codec, z), data);
        assert.deepEqual(await decompressAsync(codec, z), data);
        assert.deepEqual(decompress(codec, await compressAsync(codec, data)), data);
      }
    });
  }

  it('honours a level for gzip and zstd', () => {
    const data = corpus(200_000);
    // gzip's XFL header byte records the extremes: 2 = maximum compression, 4 = fastest.
    assert.equal(compress(CompressionCodec.Gzip, data, 9)[8], 2);
    assert.equal(compress(CompressionCodec.Gzip, data, 1)[8], 4);
    const z1 = compress(CompressionCodec.Zstd, data, 1);
    const z19 = compress(CompressionCodec.Zstd, data, { level: 19 });
    assert.notDeepEqual(z1, z19);
    assert.deepEqual(decompress(CompressionCodec.Zstd, z19), data);
  });

  it('rejects unknown codecs 5-7 with UNSUPPORTED_COMPRESSION_TYPE', () => {
    for (const codec of [5, 6, 7]) {
      throwsRecordsError(() => decompress(codec, Buffer.from('x')), 'UNSUPPORTED_COMPRESSION_TYPE', 'UNKNOWN_CODEC');
      throwsRecordsError(() => compress(codec, Buffer.from('x')), 'UNSUPPORTED_COMPRESSION_TYPE', 'UNKNOWN_CODEC');
    }
  });

  it('reports garbage input as CORRUPT_MESSAGE for every codec', async () => {
    const garbage = Buffer.from('this is not compressed data at all, not even a little');
    for (const codec of codecs.slice(1)) {
      throwsRecordsError(() => decompress(codec, garbage), 'CORRUPT_MESSAGE', 'DECOMPRESSION_FAILED');
      await rejectsRecordsError(decompressAsync(codec, garbage), 'CORRUPT_MESSAGE', 'DECOMPRESSION_FAILED');
    }
  });

  it('reports truncated compressed data as CORRUPT_MESSAGE for every codec', () => {
    const data = corpus(100_000);
    for (const codec of codecs.slice(1)) {
      const z = compress(codec, data);
      throwsRecordsError(() => decompress(codec, z.subarray(0, Math.floor(z.length / 2))), 'CORRUPT_MESSAGE', 'DECOMPRESSION_FAILED');
    }
  });
});

describe('snappy framing', () => {
  const data = corpus(100_000);

  it('writes raw snappy by default, readable by the snappy library directly', () => {
    const z = compress(CompressionCodec.Snappy, data);
    assert.equal(isXerialFramed(z), false);
    assert.deepEqual(snappy.uncompressSync(z), data);
  });

  it('reads xerial framing built by hand from the spec (magic, version, compat, int32-length blocks)', () => {
    const blocks = [data.subarray(0, 32_768), data.subarray(32_768, 65_536), data.subarray(65_536)].map((b) => snappy.compressSync(b));
    const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
    for (const block of blocks) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(block.length);
      parts.push(len, block);
    }
    const xerial = Buffer.concat(parts);
    assert.ok(isXerialFramed(xerial));
    assert.deepEqual(decompress(CompressionCodec.Snappy, xerial), data);
  });

  it('writes xerial framing when asked, with 32 KiB blocks', async () => {
    const z = compress(CompressionCodec.Snappy, data, { snappyFraming: 'xerial' });
    assert.equal(z.subarray(0, 8).toString('hex'), '82534e4150505900');
    assert.equal(z.readInt32BE(8), 1);
    assert.equal(z.readInt32BE(12), 1);
    const firstBlock = z.subarray(20, 20 + z.readInt32BE(16));
    assert.equal(snappy.uncompressSync(firstBlock).length, 32_768);
    assert.deepEqual(decompress(CompressionCodec.Snappy, z), data);
    assert.deepEqual(await decompressAsync(CompressionCodec.Snappy, await compressAsync(CompressionCodec.Snappy, data, { snappyFraming: 'xerial' })), data);
  });

  it('rejects a xerial block length that overruns the input', () => {
    const z = Buffer.from(compress(CompressionCodec.Snappy, data, { snappyFraming: 'xerial' }));
    z.writeInt32BE(0x7fffffff, 16);
    throwsRecordsError(() => decompress(CompressionCodec.Snappy, z), 'CORRUPT_MESSAGE', 'DECOMPRESSION_FAILED');
  });
});

describe('lz4 frames', () => {
  const data = corpus(200_000);

  it('xxh32 matches the reference values', () => {
    assert.equal(xxh32(Buffer.alloc(0)), 0x02cc5d05);
    assert.equal(xxh32(Buffer.from('abc')), 0x32d153ff);
    assert.equal(xxh32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
  });

  it('writes a standard frame: magic 04224d18, independent blocks, correct header checksum', () => {
    const z = compress(CompressionCodec.Lz4, data);
    assert.equal(z.subarray(0, 4).toString('hex'), '04224d18');
    assert.equal(z[4]! & 0xc0, 0x40, 'version 01');
    assert.equal(z[4]! & 0x20, 0x20, 'block independence');
    assert.ok([0x40, 0x50, 0x60, 0x70].includes(z[5]!), 'a valid block maximum id and no reserved bits');
    assert.equal(z[6], (xxh32(z.subarray(4, 6)) >>> 8) & 0xff);
  });

  it('magic-0 quirk: writes the checksum over magic+descriptor and accepts it only in legacy mode', () => {
    const broken = compress(CompressionCodec.Lz4, data, { lz4LegacyChecksum: true });
    assert.equal(broken[6], (xxh32(broken.subarray(0, 6)) >>> 8) & 0xff);
    assert.notEqual(broken[6], (xxh32(broken.subarray(4, 6)) >>> 8) & 0xff);
    assert.deepEqual(decompress(CompressionCodec.Lz4, broken, { lz4LegacyChecksum: true }), data);
    throwsRecordsError(() => decompress(CompressionCodec.Lz4, broken), 'CORRUPT_MESSAGE', 'DECOMPRESSION_FAILED');
    // Legacy mode still accepts a correct checksum (some old clients wrote one).
    assert.deepEqual(decompress(CompressionCodec.Lz4, compress(CompressionCodec.Lz4, data), { lz4LegacyChecksum: true }), data);
  });

  it('magic-0 checksum on an independent frame: a hand-made frame with one uncompressed block', async () => {
    const payload = Buffer.from('hello, legacy lz4');
    const frame = Buffer.alloc(7 + 4 + payload.length + 4);
    frame.writeUInt32LE(0x184d2204, 0);
    frame[4] = 0x60;
    frame[5] = 0x40;
    frame[6] = (xxh32(frame.subarray(0, 6)) >>> 8) & 0xff; // Kafka's magic-0 variant
    frame.writeUInt32LE((0x80000000 | payload.length) >>> 0, 7);
    payload.copy(frame, 11);
    frame.writeUInt32LE(0, 11 + payload.length);
    assert.deepEqual(decompress(CompressionCodec.Lz4, frame, { lz4LegacyChecksum: true }), payload);
    assert.deepEqual(await decompressAsync(CompressionCodec.Lz4, frame, { lz4LegacyChecksum: true }), payload);
  });

  it('decodes concatenated frames (lz4-napi alone stops after the first)', () => {
    const a = corpus(70_000);
    const b = randomBytes(10_000);
    const both = Buffer.concat([compress(CompressionCodec.Lz4, a), compress(CompressionCodec.Lz4, b)]);
    assert.deepEqual(decompress(CompressionCodec.Lz4, both), Buffer.concat([a, b]));
  });

  it('the exact-limit JS decoder agrees with the native one', () => {
    for (const input of [corpus(300_000), randomBytes(100_000), Buffer.alloc(200_000, 7), Buffer.alloc(0)]) {
      const z = compress(CompressionCodec.Lz4, input);
      assert.deepEqual(lz4DecompressJs(z, 1 << 30, false), input);
    }
    // 70 KB in 64 KiB blocks: worst case 128 KiB > 100 KB limit, so the JS path runs and succeeds.
    const mid = corpus(70_000);
    assert.deepEqual(decompress(CompressionCodec.Lz4, compress(CompressionCodec.Lz4, mid), { maxBytes: 100_000 }), mid);
  });
});

describe('zstd frames', () => {
  it('decodes frames without a content size (as Java and librdkafka may write)', () => {
    const data = corpus(500_000);
    const z = zstd.compress(data, { contentSizeFlag: false });
    assert.equal(zstdBinding.getFrameContentSize(z), null);
    assert.deepEqual(decompress(CompressionCodec.Zstd, z), data);
  });

  it('decodes concatenated frames', () => {
    const a = corpus(1000);
    const b = corpus(2000);
    const z = Buffer.concat([zstd.compress(a), zstd.compress(b, { contentSizeFlag: false })]);
    assert.deepEqual(decompress(CompressionCodec.Zstd, z), Buffer.concat([a, b]));
  });
});

describe('decompression bombs are bounded', () => {
  const zeros = Buffer.alloc(16 * 1024 * 1024);
  const max = 1024 * 1024;

  for (const codec of codecs.slice(1)) {
    it(`${CODEC_NAMES[codec]}: 16 MiB of zeros with a 1 MiB limit → MESSAGE_TOO_LARGE`, async () => {
      const bomb = compress(codec, zeros);
      assert.ok(bomb.length < 1024 * 1024, `bomb is ${bomb.length} bytes`);
      throwsRecordsError(() => decompress(codec, bomb, { maxBytes: max }), 'MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT');
      await rejectsRecordsError(decompressAsync(codec, bomb, { maxBytes: max }), 'MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT');
      // Exactly at the limit is fine.
      assert.equal(decompress(codec, compress(codec, zeros.subarray(0, max)), { maxBytes: max }).length, max);
    });
  }

  it('zstd without a content size is stopped by streaming, not by the header', () => {
    const bomb = zstd.compress(zeros, { contentSizeFlag: false });
    throwsRecordsError(() => decompress(CompressionCodec.Zstd, bomb, { maxBytes: max }), 'MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT');
  });

  it('a header that claims a huge size is refused before allocating', () => {
    // Raw snappy declaring 4 GiB - 1 of output in a 6-byte input.
    throwsRecordsError(() => decompress(CompressionCodec.Snappy, Buffer.from('ffffffff0f00', 'hex'), { maxBytes: max }), 'MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT');
    // zstd frame header with a content size of 2^40.
    const z = Buffer.from(zstd.compress(Buffer.from('x')));
    const fake = Buffer.alloc(14);
    fake.writeUInt32LE(0xfd2fb528, 0);
    fake[4] = 0xe0; // 8-byte content size, single segment
    fake.writeBigUInt64LE(1n << 40n, 5);
    throwsRecordsError(() => decompress(CompressionCodec.Zstd, fake, { maxBytes: max }), 'MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT');
    assert.ok(z.length > 0);
  });

  it('uncompressed data is held to the limit too', () => {
    throwsRecordsError(() => decompress(CompressionCodec.None, Buffer.alloc(10), { maxBytes: 9 }), 'MESSAGE_TOO_LARGE', 'DECOMPRESSION_LIMIT');
  });
});

describe('interop with independent compressors (CLI)', () => {
  const data = corpus(300_000);

  it('gzip: gzip -c output decodes, and gzip -dc reads ours', (t) => {
    if (!hasCli('gzip')) return t.skip('gzip CLI not installed');
    const theirs = runCli('gzip', ['-c', '-6'], data);
    assert.equal(theirs.status, 0, theirs.stderr);
    assert.deepEqual(decompress(CompressionCodec.Gzip, theirs.stdout), data);
    const ours = runCli('gzip', ['-dc'], compress(CompressionCodec.Gzip, data));
    assert.equal(ours.status, 0, ours.stderr);
    assert.deepEqual(ours.stdout, data);
    // Node's own gunzip agrees on concatenated members too.
    const twoMembers = Buffer.concat([theirs.stdout, zlib.gzipSync(Buffer.from('tail'))]);
    assert.deepEqual(decompress(CompressionCodec.Gzip, twoMembers), Buffer.concat([data, Buffer.from('tail')]));
  });

  it('zstd: CLI output from a pipe (no content size) decodes, and zstd -d reads ours', (t) => {
    if (!hasCli('zstd')) return t.skip('zstd CLI not installed');
    const theirs = runCli('zstd', ['-c', '-q', '-3'], data);
    assert.equal(theirs.status, 0, theirs.stderr);
    assert.equal(zstdBinding.getFrameContentSize(theirs.stdout), null, 'piped input has no content size');
    assert.deepEqual(decompress(CompressionCodec.Zstd, theirs.stdout), data);
    const ours = runCli('zstd', ['-dc', '-q'], compress(CompressionCodec.Zstd, data));
    assert.equal(ours.status, 0, ours.stderr);
    assert.deepEqual(ours.stdout, data);
  });

  it('lz4: CLI frames (independent, linked, checksums, content size) decode on both paths', (t) => {
    if (!hasCli('lz4', '-V')) return t.skip('lz4 CLI not installed');
    const variants: string[][] = [['-BI'], ['-BD'], ['-BX', '--content-size'], ['-B4', '-BD', '--no-frame-crc']];
    for (const flags of variants) {
      const theirs = runCli('lz4', ['-c', '-q', ...flags], data);
      assert.equal(theirs.status, 0, theirs.stderr);
      assert.deepEqual(decompress(CompressionCodec.Lz4, theirs.stdout), data, `native path, ${flags.join(' ')}`);
      assert.deepEqual(lz4DecompressJs(theirs.stdout, 1 << 30, false), data, `JS path, ${flags.join(' ')}`);
    }
    const ours = runCli('lz4', ['-dc', '-q'], compress(CompressionCodec.Lz4, data));
    assert.equal(ours.status, 0, ours.stderr);
    assert.deepEqual(ours.stdout, data);
    // The reference tool refuses Kafka's magic-0 header checksum: proof that it is the broken one.
    const broken = runCli('lz4', ['-dc', '-q'], compress(CompressionCodec.Lz4, data, { lz4LegacyChecksum: true }));
    assert.notEqual(broken.status, 0);
  });
});
