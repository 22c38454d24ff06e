/**
 * Group administration as users run it with kafkajs admin: list and describe groups with members
 * and assignments, committed offsets and lag, resetting offsets of an empty group, deleting groups
 * and offsets (OffsetDelete through the raw protocol, which kafkajs lacks), and the offsets of a
 * deleted topic going with it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { type Consumer, kafka, waitFor } from '../support/kafkajs.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const { AssignerProtocol } = kafkajs;
let broker: RunningBroker;
before(async () => {
  broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 } });
});
after(() => broker.stop());

async function consumeAll(groupId: string, topic: string, count: number): Promise<Consumer> {
  const consumer = kafka(broker.bootstrap, `${groupId}-member`).consumer({ groupId, maxWaitTimeInMs: 250, heartbeatInterval: 300 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let n = 0;
  await consumer.run({ autoCommitThreshold: 1, eachMessage: async () => void n++ });
  await waitFor(() => n >= count, 20_000, `${count} messages consumed`);
  return consumer;
}

test('list, describe, offsets and lag, reset of an empty group, delete', { timeout: 60_000 }, async () => {
  const topic = 'admin-groups';
  const admin = kafka(broker.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  const producer = kafka(broker.bootstrap).producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 30 }, (_, i) => ({ partition: i % 3, value: `m${i}` })) });
  const consumer = await consumeAll('admin-g', topic, 30);

  const listed = await admin.listGroups();
  assert.ok(listed.groups.some((g) => g.groupId === 'admin-g' && g.protocolType === 'consumer'));
  const { groups: [described] } = await admin.describeGroups(['admin-g']);
  assert.equal(described.state, 'Stable');
  assert.equal(described.protocolType, 'consumer');
  assert.equal(described.members.length, 1);
  const assignment = AssignerProtocol.MemberAssignment.decode(described.members[0].memberAssignment)!;
  assert.deepEqual(assignment.assignment[topic].slice().sort(), [0, 1, 2]);
  const metadata = AssignerProtocol.MemberMetadata.decode(described.members[0].memberMetadata)!;
  assert.deepEqual(metadata.topics, [topic]);

  // A non-empty group refuses to be reset or deleted.
  await assert.rejects(admin.setOffsets({ groupId: 'admin-g', topic, partitions: [{ partition: 0, offset: '0' }] }));
  const del = await admin.deleteGroups(['admin-g']).catch((e: { groups?: { errorCode: number }[] }) => e.groups ?? []);
  assert.equal(del[0].errorCode, ErrorCode.NON_EMPTY_GROUP);

  await consumer.stop();
  await consumer.disconnect();
  await producer.send({ topic, messages: [{ partition: 1, value: 'late' }] });
  const committed = await admin.fetchOffsets({ groupId: 'admin-g', topics: [topic] });
  const ends = await admin.fetchTopicOffsets(topic);
  const lag = ends.map((e) => Number(e.high) - Number(committed[0].partitions.find((p) => p.partition === e.partition)!.offset));
  assert.equal(lag.reduce((a, b) => a + b, 0), 1, 'one message produced after the consumer stopped');

  await admin.setOffsets({ groupId: 'admin-g', topic, partitions: [{ partition: 0, offset: '4' }] });
  let offsets = await admin.fetchOffsets({ groupId: 'admin-g', topics: [topic] });
  assert.equal(offsets[0].partitions.find((p) => p.partition === 0)!.offset, '4');
  await admin.resetOffsets({ groupId: 'admin-g', topic, earliest: true });
  offsets = await admin.fetchOffsets({ groupId: 'admin-g', topics: [topic] });
  // kafkajs commits -2, Kafka's "earliest" marker, which the next consumer resolves.
  for (const p of offsets[0].partitions) assert.equal(p.offset, '-2', `partition ${p.partition}`);
  const again = await consumeAll('admin-g', topic, 31);
  await again.disconnect();

  const { groups: [empty] } = await admin.describeGroups(['admin-g']);
  assert.equal(empty.state, 'Empty');
  await admin.deleteGroups(['admin-g']);
  const { groups: [gone] } = await admin.describeGroups(['admin-g']);
  assert.equal(gone.state, 'Dead');
  offsets = await admin.fetchOffsets({ groupId: 'admin-g', topics: [topic] });
  assert.ok(offsets[0].partitions.every((p) => p.offset === '-1'), 'offsets went with the group');
  assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === 'admin-g'));
  await producer.disconnect();
  await admin.disconnect();
});

test('OffsetDelete: refused for topics the group still subscribes to, allowed once it is empty, and the group goes with its last offsets; an empty id is INVALID_GROUP_ID', { timeout: 60_000 }, async () => {
  const topic = 'admin-offset-delete';
  const admin = kafka(broker.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const producer = kafka(broker.bootstrap).producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ value: 'x' }, { value: 'y' }] });
  const consumer = await consumeAll('od-g', topic, 2);
  const raw = await RawClient.connect(broker.port);
  const del = () => raw.send(ApiKey.OffsetDelete, 0, { groupId: 'od-g', topics: [{ name: topic, partitions: [{ partitionIndex: 0 }] }] });
  const busy = await del();
  assert.equal(busy.errorCode, ErrorCode.NONE);
  assert.equal(busy.topics[0].partitions[0].errorCode, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
  await consumer.disconnect();
  // The member's LeaveGroup may race a rebalance the consumer had begun; wait for the group to empty.
  for (let i = 0; i < 100 && (await admin.describeGroups(['od-g'])).groups[0].state !== 'Empty'; i++) await new Promise((r) => setTimeout(r, 50));
  const done = await del();
  assert.equal(done.topics[0].partitions[0].errorCode, ErrorCode.NONE);
  const offsets = await admin.fetchOffsets({ groupId: 'od-g', topics: [topic] });
  assert.equal(offsets[0].partitions[0].offset, '-1');
  // Its last offsets gone, the empty group is gone too (Kafka's cleanupGroupMetadata).
  assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === 'od-g'), 'the group left the list');
  assert.equal((await admin.describeGroups(['od-g'])).groups[0].state, 'Dead');
  const missing = await raw.send(ApiKey.OffsetDelete, 0, { groupId: 'no-such-group', topics: [{ name: topic, partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(missing.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  const unnamed = await raw.send(ApiKey.OffsetDelete, 0, { groupId: '', topics: [{ name: topic, partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(unnamed.errorCode, ErrorCode.INVALID_GROUP_ID);
  raw.close();
  await producer.disconnect();
  await admin.disconnect();
});

test('a deleted topic takes its committed offsets along, also across a restart', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  let disk = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
  try {
    let admin = kafka(disk.bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'doomed', numPartitions: 2 }, { topic: 'kept', numPartitions: 1 }] });
    await admin.setOffsets({ groupId: 'only-doomed', topic: 'doomed', partitions: [{ partition: 0, offset: '5' }, { partition: 1, offset: '7' }] });
    await admin.setOffsets({ groupId: 'both', topic: 'doomed', partitions: [{ partition: 0, offset: '3' }] });
    await admin.setOffsets({ groupId: 'both', topic: 'kept', partitions: [{ partition: 0, offset: '9' }] });
    await admin.deleteTopics({ topics: ['doomed'] });
    await admin.createTopics({ topics: [{ topic: 'doomed', numPartitions: 2 }] });

    const offsetsOf = async (a: typeof admin, groupId: string, topic: string) =>
      (await a.fetchOffsets({ groupId, topics: [topic] }))[0].partitions.map((p) => [p.partition, p.offset]).sort();
    const check = async (a: typeof admin) => {
      // The topic made again under the old name starts with no committed offsets.
      assert.deepEqual(await offsetsOf(a, 'only-doomed', 'doomed'), [[0, '-1'], [1, '-1']]);
      assert.deepEqual(await offsetsOf(a, 'both', 'doomed'), [[0, '-1'], [1, '-1']]);
      assert.deepEqual(await offsetsOf(a, 'both', 'kept'), [[0, '9']]);
      // A group left with no offsets at all is gone; the other stays.
      const groups = (await a.listGroups()).groups.map((g) => g.groupId);
      assert.ok(!groups.includes('only-doomed'), groups.join(', '));
      assert.ok(groups.includes('both'), groups.join(', '));
    };
    await check(admin);
    await admin.disconnect();

    await disk.stop();
    disk = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    admin = kafka(disk.bootstrap).admin();
    await admin.connect();
    await check(admin);
    await admin.disconnect();
  } finally {
    await disk.stop();
    dir.remove();
  }
});
