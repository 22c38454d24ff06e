/**
 * Several client listeners, as a Docker setup names them (PLAINTEXT for other containers,
 * PLAINTEXT_HOST for the host): each is served, each client is told the address of the listener
 * it came in on (Metadata, FindCoordinator, DescribeCluster), and the connection limits count them
 * together, as Kafka's broker-wide ones do.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { BrokerConfig, startBroker } from '../../src/index.js';
import { kafka, waitFor } from '../support/kafkajs.js';
import { run, startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const DOCKER_STYLE = {
  'listeners': 'PLAINTEXT://127.0.0.1:0,PLAINTEXT_HOST://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
  // Other containers reach the broker by its container name, which does not resolve here.
  'advertised.listeners': 'PLAINTEXT://kafka:29092',
  'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT',
  'controller.listener.names': 'CONTROLLER',
  'inter.broker.listener.name': 'PLAINTEXT',
};

/** What a client on `port` is told about the broker: by Metadata, FindCoordinator (v3 and v4) and DescribeCluster. */
async function toldOn(port: number): Promise<string[]> {
  const c = await RawClient.connect(port);
  try {
    const m = await c.send(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const f3 = await c.send(ApiKey.FindCoordinator, 3, { key: 'g', keyType: 0 });
    const f4 = await c.send(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g'] });
    const d = await c.send(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
    assert.equal(f3.errorCode, 0);
    assert.equal(f4.coordinators[0].errorCode, 0);
    return [m.brokers[0], f3, f4.coordinators[0], d.brokers[0]].map((b: { host: string; port: number }) => `${b.host}:${b.port}`);
  } finally {
    c.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

test('a Docker-style pair of listeners: each client is told its own listener\'s address; kafkajs and kcat work through the host one', { timeout: 60_000 }, async () => {
  const b = await startBroker({ config: DOCKER_STYLE, logger: 'silent' });
  try {
    const [internal, host] = b.broker.listening;
    assert.deepEqual(b.broker.listening.map((l) => l.name), ['PLAINTEXT', 'PLAINTEXT_HOST'], 'the controller listener is not served');
    assert.notEqual(internal!.bound.port, host!.bound.port);
    assert.deepEqual(await toldOn(internal!.bound.port), Array(4).fill('kafka:29092'));
    const hostAddress = `127.0.0.1:${host!.bound.port}`;
    assert.deepEqual(await toldOn(host!.bound.port), Array(4).fill(hostAddress));
    assert.equal(b.bootstrap, 'kafka:29092', 'the embedded bootstrap is the first listener\'s');

    // A whole client session through the second listener: produce, then a group consumes it back.
    const k = kafka(hostAddress);
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'two-listeners', numPartitions: 2 }] });
    await admin.disconnect();
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic: 'two-listeners', messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await producer.disconnect();
    const consumer = k.consumer({ groupId: 'two-listeners-group', maxWaitTimeInMs: 100 });
    const got: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'two-listeners', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
    await waitFor(() => got.length >= 20, 30_000, 'every message consumed through the second listener');
    await consumer.disconnect();
    assert.deepEqual(got.sort(), Array.from({ length: 20 }, (_, i) => `v${i}`).sort());

    const listed = await run('kcat', ['-L', '-b', hostAddress, '-t', 'two-listeners'], { timeoutMs: 20_000 });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`broker 1 at 127\\.0\\.0\\.1:${host!.bound.port}`));
  } finally {
    await b.stop();
  }
});

test('max.connections counts the connections of every listener together, as Kafka\'s broker-wide limit', { timeout: 30_000 }, async () => {
  const b = await startBroker({ config: { ...DOCKER_STYLE, 'max.connections': 1 }, logger: 'silent' });
  try {
    const [first, second] = b.broker.listening;
    const a = await RawClient.connect(first!.bound.port);
    await a.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
    const c = await RawClient.connect(second!.bound.port);
    const answered = c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
    let done = false;
    void answered.then(() => (done = true), () => undefined);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(done, false, 'the second listener\'s connection waits for a slot');
    a.close();
    assert.equal((await answered).errorCode, 0, 'and is served once the first closes');
    c.close();
  } finally {
    await b.stop();
  }
});

test('listeners on one port are refused as Kafka refuses them; a second listener that cannot bind gives the first one\'s port back', { timeout: 30_000 }, async () => {
  assert.throws(
    () => new BrokerConfig({ listeners: 'PLAINTEXT://127.0.0.1:19093,PLAINTEXT_HOST://localhost:19093', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT' }),
    /Each listener must have a different port unless exactly one listener has an IPv4 address and the other IPv6 address, listeners: .*, port: 19093/,
  );
  // One IPv4 and one IPv6 address may share a port.
  assert.equal(new BrokerConfig({ listeners: 'PLAINTEXT://127.0.0.1:19093,PLAINTEXT_HOST://[::1]:19093', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT' }).listeners.length, 2);

  const firstPort = await freePort();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const busyPort = (busy.address() as AddressInfo).port;
  try {
    await assert.rejects(
      startBroker({ config: { ...DOCKER_STYLE, listeners: `PLAINTEXT://127.0.0.1:${firstPort},PLAINTEXT_HOST://127.0.0.1:${busyPort}` }, logger: 'silent' }),
      { code: 'EADDRINUSE' },
    );
    // The first listener's port is free again: a broker can start on it.
    const again = await startBroker({ port: firstPort, logger: 'silent' });
    assert.equal(again.port, firstPort);
    await again.stop();
  } finally {
    busy.close();
  }
});

test('the start-up line names every listener with the address its clients are given', { timeout: 30_000 }, async () => {
  const args = Object.entries(DOCKER_STYLE).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const b = await startBrokerProcess(['--storage', 'memory', ...args]);
  try {
    const line = JSON.parse(b.logs.find((l) => l.includes('"listening"'))!) as { listening: string; listeners: string[]; msg: string };
    assert.equal(line.listening, `127.0.0.1:${b.port}`);
    assert.equal(line.listeners.length, 2);
    assert.equal(line.listeners[0], `127.0.0.1:${b.port} (PLAINTEXT, advertised as kafka:29092)`);
    assert.match(line.listeners[1]!, /^127\.0\.0\.1:(\d+) \(PLAINTEXT_HOST, advertised as 127\.0\.0\.1:\1\)$/);
    assert.match(line.msg, / listening on 127\.0\.0\.1:\d+ \(PLAINTEXT, .*\) and 127\.0\.0\.1:\d+ \(PLAINTEXT_HOST, .*\)$/);
    assert.ok(!b.logs.some((l) => l.includes('serves only the first')));
  } finally {
    await b.stop();
  }
  // --advertised-listener host:port gives the first listener's address; the config file's others stay.
  const dir = tempDir();
  const file = join(dir.path, 'server.properties');
  writeFileSync(file, Object.entries({ ...DOCKER_STYLE, 'advertised.listeners': 'PLAINTEXT://kafka:29092,PLAINTEXT_HOST://host.example:9092' }).map(([k, v]) => `${k}=${v}`).join('\n'));
  const c = await startBrokerProcess(['--storage', 'memory', '-c', file, '--advertised-listener', 'broker.example:4321']);
  try {
    const line = JSON.parse(c.logs.find((l) => l.includes('"listening"'))!) as { listeners: string[] };
    assert.deepEqual(line.listeners.map((l) => l.replace(/^\S+ /, '')), ['(PLAINTEXT, advertised as broker.example:4321)', '(PLAINTEXT_HOST, advertised as host.example:9092)']);
  } finally {
    dir.remove();
    await c.stop();
  }
});
