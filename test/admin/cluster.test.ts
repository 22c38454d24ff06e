/**
 * The describing and leadership APIs on a disk-backed broker: kafkajs describeCluster, listTopics
 * and partition reassignments; DescribeCluster v0–1 (endpoint types, authorized operations);
 * DescribeLogDirs v0–4 against the files on disk; DescribeTopicPartitions paging with its cursor;
 * OffsetForLeaderEpoch v0–4 against the leader-epoch-checkpoint files; ElectLeaders v0–2.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { kafka } from '../support/kafkajs.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

let broker: RunningBroker;
let raw: RawClient;
let dir: { path: string; remove: () => void };
const nodeId = 3;

before(async () => {
  dir = tempDir();
  broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path, nodeId });
  raw = await RawClient.connect(broker.port);
  const admin = kafka(broker.bootstrap, 'cluster-setup').admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'c-alpha', numPartitions: 3 }, { topic: 'c-beta', numPartitions: 2 }, { topic: 'c-gamma', numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka(broker.bootstrap, 'cluster-setup').producer();
  await producer.connect();
  await producer.send({ topic: 'c-alpha', messages: Array.from({ length: 7 }, (_, i) => ({ partition: i % 2, value: `alpha-${i}`.repeat(20) })) });
  await producer.send({ topic: 'c-beta', messages: [{ partition: 1, value: 'beta' }] });
  await producer.disconnect();
});
after(async () => {
  raw.close();
  await broker.stop();
  dir.remove();
});

test('kafkajs describeCluster, listTopics and partition reassignments; DescribeCluster v0–1', async () => {
  const admin = kafka(broker.bootstrap, 'cluster-admin').admin();
  await admin.connect();
  const cluster = await admin.describeCluster();
  assert.deepEqual(cluster.brokers, [{ nodeId, host: broker.host, port: broker.port }]);
  assert.equal(cluster.controller, nodeId);
  assert.deepEqual((await admin.listTopics()).filter((t) => t.startsWith('c-')).sort(), ['c-alpha', 'c-beta', 'c-gamma']);

  // Reassigning to this broker (the only one) is a no-op that succeeds; nothing is ever in progress.
  await admin.alterPartitionReassignments({ topics: [{ topic: 'c-alpha', partitionAssignment: [{ partition: 0, replicas: [nodeId] }] }] });
  await assert.rejects(admin.alterPartitionReassignments({ topics: [{ topic: 'c-alpha', partitionAssignment: [{ partition: 1, replicas: [nodeId, nodeId + 1] }] }] }),
    (e: { errors?: { type?: string }[] }) => e.errors?.[0]?.type === 'INVALID_REPLICA_ASSIGNMENT');
  assert.deepEqual(await admin.listPartitionReassignments({ topics: [{ topic: 'c-alpha', partitions: [0, 1, 2] }] }), { topics: [] });
  assert.deepEqual(await admin.listPartitionReassignments({}), { topics: [] });
  await admin.disconnect();

  for (const v of [0, 1]) {
    const r = await raw.send(ApiKey.DescribeCluster, v, { includeClusterAuthorizedOperations: false, endpointType: 1 });
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.clusterId, cluster.clusterId);
    assert.equal(r.controllerId, nodeId);
    assert.deepEqual(r.brokers, [{ brokerId: nodeId, host: broker.host, port: broker.port, rack: null }]);
    assert.equal(r.clusterAuthorizedOperations, -2147483648, 'not asked for');
    if (v === 1) assert.equal(r.endpointType, 1);
  }
  const ops = await raw.send(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
  // No authorizer: every cluster operation (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE).
  assert.equal(ops.clusterAuthorizedOperations, (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12));
  const controller = await raw.send(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 });
  assert.deepEqual([controller.errorCode, controller.errorMessage], [ErrorCode.MISMATCHED_ENDPOINT_TYPE, 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER']);
  const unknown = await raw.send(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 9 });
  assert.deepEqual([unknown.errorCode, unknown.errorMessage], [ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, 'Unsupported endpoint type 9']);
});

test('DescribeLogDirs v0–4: the data directory, each partition with the size of its segments, the volume space', async () => {
  const dataDir = resolve(dir.path);
  const logBytes = async (partition: string) => {
    const names = (await readdir(join(dataDir, partition))).filter((n) => n.endsWith('.log'));
    let n = 0;
    for (const name of names) n += (await stat(join(dataDir, partition, name))).size;
    return BigInt(n);
  };
  for (let v = 0; v <= 4; v++) {
    const r = await raw.send(ApiKey.DescribeLogDirs, v, { topics: [{ topic: 'c-alpha', partitions: [0, 1, 2, 9] }, { topic: 'c-nope', partitions: [0] }] });
    if (v >= 3) assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.results.length, 1);
    const [result] = r.results;
    assert.deepEqual([result.errorCode, result.logDir], [ErrorCode.NONE, dataDir]);
    assert.deepEqual(result.topics.map((t: { name: string }) => t.name), ['c-alpha'], 'unknown topics and partitions are left out');
    const parts = result.topics[0].partitions;
    assert.deepEqual(parts.map((p: { partitionIndex: number }) => p.partitionIndex), [0, 1, 2]);
    for (const p of parts) {
      assert.equal(p.partitionSize, await logBytes(`c-alpha-${p.partitionIndex}`), `size of c-alpha-${p.partitionIndex}`);
      assert.equal(p.offsetLag, 0n);
      assert.equal(p.isFutureKey, false);
    }
    assert.ok(parts[0].partitionSize > 0n && parts[2].partitionSize === 0n);
    if (v === 4) {
      assert.ok(result.totalBytes > 0n && result.usableBytes > 0n && result.usableBytes <= result.totalBytes, `${result.usableBytes} of ${result.totalBytes}`);
    }
  }
  const everything = await raw.send(ApiKey.DescribeLogDirs, 4, { topics: null });
  const names = everything.results[0].topics.map((t: { name: string }) => t.name);
  for (const t of ['c-alpha', 'c-beta', 'c-gamma']) assert.ok(names.includes(t), `${t} listed when all partitions are asked for`);
});

test('DescribeTopicPartitions: sorted topics, pages bounded by ResponsePartitionLimit, a cursor to the next page', async () => {
  const describe = (topics: string[], limit: number, cursor: { topicName: string; partitionIndex: number } | null = null) =>
    raw.send(ApiKey.DescribeTopicPartitions, 0, { topics: topics.map((name) => ({ name })), responsePartitionLimit: limit, cursor });
  const page = (r: { topics: { name: string; partitions: { partitionIndex: number }[] }[]; nextCursor: unknown }) => ({
    topics: r.topics.map((t) => `${t.name}:${t.partitions.map((p) => p.partitionIndex).join(',')}`),
    next: r.nextCursor,
  });
  const wanted = ['c-gamma', 'c-alpha', 'c-beta', 'c-zeta'];
  assert.deepEqual(page(await describe(wanted, 2)), { topics: ['c-alpha:0,1'], next: { topicName: 'c-alpha', partitionIndex: 2 } });
  assert.deepEqual(page(await describe(wanted, 2, { topicName: 'c-alpha', partitionIndex: 2 })), { topics: ['c-alpha:2', 'c-beta:0'], next: { topicName: 'c-beta', partitionIndex: 1 } });
  assert.deepEqual(page(await describe(wanted, 2, { topicName: 'c-beta', partitionIndex: 1 })), { topics: ['c-beta:1', 'c-gamma:0'], next: { topicName: 'c-zeta', partitionIndex: 0 } });
  const last = await describe(wanted, 2, { topicName: 'c-zeta', partitionIndex: 0 });
  assert.deepEqual(page(last), { topics: ['c-zeta:'], next: null });
  assert.equal(last.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  const full = await describe(['c-beta', 'c-alpha'], 100);
  assert.deepEqual(page(full), { topics: ['c-alpha:0,1,2', 'c-beta:0,1'], next: null });
  const alpha = full.topics[0];
  assert.equal(alpha.errorCode, ErrorCode.NONE);
  assert.equal(alpha.isInternal, false);
  // No authorizer: every topic operation (READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS).
  assert.equal(alpha.topicAuthorizedOperations, (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11));
  assert.deepEqual(alpha.partitions[1], {
    errorCode: ErrorCode.NONE, partitionIndex: 1, leaderId: nodeId, leaderEpoch: 0, replicaNodes: [nodeId], isrNodes: [nodeId],
    eligibleLeaderReplicas: [], lastKnownElr: [], offlineReplicas: [],
  });
  const metadata = await raw.send(ApiKey.Metadata, 12, { topics: [{ name: 'c-alpha', topicId: undefined }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  assert.equal(alpha.topicId, metadata.topics[0].topicId);
  assert.equal(metadata.topics[0].topicAuthorizedOperations, -2147483648, 'not asked for');
  // Metadata and DescribeGroups report the same operations when asked (Metadata v8–10 the cluster's too).
  const asked = await raw.send(ApiKey.Metadata, 10, { topics: [{ name: 'c-alpha', topicId: undefined }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true, includeClusterAuthorizedOperations: true });
  assert.equal(asked.topics[0].topicAuthorizedOperations, alpha.topicAuthorizedOperations);
  assert.equal(asked.clusterAuthorizedOperations, (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12));
  const groups = await raw.send(ApiKey.DescribeGroups, 5, { groups: ['c-no-such-group'], includeAuthorizedOperations: true });
  assert.equal(groups.groups[0].authorizedOperations, (1 << 3) | (1 << 6) | (1 << 8), 'READ, DELETE, DESCRIBE');

  // All topics (an empty list), from a cursor on.
  const all = await describe([], 1000, { topicName: 'c-beta', partitionIndex: 1 });
  assert.deepEqual(page(all).topics.filter((t) => t.startsWith('c-')), ['c-beta:1', 'c-gamma:0']);
  // A cursor on a topic not asked for, or with a negative partition: INVALID_REQUEST for every topic.
  for (const cursor of [{ topicName: 'c-other', partitionIndex: 0 }, { topicName: 'c-beta', partitionIndex: -1 }]) {
    const bad = await describe(['c-beta', 'c-gamma'], 10, cursor);
    assert.deepEqual(bad.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode]), [['c-beta', ErrorCode.INVALID_REQUEST], ['c-gamma', ErrorCode.INVALID_REQUEST]]);
  }
  const invalidName = await describe(['bad/name'], 10);
  assert.equal(invalidName.topics[0].errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
});

test('max.request.partition.size.limit is a Kafka broker setting: an int of at least 1 (else the broker does not start), capping DescribeTopicPartitions pages', async () => {
  // Kafka's ServerConfigs: define(MAX_REQUEST_PARTITION_SIZE_LIMIT_CONFIG, INT, 2000, atLeast(1), ...).
  for (const value of ['0', 'abc']) {
    const started = await startBroker({ port: 0, config: { 'max.request.partition.size.limit': value } }).catch((e: Error) => e);
    if (!(started instanceof Error)) await started.stop();
    assert.match(String(started), /max\.request\.partition\.size\.limit/, `${value} refused`);
  }
  const small = await startBroker({ port: 0, config: { 'max.request.partition.size.limit': '2' } });
  const c = await RawClient.connect(small.port);
  try {
    await c.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'p-three', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    const r = await c.send(ApiKey.DescribeTopicPartitions, 0, { topics: [{ name: 'p-three' }], responsePartitionLimit: 100, cursor: null });
    assert.deepEqual([r.topics[0].partitions.length, r.nextCursor], [2, { topicName: 'p-three', partitionIndex: 2 }]);
    const described = await c.send(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: ['max.request.partition.size.limit'] }], includeSynonyms: false, includeDocumentation: false });
    assert.deepEqual(described.results[0].configs.map((x: { name: string; value: string }) => [x.name, x.value]), [['max.request.partition.size.limit', '2']]);
  } finally {
    c.close();
    await small.stop();
  }
});

test('OffsetForLeaderEpoch v0–4 from the leader-epoch-checkpoint files; ElectLeaders v0–2', async () => {
  // Every partition directory holds Kafka's checkpoint: epoch 0 from offset 0.
  for (const p of ['c-alpha-0', 'c-alpha-2', 'c-beta-1']) {
    assert.equal(await readFile(join(dir.path, p, 'leader-epoch-checkpoint'), 'utf8'), '0\n1\n0 0\n', p);
  }
  const ask = (version: number, partitions: { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[], topic = 'c-alpha') =>
    raw.send(ApiKey.OffsetForLeaderEpoch, version, { replicaId: -1, topics: [{ topic, partitions }] }).then((r) => r.topics[0].partitions);
  for (let v = 0; v <= 4; v++) {
    const got = await ask(v, [
      { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
      { partition: 1, currentLeaderEpoch: -1, leaderEpoch: 0 },
      { partition: 2, currentLeaderEpoch: 0, leaderEpoch: 0 },
      { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 1 },
      { partition: 5, currentLeaderEpoch: 0, leaderEpoch: 0 },
    ]);
    const expected = [
      [ErrorCode.NONE, 0, 4n], // 4 of the 7 records went to partition 0: epoch 0 ends at the log end
      [ErrorCode.NONE, 0, 3n],
      [ErrorCode.NONE, 0, 0n],
      [ErrorCode.NONE, -1, -1n], // an epoch above the current one is unknown
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1n],
    ];
    // v0 has no leader epoch in its answer.
    assert.deepEqual(got.map((p: { errorCode: number; leaderEpoch: number; endOffset: bigint }) => [p.errorCode, v >= 1 ? p.leaderEpoch : expected[got.indexOf(p)]![1], p.endOffset]), expected, `v${v}`);
  }
  const fenced = await ask(4, [{ partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 }, { partition: 0, currentLeaderEpoch: -2, leaderEpoch: 0 }]);
  assert.deepEqual(fenced.map((p: { errorCode: number }) => p.errorCode), [ErrorCode.UNKNOWN_LEADER_EPOCH, ErrorCode.FENCED_LEADER_EPOCH]);
  assert.deepEqual((await ask(4, [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }], 'c-nope'))[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  for (let v = 0; v <= 2; v++) {
    const r = await raw.send(ApiKey.ElectLeaders, v, { electionType: 0, topicPartitions: [{ topic: 'c-beta', partitions: [0, 1, 4] }, { topic: 'c-nope', partitions: [0] }], timeoutMs: 5000 });
    if (v >= 1) assert.equal(r.errorCode, ErrorCode.NONE);
    assert.deepEqual(r.replicaElectionResults.map((t: { topic: string; partitionResult: { partitionId: number; errorCode: number; errorMessage: string | null }[] }) =>
      [t.topic, t.partitionResult.map((p) => [p.partitionId, p.errorCode, p.errorMessage])]), [
      ['c-beta', [
        [0, ErrorCode.ELECTION_NOT_NEEDED, 'Leader election not needed for topic partition.'],
        [1, ErrorCode.ELECTION_NOT_NEEDED, 'Leader election not needed for topic partition.'],
        [4, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'No such partition as c-beta-4'],
      ]],
      ['c-nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'No such topic as c-nope']]],
    ], `v${v}`);
  }
  // Unclean elections are not needed either; all partitions (null) lists none of them.
  const unclean = await raw.send(ApiKey.ElectLeaders, 2, { electionType: 1, topicPartitions: [{ topic: 'c-gamma', partitions: [0] }], timeoutMs: 5000 });
  assert.equal(unclean.replicaElectionResults[0].partitionResult[0].errorCode, ErrorCode.ELECTION_NOT_NEEDED);
  const everyone = await raw.send(ApiKey.ElectLeaders, 2, { electionType: 0, topicPartitions: null, timeoutMs: 5000 });
  assert.equal(everyone.errorCode, ErrorCode.NONE);
  assert.ok(everyone.replicaElectionResults.some((t: { topic: string }) => t.topic === 'c-alpha'));
  assert.ok(everyone.replicaElectionResults.every((t: { partitionResult: unknown[] }) => t.partitionResult.length === 0));
  const badType = await raw.send(ApiKey.ElectLeaders, 1, { electionType: 7, topicPartitions: [{ topic: 'c-gamma', partitions: [0] }], timeoutMs: 5000 });
  assert.deepEqual([badType.errorCode, badType.replicaElectionResults[0].partitionResult[0].errorMessage], [ErrorCode.INVALID_REQUEST, 'Unknown election type 7']);

  // ListPartitionReassignments and cancelling a reassignment, at the protocol level.
  const cancel = await raw.send(ApiKey.AlterPartitionReassignments, 0, { timeoutMs: 5000, topics: [{ name: 'c-beta', partitions: [{ partitionIndex: 0, replicas: null }, { partitionIndex: 8, replicas: [nodeId] }] }] });
  assert.deepEqual(cancel.responses[0].partitions.map((p: { errorCode: number; errorMessage: string | null }) => [p.errorCode, p.errorMessage]), [
    [ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, null],
    [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'Unable to find partition c-beta:8.'],
  ]);
  const list = await raw.send(ApiKey.ListPartitionReassignments, 0, { timeoutMs: 5000, topics: null });
  assert.deepEqual([list.errorCode, list.topics], [ErrorCode.NONE, []]);
});
