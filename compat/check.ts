/** Assertions that fail with a short reason fit for one line of output. */
import { isDeepStrictEqual } from 'node:util';
import type { ClientError } from './ops.js';

export class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}

export function fail(reason: string): never {
  throw new CheckFailed(reason);
}

export function ensure(cond: unknown, reason: string): asserts cond {
  if (!cond) fail(reason);
}

export function show(x: unknown, max = 160): string {
  const s = typeof x === 'string' ? JSON.stringify(x.length > max ? x.slice(0, max) + '…' : x) : JSON.stringify(x);
  return s === undefined ? String(x) : s.length > max ? s.slice(0, max) + '…' : s;
}

export function eq(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) fail(`${what}: got ${show(actual)}, expected ${show(expected)}`);
}

/** A client operation that failed where it should have worked. */
export class OpFailed extends Error {
  override readonly name = 'OpFailed';
  constructor(
    readonly op: string,
    readonly error: ClientError,
  ) {
    super(`${op} failed: ${error.name}${error.code !== undefined ? ` (code ${error.code})` : ''}: ${error.message}`);
  }
}
