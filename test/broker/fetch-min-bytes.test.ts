/**
 * A long poll ends once MinBytes are readable, counted as Kafka counts them: MinBytes never above
 * MaxBytes, a batch cut by the size limit counted up to the limit, and the log's cache blocks no
 * limit at all. Before, whole batches alone counted (and a cache read stopped at a block's end), so
 * a consumer asking for about as much as its limits allow waited MaxWaitMs on every fetch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch } from '../../protocol/records/index.js';
import { startBroker } from '../../src/index.js';
import { kafka } from '../support/kafkajs.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const WAIT_MS = 3000;

for (const storage of ['memory', 'disk'] as const) {
  test(`${storage}: a fetch whose MinBytes the available bytes reach is answered at once, whole batches or not${storage === 'disk' ? ' (read from the file)' : ''}`, async () => {
    const dir = tempDir();
    const options = { port: 0, logger: 'silent', ...(storage === 'disk' ? { dataDir: dir.path } : {}) };
    let broker = await startBroker(options);
    let c = await RawClient.connect(broker.port);
    try {
      await c.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'mb', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      const batch = () => buildRecordBatch({ records: [{ value: Buffer.alloc(540, 97) }] });
      const size = batch().length;
      for (let i = 0; i < 5; i++) {
        const r = await c.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'mb', partitionData: [{ index: 0, records: batch() }] }] });
        assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
      }
      if (storage === 'disk') {
        // Restarted, the broker reads the batches from the segment file, not from its cache.
        c.close();
        await broker.stop();
        broker = await startBroker(options);
        c = await RawClient.connect(broker.port);
      }
      const cases = [
        // The limits cut the second batch: Kafka counts its first bytes too.
        { minBytes: size + 100, maxBytes: size + 100, partitionMaxBytes: 1 << 20, expect: size },
        { minBytes: size + 100, maxBytes: 1 << 20, partitionMaxBytes: size + 100, expect: size },
        // MinBytes above MaxBytes asks for MaxBytes.
        { minBytes: 10 * size, maxBytes: 2 * size, partitionMaxBytes: 1 << 20, expect: 2 * size },
        { minBytes: 10 * size, maxBytes: size + 100, partitionMaxBytes: 1 << 20, expect: size },
      ];
      for (const k of cases) {
        const started = Date.now();
        const r = await c.send(ApiKey.Fetch, 11, {
          replicaId: -1, maxWaitMs: WAIT_MS, minBytes: k.minBytes, maxBytes: k.maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
          topics: [{ topic: 'mb', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: k.partitionMaxBytes }] }],
        });
        const waited = Date.now() - started;
        assert.equal(r.responses[0].partitions[0].records.length, k.expect, JSON.stringify(k));
        assert.ok(waited < WAIT_MS / 2, `${JSON.stringify(k)}: answered after ${waited} ms`);
      }
      // Fewer bytes than MinBytes after the fetch offset: the poll still waits.
      const started = Date.now();
      await c.send(ApiKey.Fetch, 11, {
        replicaId: -1, maxWaitMs: 500, minBytes: 2 * size, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
        topics: [{ topic: 'mb', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 4n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      });
      assert.ok(Date.now() - started >= 450, 'one batch is less than MinBytes');
    } finally {
      c.close();
      await broker.stop();
      dir.remove();
    }
  });
}

test('kafkajs with minBytes as large as its partition limit reads a backlog without waiting maxWaitTimeInMs per fetch', { timeout: 60_000 }, async () => {
  const broker = await startBroker({ port: 0, logger: 'silent' });
  const client = kafka(broker.bootstrap, 'min-bytes');
  const producer = client.producer();
  const consumer = client.consumer({ groupId: 'min-bytes', minBytes: 1 << 20, maxBytes: 10 << 20, maxBytesPerPartition: 1 << 20, maxWaitTimeInMs: WAIT_MS });
  try {
    await producer.connect();
    // ~4 MB over the log cache's growing blocks (64 KiB, 128 KiB, … 1 MiB).
    const value = Buffer.alloc(1000, 120);
    for (let i = 0; i < 64; i++) await producer.send({ topic: 'backlog', messages: Array.from({ length: 64 }, () => ({ value })) });
    await consumer.connect();
    await consumer.subscribe({ topic: 'backlog', fromBeginning: true });
    let read = 0;
    const started = Date.now();
    const most = new Promise<number>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          read += batch.messages.length;
          if (read >= 3000) resolve(Date.now() - started);
        },
      });
    });
    // Each of the first fetches waited WAIT_MS before; only the last, short of MinBytes, may now.
    const took = await most;
    assert.ok(took < WAIT_MS, `3,000 of 4,096 backlog messages took ${took} ms`);
  } finally {
    await producer.disconnect();
    await consumer.disconnect();
    await broker.stop();
  }
});
