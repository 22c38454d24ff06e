/**
 * kafkajs admin describeConfigs (DescribeConfigs v2) and alterConfigs (AlterConfigs v1) on a topic and
 * on the broker, each checked against what a following describe, a kafkajs producer and consumer, and
 * a raw fetch show: zstd storage of gzip-produced data, LogAppendTime, timestamp bounds, a dynamic
 * message.max.bytes, and Kafka's errors for refused changes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { CompressionCodec, compressionOf, readAttributes } from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { kafka, waitFor } from '../support/kafkajs.js';
import { registerKafkajsCodecs } from '../support/kafkajs-codecs.js';
import { RawClient } from '../support/raw-client.js';
import { Source, fetchBatches } from './configs-support.js';

const { ConfigResourceTypes, CompressionTypes } = kafkajs;

let broker: RunningBroker;
let raw: RawClient;
let admin: kafkajs.Admin;
let producer: kafkajs.Producer;

before(async () => {
  registerKafkajsCodecs();
  broker = await startBroker({ port: 0 });
  raw = await RawClient.connect(broker.port);
  const k = kafka(broker.bootstrap, 'configs-kafkajs');
  admin = k.admin();
  await admin.connect();
  producer = k.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});
after(async () => {
  await producer.disconnect();
  await admin.disconnect();
  raw.close();
  await broker.stop();
});

async function topicConfigs(topic: string, names?: string[]) {
  const r = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }] });
  return new Map(r.resources[0].configEntries.map((e) => [e.configName, e]));
}

/** The Kafka error type a kafkajs failure carries, however deeply it is wrapped. */
function kafkaErrorType(e: any): string | undefined {
  for (let x = e; x; x = x.originalError ?? x.cause ?? (Array.isArray(x.errors) ? x.errors[0] : undefined)) if (x.type) return x.type;
  return undefined;
}

