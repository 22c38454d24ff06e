/**
 * Transactions the producer does not finish, and producers replaced by a newer one.
 * - A transaction left open past its timeout is aborted by the broker: its data is invisible to
 *   read_committed readers, the last stable offset moves past it, and the old producer is fenced
 *   (INVALID_PRODUCER_EPOCH for its produce and its EndTxn), with kafkajs, librdkafka and RawClient.
 * - A second producer with the same transactional.id fences the first: the first one's open
 *   transaction is aborted and its next send/commit fails with a fenced error (fatal for librdkafka).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../protocol/error-codes.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { waitFor } from '../support/kafkajs.js';
import { PYTHON, run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import {
  READ_COMMITTED, TXN_PY, createTopics, describeTransaction, errorName, fetchOnce, kcatRead, producerBatch, produceBatch, readPartition, stableOffsets,
} from './support.js';

const { Kafka, logLevel } = kafkajs;

let broker: RunningBroker;
let client: RawClient;
const cleanup: (() => Promise<unknown>)[] = [];

before(async () => {
  broker = await startBroker({ port: 0, config: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 200 } });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  client.close();
  await broker.stop();
});

const kafka = () => new Kafka({ brokers: [broker.bootstrap], clientId: 'txn-fence', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 } });

async function txnProducer(transactionalId: string, transactionTimeout = 30_000) {
  const p = kafka().producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout });
  await p.connect();
  cleanup.push(() => p.disconnect());
  return p;
}

/** The Kafka error type (e.g. INVALID_PRODUCER_EPOCH) behind a kafkajs error, looking through retry wrappers. */
function kafkaErrorType(e: unknown): string {
  let cur = e as { type?: string; cause?: unknown; originalError?: unknown; name?: string } | undefined;
  for (let i = 0; cur && i < 5; i++) {
    if (cur.type && cur.type !== 'UNKNOWN') return cur.type;
    cur = (cur.cause ?? cur.originalError) as typeof cur;
  }
  return `not a Kafka error: ${String(e)}`;
}

async function rejectsWith(p: Promise<unknown>, type: string, what: string): Promise<void> {
  let error: unknown = null;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `${what} succeeded`);
  assert.equal(kafkaErrorType(error), type, `${what}: ${String(error)}`);
}

