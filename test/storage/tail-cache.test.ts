/**
 * The tail caches of all partitions share one budget: a partition keeps its latest batches up to
 * its own share, and once the caches together pass the total, the partition appended to least
 * recently gives its cache back down to the floor, so its older batches come from the files.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DiskPartitionLog } from '../../src/storage/disk/index.js';
import { appendAll, batchesIn, diskStorage, logConfig, makeBatch, tempDir, topicRecord } from './helpers.js';

const KIB = 1024;

describe('disk engine tail cache', () => {
  it('keeps each partition within its share and the partitions together within the total, coldest first', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir, { tailCacheBytes: 4096 * KIB, tailCacheTotalBytes: 6144 * KIB });
    await storage.open();
    t.after(() => storage.close());
    const open = async (p: number) => (await storage.openPartition(topicRecord('orders', 3), p, logConfig())) as DiskPartitionLog;
    const [p0, p1, p2] = [await open(0), await open(1), await open(2)];
    // 80 batches of ~64 KiB (5 MiB) to each partition, one batch per offset.
    const fill = (log: DiskPartitionLog) => appendAll(log, Array.from({ length: 80 }, (_, i) => makeBatch({ valueSize: 64 * KIB, tag: `b${i}` })));
    /** Where a read of `offset` was served from. */
    const source = async (log: DiskPartitionLog, offset: bigint) => {
      const before = { ...log.stats };
      const { records, release } = await log.read(offset, 1, { maxOffset: log.highWatermark, minOneBatch: true });
      release?.();
      assert.equal(batchesIn(records)[0]!.baseOffset, offset);
      if (log.stats.cacheReads > before.cacheReads) return 'cache';
      assert.ok(log.stats.fileReads > before.fileReads);
      return 'file';
    };

    await fill(p0);
    assert.equal(await source(p0, 79n), 'cache');
    assert.equal(await source(p0, 30n), 'cache', 'about 4 MiB back: within the share');
    assert.equal(await source(p0, 10n), 'file', 'about 4.4 MiB back: past the share');

    await fill(p1);
    // 8 MiB together is over the 6 MiB total: p0, the colder, keeps only its last ~1 MiB.
    assert.equal(await source(p1, 30n), 'cache');
    assert.equal(await source(p0, 30n), 'file');
    assert.equal(await source(p0, 70n), 'cache', 'the floor stays');

    await fill(p2);
    // Now p1 is the colder of the two above the floor.
    assert.equal(await source(p2, 30n), 'cache');
    assert.equal(await source(p1, 30n), 'file');
    assert.equal(await source(p1, 70n), 'cache');
  });

  it('stops counting batches DeleteRecords dropped (retention and compaction alike), so a new partition gets its share again', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir, { tailCacheBytes: 2048 * KIB, tailCacheTotalBytes: 3072 * KIB });
    await storage.open();
    t.after(() => storage.close());
    const logs: DiskPartitionLog[] = [];
    for (let p = 0; p < 5; p++) logs.push((await storage.openPartition(topicRecord('events', 5), p, logConfig())) as DiskPartitionLog);
    const fill = (log: DiskPartitionLog) => appendAll(log, Array.from({ length: 40 }, (_, i) => makeBatch({ valueSize: 64 * KIB, tag: `b${i}` })));
    // Four partitions of 2.5 MiB: each ends at the 1 MiB floor, 4 MiB together (over the total).
    for (const log of logs.slice(0, 4)) await fill(log);
    // Their records are deleted: the caches hold nothing now.
    for (const log of logs.slice(0, 4)) await log.deleteRecordsBefore(log.highWatermark);
    await fill(logs[4]);
    const before = logs[4].stats.cacheReads;
    const { release } = await logs[4].read(12n, 1, { maxOffset: logs[4].highWatermark, minOneBatch: true });
    release?.();
    assert.equal(logs[4].stats.cacheReads, before + 1, 'about 1.8 MiB back comes from the cache: the partition kept its 2 MiB share');
  });

  it('counts what each cached batch costs besides its bytes, so small batches do not hold many times the share', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir, { tailCacheBytes: 1024 * KIB });
    await storage.open();
    t.after(() => storage.close());
    const log = (await storage.openPartition(topicRecord('commits', 1), 0, logConfig())) as DiskPartitionLog;
    // 10,000 one-record batches of ~170 bytes: 1 MiB of them is ~6,000, but each entry costs
    // about as much heap again, so the share holds about half that.
    await appendAll(log, Array.from({ length: 10_000 }, (_, i) => makeBatch({ valueSize: 100, tag: `c${i}` })));
    const fromCache = async (offset: bigint) => {
      const before = log.stats.cacheReads;
      const { release } = await log.read(offset, 1, { maxOffset: log.highWatermark, minOneBatch: true });
      release?.();
      return log.stats.cacheReads > before;
    };
    assert.equal(await fromCache(8_000n), true, '2,000 batches back');
    assert.equal(await fromCache(5_500n), false, '4,500 batches back');
  });

  it('keeps the total however many partitions are written to: past limit / floor of them, the coldest give back all they hold', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir, { tailCacheBytes: 2048 * KIB, tailCacheTotalBytes: 4096 * KIB });
    await storage.open();
    t.after(() => storage.close());
    const logs: DiskPartitionLog[] = [];
    for (let p = 0; p < 10; p++) logs.push((await storage.openPartition(topicRecord('many', 10), p, logConfig())) as DiskPartitionLog);
    // 1.5 MiB to each of ten partitions: at the 1 MiB floor each they would hold 10 MiB.
    for (const log of logs) await appendAll(log, Array.from({ length: 24 }, (_, i) => makeBatch({ valueSize: 64 * KIB, tag: `b${i}` })));
    const lastFromCache = async (log: DiskPartitionLog) => {
      const before = log.stats.cacheReads;
      const { release } = await log.read(log.highWatermark - 1n, 1, { maxOffset: log.highWatermark, minOneBatch: true });
      release?.();
      return log.stats.cacheReads > before;
    };
    const cached: boolean[] = [];
    for (const log of logs) cached.push(await lastFromCache(log));
    assert.deepEqual(cached, [false, false, false, false, false, false, false, true, true, true], 'the three written last keep theirs (about 4 MiB), the others none');
  });
});
