/**
 * Incremental fetch sessions (KIP-227) over raw TCP, as Kafka 3.9's FetchSession.scala keeps them:
 * a full fetch with epoch 0 opens one; an incremental fetch names only what changed and is answered
 * only the partitions whose answer changed; epochs, ids, forgotten topics, topic ids, and the cache's
 * max.incremental.fetch.session.cache.slots (8 shards, a new session to each in turn).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch } from '../../protocol/records/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';

let broker: RunningBroker;
let client: RawClient;
before(async () => {
  broker = await startBroker({ port: 0, logger: 'silent' });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  client.close();
  await broker.stop();
});

async function createTopic(name: string, partitions = 1): Promise<void> {
  const r = await client.send(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE);
}

async function produce(topic: string, partition: number, value: string): Promise<void> {
  const records = buildRecordBatch({ records: [{ value: Buffer.from(value) }] });
  const r = await client.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
}

type Part = { topic: string; partition: number; offset: bigint };

function body(version: number, sessionId: number, sessionEpoch: number, parts: Part[], forgotten: { topic: string; partitions: number[] }[] = [], extra: Record<string, unknown> = {}) {
  const id = (topic: string) => broker.broker.topics.get(topic)?.id;
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId, sessionEpoch, rackId: '',
    topics: parts.map((p) => ({ topic: p.topic, topicId: id(p.topic), partitions: [{ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: p.offset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] })),
    forgottenTopicsData: forgotten.map((f) => ({ topic: f.topic, topicId: id(f.topic), partitions: f.partitions })),
    ...extra,
  };
}

/** The answer's partitions as [topic (or topic id), partition, error, records bytes]. */
const shown = (r: any, version: number) =>
  r.responses.flatMap((t: any) => t.partitions.map((p: any) => [version >= 13 ? t.topicId : t.topic, p.partitionIndex, p.errorCode, p.records?.length ?? 0]));

