/**
 * Reads over a log damaged after it was written (a bad sector, a hand edit), the broker stopped
 * cleanly so that start-up trusts the older segments: the damaged partition answers for itself
 * and the others on the same fetch are served; a batch cut short at the end of an older segment's
 * file is skipped, the read going on in the next segment, instead of stalling there; the start's
 * producer-state replay skips a damaged batch the same way instead of failing the start.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch, decodeRecords, iterateBatches } from '../../protocol/records/index.js';
import { RestartableBroker } from '../support/restartable.js';

const b = new RestartableBroker();
after(() => b.remove());
const dir = { path: b.dataDir };
const start = () => b.start();
const stop = () => b.stop();

async function produce(topic: string, partition: number, values: string[]): Promise<void> {
  for (const value of values) {
    const records = buildRecordBatch({ baseOffset: 0n, records: [{ key: null, value: Buffer.from(value), headers: [] }] });
    const r = await b.raw.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
    assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
  }
}

function fetch(parts: { topic: string; partition: number; offset: bigint }[]) {
  return b.raw.send(ApiKey.Fetch, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, forgottenTopicsData: [], rackId: '',
    topics: parts.map((p) => ({ topic: p.topic, partitions: [{ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: p.offset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] })),
  });
}

const values = (records: Buffer) => [...iterateBatches(records)].flatMap((b) => decodeRecords(b.buf)).map((r) => String(r.value));
const segmentsOf = (partitionDir: string) => readdirSync(join(dir.path, partitionDir)).filter((n) => n.endsWith('.log')).sort();

test('a damaged batch fails its own partition of a fetch, and a batch cut short ends its segment', async () => {
  await start();
  const created = await b.raw.send(ApiKey.CreateTopics, 5, {
    timeoutMs: 5000, validateOnly: false,
    topics: [
      { name: 'dmg', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: '300' }] },
      { name: 'short', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: '300' }] },
    ],
  });
  assert.deepEqual(created.topics.map((t: { errorCode: number }) => t.errorCode), [0, 0]);
  await produce('dmg', 0, Array.from({ length: 10 }, (_, i) => `a${i}`));
  await produce('dmg', 1, ['b0', 'b1', 'b2']);
  await produce('short', 0, Array.from({ length: 12 }, (_, i) => `s${i}`));
  await stop();

  // dmg-0: in its first (rolled) segment, the first batch's length field says less than a batch header.
  assert.ok(segmentsOf('dmg-0').length >= 2);
  const log0 = join(dir.path, 'dmg-0', '00000000000000000000.log');
  const bytes = readFileSync(log0);
  bytes.writeInt32BE(10, 8);
  writeFileSync(log0, bytes);
  // Without its producer-state snapshots the start replays dmg-0 from its first batch, the damaged one:
  // the replay goes on from the next segment (the start used to fail on it).
  for (const n of readdirSync(join(dir.path, 'dmg-0')).filter((n) => n.endsWith('.producer-state'))) rmSync(join(dir.path, 'dmg-0', n));
  // short-0: the second segment loses the end of its last batch.
  const segments = segmentsOf('short-0');
  assert.ok(segments.length >= 3, `${segments.length} segments`);
  const second = join(dir.path, 'short-0', segments[1]!);
  const inSecond = [...iterateBatches(readFileSync(second))];
  const cut = inSecond[inSecond.length - 1]!;
  truncateSync(second, cut.position + 20);

  await start();
  const r = await fetch([{ topic: 'dmg', partition: 0, offset: 2n }, { topic: 'dmg', partition: 1, offset: 0n }]);
  const [p0, p1] = r.responses[0].partitions;
  assert.equal(p0.errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.deepEqual([p1.errorCode, values(p1.records)], [ErrorCode.NONE, ['b0', 'b1', 'b2']]);
  assert.equal((await b.raw.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' })).errorCode, 0, 'the connection goes on');

  // Reading from the batch cut short goes on in the next segment.
  const next = (await fetch([{ topic: 'short', partition: 0, offset: cut.baseOffset }])).responses[0].partitions[0];
  assert.equal(next.errorCode, ErrorCode.NONE);
  const got = values(next.records);
  assert.ok(got.length > 0, 'records from the next segment');
  assert.equal(got[0], `s${Number(cut.baseOffset) + 1}`);
  await stop();
});

test('a segment that cannot be read is KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER up to Fetch v5 (older clients take the other as fatal), as Kafka answers', async () => {
  await start();
  const created = await b.raw.send(ApiKey.CreateTopics, 5, {
    timeoutMs: 5000, validateOnly: false,
    topics: [{ name: 'unreadable', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: '300' }] }],
  });
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
  await produce('unreadable', 0, Array.from({ length: 8 }, (_, i) => `u${i}`));
  await stop();
  // The first (rolled) segment's file becomes a directory: opening it works, reading it fails (EISDIR).
  assert.ok(segmentsOf('unreadable-0').length >= 2);
  const first = join(dir.path, 'unreadable-0', '00000000000000000000.log');
  rmSync(first);
  mkdirSync(first);

  await start();
  const v12 = (await fetch([{ topic: 'unreadable', partition: 0, offset: 0n }])).responses[0].partitions[0];
  assert.equal(v12.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  const v5 = await b.raw.send(ApiKey.Fetch, 5, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0,
    topics: [{ topic: 'unreadable', partitions: [{ partition: 0, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
  assert.equal(v5.responses[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  await stop();
});
