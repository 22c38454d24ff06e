import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CRC32C_NATIVE_THRESHOLD, crc32c, crc32cJs, crc32cNative } from '../../../protocol/records/index.js';
import { requireCjs } from './helpers.js';

// Check values from RFC 3720 (iSCSI) appendix B.4 and the common "123456789" check.
const vectors: [string, Buffer, number][] = [
  ['123456789', Buffer.from('123456789'), 0xe3069283],
  ['empty', Buffer.alloc(0), 0x00000000],
  ['32 zero bytes', Buffer.alloc(32, 0x00), 0x8a9136aa],
  ['32 0xff bytes', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['32 ascending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['32 descending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
];

describe('crc32c', () => {
  for (const [name, input, expected] of vectors) {
    it(`matches the known value for ${name}`, () => {
      assert.equal(crc32cJs(input), expected);
      assert.equal(crc32cNative(input), expected);
      assert.equal(crc32c(input), expected);
    });
  }

  it('JS and native agree on random data of every length up to 300 and on large buffers', () => {
    for (let len = 0; len <= 300; len++) {
      const buf = randomBytes(len);
      assert.equal(crc32cJs(buf), crc32cNative(buf), `length ${len}`);
    }
    for (const len of [4095, 16 * 1024, 1024 * 1024 + 3]) {
      const buf = randomBytes(len);
      assert.equal(crc32cJs(buf), crc32cNative(buf), `length ${len}`);
    }
  });

  it('agrees with kafkajs, an independent implementation', () => {
    const kafkajsCrc32C = requireCjs('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
    for (const len of [1, 61, 1000, 70000]) {
      const buf = randomBytes(len);
      assert.equal(crc32c(buf), kafkajsCrc32C(buf));
    }
  });

  it('continues a CRC over split input in both implementations', () => {
    const buf = randomBytes(1000);
    const whole = crc32c(buf);
    assert.equal(crc32cJs(buf.subarray(300), crc32cJs(buf.subarray(0, 300))), whole);
    assert.equal(crc32cNative(buf.subarray(300), crc32cNative(buf.subarray(0, 300))), whole);
  });

  it('returns unsigned values on both sides of the dispatch threshold', () => {
    for (const len of [CRC32C_NATIVE_THRESHOLD - 1, CRC32C_NATIVE_THRESHOLD]) {
      for (let i = 0; i < 50; i++) {
        const v = crc32c(randomBytes(len));
        assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
      }
    }
  });
});
