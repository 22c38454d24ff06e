/**
 * kafkajs transactions: a transaction writes to three partitions of two topics and commits consumer
 * offsets with sendOffsets; one is committed, one aborted. kafkajs consumers in read_committed and
 * read_uncommitted mode (and kcat in both modes) see exactly what they should; the group's committed
 * offsets move only on commit (admin.fetchOffsets), and OffsetFetch v7 with requireStable answers
 * UNSTABLE_OFFSET_COMMIT while the transaction holding offsets is open.
 * And transactions of several producers interleaved on one partition, some aborted: the last stable
 * offset, the aborted-transaction lists, and what kafkajs and kcat consumers deliver.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { type Consumer, type Received, waitFor } from '../support/kafkajs.js';
import { RawClient } from '../support/raw-client.js';
import {
  READ_COMMITTED, type RawProducer, addPartitions, committedView, createTopics, endTxn, errorName, initProducer, kcatRead, producerBatch, produceBatch,
  produceNext, readPartition, stableOffsets,
} from './support.js';

const { Kafka, logLevel } = kafkajs;

let broker: RunningBroker;
let client: RawClient;
const cleanup: (() => Promise<unknown>)[] = [];

before(async () => {
  broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 } });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  client.close();
  await broker.stop();
});

const kafka = () => new Kafka({ brokers: [broker.bootstrap], clientId: 'kjs-txn', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 } });

async function consumer(groupId: string, readUncommitted: boolean, topics: string[], got: Received[]): Promise<Consumer> {
  const c = kafka().consumer({ groupId, readUncommitted, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  let joined = false;
  c.on(c.events.GROUP_JOIN, () => (joined = true));
  await c.connect();
  cleanup.push(() => c.disconnect());
  await c.subscribe({ topics, fromBeginning: true });
  await c.run({
    eachMessage: async ({ topic, partition, message }) => {
      got.push({ member: topic, partition, offset: Number(message.offset), value: message.value!.toString() });
    },
  });
  await waitFor(() => joined, 15_000, `${groupId} joined`);
  return c;
}

/** OffsetFetch v7 for one partition, with or without requireStable. */
async function offsetFetchV7(groupId: string, topic: string, partition: number, requireStable: boolean): Promise<{ errorCode: number; committedOffset: bigint; topErrorCode: number }> {
  const r = await client.send(ApiKey.OffsetFetch, 7, { groupId, topics: [{ name: topic, partitionIndexes: [partition] }], requireStable });
  const p = r.topics[0].partitions[0];
  return { errorCode: p.errorCode, committedOffset: p.committedOffset, topErrorCode: r.errorCode };
}

async function fetchedOffset(groupId: string, topic: string, partition: number): Promise<string> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const r = await admin.fetchOffsets({ groupId, topics: [topic] });
    return r[0].partitions.find((p) => p.partition === partition)!.offset;
  } finally {
    await admin.disconnect();
  }
}

const key = (m: { member: string; partition: number; offset: number }) => `${m.member}/${m.partition}@${m.offset}`;

