/** Appends on disk: coalesced writes, the high watermark, fsync policy, write failures. */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskPartitionLog, DiskStorage } from '../../src/storage/disk/index.js';
import type { LogConfig } from '../../src/storage/storage.js';
import { batchesIn, diskStorage, logConfig, makeBatch, readAll, tempDir, topicRecord } from './helpers.js';

async function openLog(t: Parameters<typeof tempDir>[0], config: LogConfig = logConfig(), dir?: string): Promise<{ dir: string; storage: DiskStorage; log: DiskPartitionLog }> {
  dir ??= await tempDir(t);
  const storage = diskStorage(dir);
  await storage.open();
  const log = (await storage.openPartition(topicRecord(), 0, config)) as DiskPartitionLog;
  return { dir, storage, log };
}

/** The active segment's write descriptor, to inject failures (tests only). */
function activeLogFh(log: DiskPartitionLog): { write: unknown; writev: unknown } {
  const segments = (log as unknown as { segments: { logFh: { write: unknown; writev: unknown } }[] }).segments;
  return segments[segments.length - 1]!.logFh;
}

describe('disk engine appends', () => {
  it('coalesces 1000 appends issued in one tick into a handful of writes', async (t) => {
    const { storage, log } = await openLog(t);
    t.after(() => storage.close());
    const pending = Array.from({ length: 1000 }, (_, i) => log.append(makeBatch({ count: 1 + (i % 2), tag: `c${i}` }), { leaderEpoch: 0 }));
    assert.equal(log.highWatermark, 0n, 'nothing is visible before it is written');
    const results = await Promise.all(pending);
    let next = 0n;
    for (const r of results) {
      assert.equal(r.baseOffset, next, 'consecutive offsets in call order');
      next = r.lastOffset + 1n;
    }
    assert.equal(log.highWatermark, next);
    assert.ok(log.stats.logWrites <= 3, `${log.stats.logWrites} writes for 1000 appends`);
    assert.equal(batchesIn(await readAll(log, 0n)).length, 1000);
  });

  it('coalesces appends that arrive while a write is in flight', async (t) => {
    const { storage, log } = await openLog(t);
    t.after(() => storage.close());
    const pending = [];
    for (let i = 0; i < 200; i++) {
      pending.push(log.append(makeBatch({ tag: `w${i}` }), { leaderEpoch: 0 }));
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);
    assert.equal(log.highWatermark, 200n);
    assert.ok(log.stats.logWrites < 100, `${log.stats.logWrites} writes for 200 appends`);
  });

  it('makes an append visible to readers only once written', async (t) => {
    const { storage, log } = await openLog(t);
    t.after(() => storage.close());
    await log.append(makeBatch(), { leaderEpoch: 0 });
    const p = log.append(makeBatch({ count: 3 }), { leaderEpoch: 0 });
    assert.equal(log.logEndOffset, 4n);
    assert.equal(log.highWatermark, 1n);
    const early = await log.read(1n, 1 << 20, { maxOffset: 10n, minOneBatch: true });
    assert.equal(early.records.length, 0, 'not before the write completes (even with a generous maxOffset)');
    await p;
    assert.equal(log.highWatermark, 4n);
    const late = await log.read(1n, 1 << 20, { maxOffset: 10n, minOneBatch: true });
    assert.equal(batchesIn(late.records)[0]!.baseOffset, 1n);
  });

  it('fsyncs before acknowledging when flush.messages is 1', async (t) => {
    const { storage, log } = await openLog(t, logConfig({ flushMessages: 1 }));
    t.after(() => storage.close());
    for (let i = 0; i < 5; i++) await log.append(makeBatch(), { leaderEpoch: 0 });
    assert.equal(log.stats.syncs, 5);
  });

  it('fsyncs every flush.messages offsets', async (t) => {
    const { storage, log } = await openLog(t, logConfig({ flushMessages: 4 }));
    t.after(() => storage.close());
    for (let i = 0; i < 8; i++) await log.append(makeBatch(), { leaderEpoch: 0 });
    assert.equal(log.stats.syncs, 2);
  });

  it('fsyncs flush.ms after an unflushed write', async (t) => {
    const { storage, log } = await openLog(t, logConfig({ flushMs: 30 }));
    t.after(() => storage.close());
    await log.append(makeBatch(), { leaderEpoch: 0 });
    assert.equal(log.stats.syncs, 0);
    await sleep(120);
    assert.equal(log.stats.syncs, 1);
    await sleep(60);
    assert.equal(log.stats.syncs, 1, 'nothing more to flush');
  });

  it('flush() fsyncs the log and its indexes', async (t) => {
    const { storage, log } = await openLog(t);
    t.after(() => storage.close());
    await log.append(makeBatch(), { leaderEpoch: 0 });
    await storage.flush();
    assert.equal(log.stats.syncs, 3);
    await storage.flush();
    assert.equal(log.stats.syncs, 3, 'nothing new to flush');
  });

  it('rejects appends after a failed write, keeps serving reads, and recovers on restart', async (t) => {
    const { dir, storage, log } = await openLog(t);
    await log.append(makeBatch({ tag: 'ok' }), { leaderEpoch: 0 });
    const fh = activeLogFh(log);
    const eio = () => Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    fh.write = eio;
    fh.writev = eio;
    const failing = [log.append(makeBatch(), { leaderEpoch: 0 }), log.append(makeBatch({ count: 2 }), { leaderEpoch: 0 })];
    for (const p of failing) await assert.rejects(p, { name: 'PartitionFailedError', message: /EIO/ });
    await assert.rejects(log.append(makeBatch(), { leaderEpoch: 0 }), { name: 'PartitionFailedError' });
    assert.ok(log.failed);
    assert.equal(log.highWatermark, 1n);
    assert.equal(batchesIn(await readAll(log, 0n)).length, 1);
    await storage.close();
    await assert.rejects(stat(join(dir, '.samsa_clean_shutdown')), { code: 'ENOENT' }, 'a failed partition makes the shutdown unclean');

    const again = await openLog(t, logConfig(), dir);
    t.after(() => again.storage.close());
    assert.equal(await again.storage.wasCleanShutdown(), false);
    assert.equal(again.log.logEndOffset, 1n);
    assert.equal((await again.log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, 1n);
  });

  it('rejects appends after close', async (t) => {
    const { storage, log } = await openLog(t);
    const p = log.append(makeBatch(), { leaderEpoch: 0 });
    await storage.close();
    assert.equal((await p).baseOffset, 0n, 'appends issued before close() are written');
    await assert.rejects(log.append(makeBatch(), { leaderEpoch: 0 }), /closed/);
  });
});
