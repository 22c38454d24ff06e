/**
 * The broker's APIs at the protocol level, over real TCP, with exact versions: what each request
 * gets back, error codes included. Real clients are exercised in the interop tests.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { ZERO_UUID } from '../../protocol/primitives/uuid.js';
import { buildRecordBatch, CompressionCodec, decodeRecords, iterateBatches, readMessageSet, writeBatchCrc } from '../../protocol/records/index.js';
import { KAFKA_DEFINE_ORDER, TOPIC_CONFIGS } from '../../src/cluster/topic-configs.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

let broker: RunningBroker;
let client: RawClient;

before(async () => {
  broker = await startBroker({ port: 0, config: { 'num.partitions': 2 } });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  client.close();
  await broker.stop();
});

function batch(values: string[], opts: { compression?: CompressionCodec; timestamp?: number } = {}): Buffer {
  const ts = BigInt(opts.timestamp ?? Date.now());
  return buildRecordBatch({
    baseOffset: 0n,
    compression: opts.compression ?? CompressionCodec.None,
    records: values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), headers: [], timestamp: ts + BigInt(i) })),
  });
}

async function createTopic(name: string, partitions = 1, configs: { name: string; value: string }[] = []): Promise<void> {
  const r = await client.send(ApiKey.CreateTopics, 7, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs }], timeoutMs: 5000, validateOnly: false });
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE, r.topics[0].errorMessage);
}

async function produce(topic: string, partition: number, records: Buffer, version = 9, acks = -1): Promise<any> {
  const r = await client.send(ApiKey.Produce, version, { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return r.responses[0].partitionResponses[0];
}

/** Opens a transaction on partition 0 of `topic` holding one record, and leaves it open. */
async function openTransaction(topic: string): Promise<void> {
  const transactionalId = `${topic}-txn`;
  const init = await client.send(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  assert.equal(init.errorCode, ErrorCode.NONE);
  const added = await client.send(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: init.producerId, v3AndBelowProducerEpoch: init.producerEpoch, v3AndBelowTopics: [{ name: topic, partitions: [0] }] });
  assert.equal(added.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
  const txn = buildRecordBatch({ baseOffset: 0n, producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: 0, transactional: true, records: [{ key: null, value: Buffer.from('open'), headers: [], timestamp: BigInt(Date.now()) }] });
  const r = await client.send(ApiKey.Produce, 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: txn }] }] });
  assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
}

function fetchBody(topic: string, partition: number, offset: bigint, extra: Record<string, unknown> = {}) {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, topicId: broker.broker.topics.get(topic)?.id ?? ZERO_UUID, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '', ...extra,
  };
}

describe('SASL on a listener without it', () => {
  test('SaslHandshake and SaslAuthenticate answer ILLEGAL_SASL_STATE, as Kafka does, and the connection goes on', async () => {
    const c = await RawClient.connect(broker.port);
    const hs = await c.send(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    assert.deepEqual([hs.errorCode, hs.mechanisms], [ErrorCode.ILLEGAL_SASL_STATE, []]);
    const auth = await c.send(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\0user\0secret') });
    assert.deepEqual([auth.errorCode, auth.errorMessage], [ErrorCode.ILLEGAL_SASL_STATE, 'SaslAuthenticate request received after successful authentication']);
    assert.equal((await c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'samsa-test', clientSoftwareVersion: '1.0' })).errorCode, 0);
    c.close();
  });

  test('a kafkajs client set up for SASL is told the broker is not in a SASL state', async () => {
    const admin = new Kafka({ brokers: [broker.bootstrap], clientId: 'sasl', logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'plain', username: 'u', password: 'p' } }).admin();
    await assert.rejects(admin.connect(), (e: Error) => /SASL state|ILLEGAL_SASL_STATE/i.test(`${e.message} ${(e as { cause?: Error }).cause?.message ?? ''}`));
    await admin.disconnect();
  });
});

describe('ApiVersions', () => {
  test('v0 and v3 list the implemented APIs; the response header is v0 even for v3', async () => {
    for (const v of [0, 3, 4]) {
      const r = await client.send(ApiKey.ApiVersions, v, { clientSoftwareName: 'samsa-test', clientSoftwareVersion: '1.0' });
      assert.equal(r.errorCode, 0);
      const produce = r.apiKeys.find((k: any) => k.apiKey === ApiKey.Produce);
      assert.deepEqual([produce.minVersion, produce.maxVersion], [0, 11]);
      const fetch = r.apiKeys.find((k: any) => k.apiKey === ApiKey.Fetch);
      assert.deepEqual([fetch.minVersion, fetch.maxVersion], [0, 17]);
      assert.ok(!r.apiKeys.some((k: any) => k.apiKey === 71 || k.apiKey === 72), 'telemetry must not be advertised');
    }
  });

  test('an unknown version is answered with UNSUPPORTED_VERSION and a v0 body', async () => {
    const { encodeRequest } = await import('../../protocol/frames.js');
    const raw = await RawClient.connect(broker.port);
    const frame = encodeRequest(ApiKey.ApiVersions, 3, 77, 'x', { clientSoftwareName: 'a', clientSoftwareVersion: 'b' });
    frame.writeInt16BE(9, 6); // bump the version in the header
    const got = new Promise<Buffer>((resolve) => raw.socket.once('data', resolve));
    raw.writeRaw(frame);
    const resp = await got;
    assert.equal(resp.readInt32BE(4), 77, 'correlation id');
    assert.equal(resp.readInt16BE(8), ErrorCode.UNSUPPORTED_VERSION);
    assert.equal(resp.readInt32BE(10), 1, 'one api key');
    assert.deepEqual([resp.readInt16BE(14), resp.readInt16BE(16), resp.readInt16BE(18)], [18, 0, 4]);
    raw.close();
  });

  test('v3 with an invalid client software name gets INVALID_REQUEST and the connection stays open', async () => {
    const r = await client.send(ApiKey.ApiVersions, 3, { clientSoftwareName: '-bad name-', clientSoftwareVersion: '1' });
    assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
    assert.deepEqual(r.apiKeys, []);
    const ok = await client.send(ApiKey.ApiVersions, 0, {});
    assert.equal(ok.errorCode, 0);
  });

  test('v3 and v4 report Kafka 3.9\'s features: metadata.version 21 finalized, kraft.version (minimum 0) from v4 only', async () => {
    const names = (fs: { name: string; minVersion: number; maxVersion: number }[]) => fs.map((f) => `${f.name} ${f.minVersion}-${f.maxVersion}`);
    const v3 = await client.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'a', clientSoftwareVersion: '1' });
    assert.deepEqual(names(v3.supportedFeatures), ['metadata.version 1-21']);
    const v4 = await client.send(ApiKey.ApiVersions, 4, { clientSoftwareName: 'a', clientSoftwareVersion: '1' });
    assert.deepEqual(names(v4.supportedFeatures), ['metadata.version 1-21', 'kraft.version 0-1']);
    assert.deepEqual(v4.finalizedFeatures.map((f: { name: string; minVersionLevel: number; maxVersionLevel: number }) => [f.name, f.minVersionLevel, f.maxVersionLevel]), [['metadata.version', 21, 21]]);
    assert.equal(v4.finalizedFeaturesEpoch, 0n);
  });
});

