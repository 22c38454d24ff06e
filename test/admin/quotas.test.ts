/**
 * Client quotas end to end. A producer_byte_rate set with AlterClientQuotas throttles only its client
 * id: Produce answers carry throttle_time_ms once the rate over Kafka's window (11 samples of 1 s)
 * passes the quota, the connection then reads nothing for that long (KIP-219), and a kafkajs
 * producer or consumer held to a quota moves data at about the quota's rate. request_percentage
 * throttles any API. Quotas persist across a restart and stop applying once removed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { encodeRequest, encodeResponse } from '../../protocol/frames.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch } from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { kafka, waitFor } from '../support/kafkajs.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

let broker: RunningBroker;
let admin: RawClient;
before(async () => {
  broker = await startBroker({ port: 0 });
  admin = await RawClient.connect(broker.port);
});
after(async () => {
  admin.close();
  await broker.stop();
});

type Entity = [string, string | null][];

async function setQuota(client: RawClient, entity: Entity, values: Record<string, number | null>): Promise<void> {
  const r = await client.send(ApiKey.AlterClientQuotas, 1, {
    entries: [{
      entity: entity.map(([entityType, entityName]) => ({ entityType, entityName })),
      ops: Object.entries(values).map(([key, value]) => ({ key, value: value ?? 0, remove: value === null })),
    }],
    validateOnly: false,
  });
  assert.equal(r.entries[0].errorCode, ErrorCode.NONE, r.entries[0].errorMessage);
}

async function createTopic(client: RawClient, name: string): Promise<void> {
  const r = await client.send(ApiKey.CreateTopics, 4, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE);
}

function produceBody(topic: string, value: Buffer) {
  return { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch({ baseOffset: 0n, records: [{ value, headers: [] }] }) }] }] };
}

test('Produce over producer_byte_rate: throttle_time_ms from the sampled rate, then a muted connection; other clients unaffected', { timeout: 60_000 }, async () => {
  const quota = 10_000;
  await createTopic(admin, 'q-raw');
  await setQuota(admin, [['client-id', 'raw-slow']], { producer_byte_rate: quota });
  const client = await RawClient.connect(broker.port);
  const body = produceBody('q-raw', Buffer.alloc(4000, 'x'));
  // What the quota counts: the whole request, header included (Kafka's request.sizeInBytes).
  const size = encodeRequest(ApiKey.Produce, 7, 1, 'raw-slow', body).length - 4;
  let sent = 0;
  let throttle = 0;
  while (throttle === 0) {
    const r = await client.send(ApiKey.Produce, 7, body, 'raw-slow');
    assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    sent += size;
    throttle = r.throttleTimeMs;
    assert.ok(sent < 200_000, `still not throttled after ${sent} bytes`);
  }
  // The first ten windows count as ten seconds: the quota allows 10–11 s worth of bytes before throttling.
  assert.ok(sent > quota * 10 && sent <= quota * 11 + size, `throttled after ${sent} bytes`);
  // Throttle = (rate - quota) / quota × window = bytes × 1000 / quota - window: at most one request's worth.
  assert.ok(throttle > 0 && throttle <= Math.ceil((size * 1000) / quota), `throttle ${throttle} ms`);

  // Muted: the next request is read only once the throttle time has passed.
  const start = Date.now();
  const next = await client.send(ApiKey.Produce, 7, body, 'raw-slow');
  assert.ok(Date.now() - start >= throttle - 15, `answered after ${Date.now() - start} ms, throttle was ${throttle} ms`);
  assert.ok(next.throttleTimeMs > throttle, 'still over the quota, by more');
  // Another client id (on another connection) has no quota.
  const other = await RawClient.connect(broker.port);
  const t0 = Date.now();
  const free = await other.send(ApiKey.Produce, 7, body, 'raw-free');
  assert.equal(free.throttleTimeMs, 0);
  assert.ok(Date.now() - t0 < 500);
  other.close();
  client.close();
});

test('request_percentage throttles any request, capped at one window', { timeout: 30_000 }, async () => {
  await setQuota(admin, [['client-id', 'busy']], { request_percentage: 0.0001 });
  const client = await RawClient.connect(broker.port);
  let throttle = 0;
  for (let i = 0; i < 50 && throttle === 0; i++) throttle = (await client.send(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false }, 'busy')).throttleTimeMs;
  assert.ok(throttle > 0 && throttle <= 1000, `Metadata throttled ${throttle} ms`);
  const versions = await client.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' }, 'busy');
  assert.ok(versions.throttleTimeMs > 0 && versions.throttleTimeMs <= 1000, `ApiVersions throttled ${versions.throttleTimeMs} ms`);
  const quotas = await client.send(ApiKey.DescribeClientQuotas, 0, { components: [{ entityType: 'client-id', matchType: 0, match: 'busy' }], strict: true }, 'busy');
  assert.deepEqual(quotas.entries, [{ entity: [{ entityType: 'client-id', entityName: 'busy' }], values: [{ key: 'request_percentage', value: 0.0001 }] }]);
  assert.ok(quotas.throttleTimeMs > 0, 'DescribeClientQuotas is throttled too');
  client.close();
  // Removed: no more throttling once the rate is recomputed against no quota.
  await setQuota(admin, [['client-id', 'busy']], { request_percentage: null });
  const after = await RawClient.connect(broker.port);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await after.send(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false }, 'busy')).throttleTimeMs, 0);
  after.close();
});

test('consumer_byte_rate counts the whole Fetch response, as Kafka\'s getResponseSize: empty polls add up too', { timeout: 30_000 }, async () => {
  const quota = 100;
  await createTopic(admin, 'q-empty');
  await setQuota(admin, [['client-id', 'idle-poller']], { consumer_byte_rate: quota });
  const client = await RawClient.connect(broker.port);
  const body = {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'q-empty', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  };
  let counted = 0;
  let throttle = 0;
  for (let i = 0; i < 100 && throttle === 0; i++) {
    const r = await client.send(ApiKey.Fetch, 12, body, 'idle-poller');
    throttle = r.throttleTimeMs;
    // A throttled fetch comes back without partitions.
    assert.equal(throttle > 0 ? r.responses.length : r.responses[0].partitions[0].records?.length ?? 0, 0);
    // The frame as sent: size prefix, header and body.
    if (throttle === 0) counted += encodeResponse(ApiKey.Fetch, 12, 0, r).reduce((n, b) => n + b.length, 0);
  }
  assert.ok(throttle > 0, 'empty fetches are counted against the quota');
  // Ten windows' allowance (1000 B), then throttled by the next response.
  assert.ok(counted > quota * 10 - 100 && counted <= quota * 11, `throttled after ${counted} B of responses`);
  client.close();
});

test('a follower\'s Fetch (replica id >= 0) is exempt from the client quotas, as in Kafka', { timeout: 30_000 }, async () => {
  await setQuota(admin, [['client-id', 'replica-like']], { request_percentage: 0.0001, consumer_byte_rate: 1 });
  const client = await RawClient.connect(broker.port);
  const fetch = (replicaId: number) => client.send(ApiKey.Fetch, 12, {
    replicaId, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'q-empty', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  }, 'replica-like');
  for (let i = 0; i < 30; i++) assert.equal((await fetch(1)).throttleTimeMs, 0, `follower fetch ${i} throttled`);
  // The same client id fetching as a consumer is held to its quotas.
  assert.ok((await fetch(-1)).throttleTimeMs > 0);
  client.close();
});

test('a kafkajs producer and consumer held to their byte rates move data at about the quota', { timeout: 90_000 }, async () => {
  // Three 1 s samples: the rate settles within seconds instead of Kafka's default ten.
  const b = await startBroker({ port: 0, config: { 'quota.window.num': 3, 'group.initial.rebalance.delay.ms': 0 } });
  try {
    const raw = await RawClient.connect(b.port);
    const quota = 40_000;
    await setQuota(raw, [['client-id', 'kjs-slow']], { producer_byte_rate: quota, consumer_byte_rate: quota });
    await createTopic(raw, 'q-rate');
    raw.close();

    const producer = kafka(b.bootstrap, 'kjs-slow').producer();
    await producer.connect();
    const value = 'v'.repeat(2000);
    const acked: number[] = [];
    const start = Date.now();
    while (Date.now() - start < 8000) {
      await producer.send({ topic: 'q-rate', messages: [{ value }] });
      acked.push(Date.now() - start);
    }
    await producer.disconnect();
    // Past the first windows' allowance, requests (~2.1 KB each) flow at about the quota's rate.
    const steady = acked.filter((t) => t >= 3000).length;
    const rate = (steady * 2100) / 5;
    assert.ok(rate > quota * 0.6 && rate < quota * 1.4, `${steady} sends in the last 5 s: ${Math.round(rate)} B/s against ${quota}`);
    assert.ok(acked.length < 400, `${acked.length} sends in 8 s (unthrottled would be thousands)`);

    // More data than the consumer may take in the time it is given, written by a client without quota.
    const fast = kafka(b.bootstrap, 'kjs-fast').producer();
    await fast.connect();
    for (let i = 0; i < 10; i++) await fast.send({ topic: 'q-rate', messages: Array.from({ length: 40 }, () => ({ value })) });
    await fast.disconnect();
    const available = acked.length + 400;

    const consumer = kafka(b.bootstrap, 'kjs-slow').consumer({ groupId: 'q-rate-readers', maxWaitTimeInMs: 100, maxBytes: 1 << 20 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'q-rate', fromBeginning: true });
    let joinedAt = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => void (joinedAt = Date.now()));
    const received: number[] = [];
    await consumer.run({ eachMessage: async () => void received.push(Date.now()) });
    await waitFor(() => joinedAt > 0 && Date.now() - joinedAt > 8000, 30_000, 'eight seconds of consuming');
    await consumer.disconnect();
    const bytes = received.filter((t) => t - joinedAt < 8000).length * 2000;
    // A fetch is capped at quota × (samples - 1) windows, and an over-quota fetch comes back empty.
    assert.ok(bytes < quota * 2 + quota * 8 * 1.3, `${bytes} B consumed in 8 s against ${quota} B/s`);
    assert.ok(bytes > quota * 8 * 0.4, `${bytes} B consumed in 8 s: held to the quota, not starved`);
    assert.ok(received.length < available, 'the consumer did not get everything');
  } finally {
    await b.stop();
  }
});

test('quotas survive a restart and are described as set', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const b1 = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    const c1 = await RawClient.connect(b1.port);
    await setQuota(c1, [['user', null], ['client-id', 'app']], { consumer_byte_rate: 5000, producer_byte_rate: 7000 });
    await setQuota(c1, [['ip', '127.0.0.1']], { connection_creation_rate: 30 });
    c1.close();
    await b1.stop();
    const b2 = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    try {
      const c2 = await RawClient.connect(b2.port);
      const all = await c2.send(ApiKey.DescribeClientQuotas, 1, { components: [], strict: false });
      assert.deepEqual(all.entries, [
        { entity: [{ entityType: 'user', entityName: null }, { entityType: 'client-id', entityName: 'app' }], values: [{ key: 'consumer_byte_rate', value: 5000 }, { key: 'producer_byte_rate', value: 7000 }] },
        { entity: [{ entityType: 'ip', entityName: '127.0.0.1' }], values: [{ key: 'connection_creation_rate', value: 30 }] },
      ]);
      c2.close();
      assert.equal(b2.broker.quotas.produce.quotaFor('ANONYMOUS', 'app'), 7000, 'enforced again after the restart');
      assert.equal(b2.broker.quotas.produce.quotaFor('ANONYMOUS', 'other'), undefined);
    } finally {
      await b2.stop();
    }
  } finally {
    dir.remove();
  }
});

test('controller_mutation_rate (KIP-599): a token bucket of partitions; strict versions refuse topics once it is empty with THROTTLING_QUOTA_EXCEEDED, older versions go through with a throttle time', { timeout: 30_000 }, async () => {
  // One 1 s sample: the bucket holds one second of the rate (10 partitions).
  const own = await startBroker({ port: 0, config: { 'controller.quota.window.num': 1 } });
  const client = await RawClient.connect(own.port);
  const other = await RawClient.connect(own.port);
  try {
    await setQuota(client, [['client-id', 'mutator']], { controller_mutation_rate: 10 });
    const create = async (version: number, topics: [string, number][], clientId = 'mutator') => {
      const r = await (clientId === 'mutator' ? client : other).send(ApiKey.CreateTopics, version, {
        topics: topics.map(([name, numPartitions]) => ({ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] })), timeoutMs: 5000, validateOnly: false,
      }, clientId);
      return { throttle: r.throttleTimeMs as number, results: r.topics.map((t: { name: string; errorCode: number; errorMessage: string | null }) => [t.name, t.errorCode, t.errorMessage]) };
    };
    // A full bucket takes 10, then an empty one 5 more (the strict quota checks before it records).
    assert.deepEqual(await create(6, [['mq-a', 10]]), { throttle: 0, results: [['mq-a', ErrorCode.NONE, null]] });
    assert.deepEqual(await create(6, [['mq-b', 5]]), { throttle: 0, results: [['mq-b', ErrorCode.NONE, null]] });
    const refused = await create(6, [['mq-c', 1], ['mq-d', 1]]);
    const message = 'The throttling quota has been exceeded.';
    assert.deepEqual(refused.results, [['mq-c', ErrorCode.THROTTLING_QUOTA_EXCEEDED, message], ['mq-d', ErrorCode.THROTTLING_QUOTA_EXCEEDED, message]]);
    assert.ok(refused.throttle > 400 && refused.throttle <= 500, `throttle ${refused.throttle} ms: 5 partitions owed at 10/s`);
    // Another client id has no quota, and its connection is not muted.
    assert.deepEqual(await create(6, [['mq-free', 20]], 'free'), { throttle: 0, results: [['mq-free', ErrorCode.NONE, null]] });
    // The muted connection answers once the throttle has passed; v5 is permissive: created, and throttled.
    const t0 = Date.now();
    const permissive = await create(5, [['mq-e', 5]]);
    assert.ok(Date.now() - t0 >= refused.throttle - 20, `answered after ${Date.now() - t0} ms`);
    assert.deepEqual(permissive.results, [['mq-e', ErrorCode.NONE, null]]);
    assert.ok(permissive.throttle > 400 && permissive.throttle <= 500, `v5 throttle ${permissive.throttle} ms`);
    // CreatePartitions v3 and DeleteTopics v5 are strict too: the first finds the bucket refilled, the second empty.
    const grown = await client.send(ApiKey.CreatePartitions, 3, { topics: [{ name: 'mq-a', count: 15, assignments: null }], timeoutMs: 5000, validateOnly: false }, 'mutator');
    assert.deepEqual([grown.results[0].errorCode, grown.throttleTimeMs], [ErrorCode.NONE, 0]);
    // As in Kafka, the quota comes before the replica lists are looked at (sent on the other
    // connection, which the refusal mutes, with the same client id).
    const misassigned = await other.send(ApiKey.CreatePartitions, 3, { topics: [{ name: 'mq-a', count: 16, assignments: [{ brokerIds: [999] }] }], timeoutMs: 5000, validateOnly: false }, 'mutator');
    assert.deepEqual([misassigned.results[0].errorCode, misassigned.results[0].errorMessage], [ErrorCode.THROTTLING_QUOTA_EXCEEDED, message]);
    const deleted = await client.send(ApiKey.DeleteTopics, 5, { topicNames: ['mq-b'], timeoutMs: 5000 }, 'mutator');
    assert.deepEqual([deleted.responses[0].errorCode, deleted.responses[0].errorMessage], [ErrorCode.THROTTLING_QUOTA_EXCEEDED, message]);
    assert.ok(deleted.throttleTimeMs > 0, `DeleteTopics throttle ${deleted.throttleTimeMs} ms`);
    const metadata = await other.send(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false });
    assert.deepEqual(metadata.topics.map((t: { name: string; partitions: unknown[] }) => `${t.name}:${t.partitions.length}`).sort(), ['mq-a:15', 'mq-b:5', 'mq-e:5', 'mq-free:20']);
  } finally {
    client.close();
    other.close();
    await own.stop();
  }
});

test('topics a Metadata request auto-creates take the client\'s controller_mutation_rate strictly, as Kafka\'s forwarded CreateTopics does', { timeout: 30_000 }, async () => {
  // A bucket of one second at 10 partitions/s; every auto-created topic has 4 partitions.
  const own = await startBroker({ port: 0, config: { 'controller.quota.window.num': 1, 'num.partitions': 4 } });
  const client = await RawClient.connect(own.port);
  try {
    await setQuota(client, [['client-id', 'auto-maker']], { controller_mutation_rate: 10 });
    const names = ['at-1', 'at-2', 'at-3', 'at-4'];
    const r = await client.send(ApiKey.Metadata, 9, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, 'auto-maker');
    // 10 → 6 → 2 → -2 tokens (the strict quota checks before it records), then refused: not created, so unknown.
    assert.deepEqual(r.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode]), [
      ['at-1', ErrorCode.LEADER_NOT_AVAILABLE], ['at-2', ErrorCode.LEADER_NOT_AVAILABLE], ['at-3', ErrorCode.LEADER_NOT_AVAILABLE], ['at-4', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    assert.equal(r.throttleTimeMs, 0, 'the Metadata answer carries no mutation throttle');
    // The same bucket holds the client's CreateTopics back.
    const created = await client.send(ApiKey.CreateTopics, 6, { topics: [{ name: 'at-5', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false }, 'auto-maker');
    assert.equal(created.topics[0].errorCode, ErrorCode.THROTTLING_QUOTA_EXCEEDED);
    const all = await client.send(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, 'other');
    assert.deepEqual(all.topics.map((t: { name: string }) => t.name).sort(), ['at-1', 'at-2', 'at-3']);
  } finally {
    client.close();
    await own.stop();
  }
});
