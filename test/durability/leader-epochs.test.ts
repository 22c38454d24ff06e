/**
 * Leader epochs across restarts: each start takes every partition's lead in a new epoch (as a
 * restart does in a KRaft cluster), never one taken before, so a log that a crash cut back shows
 * where it was cut (KIP-320); a leader-epoch-checkpoint that is unreadable or missing is rebuilt
 * from the batches; ListOffsets answers the epoch an offset was written in.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { decodeRecords, iterateBatches, readPartitionLeaderEpoch } from '../../protocol/records/index.js';
import { kafka } from '../support/kafkajs.js';
import { RestartableBroker } from '../support/restartable.js';

const nodeId = 4;
const b = new RestartableBroker({ nodeId });
after(() => b.remove());
const dir = { path: b.dataDir };
const start = () => b.start();
const stop = () => b.stop();

async function produce(values: string[]): Promise<void> {
  const producer = kafka(b.broker.bootstrap, 'epochs').producer();
  await producer.connect();
  for (const value of values) await producer.send({ topic: 'ep', acks: -1, messages: [{ value }] }); // one batch each
  await producer.disconnect();
}

const metadataEpoch = async () => (await b.raw.send(ApiKey.Metadata, 12, { topics: [{ name: 'ep', topicId: undefined }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })).topics[0].partitions[0].leaderEpoch;

async function endOffsetFor(leaderEpoch: number, currentLeaderEpoch: number) {
  const r = await b.raw.send(ApiKey.OffsetForLeaderEpoch, 4, { replicaId: -1, topics: [{ topic: 'ep', partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch }] }] });
  const p = r.topics[0].partitions[0];
  return [p.errorCode, p.leaderEpoch, p.endOffset];
}

function fetch(version: number, fetchOffset: bigint, currentLeaderEpoch: number) {
  const topicId = b.broker.broker.topics.get('ep')!.id;
  return b.raw.send(ApiKey.Fetch, version, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, forgottenTopicsData: [], rackId: '',
    topics: [{ topic: 'ep', topicId, partitions: [{ partition: 0, currentLeaderEpoch, fetchOffset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
}

const segment = () => join(dir.path, 'ep-0', '00000000000000000000.log');
const checkpoint = () => join(dir.path, 'ep-0', 'leader-epoch-checkpoint');

test('a restart is a new leader epoch, never one taken before: a log cut back by a crash shows where; a lost checkpoint is rebuilt from the batches', async () => {
  await start();
  const admin = kafka(b.broker.bootstrap, 'epochs').admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'ep', numPartitions: 1 }] });
  await admin.disconnect();
  await produce(Array.from({ length: 10 }, (_, i) => `old-${i}`));
  assert.equal(await metadataEpoch(), 0, 'a new partition starts in epoch 0');
  assert.deepEqual(await endOffsetFor(0, 0), [ErrorCode.NONE, 0, 10n]);
  await stop();

  // A crash that lost the log's tail: six whole batches and part of the seventh are left.
  const bytes = readFileSync(segment());
  const batches = [...iterateBatches(bytes)];
  assert.equal(batches.length, 10);
  truncateSync(segment(), batches[6]!.position + 10);
  rmSync(join(dir.path, '.samsa_clean_shutdown'), { force: true });

  await start();
  assert.equal(await metadataEpoch(), 1, 'the restart took the lead in epoch 1');
  // Epoch 0 ends where the crash cut the log: a consumer at offset 10 of epoch 0 sees the truncation.
  assert.deepEqual(await endOffsetFor(0, 1), [ErrorCode.NONE, 0, 6n]);
  assert.deepEqual(await endOffsetFor(0, 0), [ErrorCode.FENCED_LEADER_EPOCH, -1, -1n], 'a client still in epoch 0 is fenced');
  await produce(Array.from({ length: 8 }, (_, i) => `new-${i}`));
  assert.deepEqual(await endOffsetFor(0, 1), [ErrorCode.NONE, 0, 6n], 'offsets written again do not extend epoch 0');
  assert.deepEqual(await endOffsetFor(1, 1), [ErrorCode.NONE, 1, 14n]);

  // The new batches carry the new epoch; a fetch in the old one is fenced and told the leader (v16+).
  const fetched = (await fetch(17, 6n, 1)).responses[0].partitions[0];
  assert.equal(fetched.errorCode, ErrorCode.NONE);
  const epochs = [...iterateBatches(fetched.records)].map((b) => readPartitionLeaderEpoch(b.buf));
  assert.deepEqual(epochs, Array(8).fill(1));
  const fenced = await fetch(16, 6n, 0);
  assert.equal(fenced.responses[0].partitions[0].errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  assert.deepEqual(fenced.responses[0].partitions[0].currentLeader, { leaderId: nodeId, leaderEpoch: 1 });
  assert.deepEqual(fenced.nodeEndpoints.map((n: { nodeId: number; port: number }) => [n.nodeId, n.port]), [[nodeId, b.broker.port]]);
  assert.equal((await fetch(15, 6n, 0)).responses[0].partitions[0].errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  assert.equal((await fetch(17, 6n, 2)).responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
  await stop();
  assert.equal(readFileSync(checkpoint(), 'utf8'), '0\n2\n0 0\n1 6\n');

  // A damaged checkpoint: the history comes back from the batches' own epochs.
  writeFileSync(checkpoint(), '0\n2\n0 0\nbogus\n');
  await start();
  assert.equal(await metadataEpoch(), 2);
  assert.deepEqual(await endOffsetFor(0, 2), [ErrorCode.NONE, 0, 6n]);
  assert.deepEqual(await endOffsetFor(1, 2), [ErrorCode.NONE, 1, 14n]);
  await stop();
  // Rewritten at the start; epoch 2, which holds no batch, is not on disk (nor needed there).
  assert.equal(readFileSync(checkpoint(), 'utf8'), '0\n2\n0 0\n1 6\n');

  // A crash that cuts the log back past the start of the last epoch (to offset 12, epoch 3 began
  // at 14): the next start still takes a new epoch, neither 3 again nor a lower one.
  await start();
  assert.equal(await metadataEpoch(), 3);
  await produce(['e3-a', 'e3-b']);
  await stop();
  truncateSync(segment(), [...iterateBatches(readFileSync(segment()))].find((b) => b.baseOffset === 12n)!.position);
  rmSync(join(dir.path, '.samsa_clean_shutdown'), { force: true });
  await start();
  assert.equal(await metadataEpoch(), 4, 'a new epoch after the cut');
  // A consumer that read offsets 14 and 15 in epoch 3 learns that the log it knew ends at 12.
  assert.deepEqual(await endOffsetFor(3, 4), [ErrorCode.NONE, 1, 12n]);
  await produce(['e4-a', 'e4-b']);
  await stop();

  // No checkpoint at all beside the batches: rebuilt from them, and the epoch does not go back.
  rmSync(checkpoint());
  await start();
  assert.deepEqual(await endOffsetFor(0, 5), [ErrorCode.NONE, 0, 6n]);
  // ListOffsets answers the epoch each offset was written in (Kafka's TimestampAndOffset).
  const listed = async (timestamp: bigint) => {
    const r = await b.raw.send(ApiKey.ListOffsets, 9, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'ep', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] });
    const p = r.topics[0].partitions[0];
    return [p.offset, p.leaderEpoch];
  };
  assert.equal(await metadataEpoch(), 5, 'rebuilt epochs end at 4 (its batches), and the next start takes 5');
  assert.deepEqual(await endOffsetFor(4, 5), [ErrorCode.NONE, 4, 14n]);
  assert.deepEqual(await listed(-2n), [0n, 0], 'earliest');
  assert.deepEqual(await listed(-1n), [14n, 5], 'latest');
  const sixth = (await fetch(17, 6n, 5)).responses[0].partitions[0].records;
  const timestampOf6 = decodeRecords([...iterateBatches(sixth)][0]!.buf)[0]!.timestamp;
  assert.deepEqual(await listed(timestampOf6), [6n, 1], 'by the timestamp of offset 6');
  await stop();
  assert.equal(JSON.parse(readFileSync(join(dir.path, '__samsa_leader-epoch.json'), 'utf8')).leaderEpoch, 5);
});
