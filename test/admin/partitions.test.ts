/**
 * CreatePartitions: kafkajs admin grows a topic and its producers and consumers use the new
 * partitions; validateOnly changes nothing; Kafka's refusals (no increase, unknown topic, duplicate
 * names, assignments naming another broker) at the protocol level in every version; the new count
 * and the data written to the new partitions survive a restart of a disk-backed broker.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { kafka, waitFor } from '../support/kafkajs.js';
import { RawClient } from '../support/raw-client.js';

let broker: RunningBroker;
let raw: RawClient;
before(async () => {
  broker = await startBroker({ port: 0 });
  raw = await RawClient.connect(broker.port);
});
after(async () => {
  raw.close();
  await broker.stop();
});

async function partitionCount(client: RawClient, topic: string): Promise<number> {
  const md = await client.send(ApiKey.Metadata, 9, { topics: [{ name: topic, topicId: undefined }], allowAutoTopicCreation: false });
  assert.equal(md.topics[0].errorCode, ErrorCode.NONE);
  return md.topics[0].partitions.length;
}

test('kafkajs admin: createPartitions grows a topic, validateOnly does not, and clients use the new partitions', { timeout: 60_000 }, async () => {
  const client = kafka(broker.bootstrap, 'partitions-admin');
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'grow', numPartitions: 1 }] });

  await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] });
  const md = await admin.fetchTopicMetadata({ topics: ['grow'] });
  assert.deepEqual(md.topics[0].partitions.map((p) => p.partitionId).sort(), [0, 1, 2]);
  assert.ok(md.topics[0].partitions.every((p) => p.leader === broker.broker.nodeId && p.replicas.length === 1));

  await admin.createPartitions({ validateOnly: true, topicPartitions: [{ topic: 'grow', count: 6 }] });
  assert.equal(await partitionCount(raw, 'grow'), 3, 'validateOnly leaves the topic alone');

  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] }), (e: { type?: string }) => e.type === 'INVALID_PARTITIONS');
  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 2 }] }), (e: { type?: string }) => e.type === 'INVALID_PARTITIONS');
  assert.ok((await admin.listTopics()).includes('grow'));

  // The new partitions take writes and reads.
  const producer = client.producer();
  await producer.connect();
  await producer.send({ topic: 'grow', messages: [0, 1, 2].flatMap((p) => [{ partition: p, value: `p${p}-a` }, { partition: p, value: `p${p}-b` }]) });
  const offsets = await admin.fetchTopicOffsets('grow');
  assert.deepEqual(offsets.map((o) => [o.partition, o.high, o.low]).sort(), [[0, '2', '0'], [1, '2', '0'], [2, '2', '0']]);
  const consumer = client.consumer({ groupId: 'grow-readers', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'grow', fromBeginning: true });
  const got: string[] = [];
  await consumer.run({ eachMessage: async ({ partition, message }) => void got.push(`${partition}:${message.value!.toString()}`) });
  await waitFor(() => got.length >= 6, 20_000, 'six messages over three partitions');
  assert.deepEqual(got.sort(), ['0:p0-a', '0:p0-b', '1:p1-a', '1:p1-b', '2:p2-a', '2:p2-b']);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.disconnect();
});

test('CreatePartitions refusals and results, v0 to v3', async () => {
  await raw.send(ApiKey.CreateTopics, 4, { topics: [{ name: 'cp-a', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }, { name: 'cp-b', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  for (let v = 0; v <= 3; v++) {
    const r = await raw.send(ApiKey.CreatePartitions, v, {
      topics: [
        { name: 'cp-b', count: 2, assignments: null },
        { name: 'cp-missing', count: 4, assignments: null },
        { name: 'cp-dup', count: 4, assignments: null },
        { name: 'cp-b', count: 1, assignments: null },
        { name: 'cp-dup', count: 5, assignments: null },
        // One new partition each time, placed by hand on this broker.
        { name: 'cp-a', count: 2 + v, assignments: [{ brokerIds: [broker.broker.nodeId] }] },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const byName = (name: string) => r.results.filter((x: { name: string }) => x.name === name);
    // Duplicated names: one INVALID_REQUEST each, listed first.
    assert.deepEqual(r.results.slice(0, 2).map((x: { name: string; errorCode: number; errorMessage: string }) => [x.name, x.errorCode, x.errorMessage]), [
      ['cp-b', ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'],
      ['cp-dup', ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'],
    ], `v${v}`);
    assert.deepEqual(byName('cp-missing').map((x: { errorCode: number; errorMessage: string | null }) => [x.errorCode, x.errorMessage]), [[ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null]]);
    assert.deepEqual(byName('cp-a').map((x: { errorCode: number; errorMessage: string | null }) => [x.errorCode, x.errorMessage]), [[ErrorCode.NONE, null]]);
  }
  assert.equal(await partitionCount(raw, 'cp-a'), 5);
  assert.equal(await partitionCount(raw, 'cp-b'), 2, 'a duplicated name changes nothing');

  const one = async (topic: { name: string; count: number; assignments: { brokerIds: number[] }[] | null }, version = 3, validateOnly = false) =>
    (await raw.send(ApiKey.CreatePartitions, version, { topics: [topic], timeoutMs: 5000, validateOnly })).results[0];
  assert.deepEqual(await one({ name: 'cp-a', count: 5, assignments: null }), { name: 'cp-a', errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'Topic already has 5 partition(s).' });
  assert.deepEqual(await one({ name: 'cp-a', count: 1, assignments: null }), { name: 'cp-a', errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'The topic cp-a currently has 5 partition(s); 1 would not be an increase.' });
  assert.deepEqual(await one({ name: 'cp-a', count: 7, assignments: [{ brokerIds: [broker.broker.nodeId] }] }), {
    name: 'cp-a', errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.',
  });
  const bad = [
    [[broker.broker.nodeId + 1], `The manual partition assignment includes broker ${broker.broker.nodeId + 1}, but no such broker is registered.`],
    [[broker.broker.nodeId, broker.broker.nodeId], `The manual partition assignment includes the broker ${broker.broker.nodeId} more than once.`],
    [[], 'The manual partition assignment includes an empty replica list.'],
  ] as const;
  for (const [brokerIds, message] of bad) {
    assert.deepEqual(await one({ name: 'cp-a', count: 6, assignments: [{ brokerIds: [...brokerIds] }] }), { name: 'cp-a', errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: message });
  }
  assert.deepEqual(await one({ name: 'cp-a', count: 7, assignments: null }, 3, true), { name: 'cp-a', errorCode: ErrorCode.NONE, errorMessage: null });
  assert.equal(await partitionCount(raw, 'cp-a'), 5, 'validate only');
  assert.deepEqual(await one({ name: 'cp-a', count: 7, assignments: [{ brokerIds: [broker.broker.nodeId] }, { brokerIds: [broker.broker.nodeId] }] }), { name: 'cp-a', errorCode: ErrorCode.NONE, errorMessage: null });
  assert.equal(await partitionCount(raw, 'cp-a'), 7);

  // Two requests racing for the same topic: the controller takes them in turn, the second sees the first.
  const [first, second] = await Promise.all([one({ name: 'cp-a', count: 9, assignments: null }), one({ name: 'cp-a', count: 9, assignments: null })]);
  assert.deepEqual([first.errorCode, second.errorCode], [ErrorCode.NONE, ErrorCode.INVALID_PARTITIONS]);
  assert.equal(await partitionCount(raw, 'cp-a'), 9);
  // As Kafka's controller: over 10,000 new partitions in one request refuses it whole, validate-only or not.
  for (const validateOnly of [true, false]) {
    const big = await raw.send(ApiKey.CreatePartitions, 3, { topics: [{ name: 'cp-b', count: 9_000, assignments: null }, { name: 'cp-a', count: 1_020, assignments: null }], timeoutMs: 5000, validateOnly });
    assert.deepEqual(big.results.map((x: { name: string; errorCode: number; errorMessage: string | null }) => [x.name, x.errorCode, x.errorMessage]), [
      ['cp-b', ErrorCode.POLICY_VIOLATION, 'Unable to perform excessively large batch operation.'],
      ['cp-a', ErrorCode.POLICY_VIOLATION, 'Unable to perform excessively large batch operation.'],
    ]);
  }
  assert.equal(await partitionCount(raw, 'cp-b'), 2);
  assert.deepEqual(await one({ name: 'cp-b', count: 10_002, assignments: null }, 3, true), { name: 'cp-b', errorCode: ErrorCode.NONE, errorMessage: null }, '10,000 new partitions are allowed');
  // A deadline already passed (timeoutMs <= 0): the controller drops the operation.
  assert.deepEqual(await raw.send(ApiKey.CreatePartitions, 3, { topics: [{ name: 'cp-a', count: 12, assignments: null }], timeoutMs: 0, validateOnly: false }), {
    throttleTimeMs: 0, results: [{ name: 'cp-a', errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: null }],
  });
  assert.equal(await partitionCount(raw, 'cp-a'), 9);
  // A new partition reports leader epoch 0 from its leader-epoch cache.
  const epochs = await raw.send(ApiKey.OffsetForLeaderEpoch, 4, { replicaId: -1, topics: [{ topic: 'cp-a', partitions: [{ partition: 8, currentLeaderEpoch: 0, leaderEpoch: 0 }] }] });
  assert.deepEqual(epochs.topics[0].partitions[0], { errorCode: ErrorCode.NONE, partition: 8, leaderEpoch: 0, endOffset: 0n });
});

test('CreateTopics checks manual assignments as Kafka does: in request order, each as CreatePartitions checks them, then the indexes', async () => {
  const n = broker.broker.nodeId;
  const create = async (name: string, assignments: [number, number[]][]) =>
    (await raw.send(ApiKey.CreateTopics, 7, {
      topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: assignments.map(([partitionIndex, brokerIds]) => ({ partitionIndex, brokerIds })), configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    })).topics[0];
  const unknown = (id: number) => `The manual partition assignment includes broker ${id}, but no such broker is registered.`;
  const cases: [[number, number[]][], string][] = [
    [[[0, [n]], [1, [n, n + 5]]], unknown(n + 5)],
    [[[0, [n, n + 5, n + 5]]], unknown(n + 5)],
    [[[1, [n + 7]], [0, [n, n]]], unknown(n + 7)],
    [[[0, [n]], [2, [n]], [3, [n + 7]]], unknown(n + 7)],
    [[[0, [n]], [1, [n, n]]], `The manual partition assignment includes the broker ${n} more than once.`],
    [[[0, [n]], [1, []]], 'The manual partition assignment includes an empty replica list.'],
    [[[0, [n]], [0, [n]]], 'Found multiple manual partition assignments for partition 0'],
    [[[0, [n]], [2, [n]]], 'partitions should be a consecutive 0-based integer sequence'],
  ];
  for (const [i, [assignments, message]] of cases.entries()) {
    const r = await create(`ct-manual-${i}`, assignments);
    assert.deepEqual([r.errorCode, r.errorMessage], [ErrorCode.INVALID_REPLICA_ASSIGNMENT, message], JSON.stringify(assignments));
  }
  const ok = await create('ct-manual-ok', [[1, [n]], [0, [n]]]);
  assert.deepEqual([ok.errorCode, ok.numPartitions, ok.replicationFactor], [ErrorCode.NONE, 2, 1]);
  assert.equal(await partitionCount(raw, 'ct-manual-ok'), 2);
});

test('new partitions and their data survive a restart of a disk-backed broker', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  try {
    const b1 = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    const admin = kafka(b1.bootstrap, 'restart-admin').admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'kept', numPartitions: 2 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'kept', count: 5 }] });
    const producer = kafka(b1.bootstrap, 'restart-producer').producer();
    await producer.connect();
    await producer.send({ topic: 'kept', messages: [{ partition: 4, value: 'in the new partition' }] });
    await producer.disconnect();
    await admin.disconnect();
    await b1.stop();

    const b2 = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    try {
      const client = await RawClient.connect(b2.port);
      assert.equal(await partitionCount(client, 'kept'), 5);
      client.close();
      const admin2 = kafka(b2.bootstrap, 'restart-admin-2').admin();
      await admin2.connect();
      const offsets = await admin2.fetchTopicOffsets('kept');
      assert.deepEqual(offsets.map((o) => [o.partition, o.high]).sort(), [[0, '0'], [1, '0'], [2, '0'], [3, '0'], [4, '1']]);
      await admin2.disconnect();
    } finally {
      await b2.stop();
    }
  } finally {
    dir.remove();
  }
});
