/**
 * File descriptors per partition: a partition holds its log's write descriptor from its first
 * append on, not from its creation nor from its recovery after a crash, and only that one (Kafka
 * keeps a channel per segment and closes index files once mapped). A broker with more partitions
 * than its descriptor limit allows three each for must still create them, write to every one, and
 * start again after a SIGKILL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type BrokerProcess, startBrokerProcess, tempDir } from '../support/processes.js';
import { byPartition, kcatReadAll } from '../support/kcat.js';

const { Kafka, logLevel } = kafkajs;

/** Three descriptors (log, index, time index) for each of PARTITIONS would be far past the limit. */
const MAX_OPEN_FILES = 256;
const PARTITIONS = 120;

/** Creates `topic` with PARTITIONS partitions, each with its leader. */
async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  const created = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();
  assert.equal(created.topics[0]!.partitions.length, PARTITIONS);
  assert.ok(created.topics[0]!.partitions.every((p) => p.partitionErrorCode === 0 && p.leader >= 0));
}

async function produceTo(bootstrap: string, partitions: number[], value: string, topic = 'many'): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: partitions.map((p) => ({ partition: p, value: `${value}-${p}` })) });
  await producer.disconnect();
}

test('partitions created or recovered after a SIGKILL hold no descriptors until written', async () => {
  const dir = tempDir();
  let broker: BrokerProcess | undefined;
  try {
    const args = ['--port', '0', '--data-dir', dir.path];
    broker = await startBrokerProcess(args, { maxOpenFiles: MAX_OPEN_FILES });
    await createTopic(broker.bootstrap, 'many');

    const first = Array.from({ length: 20 }, (_, i) => i);
    await produceTo(broker.bootstrap, first, 'before');
    await broker.kill();

    // Recovery checks every partition's active segment; it must not keep them all open.
    broker = await startBrokerProcess(args, { maxOpenFiles: MAX_OPEN_FILES });
    const second = Array.from({ length: 20 }, (_, i) => PARTITIONS - 1 - i);
    await produceTo(broker.bootstrap, second, 'after');

    const read = byPartition(await kcatReadAll(broker.bootstrap, 'many'));
    for (const p of first) assert.deepEqual(read.get(p)?.map((c) => [c.offset, c.value]), [[0, `before-${p}`]], `partition ${p}`);
    for (const p of second) assert.deepEqual(read.get(p)?.map((c) => [c.offset, c.value]), [[0, `after-${p}`]], `partition ${p}`);
    assert.equal(read.size, first.length + second.length);

    // Stopping fsyncs every partition recovery left unsynced: the shutdown is still a clean one.
    assert.equal(await broker.stop(), 0);
    assert.deepEqual(broker.logs.filter((l) => /EMFILE|not marking the shutdown clean/.test(l)), []);
    broker = await startBrokerProcess(args, { maxOpenFiles: MAX_OPEN_FILES });
    assert.deepEqual(broker.logs.filter((l) => /did not stop cleanly/.test(l)), []);
    const again = byPartition(await kcatReadAll(broker.bootstrap, 'many'));
    assert.deepEqual(again, read);
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('a partition written to holds one descriptor, its log\'s: more partitions than a third of the limit all take writes', async () => {
  const dir = tempDir();
  let broker: BrokerProcess | undefined;
  try {
    const args = ['--port', '0', '--data-dir', dir.path];
    broker = await startBrokerProcess(args, { maxOpenFiles: MAX_OPEN_FILES });
    await createTopic(broker.bootstrap, 'written');
    const all = Array.from({ length: PARTITIONS }, (_, i) => i);
    // Appends and the index writes of each (once a second) while every partition holds its log open.
    await produceTo(broker.bootstrap, all, 'one', 'written');
    await new Promise((r) => setTimeout(r, 1100));
    await produceTo(broker.bootstrap, all, 'two', 'written');
    const read = byPartition(await kcatReadAll(broker.bootstrap, 'written'));
    for (const p of all) assert.deepEqual(read.get(p)?.map((c) => [c.offset, c.value]), [[0, `one-${p}`], [1, `two-${p}`]], `partition ${p}`);
    assert.equal(await broker.stop(), 0);
    assert.deepEqual(broker.logs.filter((l) => /EMFILE|not marking the shutdown clean|failed/.test(l)), []);
    // The indexes written with them are there after a clean stop: nothing to rebuild.
    broker = await startBrokerProcess(args, { maxOpenFiles: MAX_OPEN_FILES });
    assert.deepEqual(broker.logs.filter((l) => /did not stop cleanly|rebuilding/.test(l)), []);
    assert.deepEqual(byPartition(await kcatReadAll(broker.bootstrap, 'written')), read);
  } finally {
    await broker?.stop();
    dir.remove();
  }
});
