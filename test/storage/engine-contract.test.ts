/**
 * The PartitionLog contract, run against every engine (memory, disk with and without its tail
 * cache): each test asserts concrete outcomes, and the last one checks that all engines return
 * byte-identical results for the same script.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ATTR_TIMESTAMP_TYPE,
  readAttributes,
  readBaseOffset,
  readMaxTimestamp,
  readPartitionLeaderEpoch,
  verifyBatchCrc,
} from '../../protocol/records/index.js';
import type { LogConfig, PartitionLog, Storage } from '../../src/storage/storage.js';
import { appendAll, batchesIn, ENGINES, logConfig, makeBatch, readAll, tempDir, topicRecord, type EngineFactory } from './helpers.js';

async function openLog(t: Parameters<typeof tempDir>[0], engine: EngineFactory, config: Partial<LogConfig> = {}): Promise<{ storage: Storage; log: PartitionLog }> {
  const dir = await tempDir(t);
  const storage = engine.create(dir);
  t.after(() => storage.close());
  await storage.open();
  const log = await storage.openPartition(topicRecord(), 0, logConfig(config));
  return { storage, log };
}

/** 30 batches of 1..4 records, non-monotonic timestamps; returns copies of the stamped batches. */
async function fill(log: PartitionLog): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const pending = [];
  for (let i = 0; i < 30; i++) {
    const batch = makeBatch({ count: (i % 4) + 1, tag: `b${i}`, timestamp: 1_000 + ((i * 37) % 17) * 10, valueSize: 40 + i });
    pending.push(log.append(batch, { leaderEpoch: 3 }).then(() => out.push(Buffer.from(batch))));
  }
  await Promise.all(pending);
  out.sort((a, b) => (readBaseOffset(a) < readBaseOffset(b) ? -1 : 1));
  return out;
}

