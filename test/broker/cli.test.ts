/**
 * The `samsa` command and embedding, as a user meets them: Kafka's own server.properties, listeners
 * Samsa cannot serve, flags given oddly, signals, and start-up refusals that are not bugs.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { Broker, BrokerConfig, parseProperties, startBroker } from '../../src/index.js';
import { likelyBrokerConfig } from '../../src/cluster/broker-configs.js';
import { CLI, run, startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

/** Kafka 3.9's config/kraft/server.properties, the parts about listeners. */
const KAFKA_STOCK_PROPERTIES = `
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
`;

const started = (logs: string[]) => JSON.parse(logs.find((l) => l.includes('"listening"'))!) as { listening: string; advertised: string };

async function metadataBroker(port: number): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    const m = await c.send(ApiKey.Metadata, 9, { topics: [], allowAutoTopicCreation: false });
    return `${m.brokers[0].host}:${m.brokers[0].port}`;
  } finally {
    c.close();
  }
}

test('Kafka\'s stock server.properties: clients get the PLAINTEXT listener, and --port moves its advertised port too', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'server.properties');
    writeFileSync(file, KAFKA_STOCK_PROPERTIES);
    const b = await startBrokerProcess(['-c', file, '--storage', 'memory', '--port', '0', '--host', '127.0.0.1', '--set', 'num.partition=3']);
    try {
      assert.equal(started(b.logs).listening, `127.0.0.1:${b.port}`);
      assert.equal(await metadataBroker(b.port), `localhost:${b.port}`, 'not localhost:9092');
      // Names it does not know are named once, at warn level: a KRaft setting with no meaning here, and a typo.
      const unknown = b.logs.map((l) => JSON.parse(l) as { level: number; settings?: string[]; msg: string }).filter((l) => l.settings !== undefined);
      assert.deepEqual(unknown.map((l) => [l.level, l.settings]), [[40, ['controller.quorum.voters', 'num.partition']]]);
      // The typo is named with the setting it probably meant; a name far from every known one is not.
      assert.match(unknown[0]!.msg, /controller\.quorum\.voters, num\.partition \(did you mean num\.partitions\?\)$/);
    } finally {
      await b.stop();
    }
    // The controller listener first, no flags: the PLAINTEXT one is bound, by name.
    writeFileSync(file, 'listeners=CONTROLLER://127.0.0.1:1,PLAINTEXT://127.0.0.1:0\ncontroller.listener.names=CONTROLLER\n');
    const c = await startBrokerProcess(['-c', file, '--storage', 'memory']);
    try {
      assert.notEqual(c.port, 1);
      assert.equal(await metadataBroker(c.port), `127.0.0.1:${c.port}`);
    } finally {
      await c.stop();
    }
    // Listeners from --set: --advertised-listener still applies to the one served.
    const e = await startBrokerProcess(['--storage', 'memory', '--set', 'listeners=PLAINTEXT://127.0.0.1:0', '--advertised-listener', 'broker.example:4321']);
    try {
      assert.equal(await metadataBroker(e.port), 'broker.example:4321');
    } finally {
      await e.stop();
    }
    // A listener of another name: --advertised-listener host:port is still its advertised address.
    writeFileSync(file, 'listeners=INTERNAL://127.0.0.1:0\nlistener.security.protocol.map=INTERNAL:PLAINTEXT\n');
    const d = await startBrokerProcess(['-c', file, '--storage', 'memory', '--advertised-listener', 'broker.example:1234']);
    try {
      assert.equal(await metadataBroker(d.port), 'broker.example:1234');
    } finally {
      await d.stop();
    }
  } finally {
    dir.remove();
  }
});

test('a setting written as a Docker image\'s environment variable, in capitals or with underscores, is named with the property it stands for', () => {
  const cases: [string, string | null][] = [
    ['KAFKA_NUM_PARTITIONS', 'num.partitions'],
    ['KAFKA_CFG_NUM_PARTITIONS', 'num.partitions'], // bitnami
    ['KAFKA_LOG_RETENTION_HOURS', 'log.retention.hours'],
    ['KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE', 'auto.create.topics.enable'],
    ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'offsets.topic.replication.factor'],
    ['NUM.PARTITIONS', 'num.partitions'],
    ['log_retention_hours', 'log.retention.hours'],
    ['num.partition', 'num.partitions'],
    ['segment.bytes', 'log.segment.bytes'],
    // Environment variables of the image itself, not properties: no guess.
    ['KAFKA_HEAP_OPTS', null],
    ['KAFKA_JMX_PORT', null],
    ['controller.quorum.voters', null],
  ];
  assert.deepEqual(cases.map(([name]) => [name, likelyBrokerConfig(name)]), cases);
});

