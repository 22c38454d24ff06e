/**
 * Idempotent producers. At the protocol level (RawClient): a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER,
 * a stale epoch INVALID_PRODUCER_EPOCH, a resend of one of the last five batches succeeds with its
 * original base offset and appends nothing, an older one is out of order, and a new epoch must start
 * at sequence 0. With real clients behind a proxy that hangs up instead of delivering ~5% of the
 * responses: librdkafka (confluent-kafka-python) and kafkajs retry what they never heard back about,
 * and the log still holds every message exactly once, in order, at the offsets the clients were told.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { PYTHON, run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import {
  LossyProxy, TXN_PY, createTopics, errorName, initProducer, producerBatch, produceBatch, readPartition,
} from './support.js';

const { Kafka, logLevel } = kafkajs;

let broker: RunningBroker;
let proxy: LossyProxy;
let client: RawClient;

before(async () => {
  proxy = await LossyProxy.start(0, 20240607);
  // Clients only ever learn the proxy's address: every connection goes through it.
  broker = await startBroker({ port: 0, advertisedListener: `PLAINTEXT://127.0.0.1:${proxy.port}`, logger: process.env.TXN_TEST_LOG });
  proxy.target = { host: '127.0.0.1', port: broker.broker.bound.port }; // broker.port is the advertised (proxy) port
  client = await RawClient.connect(broker.broker.bound.port); // the test's own reads bypass the proxy
});
after(async () => {
  client.close();
  await proxy.close();
  await broker.stop();
});

test('sequence rules: gap, stale epoch, duplicates of the last five batches, new epoch from 0', async () => {
  const topic = 'idem-raw';
  await createTopics(client, [{ name: topic, partitions: 1 }]);
  const p = await initProducer(client, null);
  assert.equal(p.epoch, 0, 'an idempotent producer starts at epoch 0');
  const send = (epoch: number, baseSequence: number, values: string[]) => produceBatch(client, topic, 0, producerBatch({ producerId: p.producerId, epoch, baseSequence, values }));
  const expectError = async (epoch: number, seq: number, values: string[], code: number, what: string) => {
    const r = await send(epoch, seq, values);
    assert.equal(r.errorCode, code, `${what}: got ${errorName(r.errorCode)}, want ${errorName(code)}`);
  };

  // Batches of 2 records: sequences 0-1, 2-3, ..., 12-13 at offsets 0..13.
  const bases: bigint[] = [];
  for (let b = 0; b < 7; b++) {
    const r = await send(0, 2 * b, [`v${2 * b}`, `v${2 * b + 1}`]);
    assert.equal(r.errorCode, ErrorCode.NONE, errorName(r.errorCode));
    bases.push(r.baseOffset);
  }
  assert.deepEqual(bases, [0n, 2n, 4n, 6n, 8n, 10n, 12n]);

  await expectError(0, 15, ['gap'], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'sequence 15 after 13');
  await expectError(0, 13, ['overlap'], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'sequence 13 again, as a new batch');

  // Each of the last five batches (sequences 4-5 .. 12-13) comes back with its original first offset.
  for (let b = 2; b < 7; b++) {
    const r = await send(0, 2 * b, [`v${2 * b}`, `v${2 * b + 1}`]);
    assert.equal(r.errorCode, ErrorCode.NONE, `resend of batch ${b}: ${errorName(r.errorCode)}`);
    assert.equal(r.baseOffset, bases[b], `resend of batch ${b} answers its original base offset`);
  }
  // The sixth-last batch is no longer remembered: it is out of order, not a duplicate.
  await expectError(0, 2, ['v2', 'v3'], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'resend of a batch older than the last five');
  // Same first sequence, different length: not the same batch.
  await expectError(0, 12, ['v12'], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a batch overlapping the last one');

  let log = await readPartition(client, topic, 0);
  assert.equal(log.highWatermark, 14n, 'nothing was appended by the rejected batches or the duplicates');
  assert.deepEqual(log.records.map((r) => r.value), Array.from({ length: 14 }, (_, i) => `v${i}`));

  // A new epoch must start at sequence 0; once it has, the old epoch is stale.
  await expectError(1, 14, ['e1'], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'epoch 1 continuing the sequence of epoch 0');
  const e1 = await send(1, 0, ['e1-0', 'e1-1']);
  assert.equal(e1.errorCode, ErrorCode.NONE, errorName(e1.errorCode));
  assert.equal(e1.baseOffset, 14n);
  await expectError(0, 14, ['stale'], ErrorCode.INVALID_PRODUCER_EPOCH, 'epoch 0 after epoch 1');
  await expectError(0, 12, ['v12', 'v13'], ErrorCode.INVALID_PRODUCER_EPOCH, 'a duplicate of epoch 0 after epoch 1');
  const again = await send(1, 0, ['e1-0', 'e1-1']);
  assert.deepEqual([again.errorCode, again.baseOffset], [ErrorCode.NONE, 14n], 'the new epoch has its own duplicate detection');
  await expectError(1, 3, ['gap'], ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'gap in epoch 1');
  const next = await send(1, 2, ['e1-2']);
  assert.deepEqual([next.errorCode, next.baseOffset], [ErrorCode.NONE, 16n]);

  log = await readPartition(client, topic, 0);
  assert.equal(log.highWatermark, 17n);
  assert.deepEqual(log.records.slice(14).map((r) => [r.offset, r.value, r.epoch, r.baseSequence]), [[14, 'e1-0', 1, 0], [15, 'e1-1', 1, 0], [16, 'e1-2', 1, 2]]);
});

/** Checks the log of a partition holds exactly `values`, in order, at the offsets the client reported. */
async function assertExactlyOnce(topic: string, partition: number, values: string[], reportedOffsets: number[]): Promise<void> {
  const log = await readPartition(client, topic, partition);
  const got = log.records.map((r) => r.value);
  const dup = got.length - new Set(got).size;
  assert.equal(dup, 0, `${topic}-${partition}: ${dup} duplicated messages`);
  assert.equal(got.length, values.length, `${topic}-${partition}: ${got.length} messages in the log, ${values.length} sent`);
  assert.deepEqual(got, values, `${topic}-${partition}: the log is not the messages sent, in order`);
  assert.deepEqual(log.records.map((r) => r.offset), reportedOffsets, `${topic}-${partition}: the offsets reported to the producer are where the messages are`);
  assert.ok(log.records.every((r) => r.producerId >= 0n), 'every batch carries the producer id');
}