for (const engine of ENGINES) {
  describe(`PartitionLog contract: ${engine.name}`, () => {
    it('assigns consecutive offsets and reads back exactly what was appended', async (t) => {
      const { log } = await openLog(t, engine);
      const sizes = [1, 3, 1, 5, 2];
      const results = await appendAll(log, sizes.map((count, i) => makeBatch({ count, tag: `x${i}` })), 7);
      assert.deepEqual(
        results.map((r) => [r.baseOffset, r.lastOffset]),
        [[0n, 0n], [1n, 3n], [4n, 4n], [5n, 9n], [10n, 11n]],
      );
      assert.equal(log.logEndOffset, 12n);
      assert.equal(log.highWatermark, 12n);
      assert.equal(log.logStartOffset, 0n);
      const all = await readAll(log);
      const batches = batchesIn(all);
      assert.deepEqual(batches.map((b) => b.baseOffset), [0n, 1n, 4n, 5n, 10n]);
      assert.equal(readPartitionLeaderEpoch(all), 7);
      assert.equal(log.size, all.length);
    });

    it('reports its segments with sizes and last modification times', async (t) => {
      const { log } = await openLog(t, engine, { segmentBytes: 200 });
      const before = Date.now();
      await log.append(makeBatch({ valueSize: 100, tag: 'a' }), { leaderEpoch: 0 });
      await new Promise((r) => setTimeout(r, 20));
      const between = Date.now();
      await log.append(makeBatch({ valueSize: 100, tag: 'b' }), { leaderEpoch: 0 });
      const segments = log.segmentTimes();
      assert.deepEqual(segments.map((s) => s.baseOffset), [0n, 1n]);
      assert.equal(segments[0]!.size + segments[1]!.size, log.size);
      assert.ok(segments[0]!.lastModified >= before && segments[0]!.lastModified <= between, 'the first segment was last written before the second batch');
      assert.ok(segments[1]!.lastModified >= between);
    });

    it('reads from the middle of a batch return the containing batch first', async (t) => {
      const { log } = await openLog(t, engine);
      const stored = await fill(log);
      for (const offset of [0n, 2n, 5n, 17n, 40n]) {
        const { records } = await log.read(offset, 1, { maxOffset: log.highWatermark, minOneBatch: true });
        const [first] = batchesIn(records);
        assert.ok(first!.baseOffset <= offset && offset <= first!.lastOffset, `offset ${offset} in [${first!.baseOffset}, ${first!.lastOffset}]`);
        assert.deepEqual(records, stored.find((b) => readBaseOffset(b) === first!.baseOffset));
      }
    });

    it('honours maxBytes, minOneBatch and maxOffset', async (t) => {
      const { log } = await openLog(t, engine);
      const stored = await fill(log);
      const hw = log.highWatermark;
      const s = stored.map((b) => b.length);
      // Smaller than the first batch: nothing, unless minOneBatch.
      assert.equal((await log.read(0n, s[0]! - 1, { maxOffset: hw, minOneBatch: false })).records.length, 0);
      assert.deepEqual((await log.read(0n, s[0]! - 1, { maxOffset: hw, minOneBatch: true })).records, stored[0]);
      assert.deepEqual((await log.read(0n, 0, { maxOffset: hw, minOneBatch: true })).records, stored[0]);
      // Exactly three batches fit; the fourth would pass maxBytes.
      const three = s[0]! + s[1]! + s[2]!;
      assert.deepEqual((await log.read(0n, three + s[3]! - 1, { maxOffset: hw, minOneBatch: false })).records, Buffer.concat(stored.slice(0, 3)));
      assert.deepEqual((await log.read(0n, three, { maxOffset: hw, minOneBatch: true })).records, Buffer.concat(stored.slice(0, 3)));
      // maxOffset at a batch boundary stops before that batch; inside a batch keeps it.
      const fifth = readBaseOffset(stored[4]!);
      assert.deepEqual((await log.read(0n, 1 << 20, { maxOffset: fifth, minOneBatch: true })).records, Buffer.concat(stored.slice(0, 4)));
      assert.deepEqual((await log.read(0n, 1 << 20, { maxOffset: fifth + 1n, minOneBatch: true })).records, Buffer.concat(stored.slice(0, 5)));
      assert.equal((await log.read(fifth, 1 << 20, { maxOffset: fifth, minOneBatch: true })).records.length, 0);
      // Past the end: nothing.
      assert.equal((await log.read(hw, 1 << 20, { maxOffset: hw, minOneBatch: true })).records.length, 0);
      assert.equal((await log.read(hw + 10n, 1 << 20, { maxOffset: hw + 10n, minOneBatch: true })).records.length, 0);
      // Everything.
      assert.deepEqual((await log.read(0n, 1 << 20, { maxOffset: hw, minOneBatch: false })).records, Buffer.concat(stored));
    });

    it('finds batches by timestamp and the batch with the largest timestamp', async (t) => {
      const { log } = await openLog(t, engine, { indexIntervalBytes: 100 });
      const ts = [100, 300, 200, 300, 500, 400, 500, 50];
      const stored: Buffer[] = [];
      for (const [i, timestamp] of ts.entries()) {
        const b = makeBatch({ count: 2, timestamp: [timestamp - 5, timestamp], tag: `t${i}`, valueSize: 60 });
        await log.append(b, { leaderEpoch: 0 });
        stored.push(b);
      }
      const expectAt = async (target: number, index: number | null, fromOffset = 0n) => {
        const found = await log.findBatchByTimestamp(BigInt(target), fromOffset);
        assert.deepEqual(found === null ? null : Buffer.from(found), index === null ? null : stored[index], `timestamp ${target} from offset ${fromOffset}`);
      };
      // From an offset on (batch i holds offsets 2i and 2i + 1): a batch ending before it is passed over.
      await expectAt(300, 1, 3n);
      await expectAt(300, 3, 4n);
      await expectAt(500, 6, 10n);
      await expectAt(50, 7, 14n);
      await expectAt(100, null, 14n);
      await expectAt(0, 0);
      await expectAt(100, 0);
      await expectAt(101, 1);
      await expectAt(300, 1);
      await expectAt(301, 4);
      await expectAt(500, 4);
      await expectAt(501, null);
      const max = await log.findMaxTimestampBatch();
      assert.ok(max);
      assert.equal(readMaxTimestamp(max), 500n);
      assert.deepEqual(Buffer.from(max), stored[4], 'the first batch holding the largest timestamp');
    });

    it('returns null from timestamp searches on an empty log', async (t) => {
      const { log } = await openLog(t, engine);
      assert.equal(await log.findMaxTimestampBatch(), null);
      assert.equal(await log.findBatchByTimestamp(0n), null);
      assert.equal((await log.read(0n, 1000, { maxOffset: 0n, minOneBatch: true })).records.length, 0);
    });

    it('stamps LogAppendTime and keeps the CRC valid', async (t) => {
      const { log } = await openLog(t, engine);
      await log.append(makeBatch({ count: 3, timestamp: 5 }), { leaderEpoch: 1, logAppendTime: 1_700_000_000_000n });
      const { records } = await log.read(0n, 1 << 20, { maxOffset: log.highWatermark, minOneBatch: true });
      assert.ok(readAttributes(records) & ATTR_TIMESTAMP_TYPE);
      assert.equal(readMaxTimestamp(records), 1_700_000_000_000n);
      assert.ok(verifyBatchCrc(records));
    });

    it('notifies append listeners after the append completes, until unsubscribed', async (t) => {
      const { log } = await openLog(t, engine);
      const seen: bigint[] = [];
      const off = log.onAppend(() => seen.push(log.highWatermark));
      await log.append(makeBatch({ count: 2 }), { leaderEpoch: 0 });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen, [2n]);
      off();
      await log.append(makeBatch(), { leaderEpoch: 0 });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen, [2n]);
    });

    it('retention by bytes drops the oldest data and moves logStartOffset', async (t) => {
      // One batch per segment on disk, so segment and batch grain coincide.
      const size = makeBatch({ valueSize: 100 }).length;
      const { log } = await openLog(t, engine, { segmentBytes: size + 10, retentionBytes: size * 3 });
      await appendAll(log, Array.from({ length: 10 }, (_, i) => makeBatch({ valueSize: 100, tag: `r${i}` })));
      const freed = await log.enforceRetention(Date.now());
      assert.equal(freed, size * 7);
      assert.equal(log.logStartOffset, 7n);
      assert.equal(log.size, size * 3);
      const rest = batchesIn(await readAll(log, 0n));
      assert.deepEqual(rest.map((b) => b.baseOffset), [7n, 8n, 9n]);
      // retention.bytes 0: everything goes, offsets continue.
      log.setConfig(logConfig({ segmentBytes: size + 10, retentionBytes: 0 }));
      assert.equal(await log.enforceRetention(Date.now()), size * 3);
      assert.equal(log.logStartOffset, 10n);
      assert.equal(log.size, 0);
      const next = await log.append(makeBatch(), { leaderEpoch: 0 });
      assert.equal(next.baseOffset, 10n);
    });

    it('retention applies retention.bytes first, then retention.ms from where it stopped (Kafka\'s order)', async (t) => {
      const size = makeBatch({ valueSize: 100 }).length;
      const { log } = await openLog(t, engine, { segmentBytes: size + 10, retentionMs: 1_000, retentionBytes: Math.floor(size * 2.5) });
      // Timestamps out of order: the oldest batch is not expired, the two after it are.
      await appendAll(log, [20_000, 10_000, 10_500, 21_000].map((timestamp) => makeBatch({ valueSize: 100, timestamp })));
      assert.equal(await log.enforceRetention(20_500), size * 3, 'size takes the first batch, time the two expired after it');
      assert.equal(log.logStartOffset, 3n);
    });

    it('retention by time drops batches older than retention.ms', async (t) => {
      const size = makeBatch({ valueSize: 100 }).length;
      const { log } = await openLog(t, engine, { segmentBytes: size + 10, retentionMs: 1_000 });
      await appendAll(log, [10_000, 10_500, 11_000, 20_000, 21_000].map((timestamp) => makeBatch({ valueSize: 100, timestamp })));
      assert.equal(await log.enforceRetention(12_000), size * 2, 'the batches at 10 000 and 10 500 are older than 1 s');
      assert.equal(log.logStartOffset, 2n);
      assert.equal(await log.enforceRetention(12_000), 0);
      assert.equal(await log.enforceRetention(100_000), size * 3);
      assert.equal(log.logStartOffset, 5n);
      assert.equal(log.logEndOffset, 5n);
    });
  });
}

