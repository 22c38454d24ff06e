import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../../../protocol/records/index.js';
import { throwsRecordsError } from './helpers.js';

const encodeVarint = (n: number): Buffer => {
  const buf = Buffer.alloc(5);
  return buf.subarray(0, writeVarint(buf, 0, n));
};
const encodeVarlong = (n: bigint): Buffer => {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarlong(buf, 0, n));
};
const reader = (hex: string): RecordReader => {
  const b = Buffer.from(hex, 'hex');
  return new RecordReader(b, 0, b.length);
};

describe('zigzag varint', () => {
  it('encodes the examples of RECORDS.md §1.3', () => {
    assert.equal(encodeVarint(0).toString('hex'), '00');
    assert.equal(encodeVarint(-1).toString('hex'), '01');
    assert.equal(encodeVarint(1).toString('hex'), '02');
    assert.equal(encodeVarint(63).toString('hex'), '7e');
    assert.equal(encodeVarint(64).toString('hex'), '8001');
    assert.equal(encodeVarint(-65).toString('hex'), '8101');
  });

  it('round-trips the int32 range edges with the right sizes', () => {
    const cases: [number, number][] = [[0, 1], [-64, 1], [63, 1], [-65, 2], [8191, 2], [8192, 3], [2 ** 31 - 1, 5], [-(2 ** 31), 5]];
    for (const [n, size] of cases) {
      const enc = encodeVarint(n);
      assert.equal(enc.length, size, `size of ${n}`);
      assert.equal(sizeOfVarint(n), size);
      const r = new RecordReader(enc, 0, enc.length);
      assert.equal(r.varint(), n);
      assert.equal(r.pos, size);
    }
    assert.equal(encodeVarint(2 ** 31 - 1).toString('hex'), 'feffffff0f');
    assert.equal(encodeVarint(-(2 ** 31)).toString('hex'), 'ffffffff0f');
  });

  it('round-trips varlongs including the int64 edges and the slow path', () => {
    const cases: bigint[] = [0n, -1n, 1n, 1700000000000n, -1700000000000n, (1n << 48n) - 1n, 1n << 48n, -(1n << 52n), 1n << 60n, (1n << 63n) - 1n, -(1n << 63n)];
    for (const n of cases) {
      const enc = encodeVarlong(n);
      assert.equal(enc.length, sizeOfVarlong(n), `size of ${n}`);
      const r = new RecordReader(enc, 0, enc.length);
      assert.equal(r.varlong(), n);
      assert.equal(r.pos, enc.length);
    }
    assert.equal(encodeVarlong((1n << 63n) - 1n).toString('hex'), 'feffffffffffffffff01');
    assert.equal(encodeVarlong(-(1n << 63n)).toString('hex'), 'ffffffffffffffffff01');
  });

  it('rejects a varint of more than 5 bytes and a varlong of more than 10', () => {
    throwsRecordsError(() => reader('808080808001').varint(), 'INVALID_RECORD', 'OVERLONG_VARINT');
    throwsRecordsError(() => reader('8080808080808080808001').varlong(), 'INVALID_RECORD', 'OVERLONG_VARINT');
    // An endless run of continuation bytes stops after the maximum length, not at the end.
    const endless = Buffer.alloc(1 << 20, 0xff);
    throwsRecordsError(() => new RecordReader(endless, 0, endless.length).varint(), 'INVALID_RECORD', 'OVERLONG_VARINT');
    throwsRecordsError(() => new RecordReader(endless, 0, endless.length).varlong(), 'INVALID_RECORD', 'OVERLONG_VARINT');
  });

  it('rejects a varint cut off by the end of its region', () => {
    throwsRecordsError(() => reader('8080').varint(), 'INVALID_RECORD', 'TRUNCATED');
    throwsRecordsError(() => reader('ffffffffffff').varlong(), 'INVALID_RECORD', 'TRUNCATED');
    // The region end is honoured even if the buffer goes on.
    const b = Buffer.from('808001', 'hex');
    throwsRecordsError(() => new RecordReader(b, 0, 2).varint(), 'INVALID_RECORD', 'TRUNCATED');
  });
});
