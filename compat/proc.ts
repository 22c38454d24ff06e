/** Running programs: drivers (one op per process), kcat, compilers. Every run has a hard time limit. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { OpRequest, OpResult } from './ops.js';

/** The repository root (dist/compat/proc.js → ../../). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where the harness's compiled JS lives (dist/compat). */
export const DIST = fileURLToPath(new URL('./', import.meta.url));
/** Source files that tsc does not compile (Python, Go) stay in compat/. */
export const SRC = join(ROOT, 'compat');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const live = new Set<ChildProcess>();

/** Kills every child still running (on exit or interrupt). */
export function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with each stderr chunk as it arrives. */
  onStderr?: (s: string) => void;
  onStdout?: (s: string) => void;
}

export function run(cmd: string, args: string[], o: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...o.env }, cwd: o.cwd });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      o.onStdout?.(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
      o.onStderr?.(d);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 1500).unref();
    }, o.timeoutMs);
    child.on('error', (e) => {
      stderr += String(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}

/** Starts a long-running program; the caller stops it. */
export function start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  live.add(child);
  child.on('close', () => live.delete(child));
  return child;
}

/** Runs a driver program on one op: the request goes to stdin, the answer is the last JSON line. */
export async function runDriver(cmd: string, args: string[], req: OpRequest, timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<OpResult> {
  const r = await run(cmd, args, { input: JSON.stringify(req), timeoutMs, env });
  const lines = r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  const last = lines[lines.length - 1];
  if (last) {
    try {
      return JSON.parse(last) as OpResult;
    } catch {
      // fall through
    }
  }
  const why = r.timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${r.code ?? r.signal}`;
  const tail = r.stderr.trim().split('\n').slice(-6).join(' | ').slice(-700);
  return { ok: false, error: { name: r.timedOut ? 'DriverTimeout' : 'DriverCrash', message: `${req.op.op}: driver ${why}${tail ? `: ${tail}` : ''}` } };
}
