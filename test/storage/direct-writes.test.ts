/**
 * Large appends written past the page cache (direct-writer.ts): the file holds exactly the
 * batches once the segment is rolled or closed, zeros pad it to a page boundary while it is
 * active, and a restart after a crash cuts that padding as what it is (not a torn batch).
 */
import assert from 'node:assert/strict';
import { constants, promises as fsp } from 'node:fs';
import { readdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DiskPartitionLog, DiskStorage, DiskStorageOptions } from '../../src/storage/disk/index.js';
import { ALIGN } from '../../src/storage/disk/direct-writer.js';
import type { StorageLogger } from '../../src/storage/disk/logger.js';
import { readLastOffsetDelta } from '../../protocol/records/index.js';
import { logBatches, takesDirect } from './disk-helpers.js';
import { diskStorage, logConfig, makeBatch, readAll, tempDir, topicRecord } from './helpers.js';

interface Logged {
  level: 'info' | 'warn' | 'error';
  msg: string;
}

function recordingLogger(into: Logged[]): StorageLogger {
  return {
    info: (_o, msg) => into.push({ level: 'info', msg: msg ?? '' }),
    warn: (_o, msg) => into.push({ level: 'warn', msg: msg ?? '' }),
    error: (_o, msg) => into.push({ level: 'error', msg: msg ?? '' }),
  };
}

async function openLog(dir: string, options: Partial<DiskStorageOptions> = {}, segmentBytes = 1024 * 1024 * 1024): Promise<{ storage: DiskStorage; log: DiskPartitionLog }> {
  const storage = diskStorage(dir, { tailCacheBytes: 0, ...options });
  await storage.open();
  const log = (await storage.openPartition(topicRecord(), 0, logConfig({ segmentBytes }))) as DiskPartitionLog;
  return { storage, log };
}

const pdir = (dir: string): string => join(dir, 'orders-0');

async function segmentLogs(dir: string): Promise<string[]> {
  return (await readdir(pdir(dir))).filter((n) => n.endsWith('.log')).sort().map((n) => join(pdir(dir), n));
}

/** A batch of about `bytes` bytes (records of ~1 KiB). */
function bigBatch(bytes: number, tag: string): Buffer {
  return makeBatch({ count: Math.max(1, Math.round(bytes / 1050)), valueSize: 1000, tag });
}

/** Appends one at a time (no coalescing), so each append is its own write. */
async function appendEach(log: DiskPartitionLog, batches: Buffer[]): Promise<bigint[]> {
  const bases: bigint[] = [];
  for (const b of batches) bases.push((await log.append(b, { leaderEpoch: 0 })).baseOffset);
  return bases;
}

/** Large (direct), small (page cache) and large again, sizes off every page boundary; 1.5 MiB spans two staging slots. */
function mixedBatches(round: number): Buffer[] {
  return [
    bigBatch(100_000, `a${round}`),
    makeBatch({ count: 3, valueSize: 77, tag: `b${round}` }),
    bigBatch(1_500_000, `c${round}`),
    makeBatch({ count: 1, valueSize: 5, tag: `d${round}` }),
    makeBatch({ count: 2, valueSize: 300, tag: `e${round}` }),
    bigBatch(70_000, `f${round}`),
  ];
}

const O_DIRECT = (constants as Record<string, number | undefined>).O_DIRECT ?? 0;

/**
 * Makes the opens of direct descriptors fail as `fault` says (an errno code thrown, or a
 * descriptor whose writes throw it) until the returned function restores fs.promises.open.
 */
function faultDirectOpens(fault: { open?: string; write?: string; times?: number }): () => void {
  const real = fsp.open;
  let left = fault.times ?? Infinity;
  const failure = (code: string): Error => Object.assign(new Error(`${code} (injected)`), { code });
  fsp.open = (async (path: Parameters<typeof real>[0], flags?: string | number, mode?: number) => {
    if (typeof flags !== 'number' || (flags & O_DIRECT) === 0 || left <= 0) return real(path, flags, mode);
    left--;
    if (fault.open) throw failure(fault.open);
    const fh = await real(path, flags, mode);
    fh.write = (async () => {
      throw failure(fault.write!);
    }) as typeof fh.write;
    return fh;
  }) as typeof real;
  return () => {
    fsp.open = real;
  };
}

/** Whether the file holds exactly the log's `logical` bytes (no padding). */
async function endsWithLog(path: string, logical: number): Promise<boolean> {
  return (await stat(path)).size === logical;
}

