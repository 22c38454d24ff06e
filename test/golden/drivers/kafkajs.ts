/** kafkajs 2.2.4, in-process: admin createTopics, produce (none + gzip) to `golden`, group consume + commit. */
import kafkajs from 'kafkajs';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { standardMessages, type Scenario, type ScenarioMessage } from '../scenario.js';
import { compareConsumed, withTimeout, type ConsumedMessage } from './common.js';

const { Kafka, CompressionTypes, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

function toHeaders(h: [string, string][]): IHeaders | undefined {
  if (h.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, v] of h) (out[k] ??= []).push(v);
  const flat: IHeaders = {};
  for (const [k, vs] of Object.entries(out)) flat[k] = vs.length === 1 ? vs[0]! : vs;
  return flat;
}

function fromHeaders(h: IHeaders | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(h ?? {})) {
    for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined) out.push([k, x.toString()]);
  }
  return out;
}

export async function runKafkajs(address: string): Promise<Scenario> {
  const logs: string[] = [];
  const kafka = new Kafka({
    clientId: 'golden-kafkajs',
    brokers: [address],
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      logs.push(`${level} ${namespace}: ${log.message}${log.error ? ` (${log.error})` : ''}`);
    },
    retry: { retries: 3, initialRetryTime: 100 },
  });
  const scenario: Scenario = {
    client: 'kafkajs',
    clientVersion: '2.2.4',
    clientIds: ['golden-kafkajs'],
    software: null, // kafkajs sends ApiVersions v2 at most: no software name
    createTopics: [
      { name: 'golden', numPartitions: 1, replicationFactor: 1 },
      { name: 'golden-admin', numPartitions: 3, replicationFactor: 1 },
    ],
    produce: [],
    groups: [],
    topics: ['golden', 'golden-admin'],
    notes: ['kafkajs ships only gzip built in; snappy/lz4/zstd need codec plugins and were not used'],
  };

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: scenario.createTopics.map((t) => ({ topic: t.name, numPartitions: t.numPartitions, replicationFactor: t.replicationFactor })),
    waitForLeaders: true,
  });
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sent: ScenarioMessage[] = [];
  for (const [codec, compression] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]] as const) {
    const messages = standardMessages('kafkajs', codec, true);
    await producer.send({
      topic: 'golden',
      acks: -1,
      compression,
      messages: messages.map((m) => ({ key: m.key, value: m.value, headers: toHeaders(m.headers), timestamp: m.timestamp })),
    });
    scenario.produce.push({ topic: 'golden', partition: 0, codec, clientId: 'golden-kafkajs', acks: -1, producerId: '-1', messages });
    sent.push(...messages);
  }
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'golden-group', sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 });
  const got: ConsumedMessage[] = [];
  let allIn!: () => void;
  const all = new Promise<void>((r) => (allIn = r));
  await consumer.connect();
  await consumer.subscribe({ topic: 'golden', fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }: { topic: string; partition: number; message: KafkaMessage }) => {
      got.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key === null ? null : message.key.toString(),
        value: message.value === null ? null : message.value.toString(),
        headers: fromHeaders(message.headers),
      });
      if (got.length >= sent.length) allIn();
    },
  });
  try {
    await withTimeout(all, 20000, 'kafkajs consumer');
    // Stay in the group past one heartbeat interval so that a Heartbeat is captured too.
    await new Promise((r) => setTimeout(r, 1500));
    await consumer.commitOffsets([{ topic: 'golden', partition: 0, offset: String(sent.length) }]);
  } finally {
    await consumer.disconnect();
  }
  scenario.groups.push({
    groupId: 'golden-group',
    clientId: 'golden-kafkajs',
    topics: ['golden'],
    protocols: ['RoundRobinAssigner'],
    commits: [{ topic: 'golden', partition: 0, offset: String(sent.length) }],
  });
  const problems = compareConsumed(sent, got);
  if (problems.length) scenario.notes.push(`consumer check failed: ${problems.join('; ')}`);
  if (logs.length) process.stderr.write(`kafkajs logs:\n  ${logs.join('\n  ')}\n`);
  return scenario;
}
