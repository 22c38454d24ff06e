/**
 * Log compaction (cleanup.policy=compact) and DeleteRecords, against every engine where the
 * visible result must be the same, and the disk engine's files, checkpoint and crash safety.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ATTR_DELETE_HORIZON,
  buildControlBatch,
  CompressionCodec,
  decodeRecords,
  readAttributes,
  readBaseOffset,
  readBaseTimestamp,
  readLastOffset,
  readRecordCount,
  splitBatches,
  verifyBatchCrc,
} from '../../protocol/records/index.js';
import type { DiskPartitionLog } from '../../src/storage/disk/index.js';
import { OffsetOutOfRangeError, PolicyViolationError, type LogConfig, type PartitionLog, type Storage } from '../../src/storage/storage.js';
import { segmentFiles } from './disk-helpers.js';
import { batchesIn, diskStorage, ENGINES, keyedBatch, logConfig, readAll, tempDir, topicRecord, visibleRecords, type EngineFactory, type VisibleRecord } from './helpers.js';

type T = Parameters<typeof tempDir>[0];

/** Batches of 5 fixed-size records: every batch has the same size, so segments hold 3 batches. */
const rec = (key: number, version: number, timestamp = 1_000) => ({ key: `k${String(key).padStart(2, '0')}`, value: `v${String(version).padStart(5, '0')}`, timestamp });
const BATCH = keyedBatch([0, 1, 2, 3, 4].map((i) => rec(i, i))).length;
const SEGMENT = BATCH * 3 + 10;
const COMPACTED: Partial<LogConfig> = { cleanupPolicy: 'compact', segmentBytes: SEGMENT, indexIntervalBytes: 200 };

interface Opened {
  storage: Storage;
  log: PartitionLog;
  clock: { now: number };
}

async function open(t: T, engine: EngineFactory, config: Partial<LogConfig> = COMPACTED, dir?: string): Promise<Opened & { dir: string }> {
  const d = dir ?? (await tempDir(t));
  const clock = { now: 1_700_000_000_000 };
  const storage = engine.create(d, { now: () => clock.now });
  await storage.open();
  const log = await storage.openPartition(topicRecord(), 0, logConfig(config));
  return { storage, log, clock, dir: d };
}

/** `n` batches; record i of batch b has key (b * 7 + i * 3) % keys, version = its offset. */
async function appendVersions(log: PartitionLog, n: number, keys = 10, timestamp = (b: number) => 1_000 + b): Promise<VisibleRecord[]> {
  const all: VisibleRecord[] = [];
  for (let b = 0; b < n; b++) {
    const base = log.logEndOffset;
    const records = [0, 1, 2, 3, 4].map((i) => rec((b * 7 + i * 3) % keys, Number(base) + i, timestamp(b)));
    await log.append(keyedBatch(records), { leaderEpoch: 0 });
    records.forEach((r, i) => all.push({ offset: base + BigInt(i), key: r.key, value: r.value }));
  }
  return all;
}

/** What one complete cleaning of everything below `cleanUpTo` leaves: the last record of each key there, and all the rest. */
function expectCompacted(all: VisibleRecord[], cleanUpTo: bigint): VisibleRecord[] {
  const last = new Map<string | null, bigint>();
  for (const r of all) if (r.offset < cleanUpTo) last.set(r.key, r.offset);
  return all.filter((r) => r.offset >= cleanUpTo || (r.key !== null && last.get(r.key) === r.offset));
}

const byOffset = (log: PartitionLog): Promise<VisibleRecord[]> => visibleRecords(log);

/** Appends `batch` as the first batch of a new segment (segment.bytes lowered to its size for this append). */
async function appendRolling(log: PartitionLog, config: Partial<LogConfig>, batch: Buffer): Promise<void> {
  log.setConfig(logConfig({ ...config, segmentBytes: batch.length }));
  await log.append(batch, { leaderEpoch: 0 });
  log.setConfig(logConfig(config));
}