test('kafkajs: a transaction open past its timeout is aborted; the producer is fenced', { timeout: 30_000 }, async () => {
  const topic = 'to-kjs';
  await createTopics(client, [{ name: topic, partitions: 1 }]);
  const producer = await txnProducer('to-kjs-txn', 1000);
  const t = await producer.transaction();
  const opened = Date.now();
  await t.send({ topic, messages: ['a', 'b', 'c'].map((value) => ({ value, partition: 0 })) });
  const open = await describeTransaction(client, 'to-kjs-txn');
  assert.equal(open.transactionState, 'Ongoing');
  assert.equal(open.transactionTimeoutMs, 1000);
  assert.deepEqual(await stableOffsets(client, topic, 0), { hw: 3n, lso: 0n }, 'the open transaction holds the LSO at its first offset');

  let abortedAt = 0;
  await waitFor(async () => {
    const s = (await describeTransaction(client, 'to-kjs-txn')).transactionState;
    if (s === 'CompleteAbort') abortedAt = Date.now();
    return s === 'CompleteAbort';
  }, 8000, 'the broker aborts the timed-out transaction');
  assert.ok(abortedAt - opened >= 1000, `aborted after ${abortedAt - opened} ms, before its 1000 ms timeout`);
  const aborted = await describeTransaction(client, 'to-kjs-txn');
  assert.equal(aborted.producerEpoch, open.producerEpoch + 1, 'the abort bumps the epoch (fencing the producer)');

  assert.deepEqual(await stableOffsets(client, topic, 0), { hw: 4n, lso: 4n }, 'the LSO moves past the abort marker');
  const raw = await readPartition(client, topic, 0);
  assert.deepEqual(raw.records.map((r) => [r.offset, r.control ?? r.value, r.epoch]), [[0, 'a', open.producerEpoch], [1, 'b', open.producerEpoch], [2, 'c', open.producerEpoch], [3, 'ABORT', open.producerEpoch + 1]]);
  const rc = await fetchOnce(client, topic, 0, 0n, READ_COMMITTED);
  assert.deepEqual(rc.abortedTransactions.map((a: any) => [a.producerId, a.firstOffset]), [[open.producerId, 0n]], 'read_committed fetches list the aborted transaction');
  assert.deepEqual(await kcatRead(broker.bootstrap, topic, 'read_committed'), [], 'nothing of it is read_committed');

  // The old producer: its produce and its EndTxn are refused.
  const stale = await produceBatch(client, topic, 0, producerBatch({ producerId: open.producerId, epoch: open.producerEpoch, baseSequence: 3, values: ['raw'], transactional: true }), 'to-kjs-txn');
  assert.equal(stale.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, `produce with the old epoch: ${errorName(stale.errorCode)}`);
  await rejectsWith(t.send({ topic, messages: [{ value: 'd', partition: 0 }] }), 'INVALID_PRODUCER_EPOCH', 'send after the timeout');
  await rejectsWith(t.commit(), 'INVALID_PRODUCER_EPOCH', 'commit after the timeout');
  assert.equal((await stableOffsets(client, topic, 0)).hw, 4n, 'the fenced producer wrote nothing more');

  // A new producer with the same id carries on.
  const again = await txnProducer('to-kjs-txn', 10_000);
  const t2 = await again.transaction();
  await t2.send({ topic, messages: [{ value: 'fresh', partition: 0 }] });
  await t2.commit();
  const after = await describeTransaction(client, 'to-kjs-txn');
  assert.deepEqual([after.transactionState, after.producerId, after.producerEpoch], ['CompleteCommit', open.producerId, open.producerEpoch + 2]);
  assert.deepEqual((await kcatRead(broker.bootstrap, topic, 'read_committed')).map((m) => [m.offset, m.value]), [[4, 'fresh']]);
});

test('kafkajs: a second producer with the same transactional id fences the first', { timeout: 30_000 }, async () => {
  const topic = 'fence-kjs';
  await createTopics(client, [{ name: topic, partitions: 2 }]);
  const first = await txnProducer('fence-kjs-txn');
  const t1 = await first.transaction();
  await t1.send({ topic, messages: [0, 1].map((p) => ({ value: `first-${p}`, partition: p })) });
  const before = await describeTransaction(client, 'fence-kjs-txn');
  assert.equal(before.transactionState, 'Ongoing');

  const second = await txnProducer('fence-kjs-txn');
  const t2 = await second.transaction(); // kafkajs sends InitProducerId here: it aborts the open transaction
  const fenced = await describeTransaction(client, 'fence-kjs-txn');
  assert.equal(fenced.transactionState, 'Empty');
  assert.equal(fenced.producerId, before.producerId);
  assert.ok(fenced.producerEpoch >= before.producerEpoch + 1, `epoch ${fenced.producerEpoch} after ${before.producerEpoch}`);
  for (const p of [0, 1]) assert.deepEqual(await stableOffsets(client, topic, p), { hw: 2n, lso: 2n }, `partition ${p}: the first producer's transaction was aborted`);

  await rejectsWith(t1.send({ topic, messages: [{ value: 'first-late', partition: 0 }] }), 'INVALID_PRODUCER_EPOCH', 'the fenced producer sends');
  await rejectsWith(t1.commit(), 'INVALID_PRODUCER_EPOCH', 'the fenced producer commits');

  await t2.send({ topic, messages: [0, 1].map((p) => ({ value: `second-${p}`, partition: p })) });
  await t2.commit();
  for (const p of [0, 1]) {
    const raw = await readPartition(client, topic, p);
    assert.deepEqual(raw.records.map((r) => r.control ?? r.value), [`first-${p}`, 'ABORT', `second-${p}`, 'COMMIT'], `partition ${p} as stored`);
  }
  const rc = await kcatRead(broker.bootstrap, topic, 'read_committed');
  assert.deepEqual(rc.map((m) => `${m.partition}@${m.offset}=${m.value}`).sort(), ['0@2=second-0', '1@2=second-1']);
});

