/**
 * Compares the CRC-32C implementations of protocol/records/crc32c.ts: pure JS, native
 * (@node-rs/crc32) and the exported `crc32c`, which dispatches on length.
 * Each measurement runs in its own process so that V8 sees a single callee at the timing
 * call site; measuring several in one process skews whichever runs later.
 * Part of `npm run bench` (section crc32c).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { crc32c, crc32cJs, crc32cNative } from '../../protocol/records/crc32c.js';

const impls = { js: crc32cJs, native: crc32cNative, crc32c } as const;
type ImplName = keyof typeof impls;

const sizes: [string, number][] = [
  ['100 B', 100],
  ['16 KiB', 16 * 1024],
  ['1 MiB', 1024 * 1024],
];

/** Calls per second over at least `minMs`, after a warm-up long enough for the JIT. */
function opsPerSecond(fn: (b: Buffer) => number, buf: Buffer, minMs = 500): number {
  let sink = 0;
  for (let i = 0; i < 2000; i++) sink ^= fn(buf);
  let iterations = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(minMs) * 1_000_000n) {
    for (let i = 0; i < batch; i++) sink ^= fn(buf);
    iterations += batch;
    batch = Math.min(batch * 2, 1 << 16);
    elapsed = process.hrtime.bigint() - start;
  }
  if (sink === 0.5) console.log('unreachable');
  return iterations / (Number(elapsed) / 1e9);
}

/** The table: calls and MB/s per implementation and size, with native ÷ JS. */
export function crc32cBench(): string[] {
  const self = fileURLToPath(import.meta.url);
  const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  const out = ['## CRC-32C', '', '(each measurement in its own process; `crc32c` is what the broker calls: JS below 256 B, native above)', '',
    '| size | implementation | calls/s | MB/s | ÷ JS |', '| --- | --- | --- | --- | --- |'];
  for (const [label, size] of sizes) {
    const check = randomBytes(size);
    if (crc32cJs(check) !== crc32cNative(check)) throw new Error('implementations disagree');
    const ops = {} as Record<ImplName, number>;
    for (const name of Object.keys(impls) as ImplName[]) {
      ops[name] = Number(execFileSync(process.execPath, [self, '--child', name, String(size)]).toString());
      out.push(`| ${label} | ${name} | ${fmt(ops[name])} | ${fmt((ops[name] * size) / 1e6)} | ${(ops[name] / ops.js).toFixed(2)}× |`);
    }
  }
  out.push('');
  return out;
}

if (process.argv[2] === '--child') {
  const name = process.argv[3] as ImplName;
  const size = Number(process.argv[4]);
  console.log(opsPerSecond(impls[name], randomBytes(size)));
}
