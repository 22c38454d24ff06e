/**
 * Failures a consumer group must survive: a member killed without leaving (its partitions move
 * after the session timeout) and the broker killed with SIGKILL while the group consumes (the group
 * comes back and resumes from committed offsets, nothing lost).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { type Consumer, type Received, kafka, waitFor } from '../support/kafkajs.js';
import { ROOT, type BrokerProcess, startBrokerProcess, tempDir } from '../support/processes.js';

const MEMBER = join(ROOT, 'dist/test/groups/support/kafkajs-member.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function member(bootstrap: string, groupId: string, topic: string, name: string, got: Received[], owned: Map<string, number[]>): Promise<Consumer> {
  const consumer = kafka(bootstrap, name).consumer({ groupId, sessionTimeout: 3000, heartbeatInterval: 300, maxWaitTimeInMs: 250, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 } });
  consumer.on(consumer.events.GROUP_JOIN, (e) => owned.set(name, (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b)));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommitThreshold: 1, eachMessage: async ({ partition, message }) => void got.push({ member: name, partition, offset: Number(message.offset), value: message.value!.toString() }) });
  return consumer;
}

test('a member killed without leaving loses its partitions to the others after its session timeout', { timeout: 60_000 }, async () => {
  const broker: RunningBroker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 } });
  const topic = 'killed-member';
  const admin = kafka(broker.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
  await admin.disconnect();
  const got: Received[] = [];
  const owned = new Map<string, number[]>();
  const child = spawn(process.execPath, [MEMBER, broker.bootstrap, 'g-kill', topic, 'victim'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let childPartitions: number[] = [];
  child.stdout.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { event: string; partitions?: number[] };
      if (e.event === 'assigned') childPartitions = e.partitions!;
    }
  });
  try {
    await waitFor(() => childPartitions.length === 4, 20_000, 'the child member owns all four partitions');
    const survivor = await member(broker.bootstrap, 'g-kill', topic, 'survivor', got, owned);
    await waitFor(() => (owned.get('survivor')?.length ?? 0) === 2 && childPartitions.length === 2, 20_000, 'the partitions are split between the two');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await waitFor(() => owned.get('survivor')?.length === 4, 20_000, 'the survivor takes over every partition');
    const took = Date.now() - killedAt;
    assert.ok(took >= 2500, `moved after ${took} ms, before the 3 s session timeout`);
    const producer = kafka(broker.bootstrap).producer();
    await producer.connect();
    await producer.send({ topic, messages: [0, 1, 2, 3].map((p) => ({ partition: p, value: `after-${p}` })) });
    await producer.disconnect();
    await waitFor(() => ['after-0', 'after-1', 'after-2', 'after-3'].every((v) => got.some((r) => r.value === v)), 20_000, 'the survivor consumes every partition');
    await survivor.disconnect();
  } finally {
    child.kill('SIGKILL');
    await broker.stop();
  }
});

test('a broker killed with SIGKILL while a group consumes: the group resumes from committed offsets, nothing lost', { timeout: 90_000 }, async () => {
  const dir = tempDir();
  const port = await freePort();
  const args = ['--port', String(port), '--data-dir', dir.path, '--set', 'group.initial.rebalance.delay.ms=0', '--set', 'group.min.session.timeout.ms=1000'];
  let broker: BrokerProcess | undefined = await startBrokerProcess(args);
  const topic = 'broker-killed';
  const got: Received[] = [];
  const owned = new Map<string, number[]>();
  const consumers: Consumer[] = [];
  try {
    const admin = kafka(broker.bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    await admin.disconnect();
    consumers.push(await member(broker.bootstrap, 'g-crash', topic, 'c1', got, owned));
    consumers.push(await member(broker.bootstrap, 'g-crash', topic, 'c2', got, owned));
    const producer = kafka(broker.bootstrap).producer({ retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 } });
    await producer.connect();
    const acked: string[] = [];
    let n = 0;
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const values = Array.from({ length: 10 }, () => `v${n++}`);
        await producer.send({ topic, acks: -1, messages: values.map((value) => ({ key: value, value })) });
        acked.push(...values);
      }
    };
    await send(20);
    await waitFor(() => new Set(got.map((r) => r.value)).size === acked.length, 20_000, 'the first messages are consumed');
    await broker.kill();
    broker = await startBrokerProcess(args);
    await send(20);
    await waitFor(() => acked.every((v) => got.some((r) => r.value === v)), 40_000, 'every acknowledged message is consumed after the restart');
    const counts = new Map<string, number>();
    for (const r of got) counts.set(r.value, (counts.get(r.value) ?? 0) + 1);
    const replayed = [...counts.values()].filter((c) => c > 1).length;
    // Offsets are committed after every message: only messages in flight at the kill may come twice.
    assert.ok(replayed <= 8, `${replayed} messages consumed twice`);
    await producer.disconnect();
  } finally {
    for (const c of consumers) await c.disconnect().catch(() => {});
    await broker?.stop();
    dir.remove();
  }
});
