/** Shared test helpers: typed-error assertions, external CLIs, kafkajs internals. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { RecordsError, type RecordErrorCode, type RecordErrorReason } from '../../../protocol/records/index.js';

export function assertRecordsError(e: unknown, code: RecordErrorCode, reason?: RecordErrorReason): void {
  assert.ok(e instanceof RecordsError, `expected RecordsError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (reason !== undefined) assert.equal(e.reason, reason, e.message);
}

export function throwsRecordsError(fn: () => unknown, code: RecordErrorCode, reason?: RecordErrorReason): void {
  let thrown: unknown = undefined;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, 'expected a RecordsError, nothing was thrown');
  assertRecordsError(thrown, code, reason);
}

export async function rejectsRecordsError(p: Promise<unknown>, code: RecordErrorCode, reason?: RecordErrorReason): Promise<void> {
  let thrown: unknown = undefined;
  try {
    await p;
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, 'expected a RecordsError, nothing was thrown');
  assertRecordsError(thrown, code, reason);
}

/** Whether `cmd` can be run; used to skip CLI interop tests with a reason. */
export function hasCli(cmd: string, versionArg = '--version'): boolean {
  const r = spawnSync(cmd, [versionArg], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** Runs a CLI filter over `input` and returns its stdout. */
export function runCli(cmd: string, args: string[], input: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(cmd, args, { input, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** kafkajs ships untyped CommonJS internals; they are an independent protocol implementation. */
export const requireCjs = createRequire(import.meta.url);
