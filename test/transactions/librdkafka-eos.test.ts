/**
 * confluent-kafka-python (librdkafka) transactions.
 * - A transactional producer commits, aborts, and commits again: read_committed readers see the two
 *   committed transactions only, read_uncommitted readers everything, at the offsets librdkafka got.
 * - Exactly once through a crash: a consume-transform-produce loop (send_offsets_to_transaction)
 *   turns N input messages into N output messages while the broker (a real process on a disk data
 *   directory, on a fixed port so the clients reconnect) is SIGKILLed mid-way and restarted. The
 *   output, read with read_committed, holds each input's transform exactly once, in input order per
 *   partition, and the group's committed offsets are the input's end.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { startBroker } from '../../src/index.js';
import { type BrokerProcess, PYTHON, run, sleep, startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import { PyEvents, TXN_PY, createTopics, freePort, kcatRead, readPartition, stableOffsets } from './support.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** Input size of the crash test; EOS_N overrides it. */
const N = Number(process.env.EOS_N ?? 100_000);

async function produceInput(bootstrap: string, topic: string, count: number, partitions: number): Promise<number[]> {
  const r = await run(PYTHON, [join(TXN_PY, 'ck_produce.py'), JSON.stringify({ topic, count, partitions, conf: { 'bootstrap.servers': bootstrap, 'linger.ms': 20 } })], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const out = JSON.parse(r.stdout) as { delivered: number; errors: unknown[]; offsets: number[] };
  assert.deepEqual([out.delivered, out.errors], [count, []], 'input produced');
  return out.offsets;
}

test('librdkafka transactional producer: commit, abort, commit', { timeout: 30_000 }, async () => {
  const broker = await startBroker({ port: 0 });
  cleanup.push(() => broker.stop());
  const client = await RawClient.connect(broker.port);
  cleanup.push(() => client.close());
  const topic = 'ck-txn';
  await createTopics(client, [{ name: topic, partitions: 2 }]);
  const r = await run(PYTHON, [join(TXN_PY, 'ck_txn.py'), JSON.stringify({ mode: 'commit_abort', bootstrap: broker.bootstrap, topic, txn_id: 'ck-txn-1', partitions: 2, commit: 10, abort: 6 })], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const out = JSON.parse(r.stdout) as Record<'t1' | 't2' | 't3', { delivered: [string, number, number, string | null][]; end: unknown }>;
  for (const t of ['t1', 't2', 't3'] as const) {
    assert.equal(out[t].end, null, `${t} ended: ${JSON.stringify(out[t].end)}`);
    assert.deepEqual(out[t].delivered.filter((d) => d[3] !== null), [], `${t} delivered`);
  }
  // Per partition: t1 at 0-4, COMMIT 5, t2 at 6-8, ABORT 9, t3 at 10-14, COMMIT 15.
  const at = (t: 't1' | 't2' | 't3') => out[t].delivered.map(([v, p, o]) => `${p}@${o}=${v}`).sort();
  const expect = (name: string, n: number, first: number) => [0, 1].flatMap((p) => Array.from({ length: n / 2 }, (_, k) => `${p}@${first + k}=${name}-${2 * k + p}`)).sort();
  assert.deepEqual(at('t1'), expect('t1', 10, 0));
  assert.deepEqual(at('t2'), expect('t2', 6, 6));
  assert.deepEqual(at('t3'), expect('t3', 10, 10));
  for (const p of [0, 1]) {
    assert.deepEqual(await stableOffsets(client, topic, p), { hw: 16n, lso: 16n });
    const raw = await readPartition(client, topic, p);
    assert.deepEqual(raw.records.filter((x) => x.control).map((x) => [x.offset, x.control]), [[5, 'COMMIT'], [9, 'ABORT'], [15, 'COMMIT']], `markers of partition ${p}`);
  }
  const rc = (await kcatRead(broker.bootstrap, topic, 'read_committed')).map((m) => `${m.partition}@${m.offset}=${m.value}`).sort();
  const ru = (await kcatRead(broker.bootstrap, topic, 'read_uncommitted')).map((m) => `${m.partition}@${m.offset}=${m.value}`).sort();
  assert.deepEqual(rc, [...expect('t1', 10, 0), ...expect('t3', 10, 10)].sort(), 'read_committed');
  assert.deepEqual(ru, [...expect('t1', 10, 0), ...expect('t2', 6, 6), ...expect('t3', 10, 10)].sort(), 'read_uncommitted');
});

test(`exactly once through a broker SIGKILL: consume-transform-produce of ${N} messages`, { timeout: 120_000 }, async () => {
  const started = Date.now();
  const dir = tempDir('samsa-txn-eos-');
  cleanup.push(() => dir.remove());
  const port = await freePort();
  const args = ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dir.path, '--set', 'group.initial.rebalance.delay.ms=0', '--set', 'num.partitions=3'];
  let broker: BrokerProcess = await startBrokerProcess(args);
  cleanup.push(() => broker.kill());
  const bootstrap = broker.bootstrap;
  let client = await RawClient.connect(port);
  await createTopics(client, [{ name: 'eos-in', partitions: 3 }, { name: 'eos-out', partitions: 3 }]);
  client.close();
  const inputOffsets = await produceInput(bootstrap, 'eos-in', N, 3);
  const produced = Date.now();

  const app = new PyEvents('eos', 'ck_eos.py', { bootstrap, input: 'eos-in', output: 'eos-out', group: 'eos-group', txn_id: 'eos-txn', total: N, batch: 1000 });
  cleanup.push(() => app.kill());
  const waitEv = async (what: string, cond: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${app.diagnostics()}\n--- broker ---\n${broker.logs.slice(-20).join('\n')}`);
      await sleep(20);
    }
  };
  const committedTotal = () => (app.last('commit')?.total as number | undefined) ?? 0;
  // Two crashes, a third and two thirds of the way, each a random moment after a commit.
  const kills: { committed: number; jitter: number; restartMs: number; at: number }[] = [];
  for (const fraction of [1 / 3, 2 / 3]) {
    await waitEv(`${Math.round(fraction * 100)}% of the input processed`, () => committedTotal() >= N * fraction, 60_000);
    const jitter = Math.floor(Math.random() * 150);
    await sleep(jitter);
    const committed = committedTotal();
    await broker.kill(); // whatever transaction is in flight dies with it
    const at = Date.now();
    await sleep(300);
    broker = await startBrokerProcess(args);
    kills.push({ committed, jitter, restartMs: Date.now() - at, at });
  }
  await waitEv('all input processed', () => app.of('done').length > 0, 90_000);
  const done = Date.now();
  assert.ok(kills.every((k) => k.committed < N), 'the broker was killed before the loop finished');
  assert.ok(app.of('commit').some((e) => (e.ms as number) > kills[1].at), 'transactions committed after the last restart');

  // The output, read_committed: every input transformed exactly once, in order per partition.
  const output = await kcatRead(bootstrap, 'eos-out', 'read_committed', 60_000);
  const inputByPartition: string[][] = [[], [], []];
  Array.from({ length: N }, (_, i) => i).sort((a, b) => inputOffsets[a] - inputOffsets[b]).forEach((i) => inputByPartition[i % 3].push(`out-${i}`));
  const values = output.map((m) => m.value);
  const dups = values.length - new Set(values).size;
  assert.equal(dups, 0, `${dups} input messages are in the output more than once`);
  assert.equal(values.length, N, `output holds ${values.length} messages for ${N} inputs`);
  for (let p = 0; p < 3; p++) {
    const got = output.filter((m) => m.partition === p).map((m) => m.value);
    assert.deepEqual(got, inputByPartition[p], `output partition ${p} is input partition ${p}, transformed, in order`);
  }
  const uncommitted = await kcatRead(bootstrap, 'eos-out', 'read_uncommitted', 60_000);

  // The group's committed offsets are the end of the input, and stable.
  client = await RawClient.connect(port);
  cleanup.push(() => client.close());
  const of = await client.send(ApiKey.OffsetFetch, 7, { groupId: 'eos-group', topics: [{ name: 'eos-in', partitionIndexes: [0, 1, 2] }], requireStable: true });
  const ends = [0, 1, 2].map((p) => inputByPartition[p].length);
  assert.deepEqual(of.topics[0].partitions.map((x: any) => [x.partitionIndex, x.errorCode, Number(x.committedOffset)]), ends.map((e, p) => [p, ErrorCode.NONE, e]));

  const errors = app.of('txn_error');
  console.log(`# eos: N=${N}, input ${produced - started} ms, loop ${done - produced} ms (${app.of('commit').length} transactions), kills ${kills.map((k) => `at ${k.committed} committed (+${k.jitter} ms), restarted in ${k.restartMs} ms`).join('; ')}; ` +
    `${errors.length} client errors (${[...new Set(errors.map((e) => `${e.where}:${e.name}`))].join(', ')}), ${app.of('rewind').length} rewinds, ${app.of('new_producer').length} new producers; ` +
    `${uncommitted.length - N} aborted output records; total ${Date.now() - started} ms`);
});