test('settings Samsa cannot honour refuse the start in one line: TLS/SASL listeners, a negative node id, a bad log level', { timeout: 30_000 }, async () => {
  const refused = async (args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}) => {
    const r = await run(process.execPath, [CLI, '--storage', 'memory', '--port', '0', ...args], { timeoutMs: 10_000, env });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  };
  await refused(['--set', 'listeners=SSL://127.0.0.1:0'], /^samsa: listener SSL uses SSL, which Samsa does not support yet/m);
  await refused(['--set', 'listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0'], /listener SASL_PLAINTEXT uses SASL_PLAINTEXT/);
  await refused(['--set', 'listeners=CLIENT://127.0.0.1:0'], /No security protocol defined for listener CLIENT/);
  await refused(['--set', 'listeners=PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:1'], /Each listener must have a different name/);
  await refused(['--set', 'advertised.listeners=OTHER://broker.example:5'], /advertised.listeners listener names must be equal to or a subset of the ones defined in listeners\. Found OTHER/);
  await refused(['--set', 'advertised.listeners=PLAINTEXT://0.0.0.0:5'], /cannot use the nonroutable meta-address 0\.0\.0\.0/);
  // Usage errors: one line, the same exit code, each unknown flag named once.
  await refused(['--log-level'], /^samsa: Not enough arguments following: log-level \(samsa --help lists the options\)$/m);
  await refused(['--bogus-flag'], /^samsa: Unknown argument: bogus-flag \(samsa/m);
  await refused(['--node-id', '-1'], /node\.id must be 0 or more, not -1/);
  await refused(['--port', ''], /--port expects a port number \(0 to 65535\), not ""/);
  await refused([], /log level must be one of trace, debug, info, warn, error, fatal, silent, not "bogus" \(SAMSA_LOG_LEVEL\)/, { SAMSA_LOG_LEVEL: 'bogus' });
  // The later of a flag given twice wins; --set accumulates.
  const b = await startBrokerProcess(['--storage', 'disk', '--storage', 'memory', '--port', '1', '--port', '0', '--set', 'num.partitions=3', '--set', 'auto.create.topics.enable=false']);
  try {
    assert.match(started(b.logs).listening, /:\d+$/);
    assert.notEqual(b.port, 1);
    const c = await RawClient.connect(b.port);
    const m = await c.send(ApiKey.Metadata, 9, { topics: [{ name: 'cli-auto' }], allowAutoTopicCreation: true });
    c.close();
    assert.equal(m.topics[0].errorCode, 3, 'auto.create.topics.enable=false kept: UNKNOWN_TOPIC_OR_PARTITION');
  } finally {
    await b.stop();
  }
});

test('SIGHUP (a closed terminal) stops the broker cleanly', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const b = await startBrokerProcess(['--port', '0', '--data-dir', dir.path]);
    b.child.kill('SIGHUP');
    const code = await new Promise<number | null>((r) => b.child.on('exit', r));
    assert.equal(code, 0);
    assert.ok(existsSync(join(dir.path, '.samsa_clean_shutdown')), 'clean-shutdown marker written');
  } finally {
    dir.remove();
  }
});

test('a data directory in use is refused in one line, without a stack', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const first = await startBrokerProcess(['--port', '0', '--data-dir', dir.path]);
    try {
      const second = await run(process.execPath, [CLI, '--port', '0', '--data-dir', dir.path], { timeoutMs: 10_000 });
      assert.equal(second.code, 1);
      const lines = second.stdout.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; err?: unknown });
      const fatal = lines.find((l) => l.level === 60)!;
      assert.match(fatal.msg, /is in use by process \d+: one broker per data directory/);
      assert.equal(fatal.err, undefined, 'no stack');
    } finally {
      await first.stop();
    }
  } finally {
    dir.remove();
  }
});

test('a listener host that does not resolve (a container name from a Docker setup) is refused naming the listener, without a stack', { timeout: 30_000 }, async () => {
  const r = await run(process.execPath, [CLI, '--storage', 'memory', '--set', 'listeners=PLAINTEXT://broker.invalid:0'], { timeoutMs: 20_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^samsa: broker failed to start: getaddrinfo \w+ broker\.invalid: the host of PLAINTEXT:\/\/broker\.invalid:0 \(listeners, where Samsa serves clients\) cannot be resolved here$/m);
  const fatal = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { level: number; err?: unknown; code?: string }).find((l) => l.level === 60)!;
  assert.equal(fatal.err, undefined, 'no stack');
});

