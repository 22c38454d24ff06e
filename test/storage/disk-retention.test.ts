/** Retention deletes whole segments, persists the log start offset; topic deletion removes the data. */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskPartitionLog, DiskStorage } from '../../src/storage/disk/index.js';
import type { LogConfig } from '../../src/storage/storage.js';
import { segmentFiles } from './disk-helpers.js';
import { appendAll, batchesIn, diskStorage, logConfig, makeBatch, readAll, tempDir, topicRecord } from './helpers.js';

const BATCH = makeBatch({ valueSize: 100 }).length;
/** Three batches per segment. */
const SEGMENT = BATCH * 3 + 10;

async function openLog(dir: string, config: LogConfig, name = 'orders'): Promise<{ storage: DiskStorage; log: DiskPartitionLog }> {
  const storage = diskStorage(dir, { tailCacheBytes: 0 });
  await storage.open();
  const log = (await storage.openPartition(topicRecord(name), 0, config)) as DiskPartitionLog;
  return { storage, log };
}

/** `n` one-record batches with timestamps 1000, 2000, … */
const batches = (n: number) => Array.from({ length: n }, (_, i) => makeBatch({ valueSize: 100, timestamp: (i + 1) * 1000, tag: `b${i}` }));

const segmentLogs = async (dir: string, topic = 'orders') => (await readdir(join(dir, `${topic}-0`))).filter((n) => /^\d{20}\./.test(n)).sort();

