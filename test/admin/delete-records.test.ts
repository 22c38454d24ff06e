/**
 * DeleteRecords as clients use it: kafkajs deleteTopicRecords moves the low watermark, which
 * fetchTopicOffsets, a fresh consumer and kcat then see; a group whose committed offset fell below
 * it gets OFFSET_OUT_OF_RANGE and resets as its client's auto.offset.reset says (kafkajs earliest and
 * latest, librdkafka through kcat); -1 deletes up to the high watermark; refusals (beyond the high
 * watermark, compacted topic, internal topic, unknown partition) at the protocol level, v0–2.
 * Offsets by timestamp (kafkajs fetchTopicOffsetsByTimestamp, kcat -Q) respect the new log start.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { kafka, waitFor } from '../support/kafkajs.js';
import { run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

let broker: RunningBroker;
let raw: RawClient;
before(async () => {
  broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 } });
  raw = await RawClient.connect(broker.port);
});
after(async () => {
  raw.close();
  await broker.stop();
});

async function produceValues(topic: string, values: string[], timestamps?: number[]): Promise<void> {
  const producer = kafka(broker.bootstrap, 'dr-producer').producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value, i) => ({ partition: 0, value, ...(timestamps ? { timestamp: String(timestamps[i]) } : {}) })) });
  await producer.disconnect();
}

/** Consumes with a kafkajs group member until `count` messages arrived; returns offset:value pairs. */
async function consumeGroup(groupId: string, topic: string, fromBeginning: boolean, count: number, whileRunning?: () => Promise<void>): Promise<string[]> {
  const consumer = kafka(broker.bootstrap, `${groupId}-member`).consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 300, sessionTimeout: 6000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning });
  const got: string[] = [];
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => void (joined = true));
  await consumer.run({ eachMessage: async ({ message }) => void got.push(`${message.offset}:${message.value!.toString()}`) });
  await waitFor(() => joined, 15_000, `${groupId} joined`);
  if (whileRunning) await whileRunning();
  await waitFor(() => got.length >= count, 15_000, `${count} messages for ${groupId}, got ${got.join(',')}`);
  await consumer.disconnect();
  return got;
}

test('kafkajs deleteTopicRecords: the low watermark moves, consumers below it reset as auto.offset.reset says', { timeout: 90_000 }, async () => {
  const topic = 'trim';
  const admin = kafka(broker.bootstrap, 'dr-admin').admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await produceValues(topic, Array.from({ length: 10 }, (_, i) => `m${i}`));
  // Two groups that stopped at offset 2 (committed while empty, as an earlier run would have).
  for (const groupId of ['trim-earliest', 'trim-latest']) await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] });

  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '5' }] });
  assert.deepEqual((await admin.fetchTopicOffsets(topic)).map((o) => [o.low, o.high]), [['5', '10']]);

  // kafkajs fetches at 2, gets OFFSET_OUT_OF_RANGE and resets: fromBeginning means earliest...
  const earliest = await consumeGroup('trim-earliest', topic, true, 5);
  assert.deepEqual(earliest, ['5:m5', '6:m6', '7:m7', '8:m8', '9:m9']);
  // ...otherwise latest: only what is produced after the reset arrives.
  const latest = await consumeGroup('trim-latest', topic, false, 1, async () => {
    // Give the member time to hit the out-of-range offset and reset before producing.
    await new Promise((r) => setTimeout(r, 1500));
    await produceValues(topic, ['after']);
  });
  assert.deepEqual(latest, ['10:after']);
  const committed = await admin.fetchOffsets({ groupId: 'trim-earliest', topics: [topic] });
  assert.equal(committed[0].partitions[0].offset, '10', 'the reset group committed from the new start on');

  // librdkafka (kcat) asked for offset 2 resets per auto.offset.reset too.
  const kcat = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-o', '2', '-e', '-q', '-f', '%o:%s\\n', '-X', 'auto.offset.reset=earliest'], { timeoutMs: 30_000 });
  assert.equal(kcat.code, 0, kcat.stderr);
  assert.deepEqual(kcat.stdout.trim().split('\n'), ['5:m5', '6:m6', '7:m7', '8:m8', '9:m9', '10:after']);

  // Beyond the high watermark: OFFSET_OUT_OF_RANGE, nothing changes.
  await assert.rejects(admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '12' }] }), (e: { cause?: { name: string; partitions?: { error: { type: string } }[] } }) =>
    e.cause?.name === 'KafkaJSDeleteTopicRecordsError' && e.cause.partitions![0]!.error.type === 'OFFSET_OUT_OF_RANGE');
  assert.deepEqual((await admin.fetchTopicOffsets(topic)).map((o) => [o.low, o.high]), [['5', '11']]);
  // -1: everything up to the high watermark.
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] });
  assert.deepEqual((await admin.fetchTopicOffsets(topic)).map((o) => [o.low, o.high]), [['11', '11']]);
  await admin.disconnect();
});

