/**
 * Config changes survive a restart of the real broker process on disk: topic overrides (in the
 * topic table) and dynamic broker configs (the 'broker-configs' state document) come back with their
 * sources, and the broker acts on them from its first request. A change acknowledged just before a
 * kill -9 is there too.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CompressionCodec, compressionOf, readAttributes } from '../../protocol/records/index.js';
import { type BrokerProcess, startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import {
  BROKER, DELETE, SET, Source, TOPIC, assertOk, batchOf, configsOf, createTopic, errorName, fetchBatches, incremental, produceBatch,
} from './configs-support.js';

const dir = tempDir('samsa-configs-restart-');
let broker: BrokerProcess | undefined;
let client: RawClient | undefined;

after(async () => {
  client?.close();
  await broker?.kill();
  dir.remove();
});

async function start(): Promise<RawClient> {
  client?.close();
  broker = await startBrokerProcess(['--port', '0', '--data-dir', dir.path, '--set', 'log.retention.hours=100']);
  client = await RawClient.connect(broker.port);
  return client;
}

async function checkAll(c: RawClient, when: string): Promise<void> {
  const t = await configsOf(c, TOPIC, 'persist', { synonyms: true });
  assert.equal(t.get('compression.type')!.value, 'zstd', when);
  assert.equal(t.get('compression.type')!.configSource, Source.TOPIC_CONFIG, when);
  assert.equal(t.get('message.timestamp.type')!.value, 'LogAppendTime', when);
  assert.equal(t.get('segment.bytes')!.value, '500000', `${when}: set at creation`);
  assert.equal(t.get('retention.ms')!.value, '86400000', when);
  assert.equal(t.get('retention.ms')!.configSource, Source.DYNAMIC_DEFAULT_BROKER_CONFIG, when);
  assert.equal(t.get('max.message.bytes')!.value, '5000', when);
  assert.equal(t.get('max.message.bytes')!.configSource, Source.DYNAMIC_BROKER_CONFIG, when);

  const b = await configsOf(c, BROKER, '1', { synonyms: true, keys: ['message.max.bytes', 'log.retention.ms', 'log.retention.hours'] });
  assert.equal(b.get('message.max.bytes')!.configSource, Source.DYNAMIC_BROKER_CONFIG, when);
  assert.equal(b.get('log.retention.ms')!.configSource, Source.DYNAMIC_DEFAULT_BROKER_CONFIG, when);
  assert.equal(b.get('log.retention.hours')!.configSource, Source.STATIC_BROKER_CONFIG, when);
  assert.deepEqual([...(await configsOf(c, BROKER, '')).keys()], ['log.retention.ms'], when);

  // In force, not just described.
  assert.equal(errorName((await produceBatch(c, 'persist', 0, batchOf([{ key: 'k', value: 'x'.repeat(6000) }]), 1)).errorCode), 'MESSAGE_TOO_LARGE', when);
  const p = await produceBatch(c, 'persist', 0, batchOf([{ key: 'k', value: when }], CompressionCodec.Gzip), 1);
  assert.equal(errorName(p.errorCode), 'NONE', when);
  const batches = await fetchBatches(c, 'persist', 0);
  const last = batches[batches.length - 1];
  assert.equal(compressionOf(readAttributes(last)), CompressionCodec.Zstd, when);
}

test('topic overrides and dynamic broker configs survive restarts, a kill -9 included', async () => {
  let c = await start();
  await createTopic(c, 'persist', 1, { 'segment.bytes': '500000' });
  assertOk(await incremental(c, [
    { type: TOPIC, name: 'persist', ops: [['compression.type', SET, 'zstd'], ['message.timestamp.type', SET, 'LogAppendTime'], ['min.insync.replicas', SET, '2']] },
    { type: BROKER, name: '1', ops: [['message.max.bytes', SET, '5000']] },
    { type: BROKER, name: '', ops: [['log.retention.ms', SET, '86400000']] },
  ]), 'alter');
  await checkAll(c, 'before restart');
  assert.equal((await configsOf(c, TOPIC, 'persist')).get('min.insync.replicas')!.value, '2');

  assert.equal(await broker!.stop(), 0);
  c = await start();
  await checkAll(c, 'after a clean restart');
  assert.equal((await configsOf(c, TOPIC, 'persist')).get('min.insync.replicas')!.value, '2', 'min.insync.replicas kept');

  // Acknowledged, then killed at once: the change was already on disk.
  assertOk(await incremental(c, [{ type: TOPIC, name: 'persist', ops: [['min.insync.replicas', DELETE, null]] }]), 'delete');
  await broker!.kill();
  c = await start();
  await checkAll(c, 'after kill -9');
  assert.equal(errorName((await produceBatch(c, 'persist', 0, batchOf([{ key: 'k', value: 'v' }]), -1)).errorCode), 'NONE', 'the deletion survived');
  assert.equal((await configsOf(c, TOPIC, 'persist')).get('min.insync.replicas')!.configSource, Source.DEFAULT_CONFIG);
});
