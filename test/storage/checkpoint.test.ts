/** Checkpoint files: Kafka's format, and rewrites that coalesce under a burst of changes. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointWriter, parseCheckpoint, type CheckpointEntry } from '../../src/storage/disk/checkpoint.js';
import { tempDir } from './helpers.js';

test('writes asked for while one waits to start share it; each write takes the entries as they are when it starts', async (t) => {
  const path = join(await tempDir(t), 'log-start-offset-checkpoint');
  const entries = new Map<number, CheckpointEntry>();
  let reads = 0;
  const writer = new CheckpointWriter(path, () => {
    reads++;
    return entries.values();
  });
  const burst: Promise<void>[] = [];
  for (let p = 0; p < 1000; p++) {
    entries.set(p, { topic: 'orders', partition: p, offset: BigInt(p) });
    burst.push(writer.write());
  }
  await Promise.all(burst);
  assert.equal(reads, 1, 'a thousand changes in a row: one rewrite');
  assert.equal(parseCheckpoint(await readFile(path, 'utf8')).length, 1000);

  // A change made while a write is under way gets a write of its own, after it.
  entries.set(0, { topic: 'orders', partition: 0, offset: 42n });
  const first = writer.write();
  await Promise.resolve(); // the first write has started (it read its entries)
  await Promise.resolve();
  entries.set(1, { topic: 'orders', partition: 1, offset: 43n });
  const second = writer.write();
  assert.notEqual(first, second);
  await Promise.all([first, second]);
  assert.equal(reads, 3);
  const written = parseCheckpoint(await readFile(path, 'utf8'));
  assert.deepEqual(written.slice(0, 2).map((e) => e.offset), [42n, 43n]);
});