test('librdkafka idempotent producer, 5% of responses lost: every message once, in order', { timeout: 90_000 }, async () => {
  const topic = 'idem-ck';
  const count = 20_000;
  await createTopics(client, [{ name: topic, partitions: 3 }]);
  proxy.dropRate = 0.05;
  const before = { responses: proxy.responses, drops: proxy.drops, produce: proxy.dropsByApi.get(ApiKey.Produce) ?? 0 };
  const started = Date.now();
  const r = await run(PYTHON, [join(TXN_PY, 'ck_produce.py'), JSON.stringify({
    topic, count, partitions: 3,
    conf: {
      'bootstrap.servers': `127.0.0.1:${proxy.port}`, 'batch.num.messages': 40, 'linger.ms': 2, 'acks': 'all',
      'retry.backoff.ms': 10, 'reconnect.backoff.ms': 10, 'reconnect.backoff.max.ms': 100, 'message.timeout.ms': 60000,
    },
  })], { timeoutMs: 80_000 });
  proxy.dropRate = 0;
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const out = JSON.parse(r.stdout) as { delivered: number; undelivered: number; errors: [number, string][]; offsets: number[] };
  const drops = proxy.drops - before.drops;
  const produceDrops = (proxy.dropsByApi.get(ApiKey.Produce) ?? 0) - before.produce;
  console.log(`# librdkafka: ${count} messages, ${proxy.responses - before.responses} responses, ${drops} lost (${produceDrops} Produce), ${Date.now() - started} ms`);
  assert.deepEqual(out.errors, [], 'no delivery errors');
  assert.equal(out.delivered, count);
  assert.ok(produceDrops >= 5, `only ${produceDrops} Produce responses were lost: the test did not test retries`);
  for (let p = 0; p < 3; p++) {
    const mine = Array.from({ length: count }, (_, i) => i).filter((i) => i % 3 === p);
    await assertExactlyOnce(topic, p, mine.map(String), mine.map((i) => out.offsets[i]));
  }
});

test('kafkajs idempotent producer, 5% of responses lost: every message once, in order', { timeout: 90_000 }, async () => {
  const topic = 'idem-kjs';
  await createTopics(client, [{ name: topic, partitions: 3 }]);
  const kafka = new Kafka({ brokers: [`127.0.0.1:${proxy.port}`], clientId: 'idem-kjs', logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 20, maxRetryTime: 200 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  proxy.dropRate = 0.05;
  const before = { responses: proxy.responses, drops: proxy.drops, produce: proxy.dropsByApi.get(ApiKey.Produce) ?? 0 };
  const started = Date.now();
  const sent: string[][] = [[], [], []];
  const offsets: number[][] = [[], [], []];
  let n = 0;
  try {
    for (let s = 0; s < 300; s++) {
      const messages = Array.from({ length: 15 }, () => {
        const i = n++;
        return { value: `k${i}`, partition: i % 3 };
      });
      const result = await producer.send({ topic, acks: -1, messages });
      for (const pr of result) {
        const mine = messages.filter((m) => m.partition === pr.partition);
        assert.equal(pr.errorCode, 0);
        mine.forEach((m, i) => {
          sent[pr.partition].push(m.value);
          offsets[pr.partition].push(Number(pr.baseOffset) + i);
        });
      }
    }
  } finally {
    proxy.dropRate = 0;
    await producer.disconnect();
  }
  const drops = proxy.drops - before.drops;
  const produceDrops = (proxy.dropsByApi.get(ApiKey.Produce) ?? 0) - before.produce;
  console.log(`# kafkajs: ${n} messages, ${proxy.responses - before.responses} responses, ${drops} lost (${produceDrops} Produce), ${Date.now() - started} ms`);
  assert.ok(produceDrops >= 5, `only ${produceDrops} Produce responses were lost: the test did not test retries`);
  for (let p = 0; p < 3; p++) await assertExactlyOnce(topic, p, sent[p], offsets[p]);
});
