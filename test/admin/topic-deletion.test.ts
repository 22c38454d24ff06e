/**
 * Deleting topics on the disk engine as users do it: a topic with the longest name Kafka allows
 * is deleted, made again under the same name and holds only its new messages, also across a
 * restart; its partition directories are set aside under names the file system takes.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { startBroker } from '../../src/index.js';
import { kafka } from '../support/kafkajs.js';
import { kcatReadAll } from '../support/kcat.js';
import { tempDir } from '../support/processes.js';

test('a topic with a 249-character name is deleted and made again on disk, also across a restart', { timeout: 60_000 }, async () => {
  const topic = `long-${'x'.repeat(244)}`;
  assert.equal(topic.length, 249, 'the longest topic name Kafka accepts');
  const dir = tempDir();
  let broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
  try {
    const admin = kafka(broker.bootstrap).admin();
    const producer = kafka(broker.bootstrap).producer();
    await Promise.all([admin.connect(), producer.connect()]);
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await producer.send({ topic, messages: [{ value: 'old-0', partition: 0 }, { value: 'old-1', partition: 1 }] });
    await admin.deleteTopics({ topics: [topic] });
    assert.ok(!(await admin.listTopics()).includes(topic));
    assert.deepEqual(readdirSync(dir.path).filter((n) => n.startsWith('long-')), [], 'the partition directories are gone');

    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await producer.send({ topic, messages: [{ value: 'new-1', partition: 1 }] });
    await Promise.all([admin.disconnect(), producer.disconnect()]);
    const expected = [{ partition: 1, offset: 0, value: 'new-1' }];
    assert.deepEqual(await kcatReadAll(broker.bootstrap, topic), expected);

    await broker.stop();
    broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    assert.deepEqual(await kcatReadAll(broker.bootstrap, topic), expected);
    assert.deepEqual(readdirSync(dir.path).filter((n) => n.startsWith('long-')).sort(), [`${topic}-0`, `${topic}-1`]);
  } finally {
    await broker.stop();
    dir.remove();
  }
});
