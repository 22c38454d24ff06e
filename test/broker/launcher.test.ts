/**
 * The `samsa` command's code cache (src/cli/launch.ts): written next to the bundle once a broker
 * is up, used by the next start, and never used for a bundle other than the one it was made from.
 * Runs on a copy of the built command, inside dist/ so that its packages resolve as they do there.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type BrokerProcess, ROOT, sleep, startBrokerProcess } from '../support/processes.js';

const stampOf = (file: string) => {
  const s = statSync(file, { bigint: true });
  return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
};

/** The cache's first line names the bundle it was made from (then a digest of the rest). */
const cacheStamp = (cache: string) => {
  try {
    const data = readFileSync(cache);
    return data.subarray(0, data.indexOf(10)).toString('utf8').split(' ')[0];
  } catch {
    return undefined;
  }
};

async function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('the command caches its compiled code, uses it on the next start, and never for another bundle', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(ROOT, 'dist', 'launch-test-'));
  const cli = join(dir, 'samsa.mjs');
  const bundle = join(dir, 'samsa-cli.cjs');
  const cache = `${bundle}.v8-${process.versions.v8}.cache`; // one per V8 version
  copyFileSync(join(ROOT, 'dist/samsa.mjs'), cli);
  copyFileSync(join(ROOT, 'dist/samsa-cli.cjs'), bundle);
  let broker: BrokerProcess | undefined;
  const start = () => startBrokerProcess(['--port', '0', '--storage', 'memory'], { cli });
  try {
    // No cache yet: the first start writes one once it is up, stamped with its bundle.
    broker = await start();
    await waitFor('the cache', () => cacheStamp(cache) === stampOf(bundle));
    assert.equal(await broker.stop(), 0);

    // The next start takes it: V8 accepts it, so it is not written again.
    const written = statSync(cache).mtimeMs;
    broker = await start();
    await sleep(1500);
    assert.equal(statSync(cache).mtimeMs, written, 'an accepted cache is left as it is');
    assert.equal(await broker.stop(), 0);

    // A rebuilt bundle of the same length, which V8 alone cannot tell from the old one: the new
    // code runs (not functions compiled from the old), and the cache is made again for it.
    const source = readFileSync(bundle, 'utf8');
    assert.equal(source.split('listening on').length, 2, 'the start-up message appears once in the bundle');
    writeFileSync(bundle, source.replace('listening on', 'LISTENING ON'));
    broker = await start();
    assert.ok(broker.logs.some((l) => l.includes('LISTENING ON')), broker.logs.join('\n'));
    await waitFor('the cache of the new bundle', () => cacheStamp(cache) === stampOf(bundle));
    assert.equal(await broker.stop(), 0);

    // A cache damaged after its first line (V8 would crash on it): the broker starts all the same
    // and writes a good one.
    const good = readFileSync(cache);
    const damaged = Buffer.from(good);
    randomBytes(64).copy(damaged, Math.floor(good.length / 2));
    writeFileSync(cache, damaged);
    broker = await start();
    await waitFor('a new cache', () => !readFileSync(cache).equals(damaged) && cacheStamp(cache) === stampOf(bundle));
    assert.equal(await broker.stop(), 0);
  } finally {
    await broker?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
