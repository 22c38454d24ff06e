/**
 * The broker's log cleaner pacing, as Kafka's cleaner thread: it backs off log.cleaner.backoff.ms
 * only when it found nothing to clean. A cleaning round longer than one bounded call of the
 * storage's cleaner goes on at once, not a backoff later.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch, iterateBatches, readProducerId } from '../../protocol/records/index.js';
import { Broker, BrokerConfig, propertiesFrom, startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import { diskStorage } from '../storage/helpers.js';
import { fetchOnce, readPartition, READ_UNCOMMITTED } from '../transactions/support.js';

test('a cleaning round longer than one bounded call goes on without waiting for log.cleaner.backoff.ms', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  // Each call of the storage's cleaner reads about 2 KB; the timer would not tick during the test.
  const config = new BrokerConfig(propertiesFrom({ port: 0, dataDir: dir.path, config: { 'log.cleaner.backoff.ms': 3_600_000 } }));
  const broker = new Broker(config, undefined, diskStorage(dir.path, { cleanerBytesPerPass: 2_000 }));
  await broker.start();
  const client = await RawClient.connect(broker.advertised.port);
  try {
    await createCompacted(client, 'paced');
    // 200 batches of one record over 4 keys: about 20 KB in 20 segments.
    for (let i = 0; i < 200; i++) {
      const batch = buildRecordBatch({ baseOffset: 0n, records: [{ key: Buffer.from(`k${i % 4}`), value: Buffer.from(`v${i}-${'x'.repeat(50)}`), headers: [] }] });
      await produce(client, 'paced', batch);
    }
    const activeBase = (await broker.topics.get('paced')!.partitions[0]!.segmentTimes()).at(-1)!.baseOffset;
    assert.ok(activeBase > 150n, `several segments rolled (active segment at ${activeBase})`);

    await broker.compactLogs();
    const records = (await readPartition(client, 'paced', 0, READ_UNCOMMITTED)).records;
    const cleaned = records.filter((r) => BigInt(r.offset) < activeBase);
    assert.deepEqual(cleaned.map((r) => r.key).sort(), ['k0', 'k1', 'k2', 'k3'], 'one record per key is left below the active segment');
  } finally {
    client.close();
    await broker.stop();
    dir.remove();
  }
});

test('the cleaner drops the emptied batches of producers idle past producer.id.expiration.ms, the broker setting', { timeout: 60_000 }, async () => {
  for (const engine of ['disk', 'memory'] as const) {
    const dir = tempDir();
    // One hour: a producer last seen two hours ago has expired (under the default, a day, it has not).
    const b = await startBroker({ port: 0, storage: engine, ...(engine === 'disk' ? { dataDir: dir.path } : {}), logger: 'silent', config: { 'producer.id.expiration.ms': 3_600_000 } });
    const client = await RawClient.connect(b.port);
    try {
      await createCompacted(client, 'idle-producer');
      const twoHoursAgo = BigInt(Date.now() - 2 * 3_600_000);
      await produce(client, 'idle-producer', buildRecordBatch({ baseOffset: 0n, producerId: 77n, producerEpoch: 0, baseSequence: 0, records: [{ key: 'k', value: 'idempotent', timestamp: twoHoursAgo }] }));
      // Its record superseded, and enough after it to roll a few segments.
      for (let i = 0; i < 40; i++) await produce(client, 'idle-producer', buildRecordBatch({ baseOffset: 0n, records: [{ key: i % 2 === 0 ? 'k' : `f${i}`, value: `v${i}-${'x'.repeat(40)}` }] }));
      await b.broker.compactLogs();
      const left = (await readPartition(client, 'idle-producer', 0, READ_UNCOMMITTED)).records;
      assert.ok(left.length < 41, `${engine}: the cleaner ran (${left.length} records left)`);
      const batches = await batchesOf(client, 'idle-producer');
      assert.deepEqual(batches.filter((p) => p === 77n), [], `${engine}: no batch of producer 77 is kept, not even an empty one`);
    } finally {
      client.close();
      await b.stop();
      dir.remove();
    }
  }
});

/** The producer id of every batch of partition 0, from the log start. */
async function batchesOf(client: RawClient, topic: string): Promise<bigint[]> {
  const p = await fetchOnce(client, topic, 0, 0n, READ_UNCOMMITTED);
  return [...iterateBatches(p.records as Buffer)].map((x) => readProducerId(x.buf));
}

test('the cleaner looks for a log to clean as soon as the broker starts, as Kafka\'s cleaner thread does, not a backoff later', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const options = { port: 0, dataDir: dir.path, logger: 'silent', config: { 'log.cleaner.backoff.ms': 3_600_000 } } as const;
  let b = await startBroker(options);
  let client = await RawClient.connect(b.port);
  try {
    await createCompacted(client, 'due');
    for (let i = 0; i < 60; i++) {
      const batch = buildRecordBatch({ baseOffset: 0n, records: [{ key: `k${i % 3}`, value: `v${i}-${'x'.repeat(40)}` }] });
      await produce(client, 'due', batch);
    }
    // The first pass ran at the first start, before these records: nothing was cleaned since.
    assert.equal((await readPartition(client, 'due', 0, READ_UNCOMMITTED)).records.length, 60);
    client.close();
    await b.stop();

    b = await startBroker(options);
    client = await RawClient.connect(b.port);
    const activeBase = (await b.broker.topics.get('due')!.partitions[0]!.segmentTimes()).at(-1)!.baseOffset;
    let below = 60;
    for (let waited = 0; waited < 10_000 && below > 3; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      below = (await readPartition(client, 'due', 0, READ_UNCOMMITTED)).records.filter((r) => BigInt(r.offset) < activeBase).length;
    }
    assert.ok(below <= 3, `cleaned without waiting log.cleaner.backoff.ms (${below} records left below the active segment)`);
  } finally {
    client.close();
    await b.stop();
    dir.remove();
  }
});

/** A one-partition compacted topic whose segments roll every kilobyte or so. */
async function createCompacted(client: RawClient, name: string): Promise<void> {
  const created = await client.send(ApiKey.CreateTopics, 5, {
    timeoutMs: 5000, validateOnly: false,
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: '1000' }] }],
  });
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE, created.topics[0].errorMessage);
}

async function produce(client: RawClient, topic: string, batch: Buffer): Promise<void> {
  const r = await client.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] });
  assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
}