test('commit and abort across 3 partitions of 2 topics, with offsets: what each isolation level sees', { timeout: 60_000 }, async () => {
  const started = Date.now();
  const [A, B, IN, GROUP] = ['kjs-a', 'kjs-b', 'kjs-in', 'kjs-eos-group'];
  await createTopics(client, [{ name: A, partitions: 2 }, { name: B, partitions: 1 }, { name: IN, partitions: 1 }]);
  const targets = [{ topic: A, partition: 0 }, { topic: A, partition: 1 }, { topic: B, partition: 0 }];

  const committedSeen: Received[] = [];
  const uncommittedSeen: Received[] = [];
  await consumer('kjs-read-committed', false, [A, B], committedSeen);
  await consumer('kjs-read-uncommitted', true, [A, B], uncommittedSeen);

  const plain = kafka().producer();
  await plain.connect();
  cleanup.push(() => plain.disconnect());
  const sendPlain = async (tag: string) => {
    for (const t of targets) await plain.send({ topic: t.topic, acks: -1, messages: [{ value: `${tag}-${t.topic}-${t.partition}`, partition: t.partition }] });
  };
  await sendPlain('plain0');
  await waitFor(() => committedSeen.length === 3 && uncommittedSeen.length === 3, 15_000, 'both consumers got the plain messages');

  const producer = kafka().producer({ transactionalId: 'kjs-txn-1', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 30_000 });
  await producer.connect();
  cleanup.push(() => producer.disconnect());

  // --- Transaction 1: committed. ---
  const t1 = await producer.transaction();
  for (const t of targets) await t1.send({ topic: t.topic, messages: [0, 1].map((i) => ({ value: `c1-${t.topic}-${t.partition}-${i}`, partition: t.partition })) });
  await t1.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '5' }] }] });

  // While open: each partition holds plain0 at 0 and the transaction at 1-2; nothing of it is stable.
  for (const t of targets) assert.deepEqual(await stableOffsets(client, t.topic, t.partition), { hw: 3n, lso: 1n }, `${t.topic}-${t.partition} while transaction 1 is open`);
  await waitFor(() => uncommittedSeen.length === 9, 15_000, 'read_uncommitted consumer sees the open transaction');
  assert.equal(committedSeen.length, 3, 'read_committed consumer sees nothing of the open transaction');
  assert.equal((await kcatRead(broker.bootstrap, A, 'read_committed')).length, 2, 'kcat read_committed: only plain0 of kjs-a');
  assert.equal((await kcatRead(broker.bootstrap, A, 'read_uncommitted')).length, 6, 'kcat read_uncommitted: plain0 and the open transaction');
  assert.equal(await fetchedOffset(GROUP, IN, 0), '-1', 'offsets sent in an open transaction are not committed');
  const unstable = await offsetFetchV7(GROUP, IN, 0, true);
  assert.deepEqual([unstable.errorCode, unstable.committedOffset, unstable.topErrorCode], [ErrorCode.UNSTABLE_OFFSET_COMMIT, -1n, ErrorCode.NONE], 'requireStable while offsets are pending');
  const loose = await offsetFetchV7(GROUP, IN, 0, false);
  assert.deepEqual([loose.errorCode, loose.committedOffset], [ErrorCode.NONE, -1n], 'without requireStable: the last stable commit (none)');

  await t1.commit();
  for (const t of targets) assert.deepEqual(await stableOffsets(client, t.topic, t.partition), { hw: 4n, lso: 4n }, `${t.topic}-${t.partition} after commit (marker at 3)`);
  await waitFor(() => committedSeen.length === 9, 15_000, 'read_committed consumer sees the committed transaction');
  assert.equal(await fetchedOffset(GROUP, IN, 0), '5', 'commit applies the transaction\'s offsets');
  const stable = await offsetFetchV7(GROUP, IN, 0, true);
  assert.deepEqual([stable.errorCode, stable.committedOffset], [ErrorCode.NONE, 5n]);

  // --- Transaction 2: aborted. ---
  const t2 = await producer.transaction();
  for (const t of targets) await t2.send({ topic: t.topic, messages: [0, 1, 2].map((i) => ({ value: `x2-${t.topic}-${t.partition}-${i}`, partition: t.partition })) });
  await t2.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '9' }] }] });
  for (const t of targets) assert.deepEqual(await stableOffsets(client, t.topic, t.partition), { hw: 7n, lso: 4n }, `${t.topic}-${t.partition} while transaction 2 is open`);
  assert.equal((await offsetFetchV7(GROUP, IN, 0, true)).errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT);
  await t2.abort();
  for (const t of targets) assert.deepEqual(await stableOffsets(client, t.topic, t.partition), { hw: 8n, lso: 8n }, `${t.topic}-${t.partition} after abort (marker at 7)`);
  assert.equal(await fetchedOffset(GROUP, IN, 0), '5', 'abort drops the transaction\'s offsets');
  const afterAbort = await offsetFetchV7(GROUP, IN, 0, true);
  assert.deepEqual([afterAbort.errorCode, afterAbort.committedOffset], [ErrorCode.NONE, 5n]);

  // Data after the aborted transaction reaches read_committed readers; the aborted data never does.
  await sendPlain('plain1');
  await waitFor(() => committedSeen.length === 12 && uncommittedSeen.length === 21, 15_000, 'both consumers got plain1');

  for (const t of targets) {
    const raw = await readPartition(client, t.topic, t.partition);
    assert.deepEqual(raw.records.map((r) => r.control ?? r.value), [
      `plain0-${t.topic}-${t.partition}`, `c1-${t.topic}-${t.partition}-0`, `c1-${t.topic}-${t.partition}-1`, 'COMMIT',
      `x2-${t.topic}-${t.partition}-0`, `x2-${t.topic}-${t.partition}-1`, `x2-${t.topic}-${t.partition}-2`, 'ABORT', `plain1-${t.topic}-${t.partition}`,
    ], `${t.topic}-${t.partition} as stored`);
  }
  const expectCommitted = targets.flatMap((t) => [
    [0, `plain0-${t.topic}-${t.partition}`], [1, `c1-${t.topic}-${t.partition}-0`], [2, `c1-${t.topic}-${t.partition}-1`], [8, `plain1-${t.topic}-${t.partition}`],
  ].map(([o, v]) => `${t.topic}/${t.partition}@${o}=${v}`)).sort();
  const expectAll = targets.flatMap((t) => [
    [0, `plain0-${t.topic}-${t.partition}`], [1, `c1-${t.topic}-${t.partition}-0`], [2, `c1-${t.topic}-${t.partition}-1`],
    [4, `x2-${t.topic}-${t.partition}-0`], [5, `x2-${t.topic}-${t.partition}-1`], [6, `x2-${t.topic}-${t.partition}-2`], [8, `plain1-${t.topic}-${t.partition}`],
  ].map(([o, v]) => `${t.topic}/${t.partition}@${o}=${v}`)).sort();
  assert.deepEqual(committedSeen.map((m) => `${key(m)}=${m.value}`).sort(), expectCommitted, 'kafkajs read_committed consumer');
  assert.deepEqual(uncommittedSeen.map((m) => `${key(m)}=${m.value}`).sort(), expectAll, 'kafkajs read_uncommitted consumer');

  for (const topic of [A, B]) {
    const rc = (await kcatRead(broker.bootstrap, topic, 'read_committed')).map((m) => `${topic}/${m.partition}@${m.offset}=${m.value}`).sort();
    const ru = (await kcatRead(broker.bootstrap, topic, 'read_uncommitted')).map((m) => `${topic}/${m.partition}@${m.offset}=${m.value}`).sort();
    assert.deepEqual(rc, expectCommitted.filter((k) => k.startsWith(`${topic}/`)), `kcat read_committed ${topic}`);
    assert.deepEqual(ru, expectAll.filter((k) => k.startsWith(`${topic}/`)), `kcat read_uncommitted ${topic}`);
  }
  console.log(`# kafkajs commit+abort: ${Date.now() - started} ms`);
});