for (const version of [12, 13]) {
  test(`v${version}: an incremental fetch is answered only the partitions whose answer changed; a partition that returned records goes last`, async () => {
    const topic = `sess-${version}`;
    await createTopic(topic, 3);
    await produce(topic, 0, 'a');
    const name = (p: number) => (version >= 13 ? broker.broker.topics.get(topic)!.id : topic);
    const parts = [0, 1, 2].map((partition) => ({ topic, partition, offset: 0n }));
    const full = await client.send(ApiKey.Fetch, version, body(version, 0, 0, parts));
    assert.equal(full.errorCode, ErrorCode.NONE);
    assert.ok(full.sessionId > 0, 'epoch 0 opens a session');
    assert.deepEqual(shown(full, version).map((p: any[]) => p[1]), [0, 1, 2]);
    const sid = full.sessionId;

    // Partition 0 moves past its record: nothing changed, nothing in the answer.
    const nothing = await client.send(ApiKey.Fetch, version, body(version, sid, 1, [{ topic, partition: 0, offset: 1n }]));
    assert.deepEqual([nothing.errorCode, nothing.sessionId, nothing.responses], [ErrorCode.NONE, sid, []]);

    // A record for partition 0, read at the offset the session keeps: only 0 is answered.
    await produce(topic, 0, 'a2');
    const one = await client.send(ApiKey.Fetch, version, body(version, sid, 2, []));
    assert.deepEqual(shown(one, version).map((p: any[]) => p.slice(0, 3)), [[name(0), 0, ErrorCode.NONE]]);
    assert.equal(one.responses[0].partitions[0].highWatermark, 2n);

    // Partition 0 returned records: it is read (and answered) last from now on.
    await produce(topic, 1, 'b');
    await produce(topic, 2, 'c');
    const two = await client.send(ApiKey.Fetch, version, body(version, sid, 3, []));
    assert.deepEqual(shown(two, version).map((p: any[]) => p[1]), [1, 2, 0]);

    // A wrong epoch, an unknown id, and topic ids used the other way round are errors of the whole fetch.
    const stale = await client.send(ApiKey.Fetch, version, body(version, sid, 3, []));
    assert.deepEqual([stale.errorCode, stale.sessionId, stale.responses], [ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0, []]);
    const other = version >= 13 ? 12 : 13;
    const mixed = await client.send(ApiKey.Fetch, other, body(other, sid, 4, []));
    assert.equal(mixed.errorCode, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR);
    const unknown = await client.send(ApiKey.Fetch, version, body(version, 0x7654321, 1, []));
    assert.equal(unknown.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);

    // Forgetting every partition closes the session: a sessionless answer.
    const forgot = await client.send(ApiKey.Fetch, version, body(version, sid, 4, [], [{ topic, partitions: [0, 1, 2] }]));
    assert.deepEqual([forgot.errorCode, forgot.sessionId], [ErrorCode.NONE, 0]);
    assert.equal((await client.send(ApiKey.Fetch, version, body(version, sid, 5, []))).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);

    // A full fetch naming a session closes it; epoch -1 opens none.
    const again = await client.send(ApiKey.Fetch, version, body(version, 0, 0, parts));
    assert.ok(again.sessionId > 0);
    const reopened = await client.send(ApiKey.Fetch, version, body(version, again.sessionId, 0, parts));
    assert.ok(reopened.sessionId > 0 && reopened.sessionId !== again.sessionId, 'epoch 0 closes the session named and opens another');
    assert.equal((await client.send(ApiKey.Fetch, version, body(version, again.sessionId, 1, []))).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    const closed = await client.send(ApiKey.Fetch, version, body(version, reopened.sessionId, -1, parts));
    assert.equal(closed.sessionId, 0);
    assert.equal((await client.send(ApiKey.Fetch, version, body(version, reopened.sessionId, 1, []))).errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  });
}

test('v13: a session over a topic deleted then made again under its name answers INCONSISTENT_TOPIC_ID; deleted only, UNKNOWN_TOPIC_OR_PARTITION', async () => {
  await createTopic('sess-recreated');
  const full = await client.send(ApiKey.Fetch, 13, body(13, 0, 0, [{ topic: 'sess-recreated', partition: 0, offset: 0n }]));
  const sid = full.sessionId;
  assert.ok(sid > 0);
  const deleted = await client.send(ApiKey.DeleteTopics, 4, { topicNames: ['sess-recreated'], timeoutMs: 5000 });
  assert.equal(deleted.responses[0].errorCode, ErrorCode.NONE);
  const gone = await client.send(ApiKey.Fetch, 13, body(13, sid, 1, []));
  assert.deepEqual(gone.responses[0].partitions.map((p: any) => p.errorCode), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  await createTopic('sess-recreated');
  const again = await client.send(ApiKey.Fetch, 13, body(13, sid, 2, []));
  assert.deepEqual(again.responses[0].partitions.map((p: any) => p.errorCode), [ErrorCode.INCONSISTENT_TOPIC_ID]);
});

test('max.incremental.fetch.session.cache.slots: 8 shards of slots / 8 sessions; a follower may evict a consumer\'s session', async () => {
  for (const [slots, opened] of [[7, 0], [16, 16]] as const) {
    const b = await startBroker({ port: 0, logger: 'silent', config: { 'max.incremental.fetch.session.cache.slots': slots } });
    const c = await RawClient.connect(b.port);
    try {
      await c.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'slots', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      const open = async (extra: Record<string, unknown> = {}) =>
        (await c.send(ApiKey.Fetch, 12, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: 0, rackId: '', forgottenTopicsData: [], topics: [{ topic: 'slots', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1024 }] }], ...extra })).sessionId;
      const ids: number[] = [];
      for (let i = 0; i < slots + 1; i++) ids.push(await open());
      assert.equal(ids.filter((id) => id !== 0).length, opened, `${slots} slots`);
      if (slots === 16) {
        // The cache is full, and a consumer's new session evicts none; a follower's does.
        const follower = await open({ replicaId: 1 });
        assert.ok(follower > 0);
        const alive = await Promise.all(ids.filter((id) => id !== 0).map(async (id) => (await c.send(ApiKey.Fetch, 12, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: id, sessionEpoch: 1, rackId: '', forgottenTopicsData: [], topics: [] })).errorCode));
        assert.equal(alive.filter((e) => e === ErrorCode.FETCH_SESSION_ID_NOT_FOUND).length, 1, 'one consumer session evicted');
      }
    } finally {
      c.close();
      await b.stop();
    }
  }
});
