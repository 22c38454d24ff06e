/**
 * The Python admin clients (Debian's confluent-kafka 1.7 on librdkafka, and kafka-python 2.0.2)
 * describing and altering topic and broker configs, checked against a following raw describe,
 * produce and fetch: what they set is what the broker then does.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CompressionCodec, compressionOf, readAttributes } from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { PYTHON, ROOT, run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import { BROKER, Source, TOPIC, alter, assertOk, batchOf, configsOf, createTopic, errorName, fetchBatches, produceBatch } from './configs-support.js';

const SCRIPT = join(ROOT, 'test/admin/configs_py.py');

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

async function runPy(plan: Record<string, string>): Promise<any> {
  const r = await run(PYTHON, [SCRIPT, JSON.stringify({ bootstrap: broker.bootstrap, ...plan })], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, `python exited ${r.code}:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('confluent-kafka AdminClient: describe_configs and alter_configs on a topic and the broker', async () => {
  const topic = 'py-confluent';
  await createTopic(raw, topic);
  const out = await runPy({ client: 'confluent', topic });

  // librdkafka asks DescribeConfigs v1 with synonyms.
  assert.equal(out.before['retention.ms'].value, '604800000');
  assert.equal(out.before['retention.ms'].source, Source.DEFAULT_CONFIG);
  assert.equal(out.before['retention.ms'].default, true);
  assert.deepEqual(out.before['segment.bytes'].synonyms, [['log.segment.bytes', '1073741824', Source.DEFAULT_CONFIG]]);

  assert.equal(out.alter, 'NONE');
  assert.equal(out.after['retention.ms'].value, '3600000');
  assert.equal(out.after['retention.ms'].source, Source.TOPIC_CONFIG);
  assert.equal(out.after['compression.type'].value, 'zstd');
  assert.equal(out.after['cleanup.policy'].value, 'delete,compact');
  assert.equal(out.invalid, 'INVALID_CONFIG', 'segment.bytes below 14');
  assert.equal(out.validate_only, 'NONE');
  assert.equal(out.broker_alter, 'NONE');
  assert.equal(out.broker['log.retention.bytes'].value, '123456789');
  assert.equal(out.broker['log.retention.bytes'].source, Source.DYNAMIC_BROKER_CONFIG);
  assert.equal(out.broker['log.retention.bytes'].read_only, false);
  assert.equal(out.broker['num.partitions'].read_only, true);
  assert.equal(out.broker_static, 'INVALID_REQUEST');

  // What the broker now does with it.
  const t = await configsOf(raw, TOPIC, topic);
  assert.equal(t.get('retention.ms')!.value, '3600000', 'validate_only changed nothing');
  assert.equal(t.get('retention.bytes')!.value, '123456789', 'the dynamic broker default reaches the topic');
  assert.equal(t.get('retention.bytes')!.configSource, Source.DYNAMIC_BROKER_CONFIG);
  const batches = await fetchBatches(raw, topic, 0);
  assert.ok(batches.length >= 1);
  for (const b of batches) assert.equal(compressionOf(readAttributes(b)), CompressionCodec.Zstd, 'librdkafka sent gzip, the topic stores zstd');
  assert.deepEqual(out.consumed.map((m: any) => m.value), ['v0', 'v1', 'v2']);
  for (const m of out.consumed) {
    assert.equal(m.timestamp_type, 2, 'TIMESTAMP_LOG_APPEND_TIME');
    assert.ok(m.timestamp > 1_000_000_000_000 + 1000, 'the broker time, not the producer\'s');
  }
  assertOk(await alter(raw, [{ type: BROKER, name: '1', configs: {} }]), 'clear broker');
});

test('kafka-python KafkaAdminClient: describe_configs and alter_configs on a topic and the broker', async () => {
  const topic = 'py-kafka-python';
  await createTopic(raw, topic);
  const out = await runPy({ client: 'kafka-python', topic });

  assert.equal(out.describe_version, 2);
  assert.equal(out.before['retention.ms'].value, '604800000');
  assert.equal(out.before['min.insync.replicas'].source, Source.DEFAULT_CONFIG);
  assert.deepEqual(out.alter, [[0, null]]);
  assert.equal(out.after['retention.ms'].value, '7200000');
  assert.equal(out.after['retention.ms'].source, Source.TOPIC_CONFIG);
  assert.deepEqual(out.after['retention.ms'].synonyms, [['retention.ms', '7200000', Source.TOPIC_CONFIG]]);
  assert.equal(out.after['min.insync.replicas'].value, '2');
  assert.deepEqual(out.invalid, [[40, 'Unknown topic config name: no.such.config']]);
  assert.equal(out.missing.error, 3);
  assert.deepEqual(out.broker_alter, [[0, null]]);
  assert.equal(out.broker['log.cleaner.delete.retention.ms'].value, '1000');
  assert.equal(out.broker['log.cleaner.delete.retention.ms'].source, Source.DYNAMIC_BROKER_CONFIG);

  // min.insync.replicas=2 on a single broker: Kafka counts at most the one replica, so acks=all goes through.
  assert.equal(errorName((await produceBatch(raw, topic, 0, batchOf([{ value: 'a' }]), -1)).errorCode), 'NONE');
  assert.equal(errorName((await produceBatch(raw, topic, 0, batchOf([{ value: 'a' }]), 1)).errorCode), 'NONE');
  // message.timestamp.after.max.ms=60000: a record an hour ahead is refused.
  const ahead = await produceBatch(raw, topic, 0, batchOf([{ value: 'a', timestamp: Date.now() + 3_600_000 }]), 1);
  assert.equal(errorName(ahead.errorCode), 'INVALID_TIMESTAMP');
  const t = await configsOf(raw, TOPIC, topic, { keys: ['delete.retention.ms'] });
  assert.equal(t.get('delete.retention.ms')!.value, '1000');
  assertOk(await alter(raw, [{ type: BROKER, name: '1', configs: {} }]), 'clear broker');
});
