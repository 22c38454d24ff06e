/**
 * Processes for the broker benchmark: Samsa, librdkafka's mock cluster (inside a kcat), a bare
 * Node TCP server; their CPU and memory from /proc; and cleanup of everything started here, even
 * when the benchmark fails or is interrupted.
 */
import { type ChildProcess, type SpawnOptions, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The samsa command as users run it (the bundle built by npm run build). */
export const CLI = join(ROOT, 'dist/samsa.mjs');

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------
// Cleanup

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/**
 * Signals the child's process group: children are spawned detached (a group of their own), so a
 * wrapper such as /usr/bin/time takes what it started along with it.
 */
export function signal(c: ChildProcess, sig: NodeJS.Signals): void {
  if (c.pid === undefined) return;
  try {
    process.kill(-c.pid, sig);
  } catch {
    try {
      c.kill(sig);
    } catch {
      // already gone
    }
  }
}

function killAllNow(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) signal(c, 'SIGKILL');
  }
  children.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

const onSignal = (signal: NodeJS.Signals) => {
  killAllNow();
  process.exit(signal === 'SIGINT' ? 130 : 143);
};

/** Installs exit/signal handlers that kill what was started; returns their removal. */
export function installCleanup(): () => Promise<void> {
  process.on('exit', killAllNow);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return async () => {
    await Promise.all([...children].map((c) => stopChild(c, 3000)));
    killAllNow();
    process.off('exit', killAllNow);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Kills the child with everything else at cleanup, unless it has exited by then. */
export function track<T extends ChildProcess>(c: T): T {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export function removeDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}

/** SIGTERM, then SIGKILL after timeoutMs; resolves with how it ended and how long that took. */
export function stopChild(c: ChildProcess, timeoutMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; killed: boolean }> {
  const t0 = performance.now();
  if (c.exitCode !== null || c.signalCode !== null) {
    children.delete(c);
    return Promise.resolve({ code: c.exitCode, signal: c.signalCode, ms: 0, killed: false });
  }
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      signal(c, 'SIGKILL');
    }, timeoutMs);
    c.once('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(c);
      resolve({ code, signal, ms: performance.now() - t0, killed });
    });
    signal(c, 'SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// Spawning

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** stdout and stderr, split into lines (stdout and stderr interleaved as they came). */
  lines: string[];
  spawnedAt: number;
  /** Resolves with the first line matching `re`; rejects on exit or timeout. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  stop(timeoutMs?: number): ReturnType<typeof stopChild>;
}

export function spawnTracked(name: string, cmd: string, args: string[], options: SpawnOptions = {}): Proc {
  const spawnedAt = performance.now();
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...options }));
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const feed = (stream: NodeJS.ReadableStream | null) => {
    if (!stream) return;
    let partial = '';
    stream.on('data', (d: Buffer) => {
      const parts = (partial + d.toString('utf8')).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const m = line.match(waiters[i].re);
          if (m) {
            waiters[i].resolve(m);
            waiters.splice(i, 1);
          }
        }
      }
    });
  };
  feed(child.stdout);
  feed(child.stderr);
  child.on('error', () => {});
  return {
    name, child, pid: child.pid ?? -1, lines, spawnedAt,
    waitForLine(re, timeoutMs) {
      for (const line of lines) {
        const m = line.match(re);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const onExit = (code: number | null) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before printing ${re}:\n${lines.slice(-20).join('\n')}`));
        };
        const timer = setTimeout(() => {
          child.off('exit', onExit);
          reject(new Error(`${name} did not print ${re} within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`));
        }, timeoutMs);
        child.once('exit', onExit);
        waiters.push({ re, resolve: (m) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(m);
        } });
      });
    },
    stop: (timeoutMs) => stopChild(child, timeoutMs),
  };
}

export interface Broker {
  label: string;
  proc: Proc;
  bootstrap: string;
  port: number;
}

export interface SamsaOptions {
  storage: 'disk' | 'memory';
  dataDir?: string;
  port?: number;
  extra?: string[];
}

export function samsaArgs(o: SamsaOptions): string[] {
  return [
    CLI, '--host', '127.0.0.1', '--port', String(o.port ?? 0), '--storage', o.storage,
    ...(o.storage === 'disk' ? ['--data-dir', o.dataDir!] : []),
    '--log-level', 'info', ...(o.extra ?? []),
  ];
}

export async function startSamsa(label: string, o: SamsaOptions): Promise<Broker> {
  const proc = spawnTracked(label, process.execPath, samsaArgs(o));
  const m = await proc.waitForLine(/"listening":"([^"]+):(\d+)"/, 15_000);
  const port = Number(m[2]);
  return { label, proc, bootstrap: `127.0.0.1:${port}`, port };
}

/** librdkafka's in-memory mock cluster, kept alive by an idle kcat consumer. */
export async function startMock(label: string): Promise<Broker> {
  const proc = spawnTracked(label, 'kcat', ['-C', '-q', '-t', 'mock-keepalive', '-X', 'test.mock.num.brokers=1', '-b', 'unused:1']);
  const m = await proc.waitForLine(/replaced with (127\.0\.0\.1):(\d+)/, 10_000);
  const port = Number(m[2]);
  return { label, proc, bootstrap: `127.0.0.1:${port}`, port };
}

/** The Node program of the smallest possible TCP server: accepts, reads and discards. */
export const BARE_SERVER_JS = `
const net = require('net');
const server = net.createServer((s) => { s.on('data', () => {}); s.on('end', () => s.end()); s.on('error', () => {}); });
server.listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening ' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

export async function startBareServer(label: string, port = 0): Promise<Broker> {
  const proc = spawnTracked(label, process.execPath, ['-e', BARE_SERVER_JS, String(port)]);
  const m = await proc.waitForLine(/^listening (\d+)/, 10_000);
  return { label, proc, bootstrap: `127.0.0.1:${m[1]}`, port: Number(m[1]) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Tries to connect every intervalMs until a connection is accepted; resolves with performance.now() at that moment. */
export function pollConnect(port: number, timeoutMs: number, intervalMs = 2): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        const t = performance.now();
        s.destroy();
        resolve(t);
      });
      s.once('error', () => {
        s.destroy();
        if (performance.now() > deadline) reject(new Error(`nothing accepted a connection on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, intervalMs);
      });
    };
    attempt();
  });
}