interface PyError {
  name: string;
  code: number;
  fatal: boolean;
  retriable: boolean;
  abortable: boolean;
  str: string;
}

async function runTxnScript(args: Record<string, unknown>): Promise<any> {
  const r = await run(PYTHON, [join(TXN_PY, 'ck_txn.py'), JSON.stringify({ bootstrap: broker.bootstrap, ...args })], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  return JSON.parse(r.stdout);
}

/** librdkafka reports a fenced producer as _FENCED (its own code, fatal) or as the broker's error. */
function assertFenced(e: PyError | null, what: string): void {
  assert.ok(e, `${what} succeeded`);
  assert.ok(['_FENCED', 'PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH'].includes(e.name), `${what}: ${JSON.stringify(e)}`);
  assert.equal(e.fatal, true, `${what} is fatal: ${JSON.stringify(e)}`);
}

test('librdkafka: a second producer with the same transactional id fences the first (fatal)', { timeout: 60_000 }, async () => {
  const topic = 'fence-ck';
  await createTopics(client, [{ name: topic, partitions: 1 }]);
  const out = await runTxnScript({ mode: 'fence', topic, txn_id: 'fence-ck-txn' });
  assert.deepEqual(out.a_delivered.map((d: any[]) => [d[0], d[2], d[3]]), [['a-0', 0, null], ['a-1', 1, null]]);
  assert.equal(out.b_init, null, `the second producer starts: ${JSON.stringify(out.b_init)}`);
  console.log(`# librdkafka, fenced commit: ${out.a_commit?.name} (${out.a_commit?.str})`);
  assertFenced(out.a_commit, 'commit of the fenced producer');
  assert.ok(out.a_begin_again, 'the fenced producer cannot begin another transaction');
  assert.equal(out.b_commit, null, `the new producer commits: ${JSON.stringify(out.b_commit)}`);
  assert.deepEqual(out.b_delivered.map((d: any[]) => [d[0], d[2]]), [['b-0', 3]], 'after a-0, a-1 and the ABORT marker');
  const raw = await readPartition(client, topic, 0);
  assert.deepEqual(raw.records.map((r) => r.control ?? r.value), ['a-0', 'a-1', 'ABORT', 'b-0', 'COMMIT']);
  assert.deepEqual((await kcatRead(broker.bootstrap, topic, 'read_committed')).map((m) => m.value), ['b-0']);
});

test('librdkafka: a transaction open past its timeout is aborted; its commit fails, fenced', { timeout: 60_000 }, async () => {
  const topic = 'to-ck';
  await createTopics(client, [{ name: topic, partitions: 1 }]);
  const out = await runTxnScript({ mode: 'timeout', topic, txn_id: 'to-ck-txn', timeout_ms: 1000, sleep: 2.5 });
  assert.deepEqual(out.delivered.map((d: any[]) => [d[0], d[2], d[3]]), [['late-0', 0, null], ['late-1', 1, null]]);
  console.log(`# librdkafka, commit after the timeout: ${out.commit?.name} (${out.commit?.str})`);
  assertFenced(out.commit, 'commit after the broker aborted the transaction');
  const raw = await readPartition(client, topic, 0);
  assert.deepEqual(raw.records.map((r) => r.control ?? r.value), ['late-0', 'late-1', 'ABORT']);
  assert.deepEqual(await stableOffsets(client, topic, 0), { hw: 3n, lso: 3n });
  assert.deepEqual(await kcatRead(broker.bootstrap, topic, 'read_committed'), []);
  const d = await describeTransaction(client, 'to-ck-txn');
  assert.equal(d.transactionState, 'CompleteAbort');
});
