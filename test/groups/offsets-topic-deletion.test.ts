/**
 * Deleting __consumer_offsets, as a test teardown does when it deletes every topic kafkajs'
 * listTopics names: Kafka 3.9 allows it, and its coordinator resigns the topic's partitions
 * (BrokerMetadataPublisher.updateCoordinator → onResignation), unloading every group with its
 * offsets; the topic is made again, empty, at the next use. Samsa kept the groups and offsets in
 * memory: fetchOffsets went on answering offsets the disk no longer held, and a restart lost them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../../src/index.js';
import { kafka } from '../support/kafkajs.js';
import { tempDir } from '../support/processes.js';

test('deleting __consumer_offsets drops every group and its offsets at once, as across a restart', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const start = () => startBroker({ port: 0, storage: 'disk', dataDir: dir.path, logger: 'silent' });
  let broker = await start();
  try {
    let admin = kafka(broker.bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'otd', numPartitions: 2 }] });
    await admin.setOffsets({ groupId: 'otd-old', topic: 'otd', partitions: [{ partition: 0, offset: '0' }] });
    assert.ok((await admin.listTopics()).includes('__consumer_offsets'));
    assert.ok((await admin.listGroups()).groups.some((g) => g.groupId === 'otd-old'));

    await admin.deleteTopics({ topics: ['__consumer_offsets'] });
    const offsets = async (groupId: string) => (await admin.fetchOffsets({ groupId, topics: ['otd'] }))[0].partitions.map((p) => [p.partition, p.offset]);
    assert.deepEqual(await offsets('otd-old'), [[0, '-1'], [1, '-1']], 'the offsets went with the topic');
    assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === 'otd-old'), 'the group went with the topic');

    // Groups work again on the re-created topic, and what they commit now survives a restart.
    await admin.setOffsets({ groupId: 'otd-new', topic: 'otd', partitions: [{ partition: 1, offset: '0' }] });
    assert.deepEqual(await offsets('otd-new'), [[0, '-1'], [1, '0']]);
    await admin.disconnect();
    await broker.stop();
    broker = await start();
    admin = kafka(broker.bootstrap).admin();
    await admin.connect();
    assert.deepEqual(await offsets('otd-old'), [[0, '-1'], [1, '-1']], 'the same after a restart');
    assert.deepEqual(await offsets('otd-new'), [[0, '-1'], [1, '0']]);
    await admin.disconnect();
  } finally {
    await broker.stop();
    dir.remove();
  }
});