describe('PartitionLog contract: all engines agree', () => {
  it('produce identical read, search and retention results for the same script', async (t) => {
    const transcripts: unknown[] = [];
    for (const engine of ENGINES) {
      const size = makeBatch({ valueSize: 100 }).length;
      const { log } = await openLog(t, engine, { segmentBytes: size * 2 + 10, indexIntervalBytes: 150, retentionBytes: size * 5 });
      const out: unknown[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await log.append(makeBatch({ valueSize: 100, count: 1, timestamp: 1_000 + ((i * 7) % 5) * 100, tag: `a${i}` }), { leaderEpoch: 2 });
        out.push(['append', r.baseOffset, r.lastOffset]);
      }
      // Disk reads stop at a segment end (as Kafka's do): the reads below stay within one segment.
      for (const [offset, maxBytes, minOne] of [[0n, 10, true], [4n, size * 2, false], [5n, size * 2 - 1, false], [11n, 1 << 20, true]] as const) {
        const { records } = await log.read(offset, maxBytes, { maxOffset: log.highWatermark, minOneBatch: minOne });
        out.push(['read', offset, records.toString('hex')]);
      }
      for (const ts of [0n, 1_150n, 1_400n, 9_999n]) out.push(['ts', ts, (await log.findBatchByTimestamp(ts))?.toString('hex') ?? null]);
      out.push(['max', (await log.findMaxTimestampBatch())?.toString('hex')]);
      // Segments hold two batches on disk: retention by bytes frees whole pairs there, so compare
      // where both grains agree (keep an even number of batches).
      out.push(['retention', await log.enforceRetention(Date.now()) >= size * 6]);
      out.push(['start', log.logStartOffset >= 6n, log.logEndOffset, log.highWatermark]);
      transcripts.push(out);
    }
    for (let i = 1; i < transcripts.length; i++) assert.deepEqual(transcripts[i], transcripts[0], `${ENGINES[i]!.name} agrees with ${ENGINES[0]!.name}`);
  });
});
