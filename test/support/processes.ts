/** Running real programs from tests: the broker as a process, kcat, Python clients. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The samsa command as users run it: the bundle `npm run build` makes (the unbundled entry until it exists). */
export const CLI = existsSync(join(ROOT, 'dist/samsa.mjs')) ? join(ROOT, 'dist/samsa.mjs') : join(ROOT, 'dist/src/cli/main.js');
export const PYTHON = '/usr/bin/python3';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after timeoutMs) and collects its output. */
export function run(cmd: string, args: string[], options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

export function tempDir(prefix = 'samsa-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface BrokerProcess {
  port: number;
  bootstrap: string;
  child: ChildProcess;
  /** Everything the broker logged (JSON lines). */
  logs: string[];
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/** Starts `samsa` (or another build of it: `cli`) as a real process and waits for its "listening" log line. */
export function startBrokerProcess(args: string[], options: { timeoutMs?: number; cli?: string; nodeArgs?: string[]; maxOpenFiles?: number } = {}): Promise<BrokerProcess> {
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, ...(options.nodeArgs ?? []), options.cli ?? CLI, '--log-level', 'info', ...args];
    // A descriptor limit goes through the shell's ulimit (soft and hard: node raises its soft limit to the hard one), then exec: same pid.
    const child =
      options.maxOpenFiles === undefined
        ? spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('/bin/sh', ['-c', `ulimit -n ${options.maxOpenFiles} && exec "$@"`, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: string[] = [];
    let partial = '';
    let started = false;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker did not start:\n${logs.join('\n')}`));
    }, options.timeoutMs ?? 15_000);
    const onLine = (line: string) => {
      logs.push(line);
      if (started) return;
      try {
        const j = JSON.parse(line) as { listening?: string };
        if (j.listening) {
          started = true;
          clearTimeout(timer);
          const port = Number(j.listening.split(':').pop());
          resolve({
            port,
            bootstrap: `127.0.0.1:${port}`,
            child,
            logs,
            stop: () => {
              child.kill('SIGTERM');
              return exited;
            },
            kill: async () => {
              child.kill('SIGKILL');
              await exited;
            },
          });
        }
      } catch {
        // not JSON: keep it in the log
      }
    };
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const l of lines) onLine(l);
    });
    child.stderr!.on('data', (d: Buffer) => logs.push(d.toString('utf8')));
    child.on('exit', (code) => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`broker exited with ${code} before listening:\n${logs.join('\n')}`));
      }
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
