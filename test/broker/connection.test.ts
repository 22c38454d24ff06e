/**
 * Connection handling as a user meets it: a client that stops reading is paused rather than
 * buffered without bound, idle connections are closed after connections.max.idle.ms, and SIGTERM
 * answers what is in flight before the process exits cleanly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeRequest } from '../../protocol/frames.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { buildRecordBatch, decodeRecords, iterateBatches, verifyBatchCrc } from '../../protocol/records/index.js';
import { startBroker } from '../../src/index.js';
import { CLI, run, sleep, startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

// The global gc(), to measure what is held rather than what awaits collection.
setFlagsFromString('--expose-gc');

test('a client that never reads its responses is paused, not buffered without bound', { timeout: 60_000 }, async () => {
  const broker = await startBroker({ port: 0 });
  try {
    const c = await RawClient.connect(broker.port);
    await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: [{ name: 'bp', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    const value = Buffer.alloc(900 * 1024, 7);
    await c.send(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'bp', partitionData: [{ index: 0, records: buildRecordBatch({ baseOffset: 0n, records: [{ key: null, value, headers: [] }] }) }] }] });
    c.close();
    // Each fetch answers ~900 KiB. Send 2,000 of them (1.8 GB of answers) and read nothing.
    const fetch = encodeRequest(ApiKey.Fetch, 11, 1, 'slow', {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
      topics: [{ topic: 'bp', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    });
    const before = process.memoryUsage().rss;
    const slow = connect({ port: broker.port, host: '127.0.0.1' });
    slow.pause();
    await new Promise((r) => slow.once('connect', r));
    let written = 0;
    for (let i = 0; i < 2000; i++) {
      if (!slow.write(fetch)) {
        written = i + 1;
        break;
      }
      written = i + 1;
    }
    await new Promise((r) => setTimeout(r, 1500));
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 300 * 1024 * 1024, `the broker buffered ${Math.round(grown / 1048576)} MiB for a client that does not read`);
    const stats = broker.broker.connections().find((s) => s.remote.endsWith(`:${slow.localPort}`))!;
    assert.equal(stats.reading, false, 'the broker stopped reading from the slow client');
    const answered = 2000 - stats.inFlight;
    // Without backpressure all 2,000 answers (1.8 GB) would be queued for the socket.
    assert.ok(stats.unsentBytes < 500 * 900 * 1024, `${Math.round(stats.unsentBytes / 1048576)} MiB queued for the socket (${answered} answered)`);
    // Meanwhile another client is served normally.
    const other = await RawClient.connect(broker.port);
    const md = await other.send(ApiKey.Metadata, 1, { topics: [{ name: 'bp' }] });
    assert.equal(md.topics[0].errorCode, 0);
    other.close();
    slow.destroy();
    assert.ok(written > 0);
  } finally {
    await broker.stop();
  }
});

test('connections idle for longer than connections.max.idle.ms are closed', async () => {
  const broker = await startBroker({ port: 0, config: { 'connections.max.idle.ms': 300 } });
  try {
    const c = await RawClient.connect(broker.port);
    await c.send(ApiKey.ApiVersions, 0, {});
    const t0 = Date.now();
    assert.equal(await c.waitClosed(3000), true, 'closed');
    assert.ok(Date.now() - t0 >= 250, 'not before the idle time');
  } finally {
    await broker.stop();
  }
});

test('SIGTERM answers the requests in flight, then the process exits 0; a config file and --set are applied', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const props = join(dir.path, 'server.properties');
  writeFileSync(props, '# a Kafka server.properties\nnum.partitions=3\nauto.create.topics.enable = true\nlog.dirs=' + join(dir.path, 'data') + ',' + join(dir.path, 'unused') + '\n');
  const broker = await startBrokerProcess(['--port', '0', '--config', props, '--set', 'default.replication.factor=1']);
  try {
    const c = await RawClient.connect(broker.port);
    await c.send(ApiKey.Metadata, 4, { topics: [{ name: 'from-config' }], allowAutoTopicCreation: true });
    let md: any;
    for (let i = 0; i < 20; i++) {
      md = await c.send(ApiKey.Metadata, 4, { topics: [{ name: 'from-config' }], allowAutoTopicCreation: true });
      if (md.topics[0].errorCode === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(md.topics[0].partitions.length, 3, 'num.partitions from the config file');
    assert.ok(existsSync(join(dir.path, 'data', 'from-config-0')), 'the first of log.dirs holds the data');
    assert.ok(broker.logs.some((l) => l.includes('"level":40') && l.includes('log.dirs names several directories')), 'the others are named in a warning');
    // A long poll in flight when the signal arrives is answered (early), not dropped.
    const pending = c.send(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 20_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
      topics: [{ topic: 'from-config', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const code = broker.stop();
    const answer = await pending;
    assert.equal(answer.responses[0].partitions[0].errorCode, 0);
    assert.equal(await code, 0, 'clean exit');
    assert.ok(Date.now() - t0 < 5000, 'the long poll did not hold the shutdown');
    assert.ok(broker.logs.some((l) => l.includes('broker stopped')));
  } finally {
    await broker.stop();
    dir.remove();
  }
});

test('SIGTERM stops the broker even when nobody reads its log any more', { timeout: 30_000 }, async () => {
  // As when `samsa | head` has exited: every later log line meets a closed pipe (EPIPE).
  const broker = await startBrokerProcess(['--port', '0', '--storage', 'memory']);
  const exited = new Promise<number | null>((r) => broker.child.once('exit', (code) => r(code)));
  try {
    broker.child.stdout!.destroy();
    await new Promise((r) => setTimeout(r, 100));
    broker.child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000))]);
    assert.equal(code, 0);
  } finally {
    await broker.kill();
  }
});

test('a broker whose log nobody reads for a while keeps serving, and writes the log out once it is read', { timeout: 60_000 }, async () => {
  // As a harness that stops reading stdout after "listening": the pipe (64 KiB) fills up.
  const broker = await startBrokerProcess(['--port', '0', '--storage', 'memory']);
  try {
    broker.child.stdout!.pause();
    const c = await RawClient.connect(broker.port);
    const topics = 600; // ~150 KiB of "topic created" lines
    for (let i = 0; i < topics; i += 50) {
      const r = await Promise.race([
        c.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: Array.from({ length: 50 }, (_, j) => ({ name: `unread-log-${i + j}`, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })) }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer to CreateTopics after ${i} topics`)), 10_000)),
      ]);
      assert.deepEqual(r.topics.map((t: { errorCode: number }) => t.errorCode), new Array(50).fill(0));
    }
    c.close();
    broker.child.stdout!.resume();
    assert.equal(await broker.stop(), 0);
    assert.equal(broker.logs.filter((l) => l.includes('"topic created"')).length, topics, 'every line reached stdout');
    assert.ok(broker.logs.some((l) => l.includes('broker stopped')));
  } finally {
    await broker.kill();
  }
});

test('connections.max.idle.ms below 0 turns idle closing off, as Kafka\'s NO_IDLE_TIMEOUT_MS does; 0 closes at once', async () => {
  const never = await startBroker({ port: 0, config: { 'connections.max.idle.ms': -1 } });
  try {
    const c = await RawClient.connect(never.port);
    assert.equal((await c.send(ApiKey.ApiVersions, 0, {})).errorCode, 0);
    assert.equal(await c.waitClosed(500), false, 'still open');
    assert.equal((await c.send(ApiKey.ApiVersions, 0, {})).errorCode, 0, 'and served');
    c.close();
  } finally {
    await never.stop();
  }
  const atOnce = await startBroker({ port: 0, config: { 'connections.max.idle.ms': 0 } });
  try {
    const c = await RawClient.connect(atOnce.port);
    assert.equal(await c.waitClosed(2000), true, 'closed once idle');
  } finally {
    await atOnce.stop();
  }
});

test('requests sent before one the broker cannot read are answered before the connection closes, as Kafka answers them', async () => {
  const broker = await startBroker({ port: 0, config: { 'socket.request.max.bytes': 4096 }, logger: 'silent' });
  try {
    for (const bad of [
      // An unknown API key, then an oversized size prefix.
      Buffer.from([0, 0, 0, 12, 0x03, 0xe7, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0, 0]),
      Buffer.from([0, 1, 0, 0]),
    ]) {
      const c = await RawClient.connect(broker.port);
      const first = c.prepare(ApiKey.Metadata, 1, { topics: [] });
      const second = c.prepare(ApiKey.ApiVersions, 0, {});
      c.writeRaw(Buffer.concat([first.bytes, second.bytes, bad]));
      assert.deepEqual((await first.response).topics, []);
      assert.equal((await second.response).errorCode, 0);
      assert.equal(await c.waitClosed(3000), true, 'then closed');
    }
  } finally {
    await broker.stop();
  }
});

test('settings Kafka would refuse stop the start with its message; a port in use is one line, not a stack', { timeout: 30_000 }, async () => {
  const refused = async (args: string[], message: RegExp) => {
    const r = await run(process.execPath, [CLI, '--storage', 'memory', ...args], { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  };
  await refused(['--port', '0', '--set', 'num.partitions=abc'], /^samsa: Invalid value abc for configuration num\.partitions: Not a number of type INT$/m);
  await refused(['--port', '0', '--set', 'num.partitions=0'], /Invalid value 0 for configuration num\.partitions: Value must be at least 1/);
  await refused(['--port', '0', '--set', 'auto.create.topics.enable=yes'], /Invalid value yes for configuration auto\.create\.topics\.enable: Expected value to be either true or false/);
  await refused(['--port', 'abc'], /--port expects a port number/);
  // Kafka's KafkaConfig.validateValues: the ms/minutes/hours spellings together.
  await refused(['--port', '0', '--set', 'log.retention.minutes=0'], /requirement failed: log\.retention\.ms must be unlimited \(-1\) or, greater than or equal to 1/);
  await refused(['--port', '0', '--set', 'log.roll.ms=0'], /requirement failed: log\.roll\.ms must be greater than or equal to 1/);
  await refused(['--port', '0', '--set', 'log.roll.jitter.ms=-1'], /requirement failed: log\.roll\.jitter\.ms must be greater than or equal to 0/);
  await refused(['--port', '0', '--set', 'max.connections.per.ip=0'], /requirement failed: max\.connections\.per\.ip can be set to zero only if max\.connections\.per\.ip\.overrides property is set\./);
  const dir = tempDir();
  try {
    await refused(['--port', '0', '--config', dir.path], /cannot read the config file/);
    writeFileSync(join(dir.path, 'a-file'), '');
    const onFile = await run(process.execPath, [CLI, '--port', '0', '--data-dir', join(dir.path, 'a-file')], { timeoutMs: 10_000 });
    assert.equal(onFile.code, 1);
    assert.match(onFile.stdout, /the data directory \S+a-file cannot be made: a file is in the way \(EEXIST\)/);
    assert.doesNotMatch(onFile.stdout, /"err"/, 'no stack for what the system refused');
    const first = await startBrokerProcess(['--port', '0', '--storage', 'memory', '--host', '127.0.0.1']);
    try {
      const second = await run(process.execPath, [CLI, '--storage', 'memory', '--port', String(first.port), '--host', '127.0.0.1'], { timeoutMs: 10_000 });
      assert.equal(second.code, 1);
      const lines = second.stdout.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; code?: string; err?: unknown });
      assert.equal(lines.length, 1, second.stdout);
      assert.equal(lines[0].level, 60);
      assert.equal(lines[0].code, 'EADDRINUSE');
      assert.match(lines[0].msg, /broker failed to start: listen EADDRINUSE/);
      assert.equal(lines[0].err, undefined, 'no stack for what the system refused');
      assert.match(second.stderr, /^samsa: broker failed to start: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/m, 'said on stderr too, for a log sent to a file');

      // The same failure after more log than a pipe holds (~600 "loaded partition" lines at debug), with
      // stdout never read: still exit code 1, not a quiet 0 once nothing is left to do.
      const dataDir = join(dir.path, 'data');
      const setup = await startBroker({ port: 0, storage: 'disk', dataDir });
      const c = await RawClient.connect(setup.port);
      await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: [{ name: 'many', numPartitions: 600, replicationFactor: 1, assignments: [], configs: [] }] });
      c.close();
      await setup.stop();
      const unread = spawn(process.execPath, [CLI, '--log-level', 'debug', '--data-dir', dataDir, '--port', String(first.port), '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
      unread.stdout.pause();
      const code = await Promise.race([once(unread, 'exit').then(([c]) => c as number | null), new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
      unread.kill('SIGKILL');
      assert.equal(code, 1);
    } finally {
      await first.stop();
    }
  } finally {
    dir.remove();
  }
});

test('log.dir names the data directory when log.dirs is not set, as in Kafka', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const broker = await startBrokerProcess(['--port', '0', '--set', `log.dir=${join(dir.path, 'from-log-dir')}`]);
  try {
    const started = broker.logs.map((l) => JSON.parse(l) as { listening?: string; dataDir?: string }).find((j) => j.listening);
    assert.equal(started?.dataDir, join(dir.path, 'from-log-dir'));
    assert.ok(existsSync(join(dir.path, 'from-log-dir', 'meta.properties')));
  } finally {
    await broker.stop();
    dir.remove();
  }
});

test('--help explains every option', async () => {
  const r = await run(process.execPath, [CLI, '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--port', '--host', '--advertised-listener', '--data-dir', '--storage', '--node-id', '--config', '--set', '--log-level']) assert.ok(r.stdout.includes(flag), flag);
  const bad = await run(process.execPath, [CLI, '--storage', 'tape']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /storage/);
});

test('responses waiting for a slow reader keep their bytes while the cache and read buffers are reused', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.remove);
  const broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
  try {
    const producer = await RawClient.connect(broker.port);
    await producer.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: [{ name: 'turnover', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    const produce = (fill: number) => producer.send(ApiKey.Produce, 9, {
      transactionalId: null, acks: -1, timeoutMs: 1000,
      topicData: [{ name: 'turnover', partitionData: [{ index: 0, records: buildRecordBatch({ baseOffset: 0n, records: [{ key: null, value: Buffer.alloc(600 * 1024, fill), headers: [] }] }) }] }],
    });
    const fetchAt = (offset: bigint) => ({
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
      topics: [{ topic: 'turnover', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    });
    /**
     * A reader that reads nothing until told: 20 fetches at `fillAt` fill the socket's kernel
     * buffers, so that the 3 fetches of offset 2 after them wait in the broker.
     */
    const slowReader = async (fillAt: bigint) => {
      const slow = await RawClient.connect(broker.port);
      slow.socket.pause();
      const fill = Array.from({ length: 20 }, () => slow.send(ApiKey.Fetch, 11, fetchAt(fillAt)));
      const answers = Array.from({ length: 3 }, () => slow.send(ApiKey.Fetch, 11, fetchAt(2n)));
      await new Promise((r) => setTimeout(r, 300));
      const stats = broker.broker.connections().find((s) => s.remote.endsWith(`:${slow.socket.localPort}`))!;
      assert.ok(stats.unsentBytes >= 3 * 600 * 1024, `responses wait in the broker (${stats.unsentBytes} bytes)`);
      return async () => {
        slow.socket.resume();
        for (const answer of await Promise.all(fill)) assert.ok(verifyBatchCrc(answer.responses[0].partitions[0].records));
        for (const answer of await Promise.all(answers)) {
          const records: Buffer = answer.responses[0].partitions[0].records;
          assert.ok(verifyBatchCrc(records), 'the batch reached the client intact');
          const decoded = decodeRecords(records);
          assert.equal(decoded.length, 1);
          assert.ok(decoded[0].value!.equals(Buffer.alloc(600 * 1024, 1)), 'the batch at offset 2, not another');
        }
        slow.close();
      };
    };
    // The cache's first blocks are small; from the third batch on each fills a pooled 1 MiB block.
    await produce(0);
    await produce(0);
    await produce(1);
    // Served from the cache; then 40 batches of other bytes push offset 2 out, its block free to reuse.
    const fromCache = await slowReader(2n);
    for (let i = 0; i < 40; i++) await produce(2 + i);
    await fromCache();
    // Served from the segment file (the fill from the cache, offset 42 being the last); meanwhile
    // another reader's file reads take pooled buffers.
    const fromFile = await slowReader(42n);
    const other = await RawClient.connect(broker.port);
    for (let i = 3; i < 40; i++) {
      const r = await other.send(ApiKey.Fetch, 11, fetchAt(BigInt(i)));
      assert.equal(decodeRecords(r.responses[0].partitions[0].records)[0].value![0], 2 + i - 3);
    }
    await fromFile();
    other.close();
    producer.close();
  } finally {
    await broker.stop();
  }
});

