/**
 * Leader epochs (Kafka's LeaderEpochFileCache): the cache's rules on their own, then in every
 * engine — becoming leader at the log end, batches appended in a new epoch, the log start moving
 * (DeleteRecords, retention) — and, for the disk engine, the leader-epoch-checkpoint file in Kafka's
 * format surviving a restart.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LeaderEpochCache, formatLeaderEpochCheckpoint, parseLeaderEpochCheckpoint } from '../../src/storage/leader-epoch.js';
import { ENGINES, appendAll, diskStorage, logConfig, makeBatch, tempDir, topicRecord } from './helpers.js';

describe('leader epoch cache', () => {
  it('answers end offsets as Kafka does: the latest epoch ends at the log end, older ones where the next starts', () => {
    const c = new LeaderEpochCache();
    assert.equal(c.assign(0, 0n), true);
    assert.equal(c.assign(0, 5n), false, 'the same epoch later is no change');
    assert.equal(c.assign(2, 10n), true);
    assert.equal(c.assign(5, 30n), true);
    assert.deepEqual(c.all, [{ epoch: 0, startOffset: 0n }, { epoch: 2, startOffset: 10n }, { epoch: 5, startOffset: 30n }]);
    assert.deepEqual(c.endOffsetFor(5, 42n), { leaderEpoch: 5, endOffset: 42n }, 'latest epoch: the log end offset');
    assert.deepEqual(c.endOffsetFor(0, 42n), { leaderEpoch: 0, endOffset: 10n });
    assert.deepEqual(c.endOffsetFor(1, 42n), { leaderEpoch: 0, endOffset: 10n }, 'an unknown epoch in between: the one below it');
    assert.deepEqual(c.endOffsetFor(4, 42n), { leaderEpoch: 2, endOffset: 30n });
    assert.deepEqual(c.endOffsetFor(6, 42n), { leaderEpoch: -1, endOffset: -1n }, 'above every epoch: undefined');
    assert.deepEqual(c.endOffsetFor(-1, 42n), { leaderEpoch: -1, endOffset: -1n }, 'undefined epoch');
    const later = new LeaderEpochCache([{ epoch: 3, startOffset: 7n }]);
    assert.deepEqual(later.endOffsetFor(1, 9n), { leaderEpoch: 1, endOffset: 7n }, 'below the first epoch: where the first starts');
  });

  it('drops entries that would break monotonicity, and follows the log start and end', () => {
    const c = new LeaderEpochCache([{ epoch: 0, startOffset: 0n }, { epoch: 2, startOffset: 10n }, { epoch: 5, startOffset: 30n }]);
    assert.equal(c.assign(3, 20n), true);
    assert.deepEqual(c.all, [{ epoch: 0, startOffset: 0n }, { epoch: 2, startOffset: 10n }, { epoch: 3, startOffset: 20n }], 'epoch 5 at 30 is gone');
    assert.equal(c.truncateFromStart(15n), true);
    assert.deepEqual(c.all, [{ epoch: 2, startOffset: 15n }, { epoch: 3, startOffset: 20n }], 'the epoch holding the new start now starts there');
    assert.equal(c.truncateFromStart(15n), false);
    assert.equal(c.truncateFromEnd(20n), false, 'an epoch starting at the log end stays');
    assert.equal(c.truncateFromEnd(19n), true);
    assert.deepEqual(c.all, [{ epoch: 2, startOffset: 15n }]);
    assert.throws(() => c.assign(-1, 0n));
  });

  it('reads and writes the checkpoint format', () => {
    const text = formatLeaderEpochCheckpoint([{ epoch: 0, startOffset: 0n }, { epoch: 7, startOffset: 1234n }]);
    assert.equal(text, '0\n2\n0 0\n7 1234\n');
    assert.deepEqual(parseLeaderEpochCheckpoint(text), [{ epoch: 0, startOffset: 0n }, { epoch: 7, startOffset: 1234n }]);
    assert.throws(() => parseLeaderEpochCheckpoint('1\n0\n'), /version/);
    assert.throws(() => parseLeaderEpochCheckpoint('0\n2\n0 0\n'), /entries/);
  });
});

for (const engine of ENGINES) {
  describe(`leader epochs in the ${engine.name} engine`, () => {
    it('starts an epoch at the log end when becoming leader, records new epochs from batches, follows DeleteRecords', async (t) => {
      const storage = engine.create(await tempDir(t));
      t.after(() => storage.close());
      await storage.open();
      const log = await storage.openPartition(topicRecord(), 0, logConfig());
      assert.deepEqual(log.endOffsetForEpoch(0), { leaderEpoch: -1, endOffset: -1n }, 'no epoch before leadership');
      await log.assignLeaderEpoch(0);
      assert.deepEqual(log.endOffsetForEpoch(0), { leaderEpoch: 0, endOffset: 0n });
      await appendAll(log, [makeBatch({ count: 3 }), makeBatch({ count: 2 })], 0);
      assert.deepEqual(log.endOffsetForEpoch(0), { leaderEpoch: 0, endOffset: 5n }, 'the current epoch ends at the log end');
      assert.deepEqual(log.endOffsetForEpoch(1), { leaderEpoch: -1, endOffset: -1n });
      // Leadership moved: batches now carry epoch 2.
      await appendAll(log, [makeBatch({ count: 4 })], 2);
      assert.deepEqual(log.endOffsetForEpoch(0), { leaderEpoch: 0, endOffset: 5n });
      assert.deepEqual(log.endOffsetForEpoch(1), { leaderEpoch: 0, endOffset: 5n });
      assert.deepEqual(log.endOffsetForEpoch(2), { leaderEpoch: 2, endOffset: 9n });
      assert.equal(await log.deleteRecordsBefore(7n), 7n);
      assert.deepEqual(log.endOffsetForEpoch(0), { leaderEpoch: 0, endOffset: 7n }, 'epoch 0 left the log: the first kept epoch starts at the new log start');
      assert.deepEqual(log.endOffsetForEpoch(2), { leaderEpoch: 2, endOffset: 9n });
    });
  });
}

describe('leader-epoch-checkpoint on disk', () => {
  it('is written in Kafka format, follows the log start and survives a restart', async (t) => {
    const dir = await tempDir(t);
    const topic = topicRecord('epochs', 1);
    const s1 = diskStorage(dir);
    await s1.open();
    const log = await s1.openPartition(topic, 0, logConfig());
    await log.assignLeaderEpoch(0);
    const file = join(dir, 'epochs-0', 'leader-epoch-checkpoint');
    assert.equal(await readFile(file, 'utf8'), '0\n1\n0 0\n');
    await appendAll(log, [makeBatch({ count: 5 })], 0);
    await appendAll(log, [makeBatch({ count: 5 })], 3);
    assert.equal(await readFile(file, 'utf8'), '0\n2\n0 0\n3 5\n');
    await log.deleteRecordsBefore(2n);
    assert.equal(await readFile(file, 'utf8'), '0\n2\n0 2\n3 5\n');
    await s1.close();

    const s2 = diskStorage(dir);
    t.after(() => s2.close());
    await s2.open();
    const again = await s2.openPartition(topic, 0, logConfig());
    assert.deepEqual(again.endOffsetForEpoch(0), { leaderEpoch: 0, endOffset: 5n });
    assert.deepEqual(again.endOffsetForEpoch(3), { leaderEpoch: 3, endOffset: 10n });
    await again.assignLeaderEpoch(3);
    assert.equal(await readFile(file, 'utf8'), '0\n2\n0 2\n3 5\n', 'becoming leader again in the same epoch changes nothing');
  });

  it('drops entries past a log cut back by recovery, and rebuilds from an unreadable file', async (t) => {
    const dir = await tempDir(t);
    const topic = topicRecord('cut', 1);
    const s1 = diskStorage(dir);
    await s1.open();
    const log = await s1.openPartition(topic, 0, logConfig());
    await appendAll(log, [makeBatch({ count: 4 })], 1);
    await s1.close();
    const file = join(dir, 'cut-0', 'leader-epoch-checkpoint');
    // An epoch that starts beyond the log (its data lost) goes at the next open.
    await writeFile(file, '0\n2\n1 0\n6 100\n');
    const s2 = diskStorage(dir);
    await s2.open();
    const l2 = await s2.openPartition(topic, 0, logConfig());
    assert.deepEqual(l2.endOffsetForEpoch(1), { leaderEpoch: 1, endOffset: 4n });
    assert.equal(await readFile(file, 'utf8'), '0\n1\n1 0\n');
    await s2.close();
    await writeFile(file, 'garbage');
    const s3 = diskStorage(dir);
    t.after(() => s3.close());
    await s3.open();
    const l3 = await s3.openPartition(topic, 0, logConfig());
    // The batches carry the epoch they were appended in: the history comes back from them.
    assert.deepEqual(l3.endOffsetForEpoch(1), { leaderEpoch: 1, endOffset: 4n }, 'epoch 1 rebuilt from a garbled file');
    assert.equal(await readFile(file, 'utf8'), '0\n1\n1 0\n');
    // A new epoch is written with its first batch (a partition that has the file).
    await l3.assignLeaderEpoch(2);
    assert.deepEqual(l3.endOffsetForEpoch(1), { leaderEpoch: 1, endOffset: 4n });
    assert.equal(await readFile(file, 'utf8'), '0\n1\n1 0\n');
    await appendAll(l3, [makeBatch({ count: 1 })], 2);
    assert.equal(await readFile(file, 'utf8'), '0\n2\n1 0\n2 4\n');
  });
});