for (const engine of ENGINES) {
  describe(`log compaction: ${engine.name}`, () => {
    it('keeps the latest value of each key with its original offset, in batches with their original offsets', async (t) => {
      const { storage, log, clock } = await open(t, engine);
      t.after(() => storage.close());
      const all = await appendVersions(log, 20); // 7 segments of 3 batches; the active one starts at 90
      const before = splitBatches(await readAll(log)).batches.map((b) => [readBaseOffset(b.buf), readLastOffset(b.buf)]);
      const r = await log.compact(clock.now);
      assert.ok(r, 'the log is due: everything is dirty');
      assert.equal(r.complete, true);
      assert.equal(r.firstDirtyOffset, 0n);
      assert.equal(r.cleanedUpTo, 90n, 'cleaned up to the active segment');
      assert.equal(r.recordsRead, 90);
      assert.deepEqual(await byOffset(log), expectCompacted(all, 90n));
      // Batches keep their base and last offsets (gaps inside), all with valid CRCs.
      const after = batchesIn(await readAll(log));
      for (const b of after) assert.ok(before.some(([base, last]) => base === b.baseOffset && last === b.lastOffset), `batch ${b.baseOffset}..${b.lastOffset} existed`);
      assert.equal(log.logStartOffset, 0n);
      assert.equal(log.logEndOffset, 100n);
      assert.equal(await log.compact(clock.now), null, 'nothing dirty is left below the active segment');
      // New appends, overwriting keys again: the next round cleans the new dirty part too.
      const more = await appendVersions(log, 9);
      const r2 = await log.compact(clock.now);
      assert.ok(r2);
      assert.equal(r2.firstDirtyOffset, 90n);
      assert.deepEqual(await byOffset(log), expectCompacted([...all, ...more], r2.cleanedUpTo));
      const next = await log.append(keyedBatch([rec(1, 1)]), { leaderEpoch: 0 });
      assert.equal(next.baseOffset, 145n, 'offsets go on after the old log end');
    });

    it('keeps rewritten batches compressed with their codec and producer fields', async (t) => {
      const { storage, log, clock } = await open(t, engine, { ...COMPACTED, segmentBytes: 400 });
      t.after(() => storage.close());
      for (let b = 0; b < 6; b++) {
        await log.append(keyedBatch([rec(b % 2, b * 2), rec(2, b * 2 + 1)], { compression: CompressionCodec.Gzip, producerId: 7n, producerEpoch: 1, baseSequence: b * 2 }), { leaderEpoch: 0 });
      }
      await log.append(keyedBatch([rec(9, 99)]), { leaderEpoch: 0 });
      assert.ok(await log.compact(clock.now));
      for (const b of splitBatches(await readAll(log)).batches) {
        assert.ok(verifyBatchCrc(b.buf));
        if (readBaseOffset(b.buf) >= 12n) continue;
        assert.equal(readAttributes(b.buf) & 7, CompressionCodec.Gzip);
        assert.equal(b.buf.readBigInt64BE(43), 7n);
        assert.equal(b.buf.readInt32BE(53), Number(readBaseOffset(b.buf)), 'base sequence kept');
      }
      const vis = await byOffset(log);
      assert.deepEqual(vis.map((v) => [v.offset, v.key]).filter(([o]) => (o as bigint) < 12n), [[8n, 'k00'], [10n, 'k01'], [11n, 'k02']]);
    });

    it('keeps tombstones until delete.retention.ms after their first cleaning, then removes them', async (t) => {
      const config = { ...COMPACTED, deleteRetentionMs: 60_000, minCleanableDirtyRatio: 0 };
      const { storage, log, clock } = await open(t, engine, config);
      t.after(() => storage.close());
      await log.append(keyedBatch([rec(1, 0), rec(2, 1), rec(3, 2), rec(4, 3), rec(5, 4)]), { leaderEpoch: 0 });
      await log.append(keyedBatch([{ key: 'k01', value: null }, rec(6, 6), rec(7, 7), rec(8, 8), rec(9, 9)]), { leaderEpoch: 0 });
      await log.append(keyedBatch([rec(10, 10), rec(11, 11), rec(12, 12), rec(13, 13), rec(14, 14)]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([rec(15, 15)])); // the first three batches are cleanable
      const t0 = clock.now;
      assert.ok(await log.compact(t0));
      let vis = await byOffset(log);
      assert.ok(!vis.some((v) => v.offset === 0n), 'the value the tombstone deletes is gone');
      assert.deepEqual(vis.find((v) => v.offset === 5n), { offset: 5n, key: 'k01', value: null }, 'the tombstone stays');
      const holder = splitBatches(await readAll(log)).batches.find((b) => readBaseOffset(b.buf) === 5n)!.buf;
      assert.ok(readAttributes(holder) & ATTR_DELETE_HORIZON, 'its batch is marked with the delete horizon');
      assert.equal(readBaseTimestamp(holder), BigInt(t0 + 60_000), 'the horizon is in baseTimestamp');
      // More dirty data, cleaned before the horizon: the tombstone stays.
      await log.append(keyedBatch([rec(20, 20), rec(21, 21), rec(22, 22), rec(23, 23), rec(24, 24)]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([rec(25, 25)]));
      assert.ok(await log.compact(t0 + 59_999));
      vis = await byOffset(log);
      assert.ok(vis.some((v) => v.offset === 5n), 'still there one ms before the horizon');
      await log.append(keyedBatch([rec(30, 30), rec(31, 31), rec(32, 32)]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([rec(36, 36)]));
      assert.ok(await log.compact(t0 + 60_000));
      vis = await byOffset(log);
      assert.ok(!vis.some((v) => v.offset === 5n), 'removed once the horizon passed');
      assert.ok(vis.some((v) => v.offset === 6n), 'the rest of its batch stays');
    });

    it('does not clean segments holding records newer than min.compaction.lag.ms', async (t) => {
      const { storage, log, clock } = await open(t, engine, { ...COMPACTED, minCompactionLagMs: 5_000 });
      t.after(() => storage.close());
      const now = clock.now;
      // 6 batches stamped long ago, then 6 stamped 1 s before now: segments [0,3) [3,6) old; [6,9) [9,12) young.
      const all = await appendVersions(log, 12, 4, (b) => (b < 6 ? now - 100_000 : now - 1_000));
      await appendVersions(log, 1, 4, () => now);
      const r = await log.compact(now);
      assert.ok(r);
      assert.equal(r.cleanedUpTo, 30n, 'only the two old segments are cleaned');
      const vis = await byOffset(log);
      assert.deepEqual(vis.filter((v) => v.offset >= 30n && v.offset < 60n), all.filter((v) => v.offset >= 30n), 'young segments untouched');
      assert.deepEqual(vis.filter((v) => v.offset < 30n), expectCompacted(all.slice(0, 30), 30n));
      assert.equal(await log.compact(now), null, 'not due while the rest is young (dirty ratio is not enough)');
      const later = await log.compact(now + 10_000);
      assert.ok(later, 'due once the lag passed');
      assert.equal(later.cleanedUpTo, 60n);
    });

    it('never touches the active segment, and obeys min.cleanable.dirty.ratio and max.compaction.lag.ms', async (t) => {
      const { storage, log, clock } = await open(t, engine, { ...COMPACTED, segmentBytes: 1 << 20 });
      t.after(() => storage.close());
      const all = await appendVersions(log, 10);
      assert.equal(await log.compact(clock.now), null, 'everything is in the active segment');
      assert.deepEqual(await byOffset(log), all);
      log.setConfig(logConfig({ ...COMPACTED, segmentBytes: SEGMENT }));
      await appendVersions(log, 1); // rolls: the first segment now holds 10 batches, all dirty
      log.setConfig(logConfig({ ...COMPACTED, segmentBytes: SEGMENT, minCleanableDirtyRatio: 1 }));
      assert.equal(await log.compact(clock.now), null, 'a ratio of 1 is never exceeded');
      log.setConfig(logConfig({ ...COMPACTED, segmentBytes: SEGMENT, minCleanableDirtyRatio: 1, maxCompactionLagMs: 60_000 }));
      assert.equal(await log.compact(1_000 + 59_000), null, 'dirty data not yet older than max.compaction.lag.ms');
      assert.ok(await log.compact(1_000 + 70_000), 'overdue dirty data is cleaned whatever the ratio');
    });

    it('DeleteRecords moves the log start offset, checks its bounds and the policy', async (t) => {
      const { storage, log } = await open(t, engine, { cleanupPolicy: 'delete', segmentBytes: SEGMENT });
      t.after(() => storage.close());
      await appendVersions(log, 10);
      assert.equal(await log.deleteRecordsBefore(37n), 37n);
      assert.equal(log.logStartOffset, 37n);
      assert.equal(await log.deleteRecordsBefore(20n), 37n, 'never moves back');
      const first = batchesIn((await log.read(0n, 1, { maxOffset: log.highWatermark, minOneBatch: true })).records)[0]!;
      assert.equal(first.baseOffset, 35n, 'reads below the start begin at the batch holding it');
      await assert.rejects(log.deleteRecordsBefore(51n), OffsetOutOfRangeError);
      await assert.rejects(log.deleteRecordsBefore(-2n), OffsetOutOfRangeError);
      assert.equal(await log.deleteRecordsBefore(-1n), 50n, '-1 means the high watermark');
      assert.equal(log.logStartOffset, 50n);
      assert.equal((await log.read(0n, 1 << 20, { maxOffset: log.highWatermark, minOneBatch: true })).records.length, 0);
      assert.equal((await log.append(keyedBatch([rec(1, 1)]), { leaderEpoch: 0 })).baseOffset, 50n);
      log.setConfig(logConfig({ cleanupPolicy: 'compact', segmentBytes: SEGMENT }));
      await assert.rejects(log.deleteRecordsBefore(51n), PolicyViolationError);
    });

    it('an empty cleanup.policy neither deletes nor compacts: retention keeps everything, DeleteRecords is refused (Kafka 3.x)', async (t) => {
      const { storage, log, clock } = await open(t, engine, { cleanupPolicy: '', segmentBytes: SEGMENT, retentionMs: 1_000, retentionBytes: 1 });
      t.after(() => storage.close());
      const all = await appendVersions(log, 10);
      assert.equal(await log.enforceRetention(clock.now), 0);
      assert.equal(await log.compact(clock.now), null);
      await assert.rejects(log.deleteRecordsBefore(5n), PolicyViolationError);
      assert.equal(log.logStartOffset, 0n);
      assert.deepEqual(await byOffset(log), all);
    });

    it('max.compaction.lag.ms shorter than segment.ms rolls a compacted log, so that its records become cleanable in time', async (t) => {
      const { storage, log } = await open(t, engine, { ...COMPACTED, segmentBytes: 1 << 20, maxCompactionLagMs: 1_000 });
      t.after(() => storage.close());
      await appendVersions(log, 3, 10, (b) => 1_000 + b * 5_000);
      const bases = () => log.segmentTimes().map((seg) => seg.baseOffset);
      assert.deepEqual(bases(), [0n, 5n, 10n]);
      log.setConfig(logConfig({ ...COMPACTED, cleanupPolicy: 'delete', segmentBytes: 1 << 20, maxCompactionLagMs: 1_000 }));
      await appendVersions(log, 2, 10, (b) => 100_000 + b * 5_000);
      assert.deepEqual(bases(), [0n, 5n, 10n], 'a log that is not compacted rolls by segment.ms alone');
    });

    it('with compact,delete both retention and compaction apply', async (t) => {
      const { storage, log, clock } = await open(t, engine, { ...COMPACTED, cleanupPolicy: 'compact,delete', retentionMs: 50_000 });
      t.after(() => storage.close());
      const now = clock.now;
      const all = await appendVersions(log, 12, 10, (b) => (b < 3 ? now - 100_000 : now - 1_000));
      await appendVersions(log, 1, 10, () => now);
      assert.ok((await log.enforceRetention(now)) > 0);
      assert.equal(log.logStartOffset, 15n, 'the expired first segment went');
      const r = await log.compact(now);
      assert.ok(r);
      assert.equal(r.firstDirtyOffset, 15n, 'cleaning starts at the log start');
      assert.deepEqual((await byOffset(log)).filter((v) => v.offset < 60n), expectCompacted(all.filter((v) => v.offset >= 15n), 60n));
    });

    it('drops records without a key when cleaning a topic switched from delete to compact, as Kafka\'s cleaner does', async (t) => {
      const config: Partial<LogConfig> = { ...COMPACTED, cleanupPolicy: 'delete' };
      const { storage, log, clock } = await open(t, engine, config);
      t.after(() => storage.close());
      await log.append(keyedBatch([{ key: null, value: 'a' }, rec(1, 1), { key: null, value: 'b' }]), { leaderEpoch: 0 });
      await log.append(keyedBatch([{ key: null, value: 'c' }]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([{ key: null, value: 'd' }])); // the active segment starts at 4
      log.setConfig(logConfig(COMPACTED));
      const r = await log.compact(clock.now);
      assert.ok(r);
      assert.equal(r.cleanedUpTo, 4n);
      assert.deepEqual(await byOffset(log), [
        { offset: 1n, key: 'k01', value: 'v00001' },
        { offset: 4n, key: null, value: 'd' },
      ], 'keyless records of the cleaned segments are gone; the active segment is untouched');
    });
  });
}

describe('log compaction: engines agree', () => {
  it('memory and disk return the same bytes after the same compactions', async (t) => {
    const results: string[] = [];
    for (const engine of ENGINES) {
      const { storage, log, clock } = await open(t, engine, { ...COMPACTED, minCleanableDirtyRatio: 0.2 });
      await appendVersions(log, 14, 6);
      await log.append(keyedBatch([{ key: 'k03', value: null }, rec(4, 1)]), { leaderEpoch: 0 });
      await appendVersions(log, 5, 6);
      await log.compact(clock.now);
      await appendVersions(log, 7, 6);
      await log.compact(clock.now + 1);
      results.push((await readAll(log)).toString('hex'));
      await storage.close();
    }
    for (let i = 1; i < results.length; i++) assert.equal(results[i], results[0], `${ENGINES[i]!.name} agrees with ${ENGINES[0]!.name}`);
  });
});

// ---------------------------------------------------------------- transactions and producers

describe('log compaction: transactions and producer state', () => {
  for (const engine of ENGINES) {
    it(`${engine.name}: removes aborted data, keeps markers while their data remains, then until the horizon`, async (t) => {
      const config = { ...COMPACTED, minCleanableDirtyRatio: 0, deleteRetentionMs: 1_000, segmentBytes: 1 << 20 };
      const { storage, log, clock } = await open(t, engine, config);
      t.after(() => storage.close());
      // Producers idle for more than a day: they pin no batch.
      const old = clock.now - 2 * 86_400_000;
      const txn = (pid: bigint, records: ReturnType<typeof rec>[]) => keyedBatch(records, { producerId: pid, producerEpoch: 0, baseSequence: 0, transactional: true });
      const marker = (pid: bigint, type: 'ABORT' | 'COMMIT') => buildControlBatch({ type, producerId: pid, producerEpoch: 0, coordinatorEpoch: 0, timestamp: old });
      await log.append(keyedBatch([rec(1, 0, old)]), { leaderEpoch: 0 }); // 0: k01 = v0
      await log.append(txn(5n, [rec(1, 1, old), rec(2, 2, old)]), { leaderEpoch: 0 }); // 1-2: aborted
      await log.append(txn(6n, [rec(3, 3, old)]), { leaderEpoch: 0 }); // 3: committed
      await log.append(marker(5n, 'ABORT'), { leaderEpoch: 0 }); // 4
      await log.append(marker(6n, 'COMMIT'), { leaderEpoch: 0 }); // 5
      await log.append(keyedBatch([rec(9, 6, old)]), { leaderEpoch: 0 }); // 6
      await appendRolling(log, config, keyedBatch([rec(9, 7, old)])); // 7: the active segment from here
      const offsetsOf = async () => splitBatches(await readAll(log)).batches.map((b) => [Number(readBaseOffset(b.buf)), readRecordCount(b.buf)]);

      assert.ok(await log.compact(clock.now));
      assert.deepEqual((await byOffset(log)).map((v) => [v.offset, v.key, v.value]), [
        [0n, 'k01', 'v00000'],
        [3n, 'k03', 'v00003'],
        [6n, 'k09', 'v00006'],
        [7n, 'k09', 'v00007'],
      ], 'aborted records gone, k01 keeps its committed value');
      assert.deepEqual(await offsetsOf(), [[0, 1], [3, 1], [4, 1], [5, 1], [6, 1], [7, 1]], 'both markers kept: their transactions had data in this pass');

      // Next round: the abort marker's data is gone, the commit's still there. The abort marker gets a horizon.
      await log.append(keyedBatch([rec(20, 8, old)]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([rec(20, 9, old)]));
      assert.ok(await log.compact(clock.now));
      const abortMarker = splitBatches(await readAll(log)).batches.find((b) => readBaseOffset(b.buf) === 4n)!.buf;
      assert.ok(readAttributes(abortMarker) & ATTR_DELETE_HORIZON);
      assert.equal(readBaseTimestamp(abortMarker), BigInt(clock.now + 1_000));

      await log.append(keyedBatch([rec(21, 10, old)]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([rec(21, 11, old)]));
      assert.ok(await log.compact(clock.now + 1_000));
      const offsets = (await offsetsOf()).map(([o]) => o);
      assert.ok(!offsets.includes(4), 'the abort marker is gone after the horizon');
      assert.ok(offsets.includes(5), 'the commit marker stays while its transaction has data');
    });

    it(`${engine.name}: keeps the emptied last batch of an active producer as a bare header, drops an expired one's`, async (t) => {
      const config = { ...COMPACTED, minCleanableDirtyRatio: 0, segmentBytes: 1 << 20 };
      const { storage, log, clock } = await open(t, engine, config);
      t.after(() => storage.close());
      const recent = clock.now - 1_000;
      const old = clock.now - 2 * 86_400_000;
      await log.append(keyedBatch([rec(1, 0, recent)], { producerId: 1n, producerEpoch: 0, baseSequence: 0 }), { leaderEpoch: 0 }); // 0: active producer
      await log.append(keyedBatch([rec(2, 1, old)], { producerId: 2n, producerEpoch: 0, baseSequence: 0 }), { leaderEpoch: 0 }); // 1: expired producer
      await log.append(keyedBatch([rec(3, 2, old)], { producerId: 3n, producerEpoch: 0, baseSequence: 0 }), { leaderEpoch: 0 }); // 2: producer 3, superseded by 3
      await log.append(keyedBatch([rec(1, 3), rec(2, 4), rec(3, 5)]), { leaderEpoch: 0 }); // 3-5 overwrite all three
      await log.append(keyedBatch([rec(3, 6, recent)], { producerId: 3n, producerEpoch: 0, baseSequence: 1 }), { leaderEpoch: 0 }); // 6
      await log.append(keyedBatch([rec(8, 7)]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([rec(9, 8)])); // 8: active segment
      assert.ok(await log.compact(clock.now));
      const batches = splitBatches(await readAll(log)).batches.map((b) => [Number(readBaseOffset(b.buf)), readRecordCount(b.buf), b.buf.length]);
      assert.deepEqual(batches.map(([o, n]) => [o, n]), [[0, 0], [3, 2], [6, 1], [7, 1], [8, 1]], 'producer 1 keeps an empty batch; 2 (expired) and 3 (not its last) lose theirs');
      assert.equal(batches[0]![2], 61, 'a bare batch header');
    });


    it(`${engine.name}: a log written under cleanup.policy=delete and then compacted treats producers the same`, async (t) => {
      // Segments of about two batches, filled while the policy is delete (the disk engine keeps no
      // producer summaries then and must learn them from the files once compaction is on).
      const config = { ...COMPACTED, minCleanableDirtyRatio: 0, segmentBytes: 250 };
      const { storage, log, clock } = await open(t, engine, { ...config, cleanupPolicy: 'delete' });
      t.after(() => storage.close());
      const recent = clock.now - 1_000;
      const old = clock.now - 2 * 86_400_000;
      await log.append(keyedBatch([rec(1, 0, recent)], { producerId: 1n, producerEpoch: 0, baseSequence: 0 }), { leaderEpoch: 0 });
      await log.append(keyedBatch([rec(2, 1, old)], { producerId: 2n, producerEpoch: 0, baseSequence: 0 }), { leaderEpoch: 0 });
      await log.append(keyedBatch([rec(3, 2, old)], { producerId: 3n, producerEpoch: 0, baseSequence: 0 }), { leaderEpoch: 0 });
      await log.append(keyedBatch([rec(1, 3), rec(2, 4), rec(3, 5)]), { leaderEpoch: 0 });
      log.setConfig(logConfig(config));
      await log.append(keyedBatch([rec(3, 6, recent)], { producerId: 3n, producerEpoch: 0, baseSequence: 1 }), { leaderEpoch: 0 });
      await log.append(keyedBatch([rec(8, 7)]), { leaderEpoch: 0 });
      await appendRolling(log, config, keyedBatch([rec(9, 8)]));
      for (let round = 0; round < 10 && (await log.compact(clock.now)); round++);
      const batches = splitBatches(await readAll(log)).batches.map((b) => [Number(readBaseOffset(b.buf)), readRecordCount(b.buf)]);
      assert.deepEqual(batches, [[0, 0], [3, 2], [6, 1], [7, 1], [8, 1]], 'producer 1 keeps an empty batch; 2 (expired) and 3 (not its last) lose theirs');
    });
  }
});

// ---------------------------------------------------------------- disk only: files, reopen, crashes, races

async function openDisk(dir: string, config: Partial<LogConfig> = COMPACTED, hook?: (stage: string) => void, clock = { now: 1_700_000_000_000 }) {
  const storage = diskStorage(dir, { tailCacheBytes: 0, now: () => clock.now, cleanerHook: hook });
  await storage.open();
  const log = (await storage.openPartition(topicRecord(), 0, logConfig(config))) as DiskPartitionLog;
  return { storage, log, clock };
}

const partitionFiles = async (dir: string) => (await readdir(join(dir, 'orders-0'))).sort();

describe('log compaction: disk engine', () => {
  it('a compacted log reopens identically; the cleaner checkpoint is persisted in Kafka\'s format', async (t) => {
    const dir = await tempDir(t);
    const a = await openDisk(dir);
    await appendVersions(a.log, 20);
    const activeBefore = (await segmentFiles(join(dir, 'orders-0'))).at(-1)!.log;
    assert.ok(await a.log.compact(a.clock.now));
    const content = await readAll(a.log);
    const segs = await segmentFiles(join(dir, 'orders-0'));
    assert.deepEqual(segs.at(-1)!.log, activeBefore, 'the active segment file is untouched');
    assert.deepEqual(a.log.segmentBaseOffsets, [0n, 15n, 30n, 45n, 60n, 75n, 90n], 'groups are made by the sizes before cleaning (as Kafka does)');
    assert.equal(await readFile(join(dir, 'cleaner-offset-checkpoint'), 'utf8'), '0\n1\norders 0 90\n');
    assert.equal(a.log.size, content.length);
    await a.storage.close();
    assert.ok((await partitionFiles(dir)).every((n) => !/\.(cleaned|swap|deleted)$/.test(n)));

    const b = await openDisk(dir);
    t.after(() => b.storage.close());
    assert.deepEqual(await readAll(b.log), content);
    assert.equal(b.log.size, content.length);
    assert.equal(await b.log.compact(b.clock.now), null, 'the checkpoint says everything below the active segment is clean');
    const found = await b.log.findBatchByTimestamp(1_005n);
    assert.ok(found);
  });

  it('reads racing a compaction return whole batches of one version or the other', async (t) => {
    const dir = await tempDir(t);
    const a = await openDisk(dir, { ...COMPACTED, segmentBytes: BATCH * 20 + 10 });
    t.after(() => a.storage.close());
    const all = await appendVersions(a.log, 200, 50);
    const valid = new Set(all.map((v) => `${v.offset}:${v.key}:${v.value}`));
    const reads: Promise<unknown>[] = [];
    const check = async (offset: bigint) => {
      const { records } = await a.log.read(offset, 700, { maxOffset: a.log.highWatermark, minOneBatch: true });
      const batches = batchesIn(records);
      assert.ok(batches.length > 0, `something to read at ${offset}`);
      assert.ok(batches[0]!.baseOffset <= offset || offset < batches[0]!.baseOffset, 'starts at or after the offset');
      for (const b of splitBatches(records).batches) {
        for (const r of decodeRecords(b.buf)) {
          assert.ok(valid.has(`${r.offset}:${r.key}:${r.value}`), `record ${r.offset} is one that was written there`);
        }
      }
    };
    const compaction = a.log.compact(a.clock.now);
    for (let round = 0; round < 3; round++) {
      for (let o = 0n; o < 1000n; o += 7n) {
        reads.push(check(o));
        if (o % 70n === 0n) await new Promise((r) => setImmediate(r));
      }
    }
    const r = await compaction;
    await Promise.all(reads);
    assert.ok(r && r.segmentsCleaned > 0);
    assert.deepEqual(await visibleRecords(a.log), expectCompacted(all, r.cleanedUpTo));
  });

  it('bounds the work of one call; the round goes on at the next call', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir, { tailCacheBytes: 0, cleanerBytesPerPass: BATCH * 4 });
    t.after(() => storage.close());
    await storage.open();
    const log = await storage.openPartition(topicRecord(), 0, logConfig({ ...COMPACTED, minCleanableDirtyRatio: 0 }));
    const all = await appendVersions(log, 20);
    const calls = [];
    for (;;) {
      const r = await log.compact(1_700_000_000_000);
      if (r === null) break;
      calls.push(r);
      assert.ok(r.bytesRead <= BATCH * 4 + 2 * SEGMENT, `one call reads at most its budget, one more dirty segment and one group (${r.bytesRead})`);
    }
    assert.ok(calls.length > 4, `several calls (${calls.length})`);
    assert.ok(calls.some((r) => !r.complete), 'some calls leave their round unfinished');
    assert.equal(calls.at(-1)!.cleanedUpTo, 90n);
    assert.deepEqual(await visibleRecords(log), expectCompacted(all, 90n));
  });

  it('a cleaner killed at any step leaves a log that recovers with no offset lost or duplicated', async (t) => {
    // A dry run lists the steps.
    const stages: string[] = [];
    let reference: { before: VisibleRecord[]; after: VisibleRecord[] };
    {
      const dir = await tempDir(t);
      const a = await openDisk(dir, COMPACTED, (s) => stages.push(s));
      await appendVersions(a.log, 20);
      const before = await visibleRecords(a.log);
      await a.log.compact(a.clock.now);
      reference = { before, after: await visibleRecords(a.log) };
      await a.storage.close();
    }
    const perGroup = ['cleaned-written', 'swap:timeindex', 'swap:index', 'swap:log', 'in-memory', 'old-deleted', 'final:timeindex', 'final:index', 'final:log'];
    assert.deepEqual(stages, [...Array.from({ length: 6 }, () => perGroup).flat(), 'round-done'], 'one swap per segment (groups are sized before cleaning)');
    assert.notDeepEqual(reference.after, reference.before);
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!;
      // Groups whose .log.swap exists at the kill are swapped in (now, or by recovery); the others are not.
      const seen = stages.slice(0, i + 1);
      const groupsSwapped = seen.filter((s) => s === 'swap:log').length;
      const boundary = BigInt(groupsSwapped * 15);
      const expected = [...reference.after.filter((v) => v.offset < boundary), ...reference.before.filter((v) => v.offset >= boundary)];
      const dir = await tempDir(t);
      let n = 0;
      const a = await openDisk(dir, { ...COMPACTED, fileDeleteDelayMs: 60_000 }, () => {
        if (n++ === i) throw Object.assign(new Error(`killed at ${stage}`), { simulatedCrash: true });
      });
      await appendVersions(a.log, 20);
      await assert.rejects(a.log.compact(a.clock.now), /killed at/);
      await a.storage.simulateCrash();

      const b = await openDisk(dir);
      const visible = await visibleRecords(b.log);
      assert.deepEqual(visible, expected, `killed at step ${i} (${stage}): ${groupsSwapped} group(s) swapped in`);
      assert.equal(b.log.logEndOffset, 100n);
      const offsets = visible.map((v) => v.offset);
      for (let k = 1; k < offsets.length; k++) assert.ok(offsets[k]! > offsets[k - 1]!, 'offsets increase, none twice');
      assert.ok((await partitionFiles(dir)).every((f) => !/\.(cleaned|swap|deleted)$/.test(f)), `no leftovers after ${stage}`);
      // Cleaning again (the checkpoint did not move unless the round was done) gives the same log.
      await b.log.compact(b.clock.now);
      assert.deepEqual(await visibleRecords(b.log), reference.after, `after ${stage}, cleaning again gives the same log`);
      await b.storage.close();
      const c = await openDisk(dir);
      assert.deepEqual(await visibleRecords(c.log), reference.after);
      await c.storage.close();
    }
  });

  it('DeleteRecords deletes the segments below the new start and survives a reopen', async (t) => {
    const dir = await tempDir(t);
    const a = await openDisk(dir, { segmentBytes: SEGMENT });
    await appendVersions(a.log, 10);
    assert.equal(await a.log.deleteRecordsBefore(37n), 37n);
    assert.deepEqual(a.log.segmentBaseOffsets, [30n, 45n], 'segments wholly below 37 are gone');
    assert.equal(await readFile(join(dir, 'log-start-offset-checkpoint'), 'utf8'), '0\n1\norders 0 37\n');
    await a.storage.simulateCrash();
    const b = await openDisk(dir, { segmentBytes: SEGMENT });
    t.after(() => b.storage.close());
    assert.equal(b.log.logStartOffset, 37n);
    const first = batchesIn((await b.log.read(0n, 1, { maxOffset: b.log.highWatermark, minOneBatch: true })).records)[0]!;
    assert.equal(first.baseOffset, 35n);
    // Retention keeps the start where DeleteRecords put it.
    await b.log.enforceRetention(Date.now());
    assert.equal(b.log.logStartOffset, 37n);
  });

  it('a compacted topic keeps its old segments under retention (no delete in the policy) but honours DeleteRecords of compact,delete', async (t) => {
    const dir = await tempDir(t);
    const a = await openDisk(dir, { ...COMPACTED, retentionMs: 1 });
    t.after(() => a.storage.close());
    await appendVersions(a.log, 10);
    assert.equal(await a.log.enforceRetention(Date.now()), 0, 'compact alone: no time retention');
    a.log.setConfig(logConfig({ ...COMPACTED, cleanupPolicy: 'compact,delete' }));
    assert.equal(await a.log.deleteRecordsBefore(16n), 16n);
    assert.deepEqual(a.log.segmentBaseOffsets, [15n, 30n, 45n]);
    const r = await a.log.compact(a.clock.now);
    assert.ok(r);
    assert.equal(r.firstDirtyOffset, 16n, 'a checkpoint below the log start is reset to it');
  });
});