test('pipelined requests arrive intact however the stream is cut: small frames, large frames read in place, sizes split across reads', { timeout: 60_000 }, async () => {
  const broker = await startBroker({ port: 0 });
  try {
    const c = await RawClient.connect(broker.port);
    await c.send(ApiKey.CreateTopics, 5, {
      timeoutMs: 1000, validateOnly: false,
      topics: [{ name: 'cuts', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'max.message.bytes', value: String(8 << 20) }] }],
    });
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values: Buffer[] = [];
    // One round: ApiVersions, a large produce, Metadata, a small produce — as one byte stream. The
    // last round's large produce (5 MiB) is read in pieces.
    const round = (bigSize = 300 * 1024) => {
      const big = Buffer.from(Array.from({ length: bigSize }, () => Math.floor(random() * 256)));
      const small = Buffer.from(`small ${values.length}`);
      values.push(big, small);
      const produce = (value: Buffer) => c.prepare(ApiKey.Produce, 9, {
        transactionalId: null, acks: -1, timeoutMs: 1000,
        topicData: [{ name: 'cuts', partitionData: [{ index: 0, records: buildRecordBatch({ baseOffset: 0n, records: [{ key: null, value, headers: [] }] }) }] }],
      });
      return [c.prepare(ApiKey.ApiVersions, 3, { clientSoftwareName: 'cuts', clientSoftwareVersion: '1' }), produce(big), c.prepare(ApiKey.Metadata, 1, { topics: [{ name: 'cuts' }] }), produce(small)];
    };
    const requests = [...round(), ...round(), ...round(5 << 20)];
    const stream = Buffer.concat(requests.map((r) => r.bytes));
    // Cut into pieces of up to 100 KiB, and inside every frame's size field (after 1, 2 or 3 of its
    // bytes); each piece is its own write after a pause, so reads end anywhere.
    const cuts = new Set<number>([stream.length]);
    for (let at = 0, i = 0; i < requests.length; at += requests[i++].bytes.length) cuts.add(at + 1 + (i % 3));
    for (let at = 0; at < stream.length; at += 1 + Math.floor(random() * 100 * 1024)) cuts.add(at);
    let from = 0;
    for (const to of [...cuts].sort((a, b) => a - b)) {
      if (to <= from) continue;
      c.writeRaw(stream.subarray(from, to));
      from = to;
      await new Promise((r) => setTimeout(r, 1));
    }
    const answers = await Promise.all(requests.map((r) => r.response));
    for (let i = 0; i < answers.length; i += 4) {
      assert.equal(answers[i].errorCode, 0, 'ApiVersions');
      assert.equal(answers[i + 2].topics[0].errorCode, 0, 'Metadata');
      for (const [k, offset] of [[1, (i / 4) * 2], [3, (i / 4) * 2 + 1]]) {
        const p = answers[i + k].responses[0].partitionResponses[0];
        assert.equal(p.errorCode, 0, 'Produce');
        assert.equal(p.baseOffset, BigInt(offset));
      }
    }
    // Everything reads back byte-exact, in order.
    const got: Buffer[] = [];
    while (got.length < values.length) {
      const r = await c.send(ApiKey.Fetch, 11, {
        replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 8 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
        topics: [{ topic: 'cuts', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: BigInt(got.length), logStartOffset: -1n, partitionMaxBytes: 8 << 20 }] }],
      });
      const records = decodeRecords(r.responses[0].partitions[0].records);
      assert.ok(records.length > 0);
      got.push(...records.map((rec) => rec.value!));
    }
    assert.equal(got.length, values.length);
    for (let i = 0; i < values.length; i++) assert.ok(got[i].equals(values[i]), `value ${i} came back as sent`);
    c.close();
  } finally {
    await broker.stop();
  }
});

