/** The disk engine writes Kafka's layout and formats; segments roll where Kafka rolls them. */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readBaseOffset } from '../../protocol/records/index.js';
import type { DiskPartitionLog } from '../../src/storage/disk/index.js';
import { checkSegmentIndexes, logBatches, segmentFiles } from './disk-helpers.js';
import { appendAll, batchesIn, diskStorage, logConfig, makeBatch, readAll, tempDir, topicRecord } from './helpers.js';

describe('disk engine layout', () => {
  it('writes meta.properties once and checks the node id', async (t) => {
    const dir = await tempDir(t);
    const s1 = diskStorage(dir);
    const { clusterId } = await s1.open();
    await s1.close();
    const text = await readFile(join(dir, 'meta.properties'), 'utf8');
    assert.match(text, /^version=1$/m);
    assert.match(text, /^node\.id=1$/m);
    assert.match(text, new RegExp(`^cluster\\.id=${clusterId}$`, 'm'));
    assert.match(clusterId, /^[A-Za-z0-9_-]{22}$/, 'base64url Kafka UUID');
    const s2 = diskStorage(dir);
    assert.equal((await s2.open()).clusterId, clusterId, 'read back, not regenerated');
    await s2.close();
    await assert.rejects(diskStorage(dir, { nodeId: 2 }).open(), /node 1/);
    // Damaged: the refusal names the file (it said only "meta.properties: no cluster.id").
    await writeFile(join(dir, 'meta.properties'), text.replace(/^cluster\.id=.*$/m, ''));
    await assert.rejects(diskStorage(dir).open(), (e: Error) => e.name === 'StorageRefusedError' && e.message.includes(join(dir, 'meta.properties')) && /no cluster\.id/.test(e.message));
  });

  it('refuses an Apache Kafka log directory before touching anything in it', async (t) => {
    const dir = await tempDir(t);
    // What a KRaft broker leaves: its identity, an flock file, its metadata log, a partition, checkpoints.
    const files: Record<string, string> = {
      'meta.properties': '#\n#Thu Nov 26 10:00:00 UTC 2026\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\ndirectory.id=4Zvr1E0kR1mWn5lgmhYtWw\nnode.id=1\nversion=1\n',
      '.lock': '',
      'recovery-point-offset-checkpoint': '0\n1\norders 0 3\n',
      'replication-offset-checkpoint': '0\n1\norders 0 3\n',
      '__cluster_metadata-0/00000000000000000000.log': 'x',
      'orders-0/partition.metadata': 'version: 0\ntopic_id: 8YkQmUhORjSIXk8nFRwnvA\n',
      'orders-0/00000000000000000000.log': 'y',
    };
    const write = async (all: Record<string, string>) => {
      for (const [name, text] of Object.entries(all)) {
        await mkdir(join(dir, name, '..'), { recursive: true });
        await writeFile(join(dir, name), text);
      }
    };
    const listing = async () => (await readdir(dir, { recursive: true })).sort();
    await write(files);
    const before = await listing();
    for (const marker of ['replication-offset-checkpoint', '__cluster_metadata-0']) {
      await assert.rejects(diskStorage(dir).open(), (e: Error) => e.name === 'StorageRefusedError' && e.message.startsWith(`${dir} is an Apache Kafka log directory (it holds `) && /Give Samsa a directory of its own/.test(e.message));
      assert.deepEqual(await listing(), before, 'nothing renamed, added or removed');
      assert.equal(await readFile(join(dir, '.lock'), 'utf8'), '', 'Kafka\'s lock file untouched');
      await rm(join(dir, marker), { recursive: true });
      before.splice(0, before.length, ...(await listing()));
    }
    // A directory kafka-storage.sh has only formatted is Kafka's too.
    const formatted = await tempDir(t);
    await writeFile(join(formatted, 'bootstrap.checkpoint'), 'z');
    await assert.rejects(diskStorage(formatted).open(), /holds bootstrap\.checkpoint/);
    // Samsa's own directory, whatever else it holds, opens.
    const own = await tempDir(t);
    const s = diskStorage(own);
    await s.open();
    await s.saveTopics([topicRecord('a', 1)]);
    await s.close();
    await writeFile(join(own, 'replication-offset-checkpoint'), '0\n0\n');
    const again = diskStorage(own);
    assert.deepEqual((await again.open()).topics.map((x) => x.name), ['a']);
    await again.close();
  });

  it('persists the topic table atomically', async (t) => {
    const dir = await tempDir(t);
    const s1 = diskStorage(dir);
    assert.deepEqual((await s1.open()).topics, []);
    const topics = [topicRecord('a', 3), { ...topicRecord('b', 1, 'AAAAAAAAAAAAAAAAAAAAAg'), configs: { 'retention.ms': '1000' } }];
    await s1.saveTopics(topics);
    await s1.close();
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
    const s2 = diskStorage(dir);
    assert.deepEqual((await s2.open()).topics, topics);
    await s2.close();
  });

  it('refuses a damaged topic table, naming it, and lets the directory go for a start once it is restored', async (t) => {
    const dir = await tempDir(t);
    const s1 = diskStorage(dir);
    await s1.open();
    const topics = [topicRecord('a', 3)];
    await s1.saveTopics(topics);
    await s1.close();
    const path = join(dir, '__samsa_topics.json');
    const good = await readFile(path, 'utf8');
    for (const bad of [good.slice(0, 20), good + '\0\0\0', good.replace('"partitions": 3', '"partitions": "3"'), good.replace(/"topicId": "[^"]+"/, '"topicId": 7')]) {
      await writeFile(path, bad);
      const refused = diskStorage(dir);
      await assert.rejects(refused.open(), (e: Error) => e.name === 'StorageRefusedError' && e.message.includes(path), JSON.stringify(bad.slice(-40)));
    }
    await writeFile(path, good);
    const s2 = diskStorage(dir);
    assert.deepEqual((await s2.open()).topics, topics, 'the lock of the refused opens was released');
    await s2.close();
  });

  it('lays partitions out as Kafka does: partition.metadata, 20-digit segments, 8- and 12-byte index entries', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    const topic = topicRecord('payments', 2, 'bWFkZSB1cCB0b3BpYyBpZA');
    const config = logConfig({ segmentBytes: 2048, indexIntervalBytes: 256 });
    const log = (await storage.openPartition(topic, 1, config)) as DiskPartitionLog;
    const stored: Buffer[] = [];
    for (let i = 0; i < 60; i++) {
      const b = makeBatch({ count: 1 + (i % 3), valueSize: 30 + (i % 50), timestamp: 5_000 + ((i * 13) % 29) * 100, tag: `p${i}` });
      await log.append(b, { leaderEpoch: 4 });
      stored.push(Buffer.from(b));
    }
    await storage.close();

    const pdir = join(dir, 'payments-1');
    assert.equal(await readFile(join(pdir, 'partition.metadata'), 'utf8'), `version: 0\ntopic_id: ${topic.topicId}\n`);
    // Kafka's leader epoch cache: the epoch the batches were appended in, from the first offset.
    assert.equal(await readFile(join(pdir, 'leader-epoch-checkpoint'), 'utf8'), '0\n1\n4 0\n');
    const names = (await readdir(pdir)).filter((n) => n !== 'partition.metadata' && n !== 'leader-epoch-checkpoint').sort();
    for (const n of names) assert.match(n, /^\d{20}\.(log|index|timeindex)$/);
    const segs = await segmentFiles(pdir);
    assert.ok(segs.length >= 5, `several segments (${segs.length})`);
    assert.equal(names.length, segs.length * 3);
    assert.deepEqual(segs.map((s) => s.base), log.segmentBaseOffsets);
    // The .log files are the appended batches, back to back, in order.
    assert.deepEqual(Buffer.concat(segs.map((s) => s.log)), Buffer.concat(stored));
    for (const s of segs) {
      assert.ok(s.log.length <= 2048, 'no segment passes segment.bytes');
      assert.equal(readBaseOffset(s.log), s.base, 'a segment is named after its first offset');
      assert.ok(s.index.length > 0 && s.index.length % 8 === 0);
      assert.ok(s.timeindex.length > 0 && s.timeindex.length % 12 === 0);
      checkSegmentIndexes(s, 256, true);
    }
  });

  it('rolls segments on size, reading every offset back through the files', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir, { tailCacheBytes: 0 });
    await storage.open();
    t.after(() => storage.close());
    const log = (await storage.openPartition(topicRecord(), 0, logConfig({ segmentBytes: 4096, indexIntervalBytes: 512 }))) as DiskPartitionLog;
    const results = await appendAll(log, Array.from({ length: 200 }, (_, i) => makeBatch({ count: 1 + (i % 5), valueSize: 10 + ((i * 31) % 120), tag: `s${i}` })));
    let expected = 0n;
    for (const r of results) {
      assert.equal(r.baseOffset, expected);
      expected = r.lastOffset + 1n;
    }
    assert.equal(log.logEndOffset, expected);
    const segs = await segmentFiles(join(dir, 'orders-0'));
    assert.ok(segs.length > 10, `rolled many times (${segs.length} segments)`);
    for (let i = 0; i + 1 < segs.length; i++) {
      const next = logBatches(segs[i + 1]!.log)[0]!;
      assert.ok(segs[i]!.log.length + next.size > 4096, 'rolled only when the next batch would not fit');
    }
    for (let o = 0n; o < expected; o++) {
      const { records } = await log.read(o, 1, { maxOffset: log.highWatermark, minOneBatch: true });
      const [b] = batchesIn(records);
      assert.ok(b && b.baseOffset <= o && o <= b.lastOffset, `offset ${o}`);
    }
    const all = batchesIn(await readAll(log, 0n, 3000));
    assert.equal(all.length, 200);
    assert.equal(log.stats.cacheReads, 0, 'the tail cache is off');
    assert.ok(log.stats.fileReads > 200);
  });

  it('rolls when segment.ms passed between the first batch timestamp and a new batch', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    t.after(() => storage.close());
    const log = (await storage.openPartition(topicRecord(), 0, logConfig({ segmentMs: 60_000 }))) as DiskPartitionLog;
    await log.append(makeBatch({ timestamp: 1_000_000 }), { leaderEpoch: 0 });
    await log.append(makeBatch({ timestamp: 1_060_000 }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n], 'exactly segment.ms later: no roll yet');
    await log.append(makeBatch({ timestamp: 1_060_001 }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n, 2n]);
    await log.append(makeBatch({ timestamp: 1_070_000 }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n, 2n]);
  });

  it('rolls by wall clock when the first batch has no timestamp', async (t) => {
    const dir = await tempDir(t);
    let now = 1_000_000;
    const storage = diskStorage(dir, { now: () => now });
    await storage.open();
    t.after(() => storage.close());
    const log = (await storage.openPartition(topicRecord(), 0, logConfig({ segmentMs: 1_000 }))) as DiskPartitionLog;
    await log.append(makeBatch({ timestamp: -1 }), { leaderEpoch: 0 });
    now += 1_000;
    await log.append(makeBatch({ timestamp: -1 }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n]);
    now += 1;
    await log.append(makeBatch({ timestamp: -1 }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n, 2n]);
  });

  it('rolls when an index is full (segment.index.bytes), as Kafka\'s shouldRoll does', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    t.after(() => storage.close());
    // 36 bytes: 4 offset-index entries, 3 time-index entries; an entry for every batch after the first.
    const log = (await storage.openPartition(topicRecord(), 0, logConfig({ segmentIndexBytes: 36, indexIntervalBytes: 0 }))) as DiskPartitionLog;
    for (let i = 0; i < 9; i++) await log.append(makeBatch({ timestamp: 1_000 + i }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n, 4n, 8n], 'a new segment once the time index holds 3 entries');
  });

  it('takes up to segment.jitter.ms off segment.ms, at random, for each segment', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    t.after(() => storage.close());
    let rolled = 0;
    for (let p = 0; p < 8; p++) {
      const log = (await storage.openPartition(topicRecord('jitter', 8), p, logConfig({ segmentMs: 10_000, segmentJitterMs: 10_000 }))) as DiskPartitionLog;
      await log.append(makeBatch({ timestamp: 1_000_000 }), { leaderEpoch: 0 });
      await log.append(makeBatch({ timestamp: 1_009_999 }), { leaderEpoch: 0 });
      if (log.segmentBaseOffsets.length > 1) rolled++;
    }
    // Without jitter none would roll; with it each does unless its draw is 0 (1 in 10,000).
    assert.ok(rolled >= 7, `${rolled} of 8 rolled`);
  });

  it('ages a segment without timestamps from its last write, as Kafka ages it by the file\'s mtime', async (t) => {
    const dir = await tempDir(t);
    let now = 1_000_000;
    const storage = diskStorage(dir, { now: () => now });
    await storage.open();
    t.after(() => storage.close());
    const log = (await storage.openPartition(topicRecord(), 0, logConfig({ retentionMs: 4_000, segmentMs: 100_000 }))) as DiskPartitionLog;
    await log.append(makeBatch({ timestamp: -1 }), { leaderEpoch: 0 });
    now += 3_000;
    await log.append(makeBatch({ timestamp: -1 }), { leaderEpoch: 0 });
    now += 3_000;
    await log.enforceRetention(now);
    assert.equal(log.logStartOffset, 0n, 'written 3 s ago: kept, though created 6 s ago');
    now += 1_001;
    await log.enforceRetention(now);
    assert.equal(log.logStartOffset, 2n, 'gone once idle for longer than retention.ms');
  });

  it('rolls when an offset would not fit the int32 relative offsets of the index', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    t.after(() => storage.close());
    const log = (await storage.openPartition(topicRecord(), 0, logConfig())) as DiskPartitionLog;
    // A (compacted-looking) batch whose last offset delta is close to 2^31.
    const first = await log.append(makeBatch({ offsetDeltas: [0, 2_147_483_000] }), { leaderEpoch: 0 });
    assert.equal(first.lastOffset, 2_147_483_000n);
    const second = await log.append(makeBatch({ count: 1 }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n], `offset ${second.lastOffset} still fits`);
    const third = await log.append(makeBatch({ offsetDeltas: [0, 1000] }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0n, third.baseOffset]);
    const { records } = await log.read(third.baseOffset + 5n, 1000, { maxOffset: log.highWatermark, minOneBatch: true });
    assert.equal(batchesIn(records)[0]!.baseOffset, third.baseOffset);
  });

  it('refuses a batch larger than segment.bytes without using an offset', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    t.after(() => storage.close());
    const log = await storage.openPartition(topicRecord(), 0, logConfig({ segmentBytes: 200 }));
    await assert.rejects(log.append(makeBatch({ count: 10, valueSize: 100 }), { leaderEpoch: 0 }), { name: 'RecordBatchTooLargeError' });
    assert.equal(log.logEndOffset, 0n);
    assert.equal((await log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, 0n);
  });

  it('keeps few read descriptors open however many segments are read', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir, { tailCacheBytes: 0, maxOpenReadFiles: 3 });
    await storage.open();
    t.after(() => storage.close());
    const log = await storage.openPartition(topicRecord(), 0, logConfig({ segmentBytes: 600 }));
    await appendAll(log, Array.from({ length: 60 }, () => makeBatch({ count: 2, valueSize: 50 })));
    await Promise.all(Array.from({ length: 120 }, (_, o) => log.read(BigInt(o), 1, { maxOffset: log.highWatermark, minOneBatch: true })));
    assert.ok(storage.openReadFiles <= 3, `${storage.openReadFiles} read descriptors`);
    const files = (await readdir(join(dir, 'orders-0'))).filter((n) => n.endsWith('.log'));
    assert.ok(files.length > 10);
    assert.ok((await stat(join(dir, 'orders-0', files[0]!))).size <= 600);
  });
});