describe('disk engine retention', () => {
  it('deletes whole segments older than retention.ms and persists the new log start offset', async (t) => {
    const dir = await tempDir(t);
    const config = logConfig({ segmentBytes: SEGMENT, retentionMs: 5_000 });
    const a = await openLog(dir, config);
    await appendAll(a.log, batches(10)); // segments [0-2] [3-5] [6-8] [9]
    assert.deepEqual(a.log.segmentBaseOffsets, [0n, 3n, 6n, 9n]);
    // now 11 000: a segment goes when its largest timestamp is older than 6 000.
    assert.equal(await a.log.enforceRetention(11_000), BATCH * 3, 'only [0-2] (max 3 000); [3-5] holds 6 000');
    assert.equal(a.log.logStartOffset, 3n);
    assert.equal(await a.log.enforceRetention(11_001), BATCH * 3);
    assert.equal(a.log.logStartOffset, 6n);
    assert.deepEqual(await segmentLogs(dir), ['00000000000000000006.index', '00000000000000000006.log', '00000000000000000006.timeindex', '00000000000000000009.index', '00000000000000000009.log', '00000000000000000009.timeindex']);
    assert.equal(await readFile(join(dir, 'log-start-offset-checkpoint'), 'utf8'), '0\n1\norders 0 6\n');
    assert.deepEqual(batchesIn(await readAll(a.log, 0n)).map((b) => b.baseOffset), [6n, 7n, 8n, 9n], 'reads below the start see the first remaining batch');
    await a.storage.close();

    const b = await openLog(dir, config);
    t.after(() => b.storage.close());
    assert.equal(b.log.logStartOffset, 6n);
    assert.equal(b.log.logEndOffset, 10n);
    assert.equal(b.log.size, BATCH * 4);
  });

  it('deletes the oldest segments while the log stays at or above retention.bytes without them', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir, logConfig({ segmentBytes: SEGMENT, retentionBytes: BATCH * 4 }));
    t.after(() => a.storage.close());
    await appendAll(a.log, batches(11)); // [0-2] [3-5] [6-8] [9-10]
    assert.equal(await a.log.enforceRetention(Date.now()), BATCH * 6);
    assert.equal(a.log.logStartOffset, 6n);
    assert.equal(a.log.size, BATCH * 5, 'deleting [6-8] too would leave 2 batches, below retention.bytes');
    assert.equal(await a.log.enforceRetention(Date.now()), 0);
    a.log.setConfig(logConfig({ segmentBytes: SEGMENT, retentionBytes: BATCH * 2 }));
    assert.equal(await a.log.enforceRetention(Date.now()), BATCH * 3);
    assert.deepEqual(a.log.segmentBaseOffsets, [9n]);
  });

  it('rolls an empty active segment when everything expired, and keeps offsets across restarts', async (t) => {
    const dir = await tempDir(t);
    const config = logConfig({ segmentBytes: SEGMENT, retentionMs: 1_000 });
    const a = await openLog(dir, config);
    await appendAll(a.log, batches(5));
    assert.equal(await a.log.enforceRetention(1_000_000), BATCH * 5);
    assert.deepEqual(a.log.segmentBaseOffsets, [5n]);
    assert.equal(a.log.logStartOffset, 5n);
    assert.equal(a.log.logEndOffset, 5n);
    assert.equal(a.log.size, 0);
    assert.deepEqual(await segmentLogs(dir), ['00000000000000000005.index', '00000000000000000005.log', '00000000000000000005.timeindex']);
    assert.equal(await a.log.enforceRetention(2_000_000), 0, 'the empty active segment stays');
    await a.storage.close();
    const b = await openLog(dir, config);
    t.after(() => b.storage.close());
    assert.equal(b.log.logStartOffset, 5n);
    assert.equal((await b.log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, 5n);
  });

  it('renames deleted segments to .deleted and unlinks them after file.delete.delay.ms', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir, logConfig({ segmentBytes: SEGMENT, retentionBytes: 0, fileDeleteDelayMs: 150 }));
    t.after(() => a.storage.close());
    await appendAll(a.log, batches(4));
    await a.log.enforceRetention(Date.now());
    const names = await segmentLogs(dir);
    assert.deepEqual(names.filter((n) => n.endsWith('.deleted')).sort(), [
      '00000000000000000000.index.deleted', '00000000000000000000.log.deleted', '00000000000000000000.timeindex.deleted',
      '00000000000000000003.index.deleted', '00000000000000000003.log.deleted', '00000000000000000003.timeindex.deleted',
    ]);
    await sleep(400);
    assert.deepEqual((await segmentLogs(dir)).filter((n) => n.endsWith('.deleted')), []);
  });

  it('reads racing segment deletion return data or nothing, never an error', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir, logConfig({ segmentBytes: SEGMENT, retentionBytes: BATCH * 3 }));
    t.after(() => a.storage.close());
    await appendAll(a.log, batches(30));
    const reads = [];
    for (let round = 0; round < 5; round++) {
      for (let o = 0n; o < 30n; o++) reads.push(a.log.read(o, 1000, { maxOffset: a.log.highWatermark, minOneBatch: true }));
      reads.push(a.log.findBatchByTimestamp(1_000n), a.log.findMaxTimestampBatch());
    }
    const freed = a.log.enforceRetention(Date.now());
    const results = await Promise.all(reads);
    assert.equal(await freed, BATCH * 27);
    for (const r of results) {
      if (r === null) continue;
      const buf = Buffer.isBuffer(r) ? r : r.records;
      if (buf.length > 0) assert.ok(batchesIn(buf).length >= 1);
    }
    const after = await a.log.read(0n, 1000, { maxOffset: a.log.highWatermark, minOneBatch: true });
    assert.equal(batchesIn(after.records)[0]!.baseOffset, 27n);
  });

  it('deleteTopicData removes the partition directories and checkpoint entries of that topic only', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    const config = logConfig({ segmentBytes: SEGMENT, retentionBytes: BATCH });
    const orders = topicRecord('orders', 2);
    const other = topicRecord('orders-archive', 1, 'AAAAAAAAAAAAAAAAAAAAAg');
    const logs = [await storage.openPartition(orders, 0, config), await storage.openPartition(orders, 1, config), await storage.openPartition(other, 0, config)];
    for (const log of logs) {
      await appendAll(log, batches(7));
      await log.enforceRetention(Date.now());
    }
    assert.match(await readFile(join(dir, 'log-start-offset-checkpoint'), 'utf8'), /orders 0 6\n/);
    await storage.deleteTopicData(orders);
    await assert.rejects(logs[0]!.append(makeBatch(), { leaderEpoch: 0 }));
    const dirs = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    assert.deepEqual(dirs, ['orders-archive-0']);
    assert.equal(await readFile(join(dir, 'log-start-offset-checkpoint'), 'utf8'), '0\n1\norders-archive 0 6\n');
    // A topic created again under the same name starts from scratch.
    const again = await storage.openPartition({ ...orders, topicId: 'AAAAAAAAAAAAAAAAAAAAAw' }, 0, config);
    assert.equal(again.logStartOffset, 0n);
    assert.equal(again.logEndOffset, 0n);
    await storage.close();
  });

  it('sets aside a partition directory left by another topic id', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir, logConfig());
    await appendAll(a.log, batches(3));
    await a.storage.close();
    const storage = diskStorage(dir);
    t.after(() => storage.close());
    await storage.open();
    const log = await storage.openPartition(topicRecord('orders', 1, 'AAAAAAAAAAAAAAAAAAAABA'), 0, logConfig());
    assert.equal(log.logEndOffset, 0n);
    const names = await readdir(dir);
    assert.ok(names.some((n) => n.startsWith('orders-0.') && n.endsWith('-stray')), names.join(','));
    assert.equal(await readFile(join(dir, 'orders-0', 'partition.metadata'), 'utf8'), 'version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAABA\n');
  });

  it('removes partition directories left half-deleted by a crash', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'gone-0.abc-delete'), { recursive: true });
    await writeFile(join(dir, 'gone-0.abc-delete', '00000000000000000000.log'), 'x');
    const storage = diskStorage(dir);
    t.after(() => storage.close());
    await storage.open();
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('-delete')), []);
    assert.equal((await segmentFiles(dir)).length, 0);
  });
});