test('a connection handles one request at a time: pipelined requests wait in the socket', { timeout: 60_000 }, async () => {
  // A new group answers its first JoinGroup only after group.initial.rebalance.delay.ms: 12
  // joins with 1 MiB of metadata each, pipelined, are taken one after the other.
  const broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 300 } });
  try {
    const c = await RawClient.connect(broker.port);
    const metadata = Buffer.alloc(1024 * 1024, 1);
    const joins = Array.from({ length: 12 }, (_, i) => c.send(ApiKey.JoinGroup, 3, {
      groupId: `g${i}`, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata }],
    }));
    await new Promise((r) => setTimeout(r, 700));
    const stats = broker.broker.connections().find((s) => s.remote.endsWith(`:${c.socket.localPort}`))!;
    assert.equal(stats.inFlight, 1, 'one join in flight');
    assert.equal(stats.reading, false, 'the rest wait in the socket');
    // Every join is answered in the end, in order.
    const answers = await Promise.all(joins);
    assert.deepEqual(answers.map((a) => a.errorCode), answers.map(() => 0));
    c.close();
  } finally {
    await broker.stop();
  }
});

test('requests in flight hold buffers of at most twice their size', { timeout: 60_000 }, async () => {
  const gc = runInNewContext('gc', {}) as () => void;
  // JoinGroups of new groups wait group.initial.rebalance.delay.ms for their answer: their frames
  // stay in flight meanwhile. 200 connections with a join of 100 KB each are 20 MB of requests.
  const broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 3000 } });
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < 200; i++) clients.push(await RawClient.connect(broker.port));
    const metadata = Buffer.alloc(100_000, 1);
    gc();
    const before = process.memoryUsage().arrayBuffers;
    const joins = clients.map((c, i) => c.send(ApiKey.JoinGroup, 3, {
      groupId: `g${i}`, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata }],
    }));
    await sleep(1500);
    const inFlight = broker.broker.connections().reduce((n, s) => n + s.inFlight, 0);
    assert.equal(inFlight, 200, 'every join waits for the rebalance delay');
    gc();
    const held = process.memoryUsage().arrayBuffers - before;
    // 128 KiB a frame (25 MiB in all); the groups keep a copy of each metadata too.
    assert.ok(held < 60 * 1024 * 1024, `${Math.round(held / 1048576)} MiB held for 20 MB of requests in flight`);
    const answers = await Promise.all(joins);
    assert.deepEqual(answers.map((a) => a.errorCode), answers.map(() => 0));
  } finally {
    for (const c of clients) c.close();
    await broker.stop();
  }
});

