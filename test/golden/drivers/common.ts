/** Helpers shared by the capture drivers. */
import { spawn } from 'node:child_process';
import type { ScenarioMessage } from '../scenario.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command with stdin text and a hard timeout (SIGTERM, then SIGKILL). */
export function run(cmd: string, args: string[], options: { input?: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    }, options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]);
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: [string, string][];
}

/** Compares what a consumer got back with what was produced; returns problems (empty = fine). */
export function compareConsumed(expected: ScenarioMessage[], got: ConsumedMessage[], compareHeaders = true): string[] {
  const problems: string[] = [];
  if (got.length !== expected.length) problems.push(`consumed ${got.length} messages, expected ${expected.length}`);
  const n = Math.min(got.length, expected.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i]!;
    const g = got[i]!;
    if (g.key !== e.key) problems.push(`message ${i}: key ${JSON.stringify(g.key)} != ${JSON.stringify(e.key)}`);
    if (g.value !== e.value) problems.push(`message ${i}: value ${JSON.stringify(g.value)} != ${JSON.stringify(e.value)}`);
    if (compareHeaders && JSON.stringify(g.headers) !== JSON.stringify(e.headers)) {
      problems.push(`message ${i}: headers ${JSON.stringify(g.headers)} != ${JSON.stringify(e.headers)}`);
    }
  }
  return problems;
}