// ---------------------------------------------------------------------------------------------
// /proc

let clockTicks = 0;
function ticksPerSecond(): number {
  if (!clockTicks) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of every thread of the process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

/** CPU seconds the whole machine spent busy (user, nice, system, irq, softirq; not steal). */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6]) / ticksPerSecond();
}

/** CPU seconds of this process, of its children that have been reaped, and of the tracked children still running. */
export function treeCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / ticksPerSecond();
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        total += cpuSeconds(c.pid);
      } catch {
        // exiting
      }
    }
  }
  return total;
}

/** VmRSS and VmHWM in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const peaks = new Map<number, number>();

/** The highest VmHWM seen for the process across resets. */
export function overallPeak(pid: number): number {
  let hwm = peaks.get(pid) ?? 0;
  try {
    hwm = Math.max(hwm, memory(pid).hwm);
  } catch {
    // exited: the last value seen
  }
  peaks.set(pid, hwm);
  return hwm;
}

/** Resets the process's peak RSS (VmHWM) to its current RSS, so a phase's peak can be read. */
export function resetPeak(pid: number): boolean {
  overallPeak(pid);
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface Usage {
  cpu: number;
  peak: number;
}

/** CPU seconds and peak RSS of each process over a phase. */
export class Meter {
  private readonly start = new Map<number, number>();

  constructor(private readonly pids: number[]) {
    for (const pid of pids) {
      resetPeak(pid);
      this.start.set(pid, cpuSeconds(pid));
    }
  }

  read(): Map<number, Usage> {
    const out = new Map<number, Usage>();
    for (const pid of this.pids) out.set(pid, { cpu: cpuSeconds(pid) - this.start.get(pid)!, peak: memory(pid).hwm });
    return out;
  }
}