test('kafkajs describeConfigs and alterConfigs on a topic, seen by producer, consumer and fetch', async () => {
  const topic = 'kj-configs';
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });

  let c = await topicConfigs(topic, ['retention.ms', 'compression.type', 'cleanup.policy', 'message.timestamp.type']);
  assert.equal(c.size, 4);
  assert.equal(c.get('retention.ms')!.configValue, '604800000');
  assert.equal(c.get('retention.ms')!.isDefault, true);
  assert.equal(c.get('compression.type')!.configValue, 'producer');
  assert.deepEqual(c.get('compression.type')!.configSynonyms, [{ configName: 'compression.type', configValue: 'producer', configSource: Source.DEFAULT_CONFIG }]);

  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [
      { name: 'retention.ms', value: '3600000' },
      { name: 'compression.type', value: 'zstd' },
      { name: 'message.timestamp.type', value: 'LogAppendTime' },
    ] }],
  });
  c = await topicConfigs(topic);
  assert.equal(c.get('retention.ms')!.configValue, '3600000');
  assert.equal(c.get('retention.ms')!.configSource, Source.TOPIC_CONFIG);
  assert.equal(c.get('retention.ms')!.isDefault, false);
  assert.equal(c.get('compression.type')!.configValue, 'zstd');
  assert.equal(c.get('message.timestamp.type')!.configValue, 'LogAppendTime');

  // gzip from the producer, zstd in the log; LogAppendTime replaces the producer's old timestamps.
  const old = String(Date.now() - 5 * 3_600_000);
  const before = Date.now();
  await producer.send({ topic, compression: CompressionTypes.GZIP, messages: [1, 2, 3].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: old })) });
  const after = Date.now();
  const batches = await fetchBatches(raw, topic, 0);
  assert.equal(batches.length, 1);
  assert.equal(compressionOf(readAttributes(batches[0])), CompressionCodec.Zstd);

  const consumer = kafka(broker.bootstrap, 'configs-kafkajs').consumer({ groupId: 'kj-configs-reader', maxWaitTimeInMs: 100 });
  const got: { value: string; timestamp: number }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void got.push({ value: message.value!.toString(), timestamp: Number(message.timestamp) }) });
  await waitFor(() => got.length === 3, 20_000, 'kafkajs consumer reads the zstd batch');
  await consumer.disconnect();
  assert.deepEqual(got.map((m) => m.value), ['v1', 'v2', 'v3']);
  for (const m of got) assert.ok(m.timestamp >= before && m.timestamp <= after, `timestamp ${m.timestamp} is the broker's append time, not ${old}`);

  // AlterConfigs replaces the whole set: compression and timestamp type go back to their defaults.
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'message.timestamp.before.max.ms', value: '3600000' }] }],
  });
  c = await topicConfigs(topic, ['retention.ms', 'compression.type', 'message.timestamp.type', 'message.timestamp.before.max.ms']);
  assert.equal(c.get('retention.ms')!.configValue, '604800000');
  assert.equal(c.get('compression.type')!.configValue, 'producer');
  assert.equal(c.get('message.timestamp.type')!.configValue, 'CreateTime');
  assert.equal(c.get('message.timestamp.before.max.ms')!.configValue, '3600000');
  await assert.rejects(producer.send({ topic, messages: [{ value: 'too old', timestamp: old }] }), (e: any) => kafkaErrorType(e) === 'INVALID_TIMESTAMP');
  await producer.send({ topic, messages: [{ value: 'recent', timestamp: String(Date.now()) }] });

  // Refused changes: kafkajs surfaces the broker's error.
  await assert.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: 'forever' }] }] }),
    (e: any) => kafkaErrorType(e) === 'INVALID_CONFIG',
  );
  await assert.rejects(admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kj-missing' }] }), (e: any) => kafkaErrorType(e) === 'UNKNOWN_TOPIC_OR_PARTITION');
  // validateOnly leaves the topic alone.
  await admin.alterConfigs({ validateOnly: true, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '1' }] }] });
  assert.equal((await topicConfigs(topic, ['retention.ms'])).get('retention.ms')!.configValue, '604800000');
});

test('kafkajs on the broker resource: a dynamic message.max.bytes applies to topics at once', async () => {
  const topic = 'kj-broker';
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const describeBroker = async () => {
    const r = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }] });
    return new Map(r.resources[0].configEntries.map((e) => [e.configName, e]));
  };
  let b = await describeBroker();
  assert.equal(b.get('message.max.bytes')!.configValue, '1048588');
  assert.equal(b.get('message.max.bytes')!.readOnly, false);
  assert.equal(b.get('log.retention.hours')!.readOnly, true);
  assert.equal(b.get('auto.create.topics.enable')!.configValue, 'true');

  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'message.max.bytes', value: '2000' }] }] });
  b = await describeBroker();
  assert.equal(b.get('message.max.bytes')!.configValue, '2000');
  assert.equal(b.get('message.max.bytes')!.configSource, Source.DYNAMIC_BROKER_CONFIG);
  const t = await topicConfigs(topic, ['max.message.bytes']);
  assert.equal(t.get('max.message.bytes')!.configValue, '2000');
  assert.equal(t.get('max.message.bytes')!.configSource, Source.DYNAMIC_BROKER_CONFIG);
  await assert.rejects(producer.send({ topic, messages: [{ value: 'z'.repeat(3000) }] }), (e: any) => kafkaErrorType(e) === 'MESSAGE_TOO_LARGE');
  await producer.send({ topic, messages: [{ value: 'small' }] });

  await assert.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'log.retention.hours', value: '1' }] }] }),
    (e: any) => kafkaErrorType(e) === 'INVALID_REQUEST',
  );
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [] }] });
  assert.equal((await describeBroker()).get('message.max.bytes')!.configSource, Source.DEFAULT_CONFIG);
  await producer.send({ topic, messages: [{ value: 'z'.repeat(3000) }] });
});