test('offsets by timestamp (kafkajs fetchTopicOffsetsByTimestamp, kcat -Q) and listTopics after DeleteRecords', { timeout: 60_000 }, async () => {
  const topic = 'by-time';
  const admin = kafka(broker.bootstrap, 'dr-time-admin').admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const t0 = Date.now() - 60_000;
  await produceValues(topic, ['a', 'b', 'c', 'd'], [t0, t0 + 1000, t0 + 2000, t0 + 3000]);
  assert.ok((await admin.listTopics()).includes(topic));
  const kcatQuery = async (ts: number) => {
    const r = await run('kcat', ['-Q', '-b', broker.bootstrap, '-t', `${topic}:0:${ts}`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const m = / offset (-?\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    return Number(m[1]);
  };
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp(topic, t0 + 500), [{ partition: 0, offset: '1' }]);
  assert.equal(await kcatQuery(t0 + 1500), 2);
  assert.equal(await kcatQuery(t0), 0);

  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '2' }] });
  assert.deepEqual(await admin.fetchTopicOffsetsByTimestamp(topic, t0), [{ partition: 0, offset: '2' }], 'the first record at or after the time that is still there');
  assert.equal(await kcatQuery(t0 + 500), 2);
  assert.equal(await kcatQuery(t0 + 2500), 3);
  assert.equal(await kcatQuery(t0 + 10_000), -1, 'after every record: no offset');
  assert.ok((await admin.listTopics()).includes(topic), 'the topic is still listed');
  await admin.disconnect();
});

