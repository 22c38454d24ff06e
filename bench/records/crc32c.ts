/**
 * Compares the CRC-32C implementations of protocol/records/crc32c.ts: pure JS, native
 * (@node-rs/crc32) and the exported `crc32c`, which dispatches on length.
 * Each measurement runs in its own process so that V8 sees a single callee at the timing
 * call site; measuring several in one process skews whichever runs later.
 * Run: npx tsc -p . && node dist/bench/records/crc32c.js
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

if (process.argv[2] === '--child') {
  const name = process.argv[3] as ImplName;
  const size = Number(process.argv[4]);
  console.log(opsPerSecond(impls[name], randomBytes(size)));
} else {
  const self = fileURLToPath(import.meta.url);
  const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log('size     impl          ops/s         MB/s');
  for (const [label, size] of sizes) {
    const check = randomBytes(size);
    if (crc32cJs(check) !== crc32cNative(check)) throw new Error('implementations disagree');
    const ops = {} as Record<ImplName, number>;
    for (const name of Object.keys(impls) as ImplName[]) {
      ops[name] = Number(execFileSync(process.execPath, [self, '--child', name, String(size)]).toString());
      const mbs = (ops[name] * size) / 1e6;
      console.log(`${label.padEnd(8)} ${name.padEnd(8)} ${fmt(ops[name]).padStart(12)} ${fmt(mbs).padStart(12)}`);
    }
    console.log(`${label.padEnd(8)} native/js: ${(ops.native / ops.js).toFixed(2)}x`);
  }
}
