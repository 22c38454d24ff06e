/**
 * A long-running Python client driven from a test: it prints one JSON event per line on stdout
 * ({"ev": ...}) and reads one JSON command per line on stdin. Used by the group and transaction
 * interop tests.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { PYTHON, ROOT } from '../../support/processes.js';

export const SUPPORT_PY = join(ROOT, 'test/groups/support-py');

export interface PyEvent {
  ev: string;
  [k: string]: unknown;
}

export class PyProcess {
  readonly events: PyEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = '';
  private partial = '';
  private readonly child: ChildProcessWithoutNullStreams;

  /** Starts `python3 <dir>/<script> <json args>` (dir: this directory unless given). */
  constructor(readonly name: string, script: string, args: unknown, dir = SUPPORT_PY) {
    this.child = spawn(PYTHON, ['-u', join(dir, script), JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => {
      const lines = (this.partial + d.toString('utf8')).split('\n');
      this.partial = lines.pop()!;
      for (const l of lines) {
        if (!l.trim()) continue;
        try {
          this.events.push(JSON.parse(l) as PyEvent);
        } catch {
          this.stderr += `[stdout, not JSON] ${l}\n`;
        }
      }
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
  }

  of(ev: string): PyEvent[] {
    return this.events.filter((e) => e.ev === ev);
  }

  last(ev: string): PyEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i].ev === ev) return this.events[i];
    return undefined;
  }

  send(cmd: Record<string, unknown>): void {
    this.child.stdin.write(JSON.stringify(cmd) + '\n');
  }

  /** Asks the client to close (commit/leave as the script does) and waits for it to exit. */
  async close(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.send({ cmd: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  diagnostics(): string {
    return `--- ${this.name}: last events ---\n${this.events.slice(-15).map((e) => JSON.stringify(e)).join('\n')}\n--- ${this.name}: stderr ---\n${this.stderr.slice(-3000)}`;
  }
}

/** Waits until `cond()` holds (checked every 25 ms); on timeout fails with the clients' diagnostics. */
export async function waitUntil(what: string, cond: () => boolean, timeoutMs: number, clients: PyProcess[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${clients.map((c) => c.diagnostics()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