test('a client announcing a huge frame holds memory only for what it sends', { timeout: 60_000 }, async () => {
  const broker = await startBroker({ port: 0 });
  const sockets: ReturnType<typeof connect>[] = [];
  try {
    const before = process.memoryUsage().arrayBuffers;
    // 30 connections each announce a 90 MiB request (under socket.request.max.bytes) and send 1 KiB of it.
    for (let i = 0; i < 30; i++) {
      const s = connect({ port: broker.port, host: '127.0.0.1' });
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      const head = Buffer.alloc(4 + 1024);
      head.writeInt32BE(90 * 1024 * 1024, 0);
      s.write(head);
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 300));
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 300 * 1024 * 1024, `${Math.round(grown / 1048576)} MiB of buffers for 30 KiB received (2.6 GiB announced)`);
    // The broker still serves others.
    const other = await RawClient.connect(broker.port);
    const md = await other.send(ApiKey.Metadata, 1, { topics: [] });
    assert.equal(md.brokers.length, 1);
    other.close();
  } finally {
    for (const s of sockets) s.destroy();
    await broker.stop();
  }
});

test('connections idle after a burst keep no frame buffers of their own', { timeout: 60_000 }, async () => {
  const gc = runInNewContext('gc', {}) as () => void;
  // On disk, so that what is stored stays out of memory but for the partition's tail cache (8 MiB).
  const dir = tempDir();
  const broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
  const clients: RawClient[] = [];
  try {
    const c0 = await RawClient.connect(broker.port);
    clients.push(c0);
    await c0.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'burst', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    const records = buildRecordBatch({ records: [{ key: null, value: Buffer.alloc(20_000, 7), headers: [], timestamp: BigInt(Date.now()) }] });
    const produce = { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: 'burst', partitionData: [{ index: 0, records }] }] };
    gc();
    const before = process.memoryUsage().arrayBuffers;
    // 40 clients each pipeline 80 requests of 20 KB: each frame took a 64 KiB buffer, and every
    // connection kept up to 16 MiB of them (here 5 MiB each, 200 MiB in all) while idle.
    for (let i = 0; i < 40; i++) clients.push(await RawClient.connect(broker.port));
    await Promise.all(clients.slice(1).map((c) => Promise.all(Array.from({ length: 80 }, () => c.send(ApiKey.Produce, 9, produce)))));
    // Idle: the buffers of the requests that were in flight (many, while the disk took each write)
    // are garbage now; a collection finds them, and its sweeper frees their memory off the main
    // thread, which the next collection's figures show.
    gc();
    await sleep(250);
    gc();
    const held = process.memoryUsage().arrayBuffers - before;
    assert.ok(held < 80 * 1024 * 1024, `${Math.round(held / 1048576)} MiB held by 40 idle connections`);
  } finally {
    for (const c of clients) c.close();
    await broker.stop();
    dir.remove();
  }
});