test('interleaved transactions of several producers on one partition: consumers skip exactly the aborted ones', { timeout: 60_000 }, async () => {
  const topic = 'kjs-interleaved';
  await createTopics(client, [{ name: topic, partitions: 1 }]);
  const ids = ['il-a', 'il-b', 'il-c', 'il-d'] as const;
  const p = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await initProducer(client, id)] as const))) as Record<(typeof ids)[number], RawProducer>;
  const add = async (id: (typeof ids)[number]) => assert.deepEqual(await addPartitions(client, id, p[id], topic, [0]), [ErrorCode.NONE]);
  const write = async (id: (typeof ids)[number] | null, value: string) => {
    const r = id === null
      ? await produceBatch(client, topic, 0, producerBatch({ producerId: -1n, epoch: -1, baseSequence: -1, values: [value] }))
      : await produceNext(client, p[id], topic, 0, [value], id);
    assert.equal(r.errorCode, ErrorCode.NONE, `${value}: ${errorName(r.errorCode)}`);
  };
  const end = async (id: (typeof ids)[number], commit: boolean) => assert.equal(await endTxn(client, id, p[id], commit), ErrorCode.NONE);

  for (const id of ['il-a', 'il-b'] as const) await add(id);
  await write('il-a', 'a0'); // 0
  await write('il-b', 'b0'); // 1
  await write('il-a', 'a1'); // 2
  await write('il-b', 'b1'); // 3
  assert.deepEqual(await stableOffsets(client, topic, 0), { hw: 4n, lso: 0n });
  await end('il-a', false); // ABORT at 4
  assert.deepEqual(await stableOffsets(client, topic, 0), { hw: 5n, lso: 1n }, 'b is still open from offset 1');
  const mid = await readPartition(client, topic, 0, READ_COMMITTED);
  assert.deepEqual(mid.records.map((r) => r.value), ['a0'], 'read_committed fetches stop at the LSO');
  assert.deepEqual(mid.abortedTransactions, [{ producerId: p['il-a'].producerId, firstOffset: 0n }]);
  await write(null, 'p0'); // 5
  await end('il-b', true); // COMMIT at 6
  assert.deepEqual(await stableOffsets(client, topic, 0), { hw: 7n, lso: 7n });
  await add('il-c');
  await write('il-c', 'c0'); // 7
  await add('il-d');
  await write('il-d', 'd0'); // 8
  await write('il-c', 'c1'); // 9
  await end('il-c', false); // ABORT at 10
  await write('il-d', 'd1'); // 11
  await end('il-d', true); // COMMIT at 12
  await write(null, 'p1'); // 13
  assert.deepEqual(await stableOffsets(client, topic, 0), { hw: 14n, lso: 14n });
  const rc = await readPartition(client, topic, 0, READ_COMMITTED);
  assert.deepEqual(rc.abortedTransactions, [{ producerId: p['il-a'].producerId, firstOffset: 0n }, { producerId: p['il-c'].producerId, firstOffset: 7n }]);

  const committed = ['1=b0', '3=b1', '5=p0', '8=d0', '11=d1', '13=p1'];
  const all = ['0=a0', '1=b0', '2=a1', '3=b1', '5=p0', '7=c0', '8=d0', '9=c1', '11=d1', '13=p1'];
  assert.deepEqual(committedView(rc.records).map((r) => `${r.offset}=${r.value}`), committed, 'the raw log, filtered as a consumer should');
  assert.deepEqual((await kcatRead(broker.bootstrap, topic, 'read_committed')).map((m) => `${m.offset}=${m.value}`), committed, 'kcat read_committed');
  assert.deepEqual((await kcatRead(broker.bootstrap, topic, 'read_uncommitted')).map((m) => `${m.offset}=${m.value}`), all, 'kcat read_uncommitted');
  const rcSeen: Received[] = [];
  const ruSeen: Received[] = [];
  await consumer('il-read-committed', false, [topic], rcSeen);
  await consumer('il-read-uncommitted', true, [topic], ruSeen);
  await waitFor(() => rcSeen.some((m) => m.value === 'p1') && ruSeen.some((m) => m.value === 'p1'), 15_000, 'kafkajs consumers reach p1');
  assert.deepEqual(rcSeen.map((m) => `${m.offset}=${m.value}`), committed, 'kafkajs read_committed');
  assert.deepEqual(ruSeen.map((m) => `${m.offset}=${m.value}`), all, 'kafkajs read_uncommitted');
});
