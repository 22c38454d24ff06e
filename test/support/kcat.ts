/** kcat as a test client: produce lines, read partitions back as (partition, offset, value). */
import assert from 'node:assert/strict';
import { run } from './processes.js';

export interface Consumed {
  partition: number;
  offset: number;
  value: string;
}

/** Reads every partition of a topic from the beginning to the current end. */
export async function kcatReadAll(bootstrap: string, topic: string, timeoutMs = 120_000): Promise<Consumed[]> {
  // check.crcs: librdkafka verifies every batch it is given (off by default).
  const r = await run('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\\n', '-X', 'fetch.wait.max.ms=10', '-X', 'check.crcs=true'], { timeoutMs });
  assert.equal(r.code, 0, r.stderr);
  const out: Consumed[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(' ');
    const b = line.indexOf(' ', a + 1);
    out.push({ partition: Number(line.slice(0, a)), offset: Number(line.slice(a + 1, b)), value: line.slice(b + 1) });
  }
  return out;
}

/** Produces lines (one message each); extra kcat -X options may be given. */
export async function kcatProduce(bootstrap: string, topic: string, lines: string[] | string, extra: string[] = []): Promise<void> {
  const input = typeof lines === 'string' ? lines : lines.join('\n') + '\n';
  const r = await run('kcat', ['-P', '-b', bootstrap, '-t', topic, ...extra], { input, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
}

/** Groups consumed messages by partition, each in offset order as read. */
export function byPartition(msgs: Consumed[]): Map<number, Consumed[]> {
  const m = new Map<number, Consumed[]>();
  for (const c of msgs) {
    if (!m.has(c.partition)) m.set(c.partition, []);
    m.get(c.partition)!.push(c);
  }
  return m;
}
