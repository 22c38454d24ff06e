/**
 * Deleting topics on the disk engine as users do it: a topic with the longest name Kafka allows
 * is deleted, made again under the same name and holds only its new messages, also across a
 * restart; its partition directories are set aside under names the file system takes, and those
 * a deletion cut short by a crash left behind are set aside at the next start. A topic made
 * again while its deletion is under way waits for it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { startBroker } from '../../src/index.js';
import { kafka } from '../support/kafkajs.js';
import { kcatReadAll } from '../support/kcat.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const diskBroker = (dataDir: string) => startBroker({ port: 0, storage: 'disk', dataDir });

/** A connected kafkajs admin and producer. */
async function connectClients(bootstrap: string) {
  const admin = kafka(bootstrap).admin();
  const producer = kafka(bootstrap).producer();
  await Promise.all([admin.connect(), producer.connect()]);
  return { admin, producer, disconnect: () => Promise.all([admin.disconnect(), producer.disconnect()]) };
}

test('a topic with a 249-character name is deleted and made again on disk, also across a restart', { timeout: 60_000 }, async () => {
  const topic = `long-${'x'.repeat(244)}`;
  assert.equal(topic.length, 249, 'the longest topic name Kafka accepts');
  const dir = tempDir();
  let broker = await diskBroker(dir.path);
  try {
    const { admin, producer, disconnect } = await connectClients(broker.bootstrap);
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await producer.send({ topic, messages: [{ value: 'old-0', partition: 0 }, { value: 'old-1', partition: 1 }] });
    await admin.deleteTopics({ topics: [topic] });
    assert.ok(!(await admin.listTopics()).includes(topic));
    assert.deepEqual(readdirSync(dir.path).filter((n) => n.startsWith('long-')), [], 'the partition directories are gone');

    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await producer.send({ topic, messages: [{ value: 'new-1', partition: 1 }] });
    await disconnect();
    const expected = [{ partition: 1, offset: 0, value: 'new-1' }];
    assert.deepEqual(await kcatReadAll(broker.bootstrap, topic), expected);

    await broker.stop();
    broker = await diskBroker(dir.path);
    assert.deepEqual(await kcatReadAll(broker.bootstrap, topic), expected);
    assert.deepEqual(readdirSync(dir.path).filter((n) => n.startsWith('long-')).sort(), [`${topic}-0`, `${topic}-1`]);
  } finally {
    await broker.stop();
    dir.remove();
  }
});

test('partition directories a deletion cut short left behind are set aside at the next start', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  let broker = await diskBroker(dir.path);
  try {
    const { admin, producer, disconnect } = await connectClients(broker.bootstrap);
    await admin.createTopics({ topics: [{ topic: 'wide', numPartitions: 3 }, { topic: 'kept', numPartitions: 1 }] });
    await producer.send({ topic: 'wide', messages: [0, 1, 2].map((p) => ({ value: `old-${p}`, partition: p })) });
    await producer.send({ topic: 'kept', messages: [{ value: 'kept-0' }] });
    await disconnect();
    await broker.stop();

    // A crash during DeleteTopics after the topic table was saved, before the directories went.
    const tableFile = join(dir.path, '__samsa_topics.json');
    const table = JSON.parse(readFileSync(tableFile, 'utf8')) as { topics: { name: string }[] };
    table.topics = table.topics.filter((t) => t.name !== 'wide');
    writeFileSync(tableFile, JSON.stringify(table));
    // Not ours, and left alone: directories that are no partition log, and Kafka's own metadata log.
    mkdirSync(join(dir.path, 'run-1'));
    mkdirSync(join(dir.path, 'notes-delete'));
    mkdirSync(join(dir.path, '__cluster_metadata-0'));
    writeFileSync(join(dir.path, '__cluster_metadata-0', 'partition.metadata'), 'version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n');

    const strays = () => readdirSync(dir.path).filter((n) => /^wide-\d\.[A-Za-z0-9]+-stray$/.test(n));
    broker = await diskBroker(dir.path);
    assert.deepEqual(readdirSync(dir.path).filter((n) => /^wide-\d+$/.test(n)), [], 'no directory of the deleted topic left in use');
    assert.equal(strays().length, 3, 'its data set aside');
    for (const other of ['run-1', 'notes-delete', '__cluster_metadata-0']) assert.ok(existsSync(join(dir.path, other)), `${other} stays`);
    assert.deepEqual(await kcatReadAll(broker.bootstrap, 'kept'), [{ partition: 0, offset: 0, value: 'kept-0' }]);

    const again = await connectClients(broker.bootstrap);
    assert.ok(!(await again.admin.listTopics()).includes('wide'));
    await again.admin.createTopics({ topics: [{ topic: 'wide', numPartitions: 2 }] });
    await again.producer.send({ topic: 'wide', messages: [{ value: 'new', partition: 1 }] });
    await again.disconnect();
    const expected = [{ partition: 1, offset: 0, value: 'new' }];
    assert.deepEqual(await kcatReadAll(broker.bootstrap, 'wide'), expected);

    await broker.stop();
    broker = await diskBroker(dir.path);
    assert.deepEqual(await kcatReadAll(broker.bootstrap, 'wide'), expected);
    assert.equal(strays().length, 3, 'the new topic\'s directories are its own');
  } finally {
    await broker.stop();
    dir.remove();
  }
});