test('DeleteRecords v0–2 at the protocol level: results and refusals', async () => {
  await raw.send(ApiKey.CreateTopics, 4, {
    topics: [
      { name: 'dr-plain', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'dr-compact', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'cleanup.policy', value: 'compact' }] },
      // Kafka 3.x takes an empty policy as neither delete nor compact.
      { name: 'dr-keep', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'cleanup.policy', value: '' }] },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  await produceValues('dr-plain', ['x', 'y', 'z']);
  // __consumer_offsets exists once a group coordinator was looked up.
  await raw.send(ApiKey.FindCoordinator, 1, { key: 'dr-group', keyType: 0 });
  await waitFor(async () => (await raw.send(ApiKey.Metadata, 1, { topics: [{ name: '__consumer_offsets' }] })).topics[0].errorCode === ErrorCode.NONE, 10_000, '__consumer_offsets');
  for (let v = 0; v <= 2; v++) {
    const r = await raw.send(ApiKey.DeleteRecords, v, {
      topics: [
        { name: 'dr-plain', partitions: [{ partitionIndex: 0, offset: BigInt(v) }, { partitionIndex: 1, offset: 1n }, { partitionIndex: 7, offset: 0n }] },
        { name: 'dr-compact', partitions: [{ partitionIndex: 0, offset: 0n }] },
        { name: 'dr-keep', partitions: [{ partitionIndex: 0, offset: 0n }] },
        { name: '__consumer_offsets', partitions: [{ partitionIndex: 0, offset: 0n }] },
        { name: 'dr-missing', partitions: [{ partitionIndex: 0, offset: 0n }] },
      ],
      timeoutMs: 5000,
    });
    const results = Object.fromEntries(r.topics.flatMap((t: { name: string; partitions: { partitionIndex: number; lowWatermark: bigint; errorCode: number }[] }) =>
      t.partitions.map((p) => [`${t.name}-${p.partitionIndex}`, [p.errorCode, p.lowWatermark]])));
    assert.deepEqual(results, {
      'dr-plain-0': [ErrorCode.NONE, BigInt(v)],
      'dr-plain-1': [ErrorCode.OFFSET_OUT_OF_RANGE, -1n],
      'dr-plain-7': [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n],
      'dr-compact-0': [ErrorCode.POLICY_VIOLATION, -1n],
      'dr-keep-0': [ErrorCode.POLICY_VIOLATION, -1n],
      '__consumer_offsets-0': [ErrorCode.INVALID_TOPIC_EXCEPTION, -1n],
      'dr-missing-0': [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n],
    }, `v${v}`);
  }
  // An offset below the current start leaves it where it is.
  const again = await raw.send(ApiKey.DeleteRecords, 2, { topics: [{ name: 'dr-plain', partitions: [{ partitionIndex: 0, offset: 1n }] }], timeoutMs: 5000 });
  assert.deepEqual(again.topics[0].partitions[0], { partitionIndex: 0, lowWatermark: 2n, errorCode: ErrorCode.NONE });
  const earliest = await raw.send(ApiKey.ListOffsets, 1, { replicaId: -1, topics: [{ name: 'dr-plain', partitions: [{ partitionIndex: 0, timestamp: -2n }] }] });
  assert.equal(earliest.topics[0].partitions[0].offset, 2n);
  const fetch = await raw.send(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'dr-plain', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 1n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
  });
  assert.equal(fetch.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, 'a fetch below the low watermark');
});

test('DeleteRecords into an open transaction raises the last stable offset to the new log start, as Kafka does: read_committed readers see latest ≥ earliest and can fetch there', { timeout: 60_000 }, async () => {
  const topic = 'dr-open-txn';
  await raw.send(ApiKey.CreateTopics, 4, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  await produceValues(topic, ['a', 'b']); // offsets 0, 1
  const producer = kafka(broker.bootstrap, 'dr-txn').producer({ transactionalId: 'dr-open-txn', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const txn = await producer.transaction();
  try {
    await txn.send({ topic, messages: [{ partition: 0, value: 't1' }, { partition: 0, value: 't2' }] }); // offsets 2, 3, left open
    await produceValues(topic, ['c']); // offset 4
    const offsets = async () => {
      const list = async (timestamp: bigint, isolationLevel: number) =>
        (await raw.send(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] })).topics[0].partitions[0].offset as bigint;
      const committed = await list(-1n, 1);
      const fetched = await raw.send(ApiKey.Fetch, 11, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: committed, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
      });
      const p = fetched.responses[0].partitions[0];
      return { earliest: await list(-2n, 1), committed, fetchError: p.errorCode, lastStableOffset: p.lastStableOffset };
    };
    assert.deepEqual(await offsets(), { earliest: 0n, committed: 2n, fetchError: ErrorCode.NONE, lastStableOffset: 2n });
    const deleted = await raw.send(ApiKey.DeleteRecords, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 3n }] }], timeoutMs: 5000 });
    assert.equal(deleted.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    assert.deepEqual(await offsets(), { earliest: 3n, committed: 3n, fetchError: ErrorCode.NONE, lastStableOffset: 3n });
  } finally {
    await txn.abort();
    await producer.disconnect();
  }
});
