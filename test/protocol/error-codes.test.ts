import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ALL_ERRORS,
  ErrorCode,
  type ErrorCodeName,
  errorInfo,
  errorName,
  isRetriable,
} from '../../protocol/error-codes.js';

const WELL_KNOWN: ReadonlyArray<[ErrorCodeName, number, boolean]> = [
  ['UNKNOWN_SERVER_ERROR', -1, false],
  ['NONE', 0, false],
  ['OFFSET_OUT_OF_RANGE', 1, false],
  ['CORRUPT_MESSAGE', 2, true],
  ['UNKNOWN_TOPIC_OR_PARTITION', 3, true],
  ['LEADER_NOT_AVAILABLE', 5, true],
  ['NOT_LEADER_OR_FOLLOWER', 6, true],
  ['REQUEST_TIMED_OUT', 7, true],
  ['MESSAGE_TOO_LARGE', 10, false],
  ['COORDINATOR_LOAD_IN_PROGRESS', 14, true],
  ['COORDINATOR_NOT_AVAILABLE', 15, true],
  ['NOT_COORDINATOR', 16, true],
  ['ILLEGAL_GENERATION', 22, false],
  ['UNKNOWN_MEMBER_ID', 25, false],
  ['REBALANCE_IN_PROGRESS', 27, false],
  ['TOPIC_AUTHORIZATION_FAILED', 29, false],
  ['UNSUPPORTED_VERSION', 35, false],
  ['TOPIC_ALREADY_EXISTS', 36, false],
  ['INVALID_REQUEST', 42, false],
  ['PRODUCER_FENCED', 90, false],
  ['UNKNOWN_TOPIC_ID', 100, true],
  ['VOTER_NOT_FOUND', 127, false],
];

test('well-known codes have the right number, name and retriable flag', () => {
  for (const [name, code, retriable] of WELL_KNOWN) {
    assert.equal(ErrorCode[name], code, name);
    assert.equal(errorName(code), name);
    const info = errorInfo(code);
    assert.ok(info, `errorInfo(${code})`);
    assert.equal(info.code, code);
    assert.equal(info.name, name);
    assert.equal(info.retriable, retriable, `${name} retriable`);
    assert.equal(isRetriable(code), retriable);
    assert.equal(typeof info.message, 'string');
    assert.ok(info.message.length > 0);
  }
});

test('codes and names are unique and every code has info', () => {
  const names = Object.keys(ErrorCode) as ErrorCodeName[];
  const codes = names.map((n) => ErrorCode[n]);
  assert.equal(new Set(codes).size, codes.length, 'duplicate code');
  assert.equal(ALL_ERRORS.length, names.length);
  for (const n of names) {
    assert.ok(Number.isInteger(ErrorCode[n]));
    assert.equal(errorInfo(ErrorCode[n])?.name, n);
  }
});

test('table is contiguous from -1 to 128', () => {
  const codes = ALL_ERRORS.map((e) => e.code);
  assert.equal(codes.length, 130);
  codes.forEach((c, i) => assert.equal(c, i - 1));
});

test('unknown codes fall back', () => {
  for (const code of [123456, -2, 32767, 1.5]) {
    assert.equal(errorInfo(code), undefined);
    assert.equal(errorName(code), `UNKNOWN(${code})`);
    assert.equal(isRetriable(code), false);
  }
  assert.equal(errorName(999), 'UNKNOWN(999)');
});
