/**
 * The recycling BatchArena: dropped 1 MiB blocks are reused, but never while a slice handed out
 * from them (a fetch response being written) or a pin (a file write) is outstanding.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setBaseOffset, verifyBatchCrc } from '../../protocol/records/index.js';
import { BatchArena } from '../../src/storage/batch-arena.js';
import { makeBatch } from './helpers.js';

/** A batch of about 600 KiB (two never share a 1 MiB block), at the given base offset. */
function bigBatch(baseOffset: number, tag: string): Buffer {
  const b = makeBatch({ count: 6, valueSize: 100 * 1024, tag });
  setBaseOffset(b, 0, BigInt(baseOffset));
  return b;
}

/** Adds n big batches, keeping only the last two: blocks keep being dropped and taken anew. */
function churn(arena: BatchArena, from: number, n: number): void {
  for (let i = 0; i < n; i++) {
    arena.add(bigBatch((from + i) * 6, `churn${from + i}`));
    if (arena.count > 2) arena.dropFront(1);
  }
}

test('a leased slice keeps its bytes while its block is dropped and the arena moves on', () => {
  const arena = new BatchArena({ recycle: true });
  // Grow past the small first blocks so that later blocks are the pooled 1 MiB size.
  churn(arena, 0, 8);
  const held = arena.slice(arena.search(BigInt(arena.first!.baseOffset)), 1 << 30, 1n << 62n, true);
  const copy = Buffer.from(held.records);
  assert.ok(held.release, 'a recycling arena hands out releasable slices');
  arena.dropFront(arena.count);
  churn(arena, 100, 40);
  assert.deepEqual(held.records, copy, 'the leased bytes were not overwritten');
  assert.ok(verifyBatchCrc(held.records));
  held.release!();
  held.release!(); // a second release changes nothing
});

test('a released block is reused for a later block', () => {
  const arena = new BatchArena({ recycle: true });
  churn(arena, 0, 8);
  const entry = arena.first!;
  const slice = arena.slice(0, 1 << 30, 1n << 62n, true);
  const backing = slice.records.buffer;
  slice.release!();
  arena.dropFront(arena.count);
  const seen = new Set<ArrayBufferLike>();
  for (let i = 0; i < 4; i++) {
    const e = arena.add(bigBatch(1000 + i * 6, `next${i}`));
    seen.add(e.block.buf.buffer);
  }
  assert.equal(entry.block.retired, true);
  assert.ok(seen.has(backing), 'the dropped, released block came back from the pool');
});

test('a pinned block is not reused until unpinned', () => {
  const arena = new BatchArena({ recycle: true });
  churn(arena, 0, 8);
  const entry = arena.first!;
  arena.pin(entry.block);
  const copy = Buffer.from(arena.view(entry));
  arena.dropFront(arena.count);
  churn(arena, 200, 40);
  assert.deepEqual(entry.block.buf.subarray(entry.pos, entry.pos + entry.size), copy);
  arena.unpin(entry.block);
});

test('an arena that does not recycle hands out slices without leases', () => {
  const arena = new BatchArena();
  arena.add(bigBatch(0, 'a'));
  const slice = arena.slice(0, 1 << 30, 1n << 62n, true);
  assert.equal(slice.release, undefined);
  assert.equal(slice.records.length, arena.first!.size);
});