describe('Metadata', () => {
  test('null vs empty topic lists per version', async () => {
    await createTopic('md-a');
    const all1 = await client.send(ApiKey.Metadata, 1, { topics: null });
    assert.ok(all1.topics.some((t: any) => t.name === 'md-a'));
    const none = await client.send(ApiKey.Metadata, 1, { topics: [] });
    assert.equal(none.topics.length, 0);
    const all0 = await client.send(ApiKey.Metadata, 0, { topics: [] });
    assert.ok(all0.topics.some((t: any) => t.name === 'md-a'));
    assert.equal(all1.controllerId, 1);
    assert.deepEqual(all1.brokers.map((b: any) => [b.nodeId, b.port]), [[1, broker.port]]);
  });

  test('auto-creation answers LEADER_NOT_AVAILABLE, then the topic exists with num.partitions', async () => {
    const first = await client.send(ApiKey.Metadata, 9, { topics: [{ name: 'md-auto' }], allowAutoTopicCreation: true });
    assert.equal(first.topics[0].errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
    let t: any;
    for (let i = 0; i < 50; i++) {
      t = (await client.send(ApiKey.Metadata, 12, { topics: [{ name: 'md-auto', topicId: ZERO_UUID }] })).topics[0];
      if (t.errorCode === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(t.errorCode, 0);
    assert.equal(t.partitions.length, 2);
    assert.notEqual(t.topicId, ZERO_UUID);
    assert.deepEqual(t.partitions.map((p: any) => [p.partitionIndex, p.leaderId, p.leaderEpoch, p.replicaNodes, p.isrNodes]), [[0, 1, 0, [1], [1]], [1, 1, 0, [1], [1]]]);
  });

  test('the coordinators\' topics are auto-created with their own settings and reported as internal', async () => {
    const first = await client.send(ApiKey.Metadata, 9, { topics: [{ name: '__consumer_offsets' }, { name: '__transaction_state' }], allowAutoTopicCreation: true });
    assert.deepEqual(first.topics.map((t: any) => [t.errorCode, t.isInternal]), [[ErrorCode.LEADER_NOT_AVAILABLE, true], [ErrorCode.LEADER_NOT_AVAILABLE, true]]);
    let ts: any[] = [];
    for (let i = 0; i < 100; i++) {
      ts = (await client.send(ApiKey.Metadata, 9, { topics: [{ name: '__consumer_offsets' }, { name: '__transaction_state' }], allowAutoTopicCreation: false })).topics;
      if (ts.every((t) => t.errorCode === 0)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // offsets.topic.num.partitions and transaction.state.log.num.partitions (50 each), not num.partitions (2).
    assert.deepEqual(ts.map((t) => [t.name, t.errorCode, t.isInternal, t.partitions.length]), [['__consumer_offsets', 0, true, 50], ['__transaction_state', 0, true, 50]]);
    const configs = await client.send(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: '__consumer_offsets', configurationKeys: ['cleanup.policy'] }], includeSynonyms: false, includeDocumentation: false });
    assert.equal(configs.results[0].configs[0].value, 'compact');
  });

  test('no auto-creation when the request forbids it; invalid names are INVALID_TOPIC_EXCEPTION', async () => {
    const r = await client.send(ApiKey.Metadata, 9, { topics: [{ name: 'md-nope' }, { name: 'bad name!' }], allowAutoTopicCreation: false });
    assert.deepEqual(r.topics.map((t: any) => t.errorCode), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_TOPIC_EXCEPTION]);
    assert.equal(broker.broker.topics.get('md-nope'), undefined);
  });

  test('a topic still being created is UNKNOWN_TOPIC_OR_PARTITION to a request that may not create it, LEADER_NOT_AVAILABLE to one that may', async () => {
    // Kafka answers from its metadata cache, which has no topic until its creation is done: a
    // request without auto-creation gets UNKNOWN_TOPIC_OR_PARTITION (KafkaApis.getTopicMetadata).
    const dir = tempDir();
    const slow = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path, config: { 'num.partitions': 200 } });
    const c = await RawClient.connect(slow.port);
    try {
      let checked = false;
      for (let i = 0; i < 20 && !checked; i++) {
        const name = `md-creating-${i}`;
        const [created, forbidden, allowed] = await Promise.all([
          c.send(ApiKey.Metadata, 9, { topics: [{ name }], allowAutoTopicCreation: true }),
          c.send(ApiKey.Metadata, 9, { topics: [{ name }], allowAutoTopicCreation: false }),
          c.send(ApiKey.Metadata, 9, { topics: [{ name }], allowAutoTopicCreation: true }),
        ]);
        // Only meaningful when the creation was still under way for all three answers.
        if (!slow.broker.topics.isCreating(name)) continue;
        checked = true;
        assert.deepEqual([created, forbidden, allowed].map((r) => r.topics[0].errorCode),
          [ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.LEADER_NOT_AVAILABLE]);
      }
      assert.ok(checked, 'a creation outlasted three requests');
    } finally {
      c.close();
      await slow.stop();
      dir.remove();
    }
  });

  test('topics by id (v12): known and unknown', async () => {
    await createTopic('md-id');
    const id = broker.broker.topics.get('md-id')!.id;
    const r = await client.send(ApiKey.Metadata, 12, { topics: [{ name: null, topicId: id }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' }] });
    assert.equal(r.topics[0].name, 'md-id');
    assert.equal(r.topics[0].errorCode, 0);
    assert.equal(r.topics[1].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
    assert.equal(r.topics[1].name, null);
    // As in Kafka: names are ignored once any topic is named by id; ids before v12 fail the request.
    const mixed = await client.send(ApiKey.Metadata, 12, { topics: [{ name: 'md-a', topicId: ZERO_UUID }, { name: null, topicId: id }] });
    assert.deepEqual(mixed.topics.map((t: any) => [t.name, t.errorCode]), [['md-id', 0]]);
    const v11 = await client.send(ApiKey.Metadata, 11, { topics: [{ name: 'md-a', topicId: ZERO_UUID }, { name: 'md-id', topicId: id }] });
    assert.deepEqual(v11.topics.map((t: any) => [t.name, t.errorCode]), [['md-a', ErrorCode.INVALID_REQUEST], ['md-id', ErrorCode.INVALID_REQUEST]]);
    const nameless = await client.send(ApiKey.Metadata, 11, { topics: [{ name: null, topicId: ZERO_UUID }, { name: 'md-a', topicId: ZERO_UUID }] });
    assert.deepEqual(nameless.topics.map((t: any) => [t.name, t.errorCode]), [['', ErrorCode.INVALID_REQUEST], ['md-a', ErrorCode.INVALID_REQUEST]]);
    // Kafka's error response for the whole request: no brokers, no cluster id, no controller.
    assert.deepEqual([v11.brokers, v11.clusterId, v11.controllerId], [[], null, -1]);
    // Authorized operations (asked for) are left out for unknown ids, as Kafka adds those entries last.
    const ops = await client.send(ApiKey.Metadata, 12, { topics: [{ name: null, topicId: id }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' }], includeTopicAuthorizedOperations: true });
    assert.deepEqual(ops.topics.map((t: any) => [t.errorCode, t.topicAuthorizedOperations]), [[0, 3576], [ErrorCode.UNKNOWN_TOPIC_ID, -2147483648]]);
  });
});

describe('CreateTopics and DeleteTopics', () => {
  test('errors: exists, invalid name, bad partitions, replication factor, unknown or invalid config, duplicates', async () => {
    await createTopic('ct-exists');
    const r = await client.send(ApiKey.CreateTopics, 7, {
      timeoutMs: 1000, validateOnly: false,
      topics: [
        { name: 'ct-exists', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        { name: 'bad/name', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        { name: 'ct-zero', numPartitions: 0, replicationFactor: 1, assignments: [], configs: [] },
        { name: 'ct-rf3', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] },
        { name: 'ct-cfg', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'no.such.config', value: '1' }] },
        { name: 'ct-val', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: 'abc' }] },
        { name: 'ct-dup', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        { name: 'ct-dup', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      ],
    });
    const byName = new Map(r.topics.map((t: any) => [t.name, t]));
    assert.equal((byName.get('ct-exists') as any).errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
    assert.equal((byName.get('bad/name') as any).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.equal((byName.get('ct-zero') as any).errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.equal((byName.get('ct-rf3') as any).errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
    assert.equal((byName.get('ct-cfg') as any).errorCode, ErrorCode.INVALID_CONFIG);
    assert.match((byName.get('ct-val') as any).errorMessage, /retention.ms/);
    assert.equal((byName.get('ct-dup') as any).errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(r.topics.length, 7);
    for (const n of ['ct-zero', 'ct-rf3', 'ct-cfg', 'ct-val', 'ct-dup']) assert.equal(broker.broker.topics.get(n), undefined, n);
  });

  test('as Kafka\'s controller: configs checked before partitions, __cluster_metadata refused, over 10,000 records refused whole', async () => {
    const send = (topics: { name: string; numPartitions: number; replicationFactor: number; configs?: { name: string; value: string }[] }[], validateOnly = false) =>
      client.send(ApiKey.CreateTopics, 7, { timeoutMs: 1000, validateOnly, topics: topics.map((t) => ({ assignments: [], configs: [], ...t })) });
    const both = await send([
      { name: 'ct-order-a', numPartitions: 0, replicationFactor: 1, configs: [{ name: 'retention.ms', value: '-7' }] },
      { name: 'ct-order-b', numPartitions: 1, replicationFactor: 3, configs: [{ name: 'no.such.config', value: '1' }] },
    ]);
    assert.deepEqual(both.topics.map((t: any) => t.errorCode), [ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_CONFIG]);
    const meta = await send([{ name: '__cluster_metadata', numPartitions: 1, replicationFactor: 1 }]);
    assert.deepEqual([meta.topics[0].errorCode, meta.topics[0].errorMessage], [ErrorCode.INVALID_REQUEST, 'Creation of internal topic __cluster_metadata is prohibited.']);
    for (const validateOnly of [true, false]) {
      const big = await send([{ name: 'ct-big', numPartitions: 9_000, replicationFactor: 1 }, { name: 'ct-small', numPartitions: 1_000, replicationFactor: 1 }], validateOnly);
      assert.deepEqual(big.topics.map((t: any) => [t.name, t.errorCode, t.errorMessage]), [
        ['ct-big', ErrorCode.POLICY_VIOLATION, 'Unable to perform excessively large batch operation.'],
        ['ct-small', ErrorCode.POLICY_VIOLATION, 'Unable to perform excessively large batch operation.'],
      ]);
    }
    assert.equal(broker.broker.topics.get('ct-small'), undefined, 'nothing of a refused request is created');
    const most = await send([{ name: 'ct-most', numPartitions: 9_999, replicationFactor: 1 }], true);
    assert.equal(most.topics[0].errorCode, ErrorCode.NONE, '1 + 9,999 records is allowed');
  });

  test('configs: a name given twice takes its last value, every name is checked before any value', async () => {
    const send = (name: string, configs: { name: string; value: string }[]) =>
      client.send(ApiKey.CreateTopics, 7, { timeoutMs: 1000, validateOnly: false, topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs }] });
    const twice = await send('ct-twice', [{ name: 'retention.ms', value: 'abc' }, { name: 'retention.ms', value: '1000' }]);
    assert.equal(twice.topics[0].errorCode, ErrorCode.NONE, twice.topics[0].errorMessage);
    assert.equal(twice.topics[0].configs.find((x: any) => x.name === 'retention.ms').value, '1000');
    const unknownLast = await send('ct-unknown-last', [{ name: 'retention.ms', value: 'abc' }, { name: 'foo.bar', value: 'x' }]);
    assert.deepEqual([unknownLast.topics[0].errorCode, unknownLast.topics[0].errorMessage], [ErrorCode.INVALID_CONFIG, 'Unknown topic config name: foo.bar']);
    // Two bad values: the first in Kafka's define order is named (segment.ms before retention.ms).
    const twoBad = await send('ct-two-bad', [{ name: 'retention.ms', value: 'abc' }, { name: 'segment.ms', value: '0' }]);
    assert.deepEqual([twoBad.topics[0].errorCode, twoBad.topics[0].errorMessage], [ErrorCode.INVALID_CONFIG, 'Invalid value 0 for configuration segment.ms: Value must be at least 1']);
    assert.deepEqual([...KAFKA_DEFINE_ORDER].sort(), TOPIC_CONFIGS.map((d) => d.name).sort(), 'every topic config has its place in the define order');
    // message.format.version: Kafka's MetadataVersion strings, cut past their release.
    for (const [value, ok] of [['0.10.0.1', true], ['2.8.1', true], ['3.0-IV1', true], ['4.0-IV1', true], ['0.10', false], ['3.0-IV9', false], ['9.9', false], ['4.0', false]] as const) {
      const r = await client.send(ApiKey.CreateTopics, 7, { timeoutMs: 1000, validateOnly: true, topics: [{ name: 'ct-mfv', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'message.format.version', value }] }] });
      assert.deepEqual([r.topics[0].errorCode, r.topics[0].errorMessage], ok ? [ErrorCode.NONE, null] : [ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration message.format.version: Version ${value} is not a valid version`], value);
    }
  });

  test('a deadline already passed (timeoutMs <= 0): REQUEST_TIMED_OUT for every topic, and nothing is created or deleted', async () => {
    await createTopic('ct-timeout-kept');
    for (const timeoutMs of [0, -1]) {
      for (const validateOnly of [false, true]) {
        const c = await client.send(ApiKey.CreateTopics, 7, { timeoutMs, validateOnly, topics: [{ name: 'ct-timeout', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }, { name: 'ct-timeout-kept', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
        assert.deepEqual(c.topics.map((t: any) => [t.name, t.errorCode, t.errorMessage]), [['ct-timeout', ErrorCode.REQUEST_TIMED_OUT, null], ['ct-timeout-kept', ErrorCode.REQUEST_TIMED_OUT, null]]);
      }
      const d = await client.send(ApiKey.DeleteTopics, 6, { topics: [{ name: 'ct-timeout-kept', topicId: ZERO_UUID }], timeoutMs });
      assert.deepEqual(d.responses.map((r: any) => [r.name, r.errorCode]), [['ct-timeout-kept', ErrorCode.REQUEST_TIMED_OUT]]);
    }
    assert.equal(broker.broker.topics.get('ct-timeout'), undefined);
    assert.ok(broker.broker.topics.get('ct-timeout-kept'));
  });

  test('validateOnly creates nothing but answers an id; success returns partitions, replication and configs (v5+)', async () => {
    const v = await client.send(ApiKey.CreateTopics, 7, { timeoutMs: 1000, validateOnly: true, topics: [{ name: 'ct-validate', numPartitions: 4, replicationFactor: -1, assignments: [], configs: [] }] });
    assert.equal(v.topics[0].errorCode, 0);
    assert.equal(v.topics[0].numPartitions, 4);
    assert.notEqual(v.topics[0].topicId, ZERO_UUID, 'an id, as Kafka\'s controller draws one');
    assert.equal(broker.broker.topics.get('ct-validate'), undefined);
    const c = await client.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: [{ name: 'ct-real', numPartitions: -1, replicationFactor: -1, assignments: [], configs: [{ name: 'retention.ms', value: '1000' }] }] });
    assert.equal(c.topics[0].numPartitions, 2);
    assert.equal(c.topics[0].replicationFactor, 1);
    assert.equal(c.topics[0].configs.find((x: any) => x.name === 'retention.ms').value, '1000');
  });

  test('delete by name (v1) and by id (v6), unknown ones answered per topic', async () => {
    await createTopic('dt-name');
    await createTopic('dt-id');
    const id = broker.broker.topics.get('dt-id')!.id;
    const a = await client.send(ApiKey.DeleteTopics, 1, { topicNames: ['dt-name', 'dt-missing'], timeoutMs: 1000 });
    assert.deepEqual(a.responses.map((r: any) => [r.name, r.errorCode]), [['dt-name', 0], ['dt-missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
    const b = await client.send(ApiKey.DeleteTopics, 6, { topics: [{ name: null, topicId: id }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' }], timeoutMs: 1000 });
    assert.deepEqual(b.responses.map((r: any) => [r.name, r.errorCode, r.errorMessage]), [['dt-id', 0, null], [null, ErrorCode.UNKNOWN_TOPIC_ID, 'This server does not host this topic ID.']]);
    assert.equal(broker.broker.topics.get('dt-name'), undefined);
    assert.equal(broker.broker.topics.get('dt-id'), undefined);
    // A name given twice is answered once; naming by both or neither is its own error, each time.
    const c = await client.send(ApiKey.DeleteTopics, 6, { topics: [
      { name: 'dt-twice', topicId: ZERO_UUID }, { name: 'dt-twice', topicId: ZERO_UUID }, { name: null, topicId: ZERO_UUID }, { name: null, topicId: ZERO_UUID },
    ], timeoutMs: 1000 });
    assert.deepEqual(c.responses.map((r: any) => [r.name, r.errorCode, r.errorMessage]), [
      ['dt-twice', ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'],
      [null, ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'],
      [null, ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'],
    ]);
    // The same topic by name and by id: one INVALID_REQUEST, for the name, and the topic stays.
    await createTopic('dt-both');
    const bothId = broker.broker.topics.get('dt-both')!.id;
    const d = await client.send(ApiKey.DeleteTopics, 6, { topics: [{ name: null, topicId: bothId }, { name: 'dt-both', topicId: ZERO_UUID }], timeoutMs: 1000 });
    assert.deepEqual(d.responses.map((r: any) => [r.name, r.topicId, r.errorCode, r.errorMessage]), [
      ['dt-both', bothId, ErrorCode.INVALID_REQUEST, 'The provided topic name maps to an ID that was already supplied.'],
    ]);
    assert.ok(broker.broker.topics.get('dt-both'), 'not deleted');
    const e = await client.send(ApiKey.DeleteTopics, 6, { topics: [{ name: null, topicId: bothId }, { name: null, topicId: bothId }, { name: 'dt-both', topicId: ZERO_UUID }], timeoutMs: 1000 });
    assert.deepEqual(e.responses.map((r: any) => [r.name, r.errorCode, r.errorMessage]), [
      [null, ErrorCode.INVALID_REQUEST, 'Duplicate topic id.'],
      ['dt-both', ErrorCode.INVALID_REQUEST, 'The provided topic name maps to an ID that was already supplied.'],
    ]);
    assert.ok(broker.broker.topics.get('dt-both'), 'still not deleted');
  });

  test('with delete.topic.enable=false the whole request is refused: INVALID_REQUEST before v3, TOPIC_DELETION_DISABLED from v3', async () => {
    const b = await startBroker({ port: 0, config: { 'delete.topic.enable': false } });
    const c = await RawClient.connect(b.port);
    try {
      await c.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'dt-kept', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      for (const [v, code] of [[2, ErrorCode.INVALID_REQUEST], [3, ErrorCode.TOPIC_DELETION_DISABLED]] as const) {
        const r = await c.send(ApiKey.DeleteTopics, v, { topicNames: ['dt-kept', 'dt-unknown'], timeoutMs: 1000 });
        assert.deepEqual(r.responses.map((x: any) => [x.name, x.errorCode]), [['dt-kept', code], ['dt-unknown', code]], `v${v}`);
      }
      assert.ok(b.broker.topics.get('dt-kept'));
    } finally {
      c.close();
      await b.stop();
    }
  });
});

describe('Produce', () => {
  test('offsets are assigned consecutively and returned; fetch gives the records back', async () => {
    await createTopic('p-basic');
    const a = await produce('p-basic', 0, batch(['a', 'b', 'c']));
    const b = await produce('p-basic', 0, batch(['d']), 3);
    assert.deepEqual([a.errorCode, a.baseOffset, b.errorCode, b.baseOffset], [0, 0n, 0, 3n]);
    const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-basic', 0, 0n));
    const p = f.responses[0].partitions[0];
    assert.equal(p.highWatermark, 4n);
    assert.equal(p.lastStableOffset, 4n);
    const values = [...iterateBatches(p.records)].flatMap((v) => decodeRecords(v.buf).map((r) => `${r.offset}:${r.value}`));
    assert.deepEqual(values, ['0:a', '1:b', '2:c', '3:d']);
  });

  test('errors: unknown partition, corrupt CRC, not one batch, non-zero base offset, too large, bad acks, zstd before v7', async () => {
    await createTopic('p-err', 1, [{ name: 'max.message.bytes', value: '200' }]);
    assert.equal((await produce('p-missing', 0, batch(['x']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await produce('p-err', 5, batch(['x']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const corrupt = batch(['x']);
    corrupt[corrupt.length - 1] ^= 0xff;
    assert.equal((await produce('p-err', 0, corrupt)).errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal((await produce('p-err', 0, Buffer.concat([batch(['x']), batch(['y'])]))).errorCode, ErrorCode.INVALID_RECORD);
    const shifted = batch(['x']);
    shifted.writeBigInt64BE(5n, 0);
    assert.equal((await produce('p-err', 0, shifted)).errorCode, ErrorCode.INVALID_RECORD);
    const big = await produce('p-err', 0, batch(['x'.repeat(500)]));
    assert.equal(big.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    assert.equal(big.baseOffset, -1n);
    assert.equal((await produce('p-err', 0, batch(['x']), 9, 2)).errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
    assert.equal((await produce('p-err', 0, batch(['x'], { compression: CompressionCodec.Zstd }), 6)).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    const ok = await produce('p-err', 0, batch(['fine']));
    assert.deepEqual([ok.errorCode, ok.baseOffset], [0, 0n], 'failed batches took no offsets');
  });

  test('records are walked as Kafka\'s LogValidator does: broken structure is INVALID_RECORD, undecompressible data UNKNOWN_SERVER_ERROR, nothing is stored', async () => {
    await createTopic('p-walk', 1, [{ name: 'max.message.bytes', value: '300' }]);
    const resealed = (b: Buffer): Buffer => {
      b.writeInt32BE(b.length - 12, 8);
      writeBatchCrc(b);
      return b;
    };
    // Bytes after the declared records.
    const junk = resealed(Buffer.concat([batch(['a', 'b']), Buffer.from([1, 2, 3, 4, 5])]));
    // The header counts three records (and offset deltas up to 2), the batch holds two.
    const short = batch(['a', 'b']);
    short.writeInt32BE(3, 57);
    short.writeInt32BE(2, 23);
    resealed(short);
    // Record bytes overwritten: the first record declares more bytes than there are.
    const garbled = batch(['a', 'b']);
    garbled.fill(0x7f, 61);
    resealed(garbled);
    for (const [name, b] of [['junk', junk], ['short', short], ['garbled', garbled]] as const) {
      const r = await produce('p-walk', 0, b);
      assert.deepEqual([r.errorCode, r.baseOffset, r.logStartOffset], [ErrorCode.INVALID_RECORD, -1n, 0n], name);
    }
    for (const codec of [CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd]) {
      const b = batch(['a', 'b', 'c'], { compression: codec });
      b.fill(0x55, 61);
      const r = await produce('p-walk', 0, resealed(b));
      assert.deepEqual([r.errorCode, r.logStartOffset], [ErrorCode.UNKNOWN_SERVER_ERROR, 0n], `codec ${codec}`);
    }
    // Kafka's order: base offset, then size, then CRC.
    const badCrcBig = batch(['x'.repeat(400)]);
    badCrcBig[badCrcBig.length - 1] ^= 0xff;
    assert.equal((await produce('p-walk', 0, badCrcBig)).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    const badCrcShifted = batch(['x']);
    badCrcShifted.writeBigInt64BE(5n, 0);
    badCrcShifted[badCrcShifted.length - 1] ^= 0xff;
    assert.equal((await produce('p-walk', 0, badCrcShifted)).errorCode, ErrorCode.INVALID_RECORD);
    const badCrc = batch(['x']);
    badCrc[badCrc.length - 1] ^= 0xff;
    assert.deepEqual([(await produce('p-walk', 0, badCrc)).logStartOffset], [-1n], 'CORRUPT_MESSAGE carries no log start offset');
    const ok = await produce('p-walk', 0, batch(['fine'], { compression: CompressionCodec.Lz4 }));
    assert.deepEqual([ok.errorCode, ok.baseOffset], [0, 0n], 'nothing refused took an offset');
  });

  test('pipelined produce requests append in the order they came, a compressed one (checked off the event loop) before a plain one after it', async () => {
    await createTopic('p-pipelined');
    const send = (records: Buffer) => client.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'p-pipelined', partitionData: [{ index: 0, records }] }] });
    const values = Array.from({ length: 2000 }, (_, i) => `compressed ${i} ${'z'.repeat(200)}`);
    const [a, b, c] = await Promise.all([send(batch(values, { compression: CompressionCodec.Gzip })), send(batch(['plain'])), send(batch(['last'], { compression: CompressionCodec.Lz4 }))]);
    const offsets = [a, b, c].map((r: any) => [r.responses[0].partitionResponses[0].errorCode, r.responses[0].partitionResponses[0].baseOffset]);
    assert.deepEqual(offsets, [[0, 0n], [0, 2000n], [0, 2001n]]);
  });

  test('checks come in Kafka\'s order: topic, framing, acks, then the batch; a partition named twice is produced once', async () => {
    await createTopic('p-order', 2);
    const send = (acks: number, partitionData: { index: number; records: Buffer }[], topic = 'p-order', transactionalId: string | null = null) =>
      client.send(ApiKey.Produce, 9, { transactionalId, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData }] });
    const corrupt = batch(['x']);
    corrupt[corrupt.length - 1] ^= 0xff;
    // acks=2: the unknown topic and the bad framing keep their own errors; a bad CRC is only looked at after the acks.
    assert.equal((await send(2, [{ index: 0, records: batch(['x']) }], 'p-order-missing')).responses[0].partitionResponses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const mixed = await send(2, [{ index: 0, records: Buffer.concat([batch(['x']), batch(['y'])]) }, { index: 1, records: corrupt }]);
    assert.deepEqual(mixed.responses[0].partitionResponses.map((p: any) => p.errorCode), [ErrorCode.INVALID_RECORD, ErrorCode.INVALID_REQUIRED_ACKS]);
    // A batch cut short is no batch at all (INVALID_RECORD); bytes of an incomplete batch after a whole one are dropped.
    const cut = await produce('p-order', 0, batch(['x']).subarray(0, 70));
    assert.deepEqual([cut.errorCode, cut.errorMessage], [ErrorCode.INVALID_RECORD, null], 'Kafka sends no message for it');
    const tail = await produce('p-order', 0, Buffer.concat([batch(['whole']), batch(['cut']).subarray(0, 30)]));
    assert.deepEqual([tail.errorCode, tail.baseOffset], [ErrorCode.NONE, 0n]);
    // Transactional data without a transactional id fails every partition of the request, the plain one too.
    const txn = buildRecordBatch({ baseOffset: 0n, producerId: 7n, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ key: null, value: Buffer.from('t'), headers: [], timestamp: BigInt(Date.now()) }] });
    const refused = await send(-1, [{ index: 0, records: txn }, { index: 1, records: batch(['plain']) }]);
    assert.deepEqual(refused.responses[0].partitionResponses.map((p: any) => [p.errorCode, p.errorMessage]), [[ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, null], [ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, null]], 'the generic message is left out, as Kafka\'s ApiError does');
    // Also when a later entry for the same partition is plain: every entry as sent counts.
    const hidden = await send(-1, [{ index: 0, records: txn }, { index: 0, records: batch(['plain']) }]);
    assert.deepEqual(hidden.responses[0].partitionResponses.map((p: any) => p.errorCode), [ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED]);
    // The same partition twice: one answer, the last data appended once.
    const twice = await send(-1, [{ index: 1, records: batch(['first']) }, { index: 1, records: batch(['second']) }]);
    assert.deepEqual(twice.responses[0].partitionResponses.map((p: any) => [p.index, p.errorCode, p.baseOffset]), [[1, 0, 0n]]);
    const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-order', 1, 0n));
    const values = [...iterateBatches(f.responses[0].partitions[0].records)].flatMap((v) => decodeRecords(v.buf).map((r) => String(r.value)));
    assert.deepEqual(values, ['second']);
    const f0 = await client.send(ApiKey.Fetch, 11, fetchBody('p-order', 0, 0n));
    assert.equal(f0.responses[0].partitions[0].highWatermark, 1n, 'only the whole batch of partition 0 was appended');
  });

  test('transactional batches of two producers in one request fail it whole, unknown partitions too, as Kafka\'s ReplicaManager.handleProduceAppend', async () => {
    await createTopic('p-two-producers', 2);
    const txn = (producerId: bigint) => buildRecordBatch({ baseOffset: 0n, producerId, producerEpoch: 0, baseSequence: 0, transactional: true, records: [{ key: null, value: Buffer.from('t'), headers: [], timestamp: BigInt(Date.now()) }] });
    const r = await client.send(ApiKey.Produce, 9, {
      transactionalId: 'p-two-producers-txn', acks: -1, timeoutMs: 5000,
      topicData: [{ name: 'p-two-producers', partitionData: [{ index: 0, records: txn(7n) }, { index: 1, records: txn(8n) }] }, { name: 'p-two-producers-missing', partitionData: [{ index: 0, records: batch(['x']) }] }],
    });
    const message = 'Transactional records contained more than one producer ID';
    assert.deepEqual(
      r.responses.map((t: any) => t.partitionResponses.map((p: any) => [p.errorCode, p.errorMessage])),
      [[[ErrorCode.INVALID_PRODUCER_ID_MAPPING, message], [ErrorCode.INVALID_PRODUCER_ID_MAPPING, message]], [[ErrorCode.INVALID_PRODUCER_ID_MAPPING, message]]],
    );
  });

  test('a request naming more partitions than one slice (appended a slice at a time) is answered as one, in request order, errors in place; produce requests pipelined around it append in the order they came', async () => {
    await createTopic('p-wide', 300);
    const order = Array.from({ length: 300 }, (_, i) => 299 - i); // partition 0 in the last slice
    const corrupt = batch(['bad']);
    corrupt[corrupt.length - 1] ^= 0xff;
    const send = (topicData: unknown[]) => client.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData });
    const one = (value: string) => [{ name: 'p-wide', partitionData: [{ index: 0, records: batch([value]) }] }];
    const [before, wide, after] = await Promise.all([
      send(one('before')),
      send([
        { name: 'p-wide', partitionData: order.map((index) => ({ index, records: index === 150 ? corrupt : batch([`wide ${index}`]) })) },
        { name: 'p-wide-missing', partitionData: [{ index: 0, records: batch(['x']) }] },
      ]),
      send(one('after')),
    ]);
    assert.deepEqual(wide.responses.map((t: any) => t.name), ['p-wide', 'p-wide-missing']);
    assert.deepEqual(
      wide.responses[0].partitionResponses.map((p: any) => [p.index, p.errorCode, p.baseOffset]),
      order.map((index) => [index, index === 150 ? ErrorCode.CORRUPT_MESSAGE : ErrorCode.NONE, index === 150 ? -1n : index === 0 ? 1n : 0n]),
    );
    assert.equal(wide.responses[1].partitionResponses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual([before, after].map((r: any) => r.responses[0].partitionResponses[0].baseOffset), [0n, 2n]);
    const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-wide', 0, 0n));
    const values = [...iterateBatches(f.responses[0].partitions[0].records)].flatMap((b) => decodeRecords(b.buf).map((r) => String(r.value)));
    assert.deepEqual(values, ['before', 'wide 0', 'after']);
  });

  test('acks=0 naming more partitions than one slice: every batch is stored as sent, its frame kept until the last slice is appended', async () => {
    await createTopic('p-wide-acks0', 300);
    const wide = (tag: string) => ({
      transactionalId: null, acks: 0, timeoutMs: 1000,
      topicData: [{ name: 'p-wide-acks0', partitionData: Array.from({ length: 300 }, (_, index) => ({ index, records: batch([`${tag} ${String(index).padStart(3, '0')}`]) })) }],
    });
    // Two frames of one size: were the first one's released before its later slices were appended,
    // the second could be read into it.
    client.sendNoResponse(ApiKey.Produce, 9, wide('one'));
    client.sendNoResponse(ApiKey.Produce, 9, wide('two'));
    const body = fetchBody('p-wide-acks0', 0, 0n, { maxBytes: 10 << 20 });
    body.topics[0].partitions = Array.from({ length: 300 }, (_, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }));
    let partitions: any[] = [];
    for (let i = 0; i < 200; i++) {
      partitions = (await client.send(ApiKey.Fetch, 11, body)).responses[0].partitions;
      if (partitions.every((p: any) => p.highWatermark === 2n)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const values = partitions.map((p: any) => [...iterateBatches(p.records)].flatMap((b) => decodeRecords(b.buf).map((r) => String(r.value))));
    assert.deepEqual(values, Array.from({ length: 300 }, (_, i) => [`one ${String(i).padStart(3, '0')}`, `two ${String(i).padStart(3, '0')}`]));
  });

  test('LogAppendTime topics stamp the batch and answer the time', async () => {
    await createTopic('p-lat', 1, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
    const before = BigInt(Date.now());
    const r = await produce('p-lat', 0, batch(['x'], { timestamp: 1000 }));
    assert.ok(r.logAppendTimeMs >= before, `${r.logAppendTimeMs} < ${before}`);
    const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-lat', 0, 0n));
    const [rec] = decodeRecords(f.responses[0].partitions[0].records);
    assert.equal(rec.timestamp, r.logAppendTimeMs);
  });

  test('acks=0 gets no response, and the next request is answered in order', async () => {
    await createTopic('p-acks0');
    client.sendNoResponse(ApiKey.Produce, 9, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'p-acks0', partitionData: [{ index: 0, records: batch(['q']) }] }] });
    const m = await client.send(ApiKey.Metadata, 1, { topics: [{ name: 'p-acks0' }] });
    assert.equal(m.topics[0].errorCode, 0);
    const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-acks0', 0, 0n));
    assert.equal(f.responses[0].partitions[0].highWatermark, 1n);
  });

  test('acks=0 compressed batches, checked off the event loop, are stored as sent and in order, their frames kept until appended', async () => {
    await createTopic('p-acks0-gzip');
    const values = (tag: string) => Array.from({ length: 20_000 }, (_, i) => `${tag}-${String(i).padStart(5, '0')}-${'v'.repeat(200)}`);
    const noAnswer = (records: Buffer) => client.sendNoResponse(ApiKey.Produce, 9, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'p-acks0-gzip', partitionData: [{ index: 0, records }] }] });
    // The second frame, as large as the first, comes while the first is being decompressed: were
    // the first one's frame released unanswered, the second could be read into it.
    const [one, two] = [batch(values('one'), { compression: CompressionCodec.Gzip }), batch(values('two'), { compression: CompressionCodec.Gzip })];
    noAnswer(one);
    await new Promise((r) => setTimeout(r, 1));
    noAnswer(two);
    noAnswer(batch(['third']));
    await client.send(ApiKey.Metadata, 1, { topics: [{ name: 'p-acks0-gzip' }] });
    let hw = 0n;
    for (let i = 0; i < 200 && hw < 40_001n; i++) {
      hw = (await client.send(ApiKey.Fetch, 11, fetchBody('p-acks0-gzip', 0, 0n))).responses[0].partitions[0].highWatermark;
      if (hw < 40_001n) await new Promise((r) => setTimeout(r, 20));
    }
    const got: string[] = [];
    for (let offset = 0n; offset < hw; ) {
      const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-acks0-gzip', 0, offset));
      const records = [...iterateBatches(f.responses[0].partitions[0].records)].flatMap((b) => decodeRecords(b.buf));
      assert.ok(records.length > 0, `nothing at ${offset}`);
      got.push(...records.map((r) => String(r.value)));
      offset = records[records.length - 1]!.offset + 1n;
    }
    assert.deepEqual(got, [...values('one'), ...values('two'), 'third']);
  });

  test('acks=0 with an error closes the connection, as Kafka does', async () => {
    const c = await RawClient.connect(broker.port);
    c.sendNoResponse(ApiKey.Produce, 9, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [{ name: 'p-nowhere', partitionData: [{ index: 0, records: batch(['q']) }] }] });
    assert.equal(await c.waitClosed(), true);
  });

  test('legacy magic 0 and 1 message sets (Produce v0 and v2) are stored as magic 2', async () => {
    const { buildMessageSet } = await import('../../protocol/records/index.js');
    await createTopic('p-legacy');
    const v0 = buildMessageSet({ magic: 0, messages: [{ offset: 0n, key: Buffer.from('k'), value: Buffer.from('m0') }] });
    const v1 = buildMessageSet({ magic: 1, compression: CompressionCodec.Gzip, messages: [{ offset: 0n, key: null, value: Buffer.from('m1'), timestamp: 1234n }, { offset: 1n, key: null, value: Buffer.from('m2'), timestamp: 1235n }] });
    assert.equal((await produce('p-legacy', 0, v0, 0)).baseOffset, 0n);
    assert.equal((await produce('p-legacy', 0, v1, 2)).baseOffset, 1n);
    const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-legacy', 0, 0n));
    const recs = [...iterateBatches(f.responses[0].partitions[0].records)].flatMap((b) => (assert.equal(b.magic, 2), decodeRecords(b.buf)));
    assert.deepEqual(recs.map((r) => [r.offset, String(r.value), r.timestamp]), [[0n, 'm0', -1n], [1n, 'm1', 1234n], [2n, 'm2', 1235n]]);
  });

  test('Produce v0–2 as Kafka: a magic 2 batch is stored as sent, a truncated tail is dropped, nothing whole is no error; mixed magic and wrappers with company refused', async () => {
    const { buildMessageSet } = await import('../../protocol/records/index.js');
    await createTopic('p-legacy-edge');
    const m = (magic: 0 | 1, value: string, compression = CompressionCodec.None) =>
      buildMessageSet({ magic, compression, messages: [{ offset: 0n, key: null, value: Buffer.from(value), timestamp: 1000n }] });
    const v2 = await produce('p-legacy-edge', 0, batch(['v2 batch']), 2);
    assert.deepEqual([v2.errorCode, v2.baseOffset], [ErrorCode.NONE, 0n]);
    const empty = await produce('p-legacy-edge', 0, Buffer.alloc(0), 2);
    assert.deepEqual([empty.errorCode, empty.baseOffset], [ErrorCode.NONE, -1n]);
    const cutOnly = await produce('p-legacy-edge', 0, m(1, 'cut').subarray(0, 20), 2);
    assert.deepEqual([cutOnly.errorCode, cutOnly.baseOffset], [ErrorCode.NONE, -1n]);
    const whole = await produce('p-legacy-edge', 0, Buffer.concat([m(1, 'whole'), m(1, 'cut').subarray(0, 20)]), 2);
    assert.deepEqual([whole.errorCode, whole.baseOffset], [ErrorCode.NONE, 1n]);
    assert.equal((await produce('p-legacy-edge', 0, Buffer.concat([m(0, 'a'), m(1, 'b')]), 2)).errorCode, ErrorCode.INVALID_RECORD);
    const twoWrappers = Buffer.concat([m(1, 'a', CompressionCodec.Gzip), m(1, 'b', CompressionCodec.Gzip)]);
    assert.equal((await produce('p-legacy-edge', 0, twoWrappers, 2)).errorCode, ErrorCode.INVALID_RECORD);
    const f = await client.send(ApiKey.Fetch, 11, fetchBody('p-legacy-edge', 0, 0n));
    const values = [...iterateBatches(f.responses[0].partitions[0].records)].flatMap((b) => decodeRecords(b.buf).map((r) => String(r.value)));
    assert.deepEqual(values, ['v2 batch', 'whole']);
  });
});

describe('Fetch', () => {
  test('offset out of range below the start and above the end; at the end is empty, not an error', async () => {
    await createTopic('f-range');
    await produce('f-range', 0, batch(['a', 'b']));
    const at = (o: bigint) => client.send(ApiKey.Fetch, 11, fetchBody('f-range', 0, o)).then((r) => r.responses[0].partitions[0]);
    assert.equal((await at(3n)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    const end = await at(2n);
    assert.deepEqual([end.errorCode, end.records.length, end.highWatermark], [0, 0, 2n]);
    assert.equal((await at(-1n)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  test('a fetch from the middle of a batch returns the whole batch', async () => {
    await createTopic('f-mid');
    await produce('f-mid', 0, batch(['a', 'b', 'c']));
    const p = (await client.send(ApiKey.Fetch, 4, fetchBody('f-mid', 0, 1n))).responses[0].partitions[0];
    const recs = decodeRecords(p.records);
    assert.deepEqual(recs.map((r) => r.offset), [0n, 1n, 2n]);
  });

  test('the first batch is returned even when larger than the limits (KIP-74); later ones respect them', async () => {
    await createTopic('f-big');
    await produce('f-big', 0, batch(['x'.repeat(3000)]));
    await produce('f-big', 0, batch(['y'.repeat(3000)]));
    const p = (await client.send(ApiKey.Fetch, 11, { ...fetchBody('f-big', 0, 0n), maxBytes: 100 })).responses[0].partitions[0];
    const batches = [...iterateBatches(p.records)];
    assert.equal(batches.length, 1);
    assert.equal(decodeRecords(batches[0].buf)[0].value!.length, 3000);
  });

  test('partitions share the response budget in request order, whatever order their reads finish in', async () => {
    // Three partitions of three ~3 KB batches; p0 of the second topic starts with a 10 KB batch.
    const fill = async (topic: string, firstSize: number) => {
      await createTopic(topic, 3);
      for (let p = 0; p < 3; p++) {
        for (let i = 0; i < 3; i++) await produce(topic, p, batch([String(p).repeat(p === 0 && i === 0 ? firstSize : 3000)]));
      }
    };
    const fetchAll = async (topic: string) => {
      const body = fetchBody(topic, 0, 0n, { maxBytes: 15_000 });
      body.topics[0].partitions = [0, 1, 2].map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 7000 }));
      const r = await client.send(ApiKey.Fetch, 11, body);
      return r.responses[0].partitions.map((p: any) => [...iterateBatches(p.records)].length);
    };
    await fill('f-share', 3000);
    // Two batches (~6.1 KB) fit each partition's 7000; the third partition gets what is left (~2.8 KB): none.
    assert.deepEqual(await fetchAll('f-share'), [2, 2, 0]);
    await fill('f-share-big', 10_000);
    // p0's first batch is returned though over the limits; 5 KB are left for p1: one batch, then none.
    assert.deepEqual(await fetchAll('f-share-big'), [1, 1, 0]);
  });

  test('a fetch naming more partitions than one slice (read a slice at a time) answers each in request order, sharing the budget as one read would', async () => {
    await createTopic('f-wide', 300);
    const records = (index: number) => batch([`v${String(index).padStart(3, '0')}`], { timestamp: 1_700_000_000_000 });
    const produced = await client.send(ApiKey.Produce, 9, {
      transactionalId: null, acks: -1, timeoutMs: 5000,
      topicData: [{ name: 'f-wide', partitionData: Array.from({ length: 300 }, (_, index) => ({ index, records: records(index) })) }],
    });
    assert.ok(produced.responses[0].partitionResponses.every((p: any) => p.errorCode === ErrorCode.NONE));
    const order = Array.from({ length: 300 }, (_, i) => (i * 7) % 300);
    // Room for the batches of 200 partitions: the first 200 named get theirs, the others nothing.
    const body = fetchBody('f-wide', 0, 0n, { maxBytes: 200 * records(0).length });
    body.topics[0].partitions = order.map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }));
    const r = await client.send(ApiKey.Fetch, 11, body);
    const got = r.responses[0].partitions.map((p: any) => [p.partitionIndex, p.errorCode, [...iterateBatches(p.records)].flatMap((b) => decodeRecords(b.buf).map((x) => String(x.value))).join()]);
    assert.deepEqual(got, order.map((partition, i) => [partition, ErrorCode.NONE, i < 200 ? `v${String(partition).padStart(3, '0')}` : '']));
  });

  test('long poll: returns soon after a produce, and not before MaxWaitMs when nothing comes', async () => {
    await createTopic('f-poll');
    const c2 = await RawClient.connect(broker.port);
    const t0 = Date.now();
    const empty = await c2.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll', 0, 0n), maxWaitMs: 300 });
    const waited = Date.now() - t0;
    assert.ok(waited >= 290, `returned after ${waited} ms`);
    assert.equal(empty.responses[0].partitions[0].records.length, 0);
    const pending = c2.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll', 0, 0n), maxWaitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    const sent = Date.now();
    await produce('f-poll', 0, batch(['wake']));
    const woke = await pending;
    const latency = Date.now() - sent;
    assert.ok(latency < 200, `woke ${latency} ms after the produce`);
    assert.equal(decodeRecords(woke.responses[0].partitions[0].records)[0].value!.toString(), 'wake');
    c2.close();
  });

  test('long poll: an append made while the fetch was reading ends the wait at once', async () => {
    await createTopic('f-poll-raced');
    const first = batch(['first']);
    await produce('f-poll-raced', 0, first);
    // The partition's read appends a batch (from another connection) before it returns what it
    // read, one batch, short of MinBytes: the fetch must see that its partition changed instead
    // of waiting for a later append.
    const log = broker.broker.topics.get('f-poll-raced')!.partitions[0]!;
    const read = log.read.bind(log);
    let produced: Promise<any> | undefined;
    log.read = async (...args: Parameters<typeof read>) => {
      const r = await read(...args);
      if (produced === undefined) await (produced = produce('f-poll-raced', 0, batch(['raced'])));
      return r;
    };
    const c2 = await RawClient.connect(broker.port);
    try {
      const sent = Date.now();
      const f = await c2.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll-raced', 0, 0n), maxWaitMs: 10_000, minBytes: first.length + 1 });
      assert.ok(Date.now() - sent < 5000, `answered after ${Date.now() - sent} ms`);
      const records = [...iterateBatches(f.responses[0].partitions[0].records)].flatMap((b) => decodeRecords(b.buf));
      assert.deepEqual(records.map((r) => String(r.value)), ['first', 'raced']);
      assert.equal((await produced)?.errorCode, ErrorCode.NONE);
    } finally {
      log.read = read;
      c2.close();
    }
  });

  test('a request pipelined behind a long poll waits for it, as in Kafka: the poll ends at MaxWaitMs without what came behind it', async () => {
    await createTopic('f-poll-behind');
    const c2 = await RawClient.connect(broker.port);
    const fetch = c2.prepare(ApiKey.Fetch, 11, { ...fetchBody('f-poll-behind', 0, 0n), maxWaitMs: 300 });
    const produced = c2.prepare(ApiKey.Produce, 9, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'f-poll-behind', partitionData: [{ index: 0, records: batch(['behind']) }] }] });
    const sent = Date.now();
    c2.writeRaw(Buffer.concat([fetch.bytes, produced.bytes]));
    const f = await fetch.response;
    assert.ok(Date.now() - sent >= 290, `answered after ${Date.now() - sent} ms`);
    assert.equal(f.responses[0].partitions[0].highWatermark, 0n);
    assert.equal((await produced.response).responses[0].partitionResponses[0].baseOffset, 0n);
    c2.close();
  });

  test('long poll: a topic deleted meanwhile is answered at once with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await createTopic('f-poll-deleted');
    const c2 = await RawClient.connect(broker.port);
    const pending = c2.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll-deleted', 0, 0n), maxWaitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    const sent = Date.now();
    const d = await client.send(ApiKey.DeleteTopics, 4, { topicNames: ['f-poll-deleted'], timeoutMs: 1000 });
    assert.equal(d.responses[0].errorCode, ErrorCode.NONE);
    const answered = await pending;
    assert.ok(Date.now() - sent < 2000, `answered ${Date.now() - sent} ms after the deletion`);
    assert.deepEqual([answered.responses[0].partitions[0].errorCode, answered.responses[0].partitions[0].highWatermark], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n]);
    c2.close();
  });

  test('the response is laid out as Kafka\'s: a partition named twice once (its last offset), topics merged, known partitions before unknown ones', async () => {
    await createTopic('f-shape', 2);
    await produce('f-shape', 0, batch(['a', 'b']));
    await produce('f-shape', 1, batch(['c']));
    const part = (partition: number, fetchOffset: bigint) => ({ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 });
    const r = await client.send(ApiKey.Fetch, 11, {
      ...fetchBody('f-shape', 0, 0n),
      topics: [
        { topic: 'f-shape-missing', partitions: [part(0, 0n)] },
        { topic: 'f-shape', partitions: [part(0, 0n), part(0, 1n)] },
        { topic: 'f-shape', partitions: [part(1, 0n)] },
        { topic: 'f-shape', partitions: [] },
      ],
    });
    const layout = r.responses.map((t: any) => [t.topic, t.partitions.map((p: any) => [p.partitionIndex, p.errorCode])]);
    assert.deepEqual(layout, [['f-shape', [[0, 0], [1, 0]]], ['f-shape-missing', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]]);
    const first = decodeRecords(r.responses[0].partitions[0].records).map((x) => String(x.value));
    assert.deepEqual(first, ['a', 'b'], 'the batch holding offset 1, fetched once');
  });

  test('a fetch as a follower (ReplicaId ≥ 0) is NOT_LEADER_OR_FOLLOWER, or UNKNOWN_LEADER_EPOCH with a leader epoch: a single broker has no followers', async () => {
    await createTopic('f-follower');
    await produce('f-follower', 0, batch(['x']));
    const v11 = await client.send(ApiKey.Fetch, 11, { ...fetchBody('f-follower', 0, 0n), replicaId: 5 });
    assert.equal(v11.responses[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const v15 = await client.send(ApiKey.Fetch, 15, { ...fetchBody('f-follower', 0, 0n), replicaState: { replicaId: 5, replicaEpoch: 1n } });
    assert.equal(v15.responses[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // From v16 the answer names the leader and its epoch, and the response its endpoint (KIP-951).
    const v16 = await client.send(ApiKey.Fetch, 16, { ...fetchBody('f-follower', 0, 0n), replicaState: { replicaId: 5, replicaEpoch: 1n } });
    assert.deepEqual(v16.responses[0].partitions[0].currentLeader, { leaderId: broker.broker.nodeId, leaderEpoch: 0 });
    assert.deepEqual(v16.nodeEndpoints.map((n: any) => [n.nodeId, n.port]), [[broker.broker.nodeId, broker.port]]);
    // With its (current) leader epoch, the unknown replica is UNKNOWN_LEADER_EPOCH, naming no leader.
    const withEpoch = fetchBody('f-follower', 0, 0n);
    withEpoch.topics[0]!.partitions[0]!.currentLeaderEpoch = 0;
    const epochV16 = await client.send(ApiKey.Fetch, 16, { ...withEpoch, replicaState: { replicaId: 5, replicaEpoch: 1n } });
    assert.deepEqual([epochV16.responses[0].partitions[0].errorCode, epochV16.responses[0].partitions[0].currentLeader.leaderId], [ErrorCode.UNKNOWN_LEADER_EPOCH, -1]);
    const epochV11 = await client.send(ApiKey.Fetch, 11, { ...withEpoch, replicaId: 5 });
    assert.equal(epochV11.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
    const consumer = await client.send(ApiKey.Fetch, 16, fetchBody('f-follower', 0, 0n));
    assert.deepEqual([consumer.responses[0].partitions[0].errorCode, consumer.responses[0].partitions[0].highWatermark], [ErrorCode.NONE, 1n]);
    assert.deepEqual([consumer.responses[0].partitions[0].currentLeader.leaderId, consumer.nodeEndpoints], [-1, []]);
  });

  test('LastFetchedEpoch (v12+): a fetcher past the end of its epoch is told where it ends; an unknown epoch is OFFSET_OUT_OF_RANGE', async () => {
    await createTopic('f-diverge');
    await produce('f-diverge', 0, batch(['a', 'b', 'c']));
    const ask = async (fetchOffset: bigint, lastFetchedEpoch: number) => {
      const body = fetchBody('f-diverge', 0, fetchOffset, { maxWaitMs: 5000 });
      body.topics[0]!.partitions[0] = { ...body.topics[0]!.partitions[0]!, lastFetchedEpoch } as any;
      const t0 = Date.now();
      const p = (await client.send(ApiKey.Fetch, 12, body)).responses[0].partitions[0];
      return { p, ms: Date.now() - t0 };
    };
    const past = await ask(5n, 0);
    assert.deepEqual([past.p.errorCode, past.p.divergingEpoch, past.p.records?.length ?? 0], [ErrorCode.NONE, { epoch: 0, endOffset: 3n }, 0]);
    assert.ok(past.ms < 2000, `answered at once, not after MaxWaitMs (${past.ms} ms)`);
    assert.equal((await ask(1n, 5)).p.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    const fine = await ask(1n, 0);
    assert.deepEqual([fine.p.errorCode, fine.p.divergingEpoch], [ErrorCode.NONE, { epoch: -1, endOffset: -1n }]);
    assert.ok(fine.p.records.length > 0);
    // Below the log start is out of range, diverging or not.
    const cut = await client.send(ApiKey.DeleteRecords, 2, { topics: [{ name: 'f-diverge', partitions: [{ partitionIndex: 0, offset: 2n }] }], timeoutMs: 5000 });
    assert.equal(cut.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    assert.equal((await ask(1n, 0)).p.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  test('long poll: a fetch from rolled segments is answered at once whatever MinBytes; from the active segment it waits', async () => {
    await createTopic('f-poll-rolled', 1, [{ name: 'segment.bytes', value: '1024' }]);
    for (let i = 0; i < 6; i++) assert.equal((await produce('f-poll-rolled', 0, batch(['x'.repeat(300)]))).errorCode, ErrorCode.NONE);
    const fetchAt = async (offset: bigint, maxWaitMs: number) => {
      const t0 = Date.now();
      const r = await client.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll-rolled', 0, offset), minBytes: 1_000_000, maxWaitMs });
      return { p: r.responses[0].partitions[0], ms: Date.now() - t0 };
    };
    const old = await fetchAt(0n, 5000);
    assert.ok(old.ms < 2000, `answered after ${old.ms} ms`);
    assert.ok(old.p.records.length > 0);
    const active = await fetchAt(5n, 300);
    assert.ok(active.ms >= 290, `waited only ${active.ms} ms`);
    // read_committed at the last stable offset, held in an old segment by an open transaction: nothing to read yet, so it waits.
    await createTopic('f-poll-rolled-txn', 1, [{ name: 'segment.bytes', value: '1024' }]);
    await openTransaction('f-poll-rolled-txn');
    for (let i = 0; i < 6; i++) assert.equal((await produce('f-poll-rolled-txn', 0, batch(['x'.repeat(300)]))).errorCode, ErrorCode.NONE);
    const t0 = Date.now();
    const r = await client.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll-rolled-txn', 0, 0n), isolationLevel: 1, maxWaitMs: 300 });
    assert.ok(Date.now() - t0 >= 290, `answered after ${Date.now() - t0} ms: a read_committed consumer would spin`);
    assert.deepEqual([r.responses[0].partitions[0].lastStableOffset, r.responses[0].partitions[0].records.length], [0n, 0]);
  });

  test('an unknown topic in a long poll is answered with its error when the known partitions are', async () => {
    await createTopic('f-poll-known');
    const body = fetchBody('f-poll-known', 0, 0n);
    body.topics.push({ ...body.topics[0], topic: 'f-poll-unknown' });
    const t0 = Date.now();
    const r = await client.send(ApiKey.Fetch, 11, { ...body, maxWaitMs: 300 });
    const waited = Date.now() - t0;
    assert.ok(waited >= 290, `returned after ${waited} ms`);
    assert.deepEqual(r.responses.map((t: any) => [t.topic, t.partitions[0].errorCode]), [['f-poll-known', 0], ['f-poll-unknown', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
  });

  test('fetch.max.bytes caps a response whatever the request asks for, keeping the first batch', async () => {
    const b = await startBroker({ port: 0, config: { 'fetch.max.bytes': 1024 } });
    const c = await RawClient.connect(b.port);
    try {
      await c.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'f-cap', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      for (let i = 0; i < 5; i++) {
        const r = await c.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'f-cap', partitionData: [{ index: 0, records: batch(['x'.repeat(600)]) }] }] });
        assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
      }
      const body = { ...fetchBody('f-cap', 0, 0n), maxBytes: 50 << 20 };
      body.topics[0].topicId = b.broker.topics.get('f-cap')!.id;
      const f = await c.send(ApiKey.Fetch, 11, body);
      const p = f.responses[0].partitions[0];
      assert.equal(p.highWatermark, 5n);
      assert.equal([...iterateBatches(p.records)].length, 1, `${p.records.length} bytes`);
    } finally {
      c.close();
      await b.stop();
    }
  });

  test('a finished long poll leaves no listener behind', async () => {
    await createTopic('f-poll-many');
    const c2 = await RawClient.connect(broker.port);
    const listeners = () => getEventListeners(broker.broker.shutdownSignal, 'abort').length;
    const before = listeners();
    // Polls that time out, then polls woken by a produce: a broker serving an idle consumer runs
    // thousands of each, and each used to stay reachable for the broker's lifetime.
    for (let i = 0; i < 50; i++) await c2.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll-many', 0, 0n), maxWaitMs: 2 });
    for (let i = 0; i < 5; i++) {
      const pending = c2.send(ApiKey.Fetch, 11, { ...fetchBody('f-poll-many', 0, BigInt(i)), maxWaitMs: 10_000 });
      for (let waited = 0; listeners() !== before + 1 && waited < 5000; waited += 5) await new Promise((r) => setTimeout(r, 5));
      assert.equal(listeners(), before + 1, 'a waiting poll listens for shutdown');
      await produce('f-poll-many', 0, batch([`w${i}`]));
      assert.equal((await pending).responses[0].partitions[0].records.length > 0, true);
    }
    assert.equal(listeners(), before);
    c2.close();
  });

  test('topic ids (v13+), unknown ids per partition', async () => {
    await createTopic('f-ids');
    await produce('f-ids', 0, batch(['a']));
    const ok = await client.send(ApiKey.Fetch, 13, fetchBody('f-ids', 0, 0n));
    assert.equal(ok.responses[0].topicId, broker.broker.topics.get('f-ids')!.id);
    assert.equal(ok.responses[0].partitions[0].records.length > 0, true);
    const body = fetchBody('f-ids', 0, 0n);
    body.topics[0].topicId = 'AAAAAAAAAAAAAAAAAAAAAQ';
    const bad = await client.send(ApiKey.Fetch, 13, body);
    assert.equal(bad.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  });

  test('epochs 0 and -1 are full fetches whatever the id, 0 opening a session; others name a session that does not exist', async () => {
    await createTopic('f-sess');
    for (const [sessionId, sessionEpoch] of [[0, 0], [0, -1], [1234, 0], [1234, -1]]) {
      const full = await client.send(ApiKey.Fetch, 12, { ...fetchBody('f-sess', 0, 0n), sessionId, sessionEpoch });
      assert.deepEqual([full.errorCode, full.sessionId !== 0, full.responses.length], [0, sessionEpoch === 0, 1], `session ${sessionId}, epoch ${sessionEpoch}`);
    }
    for (const [sessionId, sessionEpoch] of [[1234, 1], [0, 5]]) {
      const incremental = await client.send(ApiKey.Fetch, 12, { ...fetchBody('f-sess', 0, 0n), sessionId, sessionEpoch });
      assert.equal(incremental.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, `session ${sessionId}, epoch ${sessionEpoch}`);
    }
  });

  test('read_committed gets an empty aborted-transactions list, read_uncommitted null', async () => {
    await createTopic('f-iso');
    await produce('f-iso', 0, batch(['a']));
    const rc = (await client.send(ApiKey.Fetch, 11, { ...fetchBody('f-iso', 0, 0n), isolationLevel: 1 })).responses[0].partitions[0];
    const ru = (await client.send(ApiKey.Fetch, 11, fetchBody('f-iso', 0, 0n))).responses[0].partitions[0];
    assert.deepEqual(rc.abortedTransactions, []);
    assert.equal(ru.abortedTransactions, null);
    assert.equal(rc.lastStableOffset, 1n);
  });

  test('Fetch v0–3 get magic 0/1 message sets; zstd is refused before v10', async () => {
    await createTopic('f-old');
    await produce('f-old', 0, batch(['a', 'b'], { compression: CompressionCodec.Gzip }));
    for (const [v, magic] of [[0, 0], [3, 1]] as const) {
      const p = (await client.send(ApiKey.Fetch, v, fetchBody('f-old', 0, 0n))).responses[0].partitions[0];
      const { messages } = readMessageSet(p.records);
      assert.deepEqual(messages.map((m) => [m.magic, m.offset, String(m.value)]), [[magic, 0n, 'a'], [magic, 1n, 'b']]);
    }
    // A topic that turns conversion off answers old fetchers UNSUPPORTED_VERSION, with or without data; v4+ read it.
    await createTopic('f-no-conversion', 1, [{ name: 'message.downconversion.enable', value: 'false' }]);
    await produce('f-no-conversion', 0, batch(['a']));
    for (const v of [0, 3]) {
      const p = (await client.send(ApiKey.Fetch, v, fetchBody('f-no-conversion', 0, 0n))).responses[0].partitions[0];
      assert.deepEqual([p.errorCode, p.highWatermark, p.records.length], [ErrorCode.UNSUPPORTED_VERSION, -1n, 0], `v${v}`);
    }
    assert.equal((await client.send(ApiKey.Fetch, 3, fetchBody('f-no-conversion', 0, 1n))).responses[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.equal((await client.send(ApiKey.Fetch, 4, fetchBody('f-no-conversion', 0, 0n))).responses[0].partitions[0].highWatermark, 1n);
    // As in Kafka, the topic's compression.type decides, not what its batches hold.
    await createTopic('f-zstd', 1, [{ name: 'compression.type', value: 'zstd' }]);
    assert.equal((await client.send(ApiKey.Fetch, 9, fetchBody('f-zstd', 0, 0n))).responses[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'even while empty');
    assert.equal((await client.send(ApiKey.Fetch, 9, fetchBody('f-zstd', 0, 5n))).responses[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'rather than OFFSET_OUT_OF_RANGE');
    const t0 = Date.now();
    await client.send(ApiKey.Fetch, 9, { ...fetchBody('f-zstd', 0, 0n), maxWaitMs: 300 });
    assert.ok(Date.now() - t0 >= 290, 'the long poll still waits');
    await produce('f-zstd', 0, batch(['z'], { compression: CompressionCodec.Zstd }));
    assert.equal((await client.send(ApiKey.Fetch, 9, fetchBody('f-zstd', 0, 0n))).responses[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    assert.equal((await client.send(ApiKey.Fetch, 10, fetchBody('f-zstd', 0, 0n))).responses[0].partitions[0].errorCode, 0);
    await createTopic('f-zstd-producer');
    await produce('f-zstd-producer', 0, batch(['z'], { compression: CompressionCodec.Zstd }));
    assert.equal((await client.send(ApiKey.Fetch, 9, fetchBody('f-zstd-producer', 0, 0n))).responses[0].partitions[0].errorCode, 0);
  });
});

describe('ListOffsets', () => {
  test('earliest, latest, by timestamp (exact record), max timestamp, latest tiered, and version gates', async () => {
    await createTopic('lo');
    await produce('lo', 0, batch(['a', 'b', 'c'], { timestamp: 1000 })); // 1000, 1001, 1002
    await produce('lo', 0, batch(['d'], { timestamp: 5000 }));
    await produce('lo', 0, batch(['e'], { timestamp: 3000 }));
    const ask = async (timestamp: bigint, v = 9) => {
      const r = await client.send(ApiKey.ListOffsets, v, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }] });
      return r.topics[0].partitions[0];
    };
    assert.equal((await ask(-2n)).offset, 0n);
    assert.equal((await ask(-1n)).offset, 5n);
    assert.deepEqual([(await ask(1001n)).offset, (await ask(1001n)).timestamp], [1n, 1001n]);
    assert.deepEqual([(await ask(1003n)).offset, (await ask(1003n)).timestamp], [3n, 5000n]);
    assert.equal((await ask(9999n)).offset, -1n);
    const max = await ask(-3n);
    assert.deepEqual([max.offset, max.timestamp], [3n, 5000n]);
    assert.deepEqual([(await ask(-5n)).offset, (await ask(-5n)).errorCode], [-1n, 0]);
    assert.equal((await ask(-3n, 6)).errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.equal((await ask(-7n)).errorCode, ErrorCode.UNSUPPORTED_VERSION);
    const v0 = await client.send(ApiKey.ListOffsets, 0, { replicaId: -1, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, timestamp: -1n, maxNumOffsets: 1 }] }] });
    assert.deepEqual(v0.topics[0].partitions[0].oldStyleOffsets, [5n]);
    // Kafka's order: the timestamp against the version before the partition and its epoch; only -1 skips the epoch check.
    const gate = await client.send(ApiKey.ListOffsets, 6, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo-missing', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -3n }] }] });
    assert.equal(gate.topics[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_VERSION);
    const fenced = await client.send(ApiKey.ListOffsets, 9, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -2, timestamp: -1n }] }] });
    assert.equal(fenced.topics[0].partitions[0].errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  });

  test('version 0 keeps its legacy meaning: segment base offsets by modification time, newest first, up to maxNumOffsets', async () => {
    await createTopic('lo-v0', 1, [{ name: 'segment.bytes', value: '100' }]); // one batch a segment
    await produce('lo-v0', 0, batch(['a']));
    await produce('lo-v0', 0, batch(['b']));
    await new Promise((r) => setTimeout(r, 30));
    const between = BigInt(Date.now());
    await new Promise((r) => setTimeout(r, 30));
    await produce('lo-v0', 0, batch(['c']));
    assert.deepEqual(broker.broker.topics.get('lo-v0')!.partitions[0]!.segmentTimes().map((s) => s.baseOffset), [0n, 1n, 2n]);
    const ask = async (timestamp: bigint, maxNumOffsets: number) => {
      const r = await client.send(ApiKey.ListOffsets, 0, { replicaId: -1, topics: [{ name: 'lo-v0', partitions: [{ partitionIndex: 0, timestamp, maxNumOffsets }] }] });
      const p = r.topics[0].partitions[0];
      return p.errorCode === 0 ? p.oldStyleOffsets : p.errorCode;
    };
    assert.deepEqual(await ask(-1n, 10), [3n, 2n, 1n, 0n], 'the log end, then every segment');
    assert.deepEqual(await ask(-1n, 2), [3n, 2n]);
    assert.deepEqual(await ask(-2n, 10), [0n]);
    assert.deepEqual(await ask(between, 10), [1n, 0n], 'segments last written before the time');
    assert.deepEqual(await ask(0n, 10), []);
    assert.deepEqual(await ask(-1n, 0), []);
    assert.equal(await ask(-1n, -1), ErrorCode.UNKNOWN_SERVER_ERROR);
    assert.equal(await ask(-3n, 1), ErrorCode.UNSUPPORTED_VERSION);
  });

  test('ReplicaId other than -1 (debug tools) sees the whole log, whatever the isolation level', async () => {
    await createTopic('lo-replica');
    await produce('lo-replica', 0, batch(['plain']));
    await openTransaction('lo-replica');
    const latest = async (replicaId: number) => (await client.send(ApiKey.ListOffsets, 9, { replicaId, isolationLevel: 1, topics: [{ name: 'lo-replica', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] })).topics[0].partitions[0].offset;
    assert.equal(await latest(-1), 1n, 'read_committed: the last stable offset');
    assert.equal(await latest(-2), 2n, 'a debug tool: the log end');
  });

  test('by timestamp after DeleteRecords: records below the log start are passed over, also inside a batch (both engines)', async () => {
    for (const storage of ['memory', 'disk'] as const) {
      const dir = tempDir();
      const b = await startBroker({ port: 0, storage, dataDir: dir.path });
      const c = await RawClient.connect(b.port);
      try {
        const created = await c.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'lo-cut', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
        assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
        for (const [values, timestamp] of [[['a', 'b', 'c'], 1000], [['d'], 4000], [['e'], 5000]] as const) {
          const r = await c.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'lo-cut', partitionData: [{ index: 0, records: batch([...values], { timestamp }) }] }] });
          assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
        }
        // Offsets 0-2 at 1000, 1001, 1002; 3 at 4000; 4 at 5000.
        const ask = async (timestamp: bigint) => {
          const r = await c.send(ApiKey.ListOffsets, 9, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo-cut', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }] });
          const p = r.topics[0].partitions[0];
          return [p.offset, p.timestamp];
        };
        const deleteBefore = async (offset: bigint) => {
          const r = await c.send(ApiKey.DeleteRecords, 2, { topics: [{ name: 'lo-cut', partitions: [{ partitionIndex: 0, offset }] }], timeoutMs: 5000 });
          assert.equal(r.topics[0].partitions[0].errorCode, ErrorCode.NONE);
        };
        await deleteBefore(1n);
        assert.deepEqual(await ask(0n), [1n, 1001n], storage);
        await deleteBefore(3n);
        assert.deepEqual(await ask(0n), [3n, 4000n], storage);
        assert.deepEqual(await ask(1001n), [3n, 4000n], storage);
        assert.deepEqual(await ask(4001n), [4n, 5000n], storage);
      } finally {
        c.close();
        await b.stop();
        dir.remove();
      }
    }
  });

  test('by timestamp: a batch whose header claims more than its records hold is passed, not searched again', async () => {
    await createTopic('lo-short');
    // Three records whose offset deltas read 0, 1, 1, so the last record is offset 1 while the header
    // says 2, and a max timestamp (5000) above every record's: the shape compaction leaves behind.
    const b = batch(['a', 'b', 'c'], { timestamp: 1000 });
    const varint = (pos: number): [number, number] => {
      let v = 0;
      let shift = 0;
      let byte: number;
      do {
        byte = b[pos++]!;
        v |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      return [(v >>> 1) ^ -(v & 1), pos];
    };
    let pos = 61; // the first record
    for (let i = 0; i < 2; i++) {
      const [length, body] = varint(pos);
      pos = body + length;
    }
    const [, attributes] = varint(pos); // the third record's length
    const [, offsetDelta] = varint(attributes + 1); // its timestamp delta
    assert.equal(b[offsetDelta], 0x04, 'zigzag(2)');
    b[offsetDelta] = 0x02; // offset delta 1 instead of 2
    b.writeBigInt64BE(5000n, 35);
    writeBatchCrc(b);
    // Kafka stores an uncompressed batch's offset deltas as sent.
    assert.equal((await produce('lo-short', 0, b)).errorCode, ErrorCode.NONE);
    const r = await Promise.race([
      client.send(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo-short', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 3000n }] }] }),
      new Promise<string>((r) => setTimeout(() => r('no answer after 5 s'), 5000)),
    ]);
    assert.notEqual(typeof r, 'string', String(r));
    assert.deepEqual([(r as any).topics[0].partitions[0].errorCode, (r as any).topics[0].partitions[0].offset], [0, -1n]);
  });

  test('a partition asked for twice is INVALID_REQUEST; unknown topics are UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const r = await client.send(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 0, topics: [
      { name: 'lo', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }, { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n }] },
      { name: 'lo-missing', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] },
    ] });
    assert.deepEqual(r.topics[0].partitions.map((p: any) => p.errorCode), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
    assert.equal(r.topics[1].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

test('writeBatchCrc keeps a rewritten batch valid (sanity for the corrupt-CRC case above)', () => {
  const b = batch(['x']);
  const crc = b.readUInt32BE(17);
  b[b.length - 1] ^= 0xff;
  assert.notEqual(writeBatchCrc(b), crc);
});

describe('OffsetCommit', () => {
  test('v2-v4 RetentionTimeMs: -1 keeps the broker\'s retention; any other value, Long.MAX included, is committed (Kafka adds it in long arithmetic)', async () => {
    await createTopic('oc-retention');
    const retentions = [-1n, 9_223_372_036_854_775_807n, -5n, 60_000n];
    for (const [i, retentionTimeMs] of retentions.entries()) {
      const r = await client.send(ApiKey.OffsetCommit, 2, {
        groupId: `oc-retention-${i}`, generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs,
        topics: [{ name: 'oc-retention', partitions: [{ partitionIndex: 0, committedOffset: 7n + BigInt(i), committedMetadata: '' }] }],
      });
      assert.equal(r.topics[0].partitions[0].errorCode, ErrorCode.NONE, `retention ${retentionTimeMs}`);
      const f = await client.send(ApiKey.OffsetFetch, 1, { groupId: `oc-retention-${i}`, topics: [{ name: 'oc-retention', partitionIndexes: [0] }] });
      assert.equal(f.topics[0].partitions[0].committedOffset, 7n + BigInt(i));
    }
  });
});

describe('Groups', () => {
  test('FindCoordinator messages as Kafka\'s: "NONE" on success before v4, empty from v4, the generic INVALID_REQUEST text for a key type it cannot take', async () => {
    const v3 = await client.send(ApiKey.FindCoordinator, 3, { key: 'fc-group', keyType: 0 });
    assert.deepEqual([v3.errorCode, v3.errorMessage, v3.nodeId], [ErrorCode.NONE, 'NONE', 1]);
    const bad = await client.send(ApiKey.FindCoordinator, 3, { key: 'fc-group', keyType: 5 });
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    assert.match(bad.errorMessage, /request being malformed by the client library/);
    const v4 = await client.send(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['fc-a', 'fc-b'] });
    assert.deepEqual(v4.coordinators.map((c: any) => [c.key, c.errorCode, c.errorMessage]), [['fc-a', 0, ''], ['fc-b', 0, '']]);
    const share = await client.send(ApiKey.FindCoordinator, 4, { keyType: 2, coordinatorKeys: ['fc-s'] });
    assert.deepEqual([share.coordinators[0].errorCode, share.coordinators[0].errorMessage], [ErrorCode.INVALID_REQUEST, '']);
  });

  test('a static member replaced by a new process keeps its first client id in DescribeGroups, as Kafka\'s MemberMetadata does', async () => {
    const join = (clientId: string) => client.send(ApiKey.JoinGroup, 5, {
      groupId: 'g-static-id', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: 'pod-0', protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    }, clientId);
    const first = await join('client-A');
    assert.equal(first.errorCode, ErrorCode.NONE);
    const sync = await client.send(ApiKey.SyncGroup, 3, { groupId: 'g-static-id', generationId: first.generationId, memberId: first.memberId, groupInstanceId: 'pod-0', assignments: [{ memberId: first.memberId, assignment: Buffer.alloc(0) }] }, 'client-A');
    assert.equal(sync.errorCode, ErrorCode.NONE);
    const second = await join('client-B');
    assert.equal(second.errorCode, ErrorCode.NONE);
    assert.notEqual(second.memberId, first.memberId);
    const d = (await client.send(ApiKey.DescribeGroups, 4, { groups: ['g-static-id'], includeAuthorizedOperations: false })).groups[0];
    assert.deepEqual(d.members.map((m: any) => [m.memberId, m.groupInstanceId, m.clientId]), [[second.memberId, 'pod-0', 'client-A']]);
  });

  test('OffsetDelete naming only unknown partitions leaves an empty group alone', async () => {
    const joined = await client.send(ApiKey.JoinGroup, 5, {
      groupId: 'g-od', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: 'od-0', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    });
    await client.send(ApiKey.LeaveGroup, 3, { groupId: 'g-od', members: [{ memberId: joined.memberId, groupInstanceId: 'od-0' }] });
    const r = await client.send(ApiKey.OffsetDelete, 0, { groupId: 'g-od', topics: [{ name: 'od-nosuch', partitions: [{ partitionIndex: 0 }] }] });
    assert.deepEqual([r.errorCode, r.topics[0].partitions[0].errorCode], [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const d = (await client.send(ApiKey.DescribeGroups, 4, { groups: ['g-od'], includeAuthorizedOperations: false })).groups[0];
    assert.equal(d.groupState, 'Empty', 'still there');
  });
});