test('pipelined requests see what the requests before them did, as Kafka handles one at a time', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
  const c = await RawClient.connect(broker.port);
  try {
    await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: [{ name: 'rw', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    const records = () => buildRecordBatch({ baseOffset: 0n, records: [{ key: null, value: Buffer.from('x'), headers: [] }] });
    const produce = (acks: number) => ({ transactionalId: null, acks, timeoutMs: 1000, topicData: [{ name: 'rw', partitionData: [{ index: 0, records: records() }] }] });
    const listOffsets = { replicaId: -1, isolationLevel: 0, topics: [{ name: 'rw', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] };
    /** Writes the requests in one piece, so that they are read together. */
    const pipeline = (requests: [number, number, unknown][]) => {
      const prepared = requests.map(([key, version, body]) => c.prepare(key, version, body));
      c.writeRaw(Buffer.concat(prepared.map((p) => p.bytes)));
      return Promise.all(prepared.map((p) => p.response));
    };
    for (let i = 1; i <= 5; i++) {
      const [, offsets] = await pipeline([[ApiKey.Produce, 9, produce(1)], [ApiKey.ListOffsets, 7, listOffsets]]);
      assert.equal(offsets.topics[0].partitions[0].offset, BigInt(i), 'the end offset after the produce before it');
    }
    // acks=0 gets no answer, but the request behind it still sees its record.
    const ack0 = encodeRequest(ApiKey.Produce, 9, 999, 'rw', produce(0));
    const next = c.prepare(ApiKey.ListOffsets, 7, listOffsets);
    c.writeRaw(Buffer.concat([ack0, next.bytes]));
    assert.equal((await next.response).topics[0].partitions[0].offset, 6n);

    const commit = (offset: bigint) => ({ groupId: 'rw-group', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, topics: [{ name: 'rw', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }] });
    const fetchCommitted = { groupId: 'rw-group', topics: [{ name: 'rw', partitionIndexes: [0] }], requireStable: false };
    for (const offset of [3n, 4n, 5n]) {
      const [committed, fetched] = await pipeline([[ApiKey.OffsetCommit, 8, commit(offset)], [ApiKey.OffsetFetch, 7, fetchCommitted]]);
      assert.equal(committed.topics[0].partitions[0].errorCode, 0);
      assert.equal(fetched.topics[0].partitions[0].committedOffset, offset, 'the offset committed just before');
    }

    // Pipelined produce requests append in the order they came.
    const produces = await pipeline(Array.from({ length: 20 }, (): [number, number, unknown] => [ApiKey.Produce, 9, produce(1)]));
    assert.deepEqual(produces.map((r) => r.responses[0].partitionResponses[0].baseOffset), Array.from({ length: 20 }, (_, i) => BigInt(6 + i)));
  } finally {
    c.close();
    await broker.stop();
    dir.remove();
  }
});

test('a client that ends its side after sending still gets every answer, then the connection closes', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
  try {
    const setup = await RawClient.connect(broker.port);
    await setup.send(ApiKey.CreateTopics, 5, { timeoutMs: 1000, validateOnly: false, topics: [{ name: 'half', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    setup.close();
    const c = await RawClient.connect(broker.port);
    const produce = (value: string) => ({ transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'half', partitionData: [{ index: 0, records: buildRecordBatch({ baseOffset: 0n, records: [{ key: null, value: Buffer.from(value), headers: [] }] }) }] }] });
    const longPoll = {
      replicaId: -1, maxWaitMs: 500, minBytes: 1_000_000, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
      topics: [{ topic: 'half', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    };
    const requests = [c.prepare(ApiKey.Produce, 9, produce('a')), c.prepare(ApiKey.Produce, 9, produce('b')), c.prepare(ApiKey.Fetch, 11, longPoll), c.prepare(ApiKey.Produce, 9, produce('c'))];
    c.socket.end(Buffer.concat(requests.map((r) => r.bytes)));
    const [a, b, fetched, after] = await Promise.all(requests.map((r) => r.response));
    assert.deepEqual([a, b, after].map((r) => r.responses[0].partitionResponses[0].baseOffset), [0n, 1n, 2n]);
    assert.equal([...iterateBatches(fetched.responses[0].partitions[0].records)].length, 2, 'the long poll answered with the two batches before it');
    assert.ok(await c.waitClosed(5000), 'then the broker closes the connection');
  } finally {
    await broker.stop();
    dir.remove();
  }
});

test('max.connections.per.ip closes a connection past the limit at once, max.connections.per.ip.overrides raises it for an address, and both follow a dynamic change', { timeout: 30_000 }, async () => {
  const broker = await startBroker({ port: 0, config: { 'max.connections.per.ip': 2 } });
  const open: RawClient[] = [];
  const versions = (c: RawClient) => c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'limits', clientSoftwareVersion: '1' });
  try {
    for (let i = 0; i < 2; i++) open.push(await RawClient.connect(broker.port));
    for (const c of open) assert.equal((await versions(c)).errorCode, 0);
    const third = await RawClient.connect(broker.port);
    assert.equal(await third.waitClosed(2000), true, 'the third connection from 127.0.0.1 is closed');
    open.pop()!.close();
    await sleep(100);
    open.push(await RawClient.connect(broker.port));
    assert.equal((await versions(open[1]!)).errorCode, 0, 'a slot freed: the next connection is served');
    // Zero for every address needs overrides, as Kafka's KafkaConfig requires.
    const zero = await open[0]!.send(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'max.connections.per.ip', configOperation: 0, value: '0' }] }], validateOnly: false,
    });
    assert.equal(zero.responses[0].errorCode, 42, 'INVALID_REQUEST');
    assert.match(zero.responses[0].errorMessage, /can be set to zero only if max\.connections\.per\.ip\.overrides property is set/);
    // A dynamic override for this address: three connections.
    const alter = await open[0]!.send(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'max.connections.per.ip.overrides', configOperation: 0, value: '127.0.0.1:3' }] }], validateOnly: false,
    });
    assert.equal(alter.responses[0].errorCode, 0, alter.responses[0].errorMessage);
    open.push(await RawClient.connect(broker.port));
    assert.equal((await versions(open[2]!)).errorCode, 0, 'the override allows a third');
    const fourth = await RawClient.connect(broker.port);
    assert.equal(await fourth.waitClosed(2000), true, 'not a fourth');
  } finally {
    for (const c of open) c.close();
    await broker.stop();
  }
});

