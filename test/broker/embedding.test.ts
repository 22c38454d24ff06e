/** startBroker's options and config together, and where an embedded broker logs. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { ApiKey } from '../../protocol/generated/index.js';
import { startBroker } from '../../src/index.js';
import { ROOT, run, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const INDEX = new URL('../../src/index.js', import.meta.url).href;

test('the listener config names is served; one that is not PLAINTEXT is refused, as by the CLI', async () => {
  const broker = await startBroker({ config: { listeners: 'PLAINTEXT://localhost:0' }, logger: 'silent' });
  try {
    assert.equal(broker.host, 'localhost', 'not the default 127.0.0.1');
    assert.ok(broker.port > 0);
  } finally {
    await broker.stop();
  }
  await assert.rejects(startBroker({ config: { listeners: 'SASL_PLAINTEXT://127.0.0.1:0' }, logger: 'silent' }), /SASL_PLAINTEXT/);
  await assert.rejects(startBroker({ port: 0, config: { listeners: 'SSL://127.0.0.1:0' }, logger: 'silent' }), /SSL/);
});

test('log.dirs in config keeps the data on disk there, as dataDir does', async () => {
  const dir = tempDir();
  try {
    const broker = await startBroker({ port: 0, config: { 'log.dirs': dir.path }, logger: 'silent' });
    const c = await RawClient.connect(broker.port);
    const created = await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 5000, validateOnly: false, topics: [{ name: 'kept', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    assert.equal(created.topics[0].errorCode, 0);
    c.close();
    await broker.stop();
    assert.ok(existsSync(join(dir.path, 'meta.properties')));
    assert.ok(existsSync(join(dir.path, 'kept-0')));
  } finally {
    dir.remove();
  }
});

test('log.dirs is split as Kafka splits it: blanks and empty entries dropped; none at all is refused', async () => {
  const dir = tempDir();
  try {
    // Kafka's parseCsvList: " , /data" is the one directory /data (it was the empty path, a failed mkdir '').
    const broker = await startBroker({ port: 0, config: { 'log.dirs': ` , ${dir.path} ,` }, logger: 'silent' });
    assert.equal(broker.broker.config.dataDir, dir.path);
    await broker.stop();
    assert.ok(existsSync(join(dir.path, 'meta.properties')));
    for (const config of [{ 'log.dirs': '' }, { 'log.dirs': ' , ' }, { 'log.dir': '' }] as Record<string, string>[]) {
      await assert.rejects(startBroker({ port: 0, config, logger: 'silent' }), { name: 'ConfigError', message: 'At least one log directory must be defined via log.dirs or log.dir.' }, JSON.stringify(config));
    }
  } finally {
    dir.remove();
  }
});

test('an embedded broker says what it warns about on stderr, leaving stdout to the program', async () => {
  const script = `
    import { startBroker } from ${JSON.stringify(INDEX)};
    const broker = await startBroker({ port: 0, config: { 'num.partition': 3 } });
    await broker.stop();
  `;
  const r = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 20_000, env: { ...process.env, SAMSA_LOG_LEVEL: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: number; settings?: string[] });
  assert.deepEqual(lines.map((l) => [l.level, l.settings]), [[40, ['num.partition']]], 'the misspelt setting, once; nothing below warn');
});

test('require() gets a CommonJS build: Jest, for one, cannot load an ES module', async () => {
  const req = createRequire(join(ROOT, 'package.json'));
  assert.match(req.resolve('samsa'), /dist[/\\]samsa\.cjs$/);
  const { startBroker: start } = req('samsa') as typeof import('../../src/index.js');
  const broker = await start({ port: 0, logger: 'silent' });
  const c = await RawClient.connect(broker.port);
  try {
    const md = await c.send(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(md.brokers[0].port, broker.port);
  } finally {
    c.close();
    await broker.stop();
  }
});

test('import gets the same copy as require, with every name the ES modules export', async () => {
  assert.match(import.meta.resolve('samsa'), /dist\/samsa-esm\.mjs$/);
  const imported = (await import('samsa' as string)) as Record<string, unknown>;
  const required = createRequire(join(ROOT, 'package.json'))('samsa') as Record<string, unknown>;
  assert.equal(imported['startBroker'], required['startBroker'], 'one copy: a program that does both loads samsa once');
  assert.equal(imported['Broker'], required['Broker']);
  const modules = (await import('../../src/index.js')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(imported).sort(), Object.keys(modules).sort());
});

test('TypeScript checks code that uses samsa, through require (CommonJS) and import (ES module), without skipLibCheck', async () => {
  const dir = tempDir();
  try {
    for (const [type, entry] of [['commonjs', 'main.cts'], ['module', 'main.mts']] as const) {
      const project = join(dir.path, type);
      mkdirSync(join(project, 'node_modules'), { recursive: true });
      symlinkSync(ROOT, join(project, 'node_modules', 'samsa'), 'dir');
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `uses-samsa-${type}`, type }));
      writeFileSync(join(project, entry), [
        "import { startBroker, type RunningBroker } from 'samsa';",
        'export async function once(): Promise<number> {',
        '  const broker: RunningBroker = await startBroker({ port: 0, config: { "num.partitions": 3 } });',
        '  await broker.stop();',
        '  return broker.port;',
        '}',
        '',
      ].join('\n'));
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: false, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] },
        files: [entry],
      }));
      const r = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `${type}: ${r.stdout}${r.stderr}`);
    }
  } finally {
    dir.remove();
  }
});


test('a broker restarted on the same dataDir answers for its groups as soon as startBroker resolves', async () => {
  // kafkajs's admin.fetchOffsets does not retry COORDINATOR_LOAD_IN_PROGRESS: a test that restarts
  // and reads its committed offsets at once failed whenever the load had not finished.
  const dir = tempDir();
  const groups = Array.from({ length: 200 }, (_, i) => `g${i}`);
  const fetchAll = (c: RawClient) => Promise.all(groups.map((groupId) => c.send(ApiKey.OffsetFetch, 7, { groupId, topics: [{ name: 'kept', partitionIndexes: [0] }], requireStable: false })));
  try {
    let broker = await startBroker({ port: 0, dataDir: dir.path, logger: 'silent' });
    let c = await RawClient.connect(broker.port);
    await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 5000, validateOnly: false, topics: [{ name: 'kept', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    const commits = await Promise.all(groups.map((groupId) => c.send(ApiKey.OffsetCommit, 8, { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'kept', partitions: [{ partitionIndex: 0, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: null }] }] })));
    assert.deepEqual(new Set(commits.map((r) => r.topics[0].partitions[0].errorCode)), new Set([0]));
    c.close();
    await broker.stop();

    broker = await startBroker({ port: 0, dataDir: dir.path, logger: 'silent' });
    c = await RawClient.connect(broker.port);
    try {
      const fetched = await fetchAll(c);
      assert.deepEqual(new Set(fetched.map((r) => r.errorCode)), new Set([0]), 'not COORDINATOR_LOAD_IN_PROGRESS (14)');
      assert.deepEqual(new Set(fetched.map((r) => r.topics[0].partitions[0].committedOffset)), new Set([0n]));
    } finally {
      c.close();
      await broker.stop();
    }
  } finally {
    dir.remove();
  }
});

test('a stopped broker can be garbage-collected as soon as its clients have gone', async () => {
  // Jest's --detectLeaks checks each test file's globals are collected when it ends: a timer a
  // connection left for a second after stop() kept the broker, and every such file was "leaking".
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let collected = false;
  const registry = new FinalizationRegistry(() => (collected = true));
  await (async () => {
    const broker = await startBroker({ port: 0, logger: 'silent' });
    registry.register(broker.broker, 'broker');
    const c = await RawClient.connect(broker.port);
    assert.equal((await c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'samsa-test', clientSoftwareVersion: '1.0' })).errorCode, 0);
    const closed = new Promise((resolve) => c.socket.once('close', resolve));
    await broker.stop(); // with the client still connected: it closes its side when the broker does
    await closed;
  })();
  for (let i = 0; i < 20 && !collected; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(collected, 'nothing holds a stopped broker (the 1 s destroy timer did, past these 200 ms)');
});

test('a startBroker that fails once the broker is listening stops it: nothing is left that keeps the process alive', async () => {
  // The caller of a rejected startBroker has no stop(); a listener left open hung the test run at exit.
  let bootstrap = '';
  const logger = pino({ level: 'info' }, { write: () => {} });
  logger.info = ((obj: { bootstrap?: string }, msg?: string) => {
    if (msg === 'embedded broker started') {
      bootstrap = obj.bootstrap ?? '';
      throw new Error('the logger failed');
    }
  }) as typeof logger.info;
  await assert.rejects(startBroker({ port: 0, logger }), /the logger failed/);
  const port = Number(bootstrap.split(':')[1]);
  assert.ok(port > 0);
  await assert.rejects(RawClient.connect(port), { code: 'ECONNREFUSED' }, 'no broker left listening');
});

test('logger: null is the default logger, as if not given', async () => {
  // (It was taken for a logger object: startBroker failed on its first line logged.)
  const broker = await startBroker({ port: 0, logger: null as unknown as string });
  const c = await RawClient.connect(broker.port);
  try {
    assert.equal((await c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'samsa-test', clientSoftwareVersion: '1.0' })).errorCode, 0);
  } finally {
    c.close();
    await broker.stop();
  }
});

test('a config entry whose value is undefined or null is not set', async () => {
  // { 'log.dirs': process.env.DATA_DIR } with the variable unset gave a disk broker writing to ./undefined.
  const broker = await startBroker({ port: 0, logger: 'silent', config: { 'log.dirs': undefined, 'num.partitions': null, 'auto.create.topics.enable': undefined } });
  const c = await RawClient.connect(broker.port);
  try {
    assert.equal(broker.broker.config.get('samsa.storage'), 'memory');
    const created = await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 5000, validateOnly: false, topics: [{ name: 'defaults', numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] }] });
    assert.deepEqual([created.topics[0].errorCode, created.topics[0].numPartitions], [0, 1], 'num.partitions at its default');
  } finally {
    c.close();
    await broker.stop();
  }
  assert.ok(!existsSync('undefined') && !existsSync('null'));
});
