/** Reopening the disk engine: clean restarts, torn writes, lost and corrupt indexes. */
import assert from 'node:assert/strict';
import { constants, promises as fsp } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, readlink, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DiskPartitionLog, DiskStorage, DiskStorageOptions } from '../../src/storage/disk/index.js';
import type { LogConfig } from '../../src/storage/storage.js';
import { checkSegmentIndexes, logBatches, segmentFiles } from './disk-helpers.js';
import { appendAll, batchesIn, diskStorage, logConfig, makeBatch, readAll, tempDir, topicRecord } from './helpers.js';

const CONFIG = logConfig({ segmentBytes: 3000, indexIntervalBytes: 200 });

async function openLog(dir: string, config: LogConfig = CONFIG, options: Partial<DiskStorageOptions> = {}): Promise<{ storage: DiskStorage; log: DiskPartitionLog }> {
  const storage = diskStorage(dir, { tailCacheBytes: 0, ...options });
  await storage.open();
  const log = (await storage.openPartition(topicRecord(), 0, config)) as DiskPartitionLog;
  return { storage, log };
}

/** 40 batches over several segments; returns the log's content as read back. */
async function populate(log: DiskPartitionLog, count = 40): Promise<Buffer> {
  await appendAll(log, Array.from({ length: count }, (_, i) => makeBatch({ count: 1 + (i % 3), valueSize: 40 + (i % 7) * 10, timestamp: 10_000 + i * 10, tag: `r${i}` })));
  return readAll(log, 0n);
}

/** As populate, then more batches until the last segment holds at least `n` batches. */
async function populateWithTail(log: DiskPartitionLog, dir: string, n = 6): Promise<Buffer> {
  await populate(log);
  let i = 0;
  while (logBatches(await readFile(await lastSegmentLog(dir))).length < n) {
    await log.append(makeBatch({ valueSize: 30, timestamp: 20_000 + i, tag: `tail${i++}` }), { leaderEpoch: 0 });
  }
  return readAll(log, 0n);
}

async function files(pdir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const n of (await readdir(pdir)).sort()) out.set(n, await readFile(join(pdir, n)));
  return out;
}

/** Each file's modification time, in nanoseconds. */
async function mtimes(pdir: string): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const n of (await readdir(pdir)).sort()) out.set(n, (await stat(join(pdir, n), { bigint: true })).mtimeNs);
  return out;
}

const pdirOf = (dir: string): string => join(dir, 'orders-0');

async function lastSegmentLog(dir: string): Promise<string> {
  const logs = (await readdir(pdirOf(dir))).filter((n) => n.endsWith('.log')).sort();
  return join(pdirOf(dir), logs[logs.length - 1]!);
}