test('past max.connections new connections wait, unread and in order, up to socket.listen.backlog.size of them; raising the limit lets them in at once, lowering it closes the least recently active', { timeout: 30_000 }, async () => {
  const broker = await startBroker({ port: 0, config: { 'max.connections': 2, 'socket.listen.backlog.size': 2 } });
  const versions = (c: RawClient) => c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'limits', clientSoftwareVersion: '1' });
  const clients: RawClient[] = [];
  const connectClient = async () => {
    const c = await RawClient.connect(broker.port);
    clients.push(c);
    return c;
  };
  try {
    const a = await connectClient();
    const b = await connectClient();
    assert.equal((await versions(a)).errorCode, 0);
    assert.equal((await versions(b)).errorCode, 0);
    const c = await connectClient();
    const d = await connectClient();
    const order: string[] = [];
    const answeredC = versions(c).then(() => order.push('c'));
    const answeredD = versions(d).then(() => order.push('d'));
    const e = await connectClient();
    assert.equal(await e.waitClosed(2000), true, 'a third waiting connection is past the backlog: closed');
    await sleep(300);
    assert.deepEqual(order, [], 'c and d wait while a and b are open');
    a.close();
    await answeredC;
    assert.deepEqual(order, ['c'], 'the first to wait is the first in');
    // Raised at run time: d is let in without anyone closing.
    const raise = await b.send(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'max.connections', configOperation: 0, value: '3' }] }], validateOnly: false,
    });
    assert.equal(raise.responses[0].errorCode, 0, raise.responses[0].errorMessage);
    await answeredD;
    // Lowered to 2: the least recently active of b, c, d (c: its only request came before b's alter and d's answer) is closed.
    await versions(d);
    const lower = await b.send(ApiKey.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'max.connections', configOperation: 0, value: '2' }] }], validateOnly: false,
    });
    assert.equal(lower.responses[0].errorCode, 0, lower.responses[0].errorMessage);
    assert.equal(await c.waitClosed(2000), true, 'c closed');
    assert.equal((await versions(b)).errorCode, 0, 'b still served');
    assert.equal((await versions(d)).errorCode, 0, 'd still served');
  } finally {
    for (const x of clients) x.close();
    await broker.stop();
  }
});

