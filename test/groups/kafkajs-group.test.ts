/**
 * kafkajs consumer groups against Samsa: partitions shared by the members of a group, rebalances
 * when members come and go, commits and resumption.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { type Consumer, type Received, kafka, waitFor } from '../support/kafkajs.js';

let broker: RunningBroker;
before(async () => {
  broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 } });
});
after(() => broker.stop());

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  const admin = kafka(broker.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }] });
  await admin.disconnect();
}

async function startMember(name: string, groupId: string, topic: string, got: Received[], owned: Map<string, number[]>): Promise<Consumer> {
  const consumer = kafka(broker.bootstrap, name).consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000, maxWaitTimeInMs: 250 });
  consumer.on(consumer.events.GROUP_JOIN, (e) => owned.set(name, (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b)));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => {
      got.push({ member: name, partition, offset: Number(message.offset), value: message.value!.toString() });
    },
  });
  return consumer;
}

test('members share a topic, a 4th joins and one leaves mid-stream; every message is consumed', { timeout: 90_000 }, async () => {
  const topic = 'group-share';
  await createTopic(topic, 6);
  const got: Received[] = [];
  const owned = new Map<string, number[]>();
  const members = new Map<string, Consumer>();
  for (const name of ['m1', 'm2', 'm3']) members.set(name, await startMember(name, 'g-share', topic, got, owned));
  await waitFor(() => owned.size === 3 && [...owned.values()].flat().length === 6, 20_000, 'three members own all six partitions');
  assert.deepEqual([...owned.values()].flat().sort(), [0, 1, 2, 3, 4, 5]);

  const producer = kafka(broker.bootstrap).producer();
  await producer.connect();
  let sent = 0;
  const produce = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await producer.send({ topic, messages: Array.from({ length: 10 }, () => ({ key: `k${sent % 97}`, value: String(sent++) })) });
    }
  };
  await produce(30);
  members.set('m4', await startMember('m4', 'g-share', topic, got, owned));
  await produce(30);
  await waitFor(() => owned.get('m4')?.length !== undefined && (owned.get('m4')?.length ?? 0) > 0, 20_000, 'the fourth member gets partitions');
  await members.get('m1')!.disconnect();
  members.delete('m1');
  await produce(30);
  await waitFor(() => new Set(got.map((r) => r.value)).size === sent, 30_000, `all ${sent} messages consumed`);

  const byValue = new Map<string, number>();
  for (const r of got) byValue.set(r.value, (byValue.get(r.value) ?? 0) + 1);
  assert.equal(byValue.size, sent, 'nothing lost');
  const duplicates = [...byValue.values()].filter((n) => n > 1).length;
  // With a commit after every message, a rebalance can replay at most the one in-flight message per moved partition.
  assert.ok(duplicates <= 12, `${duplicates} duplicates`);
  const members2 = [...members.keys()];
  assert.deepEqual(members2.sort(), ['m2', 'm3', 'm4']);
  await waitFor(() => members2.every((m) => owned.has(m)) && members2.flatMap((m) => owned.get(m)!).length === 6, 20_000, 'the three remaining members own all partitions');
  for (const c of members.values()) await c.disconnect();
  await producer.disconnect();
});

test('a restarted consumer resumes after its committed offsets', { timeout: 60_000 }, async () => {
  const topic = 'group-resume';
  await createTopic(topic, 2);
  const producer = kafka(broker.bootstrap).producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 2, value: `a${i}` })) });
  const first: Received[] = [];
  const owned = new Map<string, number[]>();
  const c1 = await startMember('r1', 'g-resume', topic, first, owned);
  await waitFor(() => first.length === 40, 20_000, 'first 40 consumed');
  await c1.disconnect();

  await producer.send({ topic, messages: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: `b${i}` })) });
  const second: Received[] = [];
  const c2 = await startMember('r2', 'g-resume', topic, second, owned);
  await waitFor(() => second.length >= 20, 20_000, 'the next 20 consumed');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(second.map((r) => r.value).sort(), Array.from({ length: 20 }, (_, i) => `b${i}`).sort(), 'only the new messages');
  await c2.disconnect();
  await producer.disconnect();

  const admin = kafka(broker.bootstrap).admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId: 'g-resume', topics: [topic] });
  assert.deepEqual(offsets[0].partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '30'], [1, '30']]);
  await admin.disconnect();
});
