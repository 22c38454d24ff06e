/** Minimal benchmark helpers: run a function for a while, report rate; everything in one process and run. */
export interface Measurement {
  name: string;
  ops: number;
  seconds: number;
  opsPerSec: number;
  bytesPerSec?: number;
}

export function measure(name: string, fn: () => unknown, opts: { seconds?: number; bytesPerOp?: number } = {}): Measurement {
  const budget = (opts.seconds ?? 1) * 1e9;
  for (let i = 0; i < 50; i++) fn(); // warm up the JIT
  let ops = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < budget) {
    for (let i = 0; i < 20; i++) fn();
    ops += 20;
    elapsed = Number(process.hrtime.bigint() - t0);
  }
  const seconds = elapsed / 1e9;
  const m: Measurement = { name, ops, seconds, opsPerSec: ops / seconds };
  if (opts.bytesPerOp) m.bytesPerSec = (ops * opts.bytesPerOp) / seconds;
  return m;
}

export function fmtRate(m: Measurement): string {
  const mb = m.bytesPerSec ? `, ${(m.bytesPerSec / 1e6).toFixed(0)} MB/s` : '';
  return `${m.opsPerSec.toFixed(0)} ops/s${mb}`;
}

export function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}