test('a topic made again while its deletion is still under way gets partition logs of its own', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const broker = await diskBroker(dir.path);
  const c = await RawClient.connect(broker.port);
  const c2 = await RawClient.connect(broker.port);
  const createRequest = { timeoutMs: 5000, validateOnly: false, topics: [{ name: 'again', numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }] };
  // The removal of the deleted topic's files is held until the creation has been sent.
  const storage = (broker.broker.topics as unknown as { storage: { deleteTopicData: (t: unknown) => Promise<void> } }).storage;
  const remove = storage.deleteTopicData.bind(storage);
  let removing: () => void = () => undefined;
  storage.deleteTopicData = (t) => {
    const held = new Promise<void>((resolve) => (removing = resolve));
    return held.then(() => remove(t));
  };
  try {
    const { producer, disconnect } = await connectClients(broker.bootstrap);
    for (let round = 0; round < 5; round++) {
      if (round === 0) assert.equal((await c.send(ApiKey.CreateTopics, 5, createRequest)).topics[0].errorCode, 0);
      await producer.send({ topic: 'again', messages: [0, 1, 2, 3].map((p) => ({ value: `round-${round}`, partition: p })) });
      let started = false;
      removing = () => undefined;
      const deleted = c.send(ApiKey.DeleteTopics, 4, { topicNames: ['again'], timeoutMs: 5000 }).finally(() => (started = true));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(started, false, 'the deletion is still under way');
      const created = c2.send(ApiKey.CreateTopics, 5, createRequest);
      await new Promise((r) => setTimeout(r, 50));
      removing();
      assert.equal((await deleted).responses[0].errorCode, 0);
      const made = await created;
      assert.equal(made.topics[0].errorCode, 0, `round ${round}: ${made.topics[0].errorMessage}`);
    }
    await producer.send({ topic: 'again', messages: [{ value: 'last', partition: 2 }] });
    await disconnect();
    assert.deepEqual(await kcatReadAll(broker.bootstrap, 'again'), [{ partition: 2, offset: 0, value: 'last' }]);
  } finally {
    storage.deleteTopicData = remove;
    c.close();
    c2.close();
    await broker.stop();
    dir.remove();
  }
});

test('__consumer_offsets deleted by hand is made again at the next use, and groups go on committing', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const b = await diskBroker(dir.path);
  const { admin, producer, disconnect } = await connectClients(b.bootstrap);
  try {
    await admin.createTopics({ topics: [{ topic: 'cg-data', numPartitions: 1 }] });
    await producer.send({ topic: 'cg-data', messages: [{ value: 'a' }, { value: 'b' }] });
    await admin.setOffsets({ groupId: 'before', topic: 'cg-data', partitions: [{ partition: 0, offset: '1' }] });
    assert.ok((await admin.listTopics()).includes('__consumer_offsets'));
    await admin.deleteTopics({ topics: ['__consumer_offsets'] });
    assert.ok(!(await admin.listTopics()).includes('__consumer_offsets'));
    // A group's offsets after the deletion go to the topic made again.
    await admin.setOffsets({ groupId: 'after', topic: 'cg-data', partitions: [{ partition: 0, offset: '2' }] });
    assert.ok((await admin.listTopics()).includes('__consumer_offsets'));
    const fetched = await admin.fetchOffsets({ groupId: 'after', topics: ['cg-data'] });
    assert.deepEqual(fetched[0]!.partitions.map((p) => [p.partition, p.offset]), [[0, '2']]);
    await disconnect();
    await b.stop();
    // And they are read back from it after a restart.
    const again = await diskBroker(dir.path);
    const admin2 = kafka(again.bootstrap).admin();
    await admin2.connect();
    try {
      const reread = await admin2.fetchOffsets({ groupId: 'after', topics: ['cg-data'] });
      assert.deepEqual(reread[0]!.partitions.map((p) => [p.partition, p.offset]), [[0, '2']]);
    } finally {
      await admin2.disconnect();
      await again.stop();
    }
  } finally {
    await disconnect().catch(() => {});
    await b.stop().catch(() => {});
    dir.remove();
  }
});

test('a partition.metadata naming no topic id stops the start (Kafka takes the directory offline) instead of hiding the data; its fix brings the data back', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  try {
    const b = await diskBroker(dir.path);
    const { admin, producer, disconnect } = await connectClients(b.bootstrap);
    await admin.createTopics({ topics: [{ topic: 'md', numPartitions: 1 }] });
    await producer.send({ topic: 'md', messages: [{ value: 'one' }, { value: 'two' }] });
    await disconnect();
    await b.stop();
    const metadata = join(dir.path, 'md-0', 'partition.metadata');
    const id = /topic_id:\s*(\S+)/.exec(readFileSync(metadata, 'utf8'))![1];
    writeFileSync(metadata, '');
    await assert.rejects(diskBroker(dir.path), (e: Error) => e.name === 'StorageRefusedError' && e.message.includes('names no topic id') && e.message.includes(`topic_id: ${id}`));
    assert.deepEqual(readdirSync(dir.path).filter((n) => n.startsWith('md-0')), ['md-0'], 'nothing set aside');
    // A damaged id (cut short, or with a byte no base64 has) is no id either: it was taken for another topic's, and the data set aside.
    for (const damaged of [id!.slice(0, 19), `${id!.slice(0, 10)}\u0001${id!.slice(11)}`]) {
      writeFileSync(metadata, `version: 0\ntopic_id: ${damaged}\n`);
      await assert.rejects(diskBroker(dir.path), (e: Error) => e.name === 'StorageRefusedError' && e.message.includes('names no topic id'), damaged);
      assert.deepEqual(readdirSync(dir.path).filter((n) => n.startsWith('md-0')), ['md-0'], 'nothing set aside');
    }
    writeFileSync(metadata, `version: 0\ntopic_id: ${id}\n`);
    const again = await diskBroker(dir.path);
    try {
      assert.deepEqual((await kcatReadAll(again.bootstrap, 'md')).map((m) => [m.offset, m.value]), [[0, 'one'], [1, 'two']]);
    } finally {
      await again.stop();
    }
  } finally {
    dir.remove();
  }
});
