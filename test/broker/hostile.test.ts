/**
 * Bad input never takes the broker down: garbage, oversized size prefixes, half-sent frames and
 * thousands of idle connections each cost at most their own connection, while a normal client
 * keeps producing and consuming throughout.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';

const { Kafka, logLevel } = kafkajs;
let broker: RunningBroker;

before(async () => {
  broker = await startBroker({ port: 0, config: { 'socket.request.max.bytes': 1024 * 1024 }, logger: 'silent' }); // malformed input is its point: no warnings in the test output
});
after(() => broker.stop());

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port: broker.port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
    s.on('error', () => {}); // resets from the broker are expected here
  });
}

function closedWithin(s: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.resume();
  });
}

/** A normal client doing a full round trip: metadata, produce, fetch back. */
async function normalRoundTrip(topic: string, n: number): Promise<void> {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const producer = kafka.producer();
  await producer.connect();
  const sent = await producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ value: `m${i}` })) });
  await producer.disconnect();
  assert.equal(sent[0].errorCode, 0);
  const c = await RawClient.connect(broker.port);
  const id = broker.broker.topics.get(topic)!.id;
  const f = await c.send(ApiKey.Fetch, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
    topics: [{ topic, topicId: id, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
  c.close();
  assert.equal(f.responses[0].partitions[0].errorCode, ErrorCode.NONE);
  assert.ok(f.responses[0].partitions[0].highWatermark >= BigInt(n));
}

test('random garbage closes only that connection', async () => {
  for (let i = 0; i < 50; i++) {
    const s = await open();
    const junk = randomBytes(4 + (i * 97) % 300);
    junk.writeInt32BE(Math.min(junk.length - 4, 8), 0); // small plausible sizes make the decoder work too
    s.write(i % 2 === 0 ? junk : randomBytes(64));
    s.end();
    await closedWithin(s, 2000);
  }
  // An empty frame, then another: no request header at all.
  const zero = await open();
  zero.write(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(await closedWithin(zero, 2000), true);
  await normalRoundTrip('hostile-garbage', 10);
});

test('an oversized length prefix is refused before any allocation and the connection closed', async () => {
  const s = await open();
  const before = process.memoryUsage().arrayBuffers;
  s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 1, 2, 3]));
  assert.equal(await closedWithin(s, 2000), true);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no large buffer was allocated');
  const neg = await open();
  neg.write(Buffer.from([0xff, 0xff, 0xff, 0xfe]));
  assert.equal(await closedWithin(neg, 2000), true);
});

test('half-sent frames and thousands of idle connections do not block a normal client', async () => {
  const idle: Socket[] = [];
  try {
    for (let i = 0; i < 2000; i++) idle.push(await open());
    // Half of them start a frame and stop halfway.
    idle.forEach((s, i) => {
      if (i % 2 === 0) s.write(Buffer.concat([Buffer.from([0, 0, 0, 100]), randomBytes(40)]));
    });
    const started = Date.now();
    await normalRoundTrip('hostile-idle', 100);
    assert.ok(Date.now() - started < 10_000, 'the normal client was slowed down');
    assert.ok(idle.every((s) => !s.destroyed), 'idle connections are not closed early');
  } finally {
    for (const s of idle) s.destroy();
  }
});

test('a request after a malformed one on the same connection is never answered: the connection is gone', async () => {
  const c = await RawClient.connect(broker.port);
  c.writeRaw(Buffer.from([0, 0, 0, 6, 0, 99, 0, 0, 0, 1])); // api key 99 does not exist
  assert.equal(await c.waitClosed(2000), true);
  await assert.rejects(c.send(ApiKey.ApiVersions, 0, {}));
});