const sum = (bs: Buffer[]): number => bs.reduce((n, b) => n + b.length, 0);
const recordCount = (b: Buffer): number => readLastOffsetDelta(b) + 1;

describe('direct writes', () => {
  it('large appends go past the page cache: the active file is padded to a page, the closed one holds exactly the batches', async (t) => {
    const dir = await tempDir(t);
    if (!(await takesDirect(dir))) return t.skip('this filesystem refuses O_DIRECT');
    const { storage, log } = await openLog(dir);
    const batches = [...mixedBatches(0), ...mixedBatches(1)];
    const bases = await appendEach(log, batches);
    const logical = sum(batches);
    const [file] = await segmentLogs(dir);
    const active = (await stat(file!)).size;
    assert.ok(active > logical && active % ALIGN === 0 && active - logical < ALIGN, `active file ${active} B is the log (${logical} B) padded to a page`);
    // Everything reads back as appended, offsets assigned in order.
    const expected = batches.map((b, i) => ({ base: bases[i]!, length: b.length }));
    const content = await readAll(log, 0n, 4 * 1024 * 1024);
    assert.equal(content.length, logical);
    assert.deepEqual(logBatches(content).map((b) => b.size), expected.map((e) => e.length));
    await storage.close();

    const onDisk = await readFile(file!);
    assert.equal(onDisk.length, logical, 'close cuts the padding');
    assert.deepEqual(onDisk, content, 'the file is the batches, byte for byte');
  });

  it('with direct writes off, the file never holds more than the log', async (t) => {
    const dir = await tempDir(t);
    const { storage, log } = await openLog(dir, { directWrites: false });
    const batches = mixedBatches(0);
    await appendEach(log, batches);
    const [file] = await segmentLogs(dir);
    assert.equal((await stat(file!)).size, sum(batches));
    await storage.close();
    assert.equal((await stat(file!)).size, sum(batches));
  });

  it('a roll cuts the padding of the segment it closes', async (t) => {
    const dir = await tempDir(t);
    if (!(await takesDirect(dir))) return t.skip('this filesystem refuses O_DIRECT');
    const { storage, log } = await openLog(dir, {}, 400_000);
    const batches = Array.from({ length: 9 }, (_, i) => bigBatch(150_000 + i * 333, `r${i}`));
    const bases = await appendEach(log, batches);
    const logs = await segmentLogs(dir);
    assert.ok(logs.length >= 3, `rolled into ${logs.length} segments`);
    const content = await readAll(log, 0n, 4 * 1024 * 1024);
    let at = 0;
    for (const path of logs.slice(0, -1)) {
      const bytes = await readFile(path);
      assert.deepEqual(bytes, content.subarray(at, at + bytes.length), `${path} holds its batches and nothing else`);
      at += bytes.length;
    }
    assert.equal(content.length, sum(batches));
    assert.deepEqual(bases.map((b) => Number(b)), batches.map((_, i) => batches.slice(0, i).reduce((n, b) => n + recordCount(b), 0)));
    await storage.close();
  });

  it('after a crash the padding is cut without a warning, and appends continue at the next offset', async (t) => {
    const dir = await tempDir(t);
    if (!(await takesDirect(dir))) return t.skip('this filesystem refuses O_DIRECT');
    const a = await openLog(dir);
    const batches = mixedBatches(0);
    await appendEach(a.log, batches);
    const end = a.log.logEndOffset;
    const content = await readAll(a.log, 0n, 4 * 1024 * 1024);
    // Like SIGKILL: nothing flushed, sealed or trimmed.
    await a.storage.simulateCrash();
    const [file] = await segmentLogs(dir);
    assert.ok((await stat(file!)).size > sum(batches), 'the crash left the padding');

    const logged: Logged[] = [];
    const b = await openLog(dir, { logger: recordingLogger(logged) });
    assert.equal(await b.storage.wasCleanShutdown(), false);
    assert.deepEqual(logged.filter((l) => l.level !== 'info'), [], 'padding is not reported as a torn or invalid tail');
    assert.equal((await stat(file!)).size, sum(batches), 'recovery cut the padding');
    assert.equal(b.log.logEndOffset, end);
    assert.deepEqual(await readAll(b.log, 0n, 4 * 1024 * 1024), content);
    const more = mixedBatches(1);
    const bases = await appendEach(b.log, more);
    assert.equal(bases[0], end, 'offsets continue without a gap');
    const all = await readAll(b.log, 0n, 4 * 1024 * 1024);
    assert.deepEqual(all.subarray(0, content.length), content);
    assert.equal(all.length, sum(batches) + sum(more));
    await b.storage.close();
    assert.deepEqual(await readFile(file!), all);
  });

  for (const [name, fault] of [
    ['the filesystem refuses O_DIRECT', { open: 'EINVAL' }],
    ['the kernel refuses the first aligned write', { write: 'EINVAL' }],
  ] as const) {
    it(`${name}: everything goes through the page cache, said once`, async (t) => {
      const dir = await tempDir(t);
      if (!(await takesDirect(dir))) return t.skip('this filesystem refuses O_DIRECT');
      const logged: Logged[] = [];
      const restore = faultDirectOpens(fault);
      try {
        const { storage, log } = await openLog(dir, { logger: recordingLogger(logged) });
        const batches = [...mixedBatches(0), ...mixedBatches(1)];
        await appendEach(log, batches);
        const [file] = await segmentLogs(dir);
        assert.ok(await endsWithLog(file!, sum(batches)), 'no padding: nothing was written directly');
        assert.equal((await readAll(log, 0n, 4 * 1024 * 1024)).length, sum(batches));
        await storage.close();
      } finally {
        restore();
      }
      assert.deepEqual(logged.filter((l) => l.level !== 'info' || /direct/.test(l.msg)).map((l) => l.msg), [
        'large appends are written through the page cache: direct writes are not possible here',
      ]);
    });
  }

  it('a direct descriptor that cannot be opened (out of descriptors) leaves that segment to the page cache; the partition keeps working and the next segment writes directly', async (t) => {
    const dir = await tempDir(t);
    if (!(await takesDirect(dir))) return t.skip('this filesystem refuses O_DIRECT');
    const logged: Logged[] = [];
    const restore = faultDirectOpens({ open: 'EMFILE', times: 1 });
    try {
      const { storage, log } = await openLog(dir, { logger: recordingLogger(logged) }, 400_000);
      const first = [bigBatch(150_000, 'x0'), bigBatch(150_000, 'x1')];
      await appendEach(log, first);
      const [seg0] = await segmentLogs(dir);
      assert.ok(await endsWithLog(seg0!, sum(first)), 'the first segment went through the page cache');
      // Past segment.bytes: a roll, and the new segment opens its direct descriptor.
      const second = [bigBatch(150_000, 'x2'), bigBatch(150_000, 'x3'), bigBatch(150_000, 'x4')];
      await appendEach(log, second);
      const logs = await segmentLogs(dir);
      assert.ok(logs.length >= 2);
      assert.equal((await stat(logs[logs.length - 1]!)).size % ALIGN, 0, 'the new active segment is written directly (padded)');
      assert.equal((await readAll(log, 0n, 4 * 1024 * 1024)).length, sum(first) + sum(second));
      await storage.close();
    } finally {
      restore();
    }
    assert.deepEqual(logged.filter((l) => l.level !== 'info').map((l) => [l.level, l.msg]), [
      ['warn', 'could not open a segment for direct writes: it is written through the page cache'],
    ]);
  });

  it('padding left in a rolled segment (its truncate lost with the power) is cut at restart and the segments after it are kept', async (t) => {
    const dir = await tempDir(t);
    if (!(await takesDirect(dir))) return t.skip('this filesystem refuses O_DIRECT');
    // Rolled segments stay unflushed (their fsync waits), so the restart checks them all.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    t.after(() => release());
    const a = await openLog(dir, { rolledSegmentSyncHook: () => released }, 400_000);
    await appendEach(a.log, Array.from({ length: 7 }, (_, i) => bigBatch(150_000 + i * 777, `p${i}`)));
    const end = a.log.logEndOffset;
    const content = await readAll(a.log, 0n, 4 * 1024 * 1024);
    await a.storage.simulateCrash();
    const logs = await segmentLogs(dir);
    assert.ok(logs.length >= 3, `${logs.length} segments`);
    const middle = logs[1]!;
    const size = (await stat(middle)).size;
    assert.notEqual(size % ALIGN, 0, 'the roll cut the padding');
    await truncate(middle, size + ALIGN - (size % ALIGN));

    const logged: Logged[] = [];
    const b = await openLog(dir, { logger: recordingLogger(logged) }, 400_000);
    assert.deepEqual(logged.filter((l) => l.level !== 'info'), []);
    assert.equal((await stat(middle)).size, size);
    assert.equal(b.log.logEndOffset, end);
    assert.deepEqual(await segmentLogs(dir), logs, 'every segment is kept');
    assert.deepEqual(await readAll(b.log, 0n, 4 * 1024 * 1024), content);
    await b.storage.close();
  });
});