test('embedded: a failed start gives the data directory back; a stopped broker refuses to start again', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  try {
    const port = (busy.address() as { port: number }).port;
    await assert.rejects(startBroker({ port, storage: 'disk', dataDir: dir.path }), { code: 'EADDRINUSE' });
    const b = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    await b.stop();
    await assert.rejects(b.broker.start(), /a stopped broker cannot be started again/);
    const again = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
    await again.stop();
  } finally {
    busy.close();
    dir.remove();
  }
});

test('embedded: a Broker needs no logger; a stop asked for during start stops the broker once started; dataDir alone chooses the disk engine; an IPv6 bootstrap is bracketed', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const port = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
    // No logger: plain JavaScript callers may leave it out.
    const broker = new Broker(new BrokerConfig({ listeners: `PLAINTEXT://127.0.0.1:${port}`, 'samsa.storage': 'memory' }));
    const started = broker.start();
    await broker.stop();
    await started;
    await assert.rejects(RawClient.connect(port), { code: 'ECONNREFUSED' }, 'not listening after the stop');

    const first = await startBroker({ port: 0, dataDir: dir.path });
    const c = await RawClient.connect(first.port);
    await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: [{ name: 'kept', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    c.close();
    await first.stop();
    assert.ok(existsSync(join(dir.path, 'meta.properties')), 'written to the directory');
    const second = await startBroker({ port: 0, dataDir: dir.path });
    const c2 = await RawClient.connect(second.port);
    const md = await c2.send(ApiKey.Metadata, 1, { topics: null });
    assert.deepEqual(md.topics.map((t: { name: string }) => t.name), ['kept']);
    c2.close();
    await second.stop();

    const v6 = await startBroker({ port: 0, host: '::1' }).catch((e: NodeJS.ErrnoException) => e);
    if (v6 instanceof Error) assert.equal(v6.code, 'EADDRNOTAVAIL', 'only a machine without IPv6 loopback may refuse');
    else {
      assert.equal(v6.bootstrap, `[::1]:${v6.port}`);
      await v6.stop();
    }
  } finally {
    dir.remove();
  }
});

test('node.id, or broker.id when only it is set; broker.id=-1 (a ZooKeeper-mode "generate one") takes the default id; a negative id names its setting', () => {
  assert.equal(new BrokerConfig({}).nodeId, 1);
  assert.equal(new BrokerConfig({ 'broker.id': '0' }).nodeId, 0, 'Kafka\'s stock ZooKeeper-mode server.properties');
  assert.equal(new BrokerConfig({ 'broker.id': '-1' }).nodeId, 1);
  assert.equal(new BrokerConfig({ 'broker.id': '-1', 'node.id': '4' }).nodeId, 4);
  assert.throws(() => new BrokerConfig({ 'broker.id': '-2' }), /^ConfigError: broker\.id must be 0 or more, not -2$/);
  assert.throws(() => new BrokerConfig({ 'node.id': '-1' }), /^ConfigError: node\.id must be 0 or more, not -1$/);
});

test('server.properties is read as java.util.Properties reads it', () => {
  const text = [
    '# comment', '  ! another', '',
    'a=1', 'b : 2', 'c 3', '  d=  spaced  ',
    'path=C:\\\\kafka\\\\logs', 'tab=x\\ty', 'uni=caf\\u00e9',
    'key\\=with\\:seps=v', 'empty=', 'novalue',
    'list=one,\\', '    two,\\', '    three',
    'odd=ends in a backslash\\\\',
    'next=after',
  ].join('\r\n');
  assert.deepEqual(parseProperties(text), {
    a: '1', b: '2', c: '3', d: 'spaced',
    path: 'C:\\kafka\\logs', tab: 'x\ty', uni: 'café',
    'key=with:seps': 'v', empty: '', novalue: '',
    list: 'one,two,three',
    odd: 'ends in a backslash\\',
    next: 'after',
  });
  assert.throws(() => parseProperties('bad=\\u00zz'), /Malformed \\uxxxx encoding/);
  // A backslash alone on a line continues an empty line: what follows starts afresh, so a comment
  // stays a comment and a blank line adds no empty key (as Java's Properties.load; found by
  // comparing with it on generated files).
  assert.deepEqual(parseProperties('a=1\n\\\n# listeners=PLAINTEXT://:9092\nb=2\n  \\\n\nc=3'), { a: '1', b: '2', c: '3' });
});