describe('disk engine recovery', () => {
  it('reopens after close() with the same offsets, data and files, and appends continue', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    const content = await populate(a.log);
    const end = a.log.logEndOffset;
    await a.storage.close();
    assert.ok((await stat(join(dir, '.samsa_clean_shutdown'))).isFile(), 'close() writes the clean-shutdown marker');
    const before = await files(pdirOf(dir));
    const beforeTimes = await mtimes(pdirOf(dir));

    const b = await openLog(dir);
    assert.equal(await b.storage.wasCleanShutdown(), true);
    await assert.rejects(stat(join(dir, '.samsa_clean_shutdown')), { code: 'ENOENT' }, 'open() removes the marker');
    assert.equal(b.log.logEndOffset, end);
    assert.equal(b.log.highWatermark, end);
    assert.equal(b.log.logStartOffset, 0n);
    assert.deepEqual(await readAll(b.log, 0n), content);
    assert.deepEqual(await b.log.findMaxTimestampBatch(), (await b.log.read(end - 1n, 1, { maxOffset: end, minOneBatch: true })).records);
    await b.storage.close();
    assert.deepEqual(await files(pdirOf(dir)), before, 'a reopen without appends changes no file');
    assert.deepEqual(await mtimes(pdirOf(dir)), beforeTimes, 'nor writes to one');

    const c = await openLog(dir);
    const r = await c.log.append(makeBatch({ count: 2 }), { leaderEpoch: 1 });
    assert.equal(r.baseOffset, end);
    assert.equal(c.log.logEndOffset, end + 2n);
    await c.storage.close();
  });

  it('after a clean restart, a partition holds no descriptors until its first append', async (t) => {
    const dir = await tempDir(t);
    const fdsInto = async (path: string): Promise<number> => {
      let n = 0;
      for (const fd of await readdir('/proc/self/fd').catch(() => [])) if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')).startsWith(path)) n++;
      return n;
    };
    if ((await readdir('/proc/self/fd').catch(() => null)) === null) return t.skip('no /proc/self/fd here');
    const topics = [topicRecord('left-alone', 1, 'AAAAAAAAAAAAAAAAAAAAAg'), topicRecord('written', 1, 'AAAAAAAAAAAAAAAAAAAAAw')];
    const open = async () => {
      const storage = diskStorage(dir, { tailCacheBytes: 0 });
      await storage.open();
      const logs = await Promise.all(topics.map((tr) => storage.openPartition(tr, 0, CONFIG) as Promise<DiskPartitionLog>));
      return { storage, logs };
    };
    const a = await open();
    for (const log of a.logs) await populate(log, 10);
    const ends = a.logs.map((l) => l.logEndOffset);
    const contents = await Promise.all(a.logs.map((l) => readAll(l, 0n)));
    await a.storage.close();

    const b = await open();
    assert.equal(await fdsInto(join(dir, 'left-alone-0')), 0, 'nothing open for a partition that is only read');
    assert.equal(await fdsInto(join(dir, 'written-0')), 0);
    assert.deepEqual(await readAll(b.logs[0]!, 0n), contents[0], 'reads need no write descriptor');
    const r = await b.logs[1]!.append(makeBatch({ count: 2, tag: 'after' }), { leaderEpoch: 0 });
    assert.equal(r.baseOffset, ends[1]);
    assert.equal(await fdsInto(join(dir, 'written-0')), 1, 'the first append opened the active segment\'s log, and only that (its indexes are opened to be written)');
    await b.storage.close();
    assert.equal(await fdsInto(dir), 0, 'close closes everything');

    const c = await open();
    t.after(() => c.storage.close());
    assert.equal(c.logs[0]!.logEndOffset, ends[0]);
    assert.equal(c.logs[1]!.logEndOffset, ends[1]! + 2n);
    assert.deepEqual((await readAll(c.logs[1]!, 0n)).subarray(0, contents[1]!.length), contents[1]);
  });

  it('out of descriptors at the first append after a restart, appends wait for the files to open instead of failing the partition', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    const content = await populate(a.log, 10);
    const end = a.log.logEndOffset;
    await a.storage.close();

    const warnings: string[] = [];
    const logger = { info: () => undefined, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), error: (_o: object, msg?: string) => warnings.push(msg ?? '') };
    const b = await openLog(dir, CONFIG, { logger });
    t.after(() => b.storage.close());
    const realOpen = fsp.open;
    let refused = 0;
    fsp.open = (async (path: Parameters<typeof realOpen>[0], flags?: string | number, mode?: number) => {
      if (String(path).startsWith(pdirOf(dir)) && typeof flags === 'number' && (flags & constants.O_CREAT) !== 0 && refused < 2) {
        refused++;
        throw Object.assign(new Error('EMFILE: too many open files (injected)'), { code: 'EMFILE' });
      }
      return realOpen(path, flags, mode);
    }) as typeof realOpen;
    let r;
    const snapshots = async () => (await readdir(pdirOf(dir))).filter((n) => n.endsWith('.producer-state'));
    try {
      const appended = b.log.append(makeBatch({ count: 2, tag: 'waited' }), { leaderEpoch: 0 });
      // A snapshot taken meanwhile covers the waiting batch: it is not stored ahead of it.
      await new Promise((res) => setTimeout(res, 20));
      await b.log.writeSnapshot(b.log.logEndOffset, Buffer.from('{"ahead":1}'));
      assert.deepEqual(await snapshots(), [], 'no snapshot ahead of the log');
      r = await appended;
    } finally {
      fsp.open = realOpen;
    }
    await b.log.writeSnapshot(b.log.logEndOffset, Buffer.from('{"written":1}'));
    assert.deepEqual(await snapshots(), [`${String(end + 2n).padStart(20, '0')}.producer-state`], 'once the batch is written');
    assert.equal(refused, 2, 'the open was refused twice, then succeeded');
    assert.equal(r.baseOffset, end);
    assert.equal(b.log.failed, null, 'the partition did not fail');
    assert.deepEqual(warnings, ['out of file descriptors: appends wait for the log files to open'], 'said once');
    assert.equal((await b.log.append(makeBatch({ tag: 'next' }), { leaderEpoch: 0 })).baseOffset, end + 2n);
    assert.deepEqual((await readAll(b.log, 0n)).subarray(0, content.length), content);
  });

  it('a state file that cannot be read (a system error, not its content) stops the open rather than being replaced', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await a.log.assignLeaderEpoch(3);
    await populate(a.log, 5);
    await a.storage.close();

    // Out of descriptors or an I/O error would be the real causes; a directory in the file's place fails the read the same way.
    const epochs = join(pdirOf(dir), 'leader-epoch-checkpoint');
    const saved = await readFile(epochs);
    await rm(epochs);
    await mkdir(epochs);
    const storage = diskStorage(dir, { tailCacheBytes: 0 });
    await storage.open();
    await assert.rejects(storage.openPartition(topicRecord(), 0, CONFIG), { code: 'EISDIR' });
    await storage.close();
    assert.ok((await stat(epochs)).isDirectory(), 'left as it was');
    await rm(epochs, { recursive: true });

    // Content that does not parse is rebuilt from the batches: the partition opens, with a warning.
    await writeFile(epochs, 'not a checkpoint');
    const warnings: string[] = [];
    const b = await openLog(dir, CONFIG, { logger: { info: () => undefined, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), error: () => undefined } });
    assert.deepEqual(warnings, ['unreadable leader-epoch-checkpoint: epochs rebuilt from the batches']);
    await b.storage.close();
    await writeFile(epochs, saved);

    const starts = join(dir, 'log-start-offset-checkpoint');
    await rm(starts, { force: true });
    await mkdir(starts);
    await assert.rejects(openLog(dir), { code: 'EISDIR' });
  });

  it('after a crash, truncates garbage appended to the last segment', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    const content = await populate(a.log);
    const end = a.log.logEndOffset;
    await a.storage.simulateCrash();
    const last = await lastSegmentLog(dir);
    const size = (await stat(last)).size;
    await appendFile(last, Buffer.from('this is not a record batch, just garbage bytes at the tail of the log'));

    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.equal(await b.storage.wasCleanShutdown(), false);
    assert.equal((await stat(last)).size, size, 'garbage cut off');
    assert.equal(b.log.logEndOffset, end);
    assert.deepEqual(await readAll(b.log, 0n), content);
    assert.equal((await b.log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, end, 'no gap, no reuse');
  });

  it('after a crash, truncates a batch torn in the middle and resumes at its base offset', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    const content = await populateWithTail(a.log, dir);
    await a.storage.simulateCrash();
    const last = await lastSegmentLog(dir);
    const batches = logBatches(await readFile(last));
    assert.ok(batches.length >= 3);
    const torn = batches[batches.length - 1]!;
    await truncate(last, torn.position + Math.floor(torn.size / 2));

    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.equal((await stat(last)).size, torn.position, 'cut at the last good batch');
    const survivors = batchesIn(content).slice(0, -1);
    const lastGood = survivors[survivors.length - 1]!;
    assert.equal(b.log.logEndOffset, lastGood.lastOffset + 1n);
    assert.deepEqual(await readAll(b.log, 0n), content.subarray(0, content.length - torn.size));
    const next = await b.log.append(makeBatch({ count: 2, tag: 'after' }), { leaderEpoch: 0 });
    assert.equal(next.baseOffset, lastGood.lastOffset + 1n);
    const after = batchesIn(await readAll(b.log, 0n));
    for (let i = 1; i < after.length; i++) assert.equal(after[i]!.baseOffset, after[i - 1]!.lastOffset + 1n, 'offsets contiguous');
  });

  for (const which of ['last batch', 'batch of the last index entry', 'batch before the last index entry'] as const) {
    it(`after a crash, truncates at the first batch failing its CRC (${which})`, async (t) => {
      const dir = await tempDir(t);
      let a = await openLog(dir);
      const content = await populateWithTail(a.log, dir);
      if (which === 'batch before the last index entry') {
        // A clean close writes the index files out in full; the crash comes after a reopen.
        await a.storage.close();
        a = await openLog(dir);
      }
      await a.storage.simulateCrash();
      const last = await lastSegmentLog(dir);
      const data = await readFile(last);
      const batches = logBatches(data);
      const index = await readFile(last.replace(/\.log$/, '.index'));
      const indexedPos = index.length >= 8 ? index.readInt32BE(index.length - 4) : 0;
      // After a crash the whole active segment is checked, not only from its last index entry on,
      // as a page lost anywhere in it (power loss) must not be served. (Index files are brought up
      // to date lazily: with no entry on disk yet, the second batch is as good a victim.)
      const indexedAt = Math.max(1, batches.findIndex((b) => b.position === indexedPos));
      const badAt = which === 'last batch' ? batches.length - 1 : which === 'batch of the last index entry' ? indexedAt : 1;
      assert.ok(badAt >= 1, 'a good batch precedes the corrupt one');
      if (which === 'batch before the last index entry') assert.ok(indexedPos > batches[1]!.position, 'the index has an entry past the corrupt batch');
      const bad = batches[badAt]!;
      data[bad.position + bad.size - 3]! ^= 0xff; // a flipped byte inside the records
      await writeFile(last, data);

      const b = await openLog(dir);
      t.after(() => b.storage.close());
      assert.equal((await stat(last)).size, bad.position);
      assert.equal(b.log.logEndOffset, batches[badAt - 1]!.lastOffset + 1n);
      const dropped = batches.slice(badAt).reduce((n, x) => n + x.size, 0);
      assert.deepEqual(await readAll(b.log, 0n), content.subarray(0, content.length - dropped));
      assert.equal((await b.log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, batches[badAt - 1]!.lastOffset + 1n);
    });
  }

  it('after a crash, cuts a zero-filled tail (a file extended but never written)', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    const content = await populate(a.log, 10);
    await a.storage.simulateCrash();
    const last = await lastSegmentLog(dir);
    const size = (await stat(last)).size;
    await appendFile(last, Buffer.alloc(4096));
    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.equal((await stat(last)).size, size);
    assert.deepEqual(await readAll(b.log, 0n), content);
  });

  for (const clean of [true, false]) {
    it(`rebuilds deleted index files to the bytes Kafka's rules give (${clean ? 'clean' : 'unclean'} shutdown)`, async (t) => {
      const dir = await tempDir(t);
      const a = await openLog(dir);
      const content = await populate(a.log, 60);
      await a.storage.close();
      const reference = await files(pdirOf(dir));
      const segs = await segmentFiles(pdirOf(dir));
      assert.ok(segs.length >= 3);
      for (const s of segs) checkSegmentIndexes(s, 200, true);
      for (const name of reference.keys()) if (name.endsWith('index')) await rm(join(pdirOf(dir), name));
      if (!clean) await rm(join(dir, '.samsa_clean_shutdown'));

      const b = await openLog(dir);
      assert.deepEqual(await readAll(b.log, 0n), content, 'reads work through rebuilt indexes');
      const found = await b.log.findBatchByTimestamp(10_105n);
      assert.ok(found);
      assert.equal(batchesIn(found)[0]!.maxTimestamp, 10_110n, 'the time index leads to the first batch at or after 10 105');
      await b.storage.close();
      assert.deepEqual(await files(pdirOf(dir)), reference);
    });
  }

  for (const [what, damage] of [
    ['a size that is not a multiple of the entry size', (b: Buffer) => Buffer.concat([b, Buffer.from([1, 2, 3])])],
    ['decreasing entries', (b: Buffer) => Buffer.concat([b, b.subarray(0, 12)])],
    ['an entry pointing past the log', (b: Buffer) => Buffer.concat([b, Buffer.from([0, 0, 0x7f, 0xff, 0x7f, 0xff, 0xff, 0xf0])])],
  ] as const) {
    it(`rebuilds an offset index with ${what} after a crash`, async (t) => {
      const dir = await tempDir(t);
      const a = await openLog(dir);
      const content = await populate(a.log, 60);
      await a.storage.close();
      const reference = await files(pdirOf(dir));
      await rm(join(dir, '.samsa_clean_shutdown'));
      for (const [name, data] of reference) if (name.endsWith('.index')) await writeFile(join(pdirOf(dir), name), damage(data));

      const b = await openLog(dir);
      assert.deepEqual(await readAll(b.log, 0n), content);
      await b.storage.close();
      assert.deepEqual(await files(pdirOf(dir)), reference);
    });
  }

  it('drops index entries of a truncated tail and re-adds the ones lost', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir, logConfig({ indexIntervalBytes: 200 }));
    const content = await populate(a.log, 30);
    await a.storage.close();
    const reference = await files(pdirOf(dir));
    const indexName = [...reference.keys()].find((n) => n.endsWith('.index'))!;
    const index = reference.get(indexName)!;
    assert.ok(index.length >= 4 * 8, 'several index entries');
    // The crash lost the last two index entries: recovery scans from the last one left.
    await writeFile(join(pdirOf(dir), indexName), index.subarray(0, index.length - 16));
    await rm(join(dir, '.samsa_clean_shutdown'));
    const b = await openLog(dir, logConfig({ indexIntervalBytes: 200 }));
    assert.deepEqual(await readAll(b.log, 0n), content);
    await b.storage.close();
    assert.deepEqual(await files(pdirOf(dir)), reference, 'the lost entries are back');
  });

  it('rebuilds an index whose last entry does not match the batch it points at', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir, logConfig({ indexIntervalBytes: 200 }));
    const content = await populate(a.log, 30);
    await a.storage.close();
    const reference = await files(pdirOf(dir));
    const indexName = [...reference.keys()].find((n) => n.endsWith('.index'))!;
    const index = Buffer.from(reference.get(indexName)!);
    index.writeInt32BE(index.readInt32BE(index.length - 8) + 1, index.length - 8);
    await writeFile(join(pdirOf(dir), indexName), index);
    await rm(join(dir, '.samsa_clean_shutdown'));
    const b = await openLog(dir, logConfig({ indexIntervalBytes: 200 }));
    assert.deepEqual(await readAll(b.log, 0n), content);
    await b.storage.close();
    assert.deepEqual(await files(pdirOf(dir)), reference);
  });

  it('fsyncs a partition left alone after a clean start at no flush, one recovered after a crash at its first', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populateWithTail(a.log, dir);
    await a.storage.close();
    const b = await openLog(dir);
    await b.storage.flush();
    assert.equal(b.log.stats.syncs, 0, 'everything was fsynced at the clean shutdown');
    await b.storage.simulateCrash();
    const c = await openLog(dir);
    t.after(() => c.storage.close());
    assert.equal(await c.storage.wasCleanShutdown(), false);
    await c.storage.flush();
    assert.equal(c.log.stats.syncs, 3, 'the recovered active segment: its log and both indexes');
    await c.storage.flush();
    assert.equal(c.log.stats.syncs, 3, 'then nothing more');
  });

  it('removes a producer snapshot past the log end that a crash cut the log back to, and keeps the one below', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populateWithTail(a.log, dir);
    const end = a.log.logEndOffset;
    await a.log.writeSnapshot(5n, Buffer.from('below'));
    await a.log.writeSnapshot(end, Buffer.from('at the end'));
    await a.storage.simulateCrash();
    const last = await lastSegmentLog(dir);
    await truncate(last, (await stat(last)).size - 10); // the last batch never reached the disk
    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.ok(b.log.logEndOffset < end);
    assert.deepEqual((await readdir(pdirOf(dir))).filter((n) => n.endsWith('.producer-state')), [`${'5'.padStart(20, '0')}.producer-state`]);
    assert.equal(String((await b.log.readSnapshot())?.data), 'below');
  });

  it('passes over a damaged or empty newest producer snapshot for the one before it, and reads one written without a checksum line', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    t.after(() => a.storage.close());
    await populate(a.log, 10);
    const name = (offset: bigint) => join(pdirOf(dir), `${String(offset).padStart(20, '0')}.producer-state`);
    await a.log.writeSnapshot(3n, Buffer.from('{"older":1}'));
    await a.log.writeSnapshot(7n, Buffer.from('{"newer":2}'));
    assert.equal(String((await a.log.readSnapshot())?.data), '{"newer":2}');
    const file = await readFile(name(7n));
    file[file.length - 3] ^= 0x01; // one bit of the state flipped
    await writeFile(name(7n), file);
    assert.deepEqual(await a.log.readSnapshot(), { offset: 3n, data: Buffer.from('{"older":1}') });
    await writeFile(name(7n), '');
    assert.deepEqual(await a.log.readSnapshot(), { offset: 3n, data: Buffer.from('{"older":1}') });
    await writeFile(name(7n), '{"legacy":3}');
    assert.deepEqual(await a.log.readSnapshot(), { offset: 7n, data: Buffer.from('{"legacy":3}') });
  });

  it('does not mark a shutdown clean while a partition of an unclean start was never recovered', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    const content = await populateWithTail(a.log, dir);
    await a.storage.simulateCrash();
    await appendFile(await lastSegmentLog(dir), Buffer.alloc(100, 7));
    // A run that never opens the partition.
    const idle = diskStorage(dir);
    await idle.open();
    await idle.close();
    await assert.rejects(stat(join(dir, '.samsa_clean_shutdown')), { code: 'ENOENT' });
    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.equal(await b.storage.wasCleanShutdown(), false);
    assert.deepEqual(await readAll(b.log, 0n), content, 'the garbage tail is still recovered');
  });

  it('removes leftovers: .deleted and .tmp files, index files without a log', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populate(a.log, 5);
    await a.storage.close();
    const pdir = pdirOf(dir);
    await writeFile(join(pdir, '00000000000000000999.log.deleted'), 'x');
    await writeFile(join(pdir, '00000000000000000998.index'), 'x');
    await writeFile(join(pdir, '00000000000000000998.timeindex'), 'x');
    await writeFile(join(pdir, '00000000000000000000.index.tmp'), 'x');
    const b = await openLog(dir);
    await b.storage.close();
    const names = await readdir(pdir);
    assert.deepEqual(names.filter((n) => n.includes('99') || n.endsWith('.tmp')), []);
  });

  it('a log whose segment files are all gone restarts empty at the checkpointed log start offset', async (t) => {
    const dir = await tempDir(t);
    const size = makeBatch({ valueSize: 100 }).length;
    const config = logConfig({ segmentBytes: size + 10, retentionBytes: size * 2 });
    const a = await openLog(dir, config);
    await appendAll(a.log, Array.from({ length: 6 }, () => makeBatch({ valueSize: 100 })));
    await a.log.enforceRetention(Date.now());
    assert.equal(a.log.logStartOffset, 4n);
    await a.storage.simulateCrash();
    for (const n of await readdir(pdirOf(dir))) if (/^\d{20}\./.test(n)) await rm(join(pdirOf(dir), n));

    const b = await openLog(dir, config);
    t.after(() => b.storage.close());
    assert.equal(b.log.logStartOffset, 4n);
    assert.equal(b.log.logEndOffset, 4n);
    assert.deepEqual(b.log.segmentBaseOffsets, [4n]);
    assert.equal((await b.log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, 4n);
    assert.ok((await stat(join(pdirOf(dir), '00000000000000000004.log'))).isFile());
  });

  it('a log start checkpoint past what a crash left of the log: the log starts again, empty, at the checkpoint, as in Kafka', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await appendAll(a.log, Array.from({ length: 10 }, () => makeBatch()));
    assert.equal(await a.log.deleteRecordsBefore(8n), 8n);
    await a.storage.simulateCrash();
    // The unflushed tail is lost: the one segment ends after its fifth batch, below the log start.
    const [seg] = await segmentFiles(pdirOf(dir));
    await writeFile(join(pdirOf(dir), `${seg!.base.toString().padStart(20, '0')}.log`), seg!.log.subarray(0, logBatches(seg!.log)[5]!.position));

    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.deepEqual([b.log.logStartOffset, b.log.logEndOffset], [8n, 8n]);
    assert.equal((await b.log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, 8n, 'offsets 5-7 are not handed out again');
  });

  it('an invalid batch inside an older segment (fsynced) cuts that segment only, as Kafka does: the later ones stay and are read on', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populate(a.log, 40);
    const end = a.log.logEndOffset;
    await a.storage.close(); // every segment on the disk (a crash after the fsyncs is the same)
    const segs = await segmentFiles(pdirOf(dir));
    assert.ok(segs.length >= 3);
    const victim = segs[1]!;
    const name = `${victim.base.toString().padStart(20, '0')}`;
    const data = Buffer.from(victim.log);
    const batches = logBatches(data);
    data[batches[2]!.position + 40]! ^= 0x55;
    await writeFile(join(pdirOf(dir), `${name}.log`), data);
    await rm(join(pdirOf(dir), `${name}.index`)); // forces the scan of that segment

    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.deepEqual(b.log.segmentBaseOffsets, segs.map((s) => s.base));
    assert.equal(b.log.logEndOffset, end, 'nothing after the damaged segment is lost');
    assert.equal((await stat(join(pdirOf(dir), `${name}.log`))).size, batches[2]!.position);
    // A read from the first lost offset goes on in the next segment; a read of everything skips the gap.
    const { records } = await b.log.read(batches[1]!.lastOffset + 1n, 1 << 20, { maxOffset: b.log.highWatermark, minOneBatch: true });
    assert.equal(logBatches(Buffer.from(records))[0]!.lastOffset >= segs[2]!.base, true);
    const all = logBatches(await readAll(b.log, 0n));
    const lost = batches.length - 2;
    const total = segs.reduce((n, s) => n + logBatches(s.log).length, 0);
    assert.equal(all.length, total - lost);
    assert.equal((await b.log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, end);
  });

  it('a batch of a trusted older segment whose base offset was damaged (the CRC does not cover it) fails the read as corrupt instead of answering nothing forever', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populate(a.log, 40);
    await a.storage.close(); // a clean start trusts the older segments: their batches are not read again
    const segs = await segmentFiles(pdirOf(dir));
    const victim = segs[1]!;
    const data = Buffer.from(victim.log);
    const batches = logBatches(data);
    const hit = batches[batches.length - 1]!;
    const first = data.readBigInt64BE(hit.position);
    data.writeBigInt64BE(first + 1_000_000n, hit.position); // a flipped bit of the base offset, past the log end
    await writeFile(join(pdirOf(dir), `${victim.base.toString().padStart(20, '0')}.log`), data);

    const b = await openLog(dir);
    t.after(() => b.storage.close());
    // It read as no records (the offset taken for one not yet written): a consumer waited at it for ever, without an error.
    await assert.rejects(b.log.read(first, 1 << 20, { maxOffset: b.log.highWatermark, minOneBatch: true }), { name: 'CorruptLogError', message: /base offset/ });
    const next = segs[2]!.base;
    assert.equal(batchesIn((await b.log.read(next, 1 << 20, { maxOffset: b.log.highWatermark, minOneBatch: true })).records)[0]!.baseOffset, next, 'the next segment reads on');
  });

  it('a batch of the active segment damaged before its last index entry (a clean start does not read it) fails the read as corrupt instead of answering nothing for ever', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populateWithTail(a.log, dir);
    await a.storage.close();
    const path = await lastSegmentLog(dir);
    const data = Buffer.from(await readFile(path));
    const batches = logBatches(data);
    const index = await readFile(path.replace(/\.log$/, '.index'));
    assert.ok(index.length > 0 && index.readInt32BE(4) > batches[1]!.position, 'the first index entry is past the second batch');
    data.writeInt32BE(0x0fffffff, batches[0]!.position + 8); // the first batch's length
    await writeFile(path, data);

    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.equal(b.log.logEndOffset, batches[batches.length - 1]!.lastOffset + 1n, 'a clean start checks from the last index entry on');
    // The walk from the segment's start jumped past its end: no records, and nothing after this segment to go on in.
    await assert.rejects(b.log.read(batches[0]!.lastOffset + 1n, 1 << 20, { maxOffset: b.log.highWatermark, minOneBatch: true }), { name: 'CorruptLogError' });
    const last = batches[batches.length - 1]!.lastOffset;
    assert.equal(batchesIn((await b.log.read(last, 1 << 20, { maxOffset: b.log.highWatermark, minOneBatch: true })).records)[0]!.lastOffset, last, 'reads from an index entry past the damage go on');
  });

  it('a roll does not wait for the old segment to be fsynced; after an unclean shutdown recovery checks every batch of a segment whose fsync had not finished', async (t) => {
    const dir = await tempDir(t);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const waiting: string[] = [];
    const a = await openLog(dir, CONFIG, {
      rolledSegmentSyncHook: (partition) => {
        waiting.push(partition);
        return released;
      },
    });
    await populate(a.log, 40); // every append acknowledged while no rolled segment could be fsynced
    assert.ok(a.log.stats.rolls >= 2, `rolls: ${a.log.stats.rolls}`);
    assert.deepEqual(waiting, ['orders-0'], 'the first rolled segment waits for its fsync, the others behind it');
    assert.equal(a.log.stats.syncs, 0);
    // Before the first roll left a segment unflushed, the partition's recovery point went to disk.
    assert.equal(await readFile(join(dir, 'recovery-point-offset-checkpoint'), 'utf8'), '0\n1\norders 0 0\n');
    await a.storage.simulateCrash();

    // A page of a rolled segment never reached the disk: its batches' CRCs tell (its index does not).
    const segs = await segmentFiles(pdirOf(dir));
    const victim = segs[1]!;
    const data = Buffer.from(victim.log);
    const batches = logBatches(data);
    data[batches[2]!.position + 40]! ^= 0x55;
    await writeFile(join(pdirOf(dir), `${victim.base.toString().padStart(20, '0')}.log`), data);

    const b = await openLog(dir);
    assert.deepEqual(b.log.segmentBaseOffsets, [segs[0]!.base, victim.base]);
    assert.equal(b.log.logEndOffset, batches[1]!.lastOffset + 1n);
    await b.storage.close();
    release();
  });

  it('checks every segment after an unclean shutdown when the recovery point checkpoint is missing, as Kafka recovers from 0', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populate(a.log, 40);
    await a.log.flush();
    const segs = await segmentFiles(pdirOf(dir));
    const victim = segs[1]!;
    const point = /orders 0 (\d+)/.exec(await readFile(join(dir, 'recovery-point-offset-checkpoint'), 'utf8'));
    assert.ok(point !== null && BigInt(point[1]!) > victim.base, 'the checkpoint trusted the segment');
    await a.storage.simulateCrash();
    await rm(join(dir, 'recovery-point-offset-checkpoint'));
    const data = Buffer.from(victim.log);
    const batches = logBatches(data);
    data[batches[2]!.position + 40]! ^= 0x55;
    await writeFile(join(pdirOf(dir), `${victim.base.toString().padStart(20, '0')}.log`), data);

    const b = await openLog(dir);
    t.after(() => b.storage.close());
    assert.deepEqual(b.log.segmentBaseOffsets, [segs[0]!.base, victim.base]);
    assert.equal(b.log.logEndOffset, batches[1]!.lastOffset + 1n);
  });

  it('with flush.messages=1, a batch written just before a roll is acknowledged only once the rolled segment is fsynced', async (t) => {
    const dir = await tempDir(t);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const a = await openLog(dir, logConfig({ segmentBytes: 3000, indexIntervalBytes: 200, flushMessages: 1 }), { rolledSegmentSyncHook: () => released });
    t.after(() => a.storage.close());
    t.after(() => release());
    for (let i = 0; a.log.stats.rolls === 0; i++) {
      // Two batches written together, the second rolling: neither is acknowledged before the fsync.
      const pending = [a.log.append(makeBatch({ valueSize: 200, tag: `f${i}a` }), { leaderEpoch: 0 }), a.log.append(makeBatch({ valueSize: 200, tag: `f${i}b` }), { leaderEpoch: 0 })];
      const outcome = await Promise.race([Promise.all(pending).then(() => 'acknowledged'), new Promise((r) => setTimeout(() => r('waiting'), 200))]);
      if (a.log.stats.rolls === 0) {
        assert.equal(outcome, 'acknowledged');
        continue;
      }
      assert.equal(outcome, 'waiting', 'not acknowledged while the rolled segment is not fsynced');
      release();
      await Promise.all(pending);
    }
  });

  it('a rolled segment whose fsync failed keeps the recovery point below it, whatever later fsyncs do', async (t) => {
    const dir = await tempDir(t);
    let fail!: (e: Error) => void;
    const first = new Promise<void>((_, reject) => (fail = reject));
    let calls = 0;
    const a = await openLog(dir, CONFIG, { rolledSegmentSyncHook: () => (++calls === 1 ? first : Promise.resolve()) });
    while (a.log.stats.rolls < 3) await a.log.append(makeBatch({ valueSize: 300 }), { leaderEpoch: 0 });
    fail(new Error('simulated EIO'));
    await a.log.flush().catch(() => undefined);
    assert.ok(a.log.failed, 'the partition failed');
    assert.equal(calls, 1, 'no later rolled segment was fsynced after it');
    assert.equal(await readFile(join(dir, 'recovery-point-offset-checkpoint'), 'utf8'), '0\n1\norders 0 0\n');
    await a.storage.close();
  });

  it('reports segment modification times in whole milliseconds after a reopen, as the files have them', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populate(a.log, 40);
    await a.storage.close();
    const b = await openLog(dir);
    t.after(() => b.storage.close());
    const times = b.log.segmentTimes();
    assert.ok(times.length >= 3);
    for (const s of times) {
      const file = join(pdirOf(dir), `${s.baseOffset.toString().padStart(20, '0')}.log`);
      assert.equal(s.lastModified, Math.floor((await stat(file)).mtimeMs), `segment ${s.baseOffset}`);
    }
  });

  it('moves the recovery point past each rolled segment once it is fsynced, and to the active segment at close', async (t) => {
    const dir = await tempDir(t);
    const a = await openLog(dir);
    await populate(a.log, 40);
    await a.log.flush(); // waits for the rolled segments' fsyncs too
    const bases = a.log.segmentBaseOffsets;
    assert.ok(bases.length >= 3);
    assert.ok(a.log.stats.syncs >= 3 * (bases.length - 1), `log, index and time index of every rolled segment: ${a.log.stats.syncs} fsyncs, ${bases.length} segments`);
    const active = bases[bases.length - 1]!;
    assert.equal(await readFile(join(dir, 'recovery-point-offset-checkpoint'), 'utf8'), `0\n1\norders 0 ${active}\n`);
    while (a.log.segmentBaseOffsets.length === bases.length) await a.log.append(makeBatch({ count: 5, valueSize: 200 }), { leaderEpoch: 0 });
    await a.storage.close();
    const after = a.log.segmentBaseOffsets;
    assert.ok(after.length > bases.length);
    assert.equal(await readFile(join(dir, 'recovery-point-offset-checkpoint'), 'utf8'), `0\n1\norders 0 ${after[after.length - 1]}\n`);
  });
});