test('a host name in max.connections.per.ip.overrides applies from the first connection on', { timeout: 30_000 }, async () => {
  const broker = await startBroker({ port: 0, config: { 'max.connections.per.ip': 0, 'max.connections.per.ip.overrides': 'localhost:1' } });
  try {
    const first = await RawClient.connect(broker.port);
    assert.equal((await first.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'limits', clientSoftwareVersion: '1' })).errorCode, 0, 'localhost may hold one');
    const second = await RawClient.connect(broker.port);
    assert.equal(await second.waitClosed(2000), true, 'not two');
    first.close();
  } finally {
    await broker.stop();
  }
});

test('an address past its connection_creation_rate quota has its new connection closed, unanswered, after the throttle time (KIP-612)', { timeout: 30_000 }, async () => {
  // Two 1 s samples: the rate is measured over at least one second.
  const broker = await startBroker({ port: 0, config: { 'quota.window.num': 2 } });
  const versions = (c: RawClient) => c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'rate', clientSoftwareVersion: '1' });
  const admin = await RawClient.connect(broker.port);
  try {
    const r = await admin.send(ApiKey.AlterClientQuotas, 1, {
      entries: [{ entity: [{ entityType: 'ip', entityName: '127.0.0.1' }], ops: [{ key: 'connection_creation_rate', value: 1, remove: false }] }], validateOnly: false,
    });
    assert.equal(r.entries[0].errorCode, 0, r.entries[0].errorMessage);
    await sleep(2100); // the admin connection's own count leaves the window
    const first = await RawClient.connect(broker.port);
    assert.equal((await versions(first)).errorCode, 0, 'one a second is within the quota');
    const second = await RawClient.connect(broker.port);
    const t0 = Date.now();
    const answered = versions(second).then(() => 'answered', () => 'closed');
    assert.equal(await answered, 'closed');
    const held = Date.now() - t0;
    assert.ok(held >= 800 && held <= 1500, `closed after ${held} ms: (2 - 1) / 1 × 1 s`);
    first.close();
    await sleep(1500); // the first connection's sample ages out (two windows)
    const later = await RawClient.connect(broker.port);
    assert.equal((await versions(later)).errorCode, 0, 'the rate fell back under the quota');
    later.close();
  } finally {
    admin.close();
    await broker.stop();
  }
});

test('past max.connection.creation.rate the listener takes no connection for the throttle time, then takes it (Kafka\'s acceptor waits)', { timeout: 30_000 }, async () => {
  // Two 1 s samples: the rate is measured over at least one second.
  const broker = await startBroker({ port: 0, config: { 'max.connection.creation.rate': 1, 'quota.window.num': 2 } });
  const versions = (c: RawClient) => c.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'rate', clientSoftwareVersion: '1' });
  const clients: RawClient[] = [];
  try {
    clients.push(await RawClient.connect(broker.port));
    assert.equal((await versions(clients[0]!)).errorCode, 0, 'one a second is within the rate');
    clients.push(await RawClient.connect(broker.port));
    const t0 = Date.now();
    assert.equal((await versions(clients[1]!)).errorCode, 0, 'the second is taken, later');
    const waited = Date.now() - t0;
    assert.ok(waited >= 800 && waited <= 1600, `answered after ${waited} ms: (2 - 1) / 1 × 1 s`);
  } finally {
    for (const c of clients) c.close();
    await broker.stop();
  }
});
