/**
 * Transactions across a broker crash (a real process on a disk data directory, SIGKILLed):
 * committed and aborted transactions stay committed and aborted for read_committed readers; a
 * transaction left open is still open after recovery and holds the last stable offset where it
 * held it before (Fetch lastStableOffset and ListOffsets latest with isolation 1 agree); a new
 * producer with the same transactional.id aborts it (InitProducerId), and another one is aborted
 * by its timeout. And producer ids handed out before a restart are not handed out again.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../protocol/error-codes.js';
import { waitFor } from '../support/kafkajs.js';
import { type BrokerProcess, sleep, startBrokerProcess, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import {
  READ_COMMITTED, type RawProducer, addPartitions, createTopics, describeTransaction, endTxn, errorName, fetchOnce, initProducer, kcatRead,
  producerBatch, produceBatch, produceNext, readPartition, stableOffsets,
} from './support.js';

const { Kafka, logLevel } = kafkajs;

const cleanup: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function start(dir: string, extra: string[] = []): Promise<{ broker: BrokerProcess; client: RawClient }> {
  const broker = await startBrokerProcess(['--port', '0', '--data-dir', dir, '--set', 'transaction.abort.timed.out.transaction.cleanup.interval.ms=200', ...extra]);
  cleanup.push(() => broker.kill());
  const client = await RawClient.connect(broker.port);
  cleanup.push(() => client.close());
  return { broker, client };
}

/** Transaction timeout of rs-timeout: long enough to check it is still open after the restart. */
const TIMEOUT = 5000;

const ok = (r: any, what: string) => assert.equal(r.errorCode, ErrorCode.NONE, `${what}: ${errorName(r.errorCode)}`);

async function transaction(client: RawClient, id: string, topic: string, values: string[], end: 'commit' | 'abort' | 'open', timeoutMs = 60_000): Promise<RawProducer> {
  const p = await initProducer(client, id, timeoutMs);
  assert.deepEqual(await addPartitions(client, id, p, topic, [0]), [ErrorCode.NONE], `${id}: AddPartitionsToTxn`);
  ok(await produceNext(client, p, topic, 0, values, id), `${id}: produce`);
  if (end !== 'open') assert.equal(await endTxn(client, id, p, end === 'commit'), ErrorCode.NONE, `${id}: EndTxn`);
  return p;
}

// Producer state comes back from the log alone (no snapshot was taken before the crash), or from a
// producer-state snapshot taken mid-way plus the log written after it.
for (const mode of ['log replay', 'snapshot + log'] as const) {
  test(`an open transaction survives SIGKILL (${mode}): same LSO after recovery; a new producer or the timeout aborts it`, { timeout: 60_000 }, async () => {
    const started = Date.now();
    const dir = tempDir('samsa-txn-restart-');
    cleanup.push(() => dir.remove());
    const extra = ['--set', `samsa.producer.snapshot.interval.ms=${mode === 'snapshot + log' ? 200 : 600_000}`];
    let { broker, client } = await start(dir.path, extra);
    await createTopics(client, [{ name: 'rs', partitions: 1 }, { name: 'rs2', partitions: 1 }]);

    const plain = (values: string[]) => produceBatch(client, 'rs', 0, producerBatch({ producerId: -1n, epoch: -1, baseSequence: -1, values }));
    ok(await plain(['p0', 'p1']), 'plain'); // 0-1
    await transaction(client, 'rs-commit', 'rs', ['c0', 'c1'], 'commit'); // 2-3, COMMIT at 4
    const aborted = await transaction(client, 'rs-abort', 'rs', ['a0'], 'abort'); // 5, ABORT at 6
    const open = await transaction(client, 'rs-open', 'rs', ['o0', 'o1', 'o2'], 'open'); // 7-9
    if (mode === 'snapshot + log') await sleep(700); // a snapshot with T2 aborted and T3 open; the rest only in the log
    ok(await plain(['p2']), 'plain after the open transaction'); // 10
    const timedOpenedAt = Date.now();
    const timed = await transaction(client, 'rs-timeout', 'rs2', ['t0', 't1'], 'open', TIMEOUT); // rs2: 0-1

    const check = async (when: string) => {
      assert.deepEqual(await stableOffsets(client, 'rs', 0), { hw: 11n, lso: 7n }, `rs ${when}`);
      assert.deepEqual(await stableOffsets(client, 'rs2', 0), { hw: 2n, lso: 0n }, `rs2 ${when}`);
      const rc = await fetchOnce(client, 'rs', 0, 0n, READ_COMMITTED);
      assert.deepEqual(rc.abortedTransactions.map((a: any) => [a.producerId, a.firstOffset]), [[aborted.producerId, 5n]], `aborted transactions ${when}`);
      assert.deepEqual((await kcatRead(broker.bootstrap, 'rs', 'read_committed')).map((m) => [m.offset, m.value]), [[0, 'p0'], [1, 'p1'], [2, 'c0'], [3, 'c1']], `read_committed ${when}`);
      assert.deepEqual(await kcatRead(broker.bootstrap, 'rs2', 'read_committed'), [], `rs2 read_committed ${when}`);
      const d = await describeTransaction(client, 'rs-open');
      assert.deepEqual([d.transactionState, d.producerId, d.producerEpoch, d.topics.map((t: any) => [t.topic, t.partitions])], ['Ongoing', open.producerId, open.epoch, [['rs', [0]]]], `rs-open ${when}`);
      assert.equal((await describeTransaction(client, 'rs-commit')).transactionState, 'CompleteCommit', `rs-commit ${when}`);
      assert.equal((await describeTransaction(client, 'rs-abort')).transactionState, 'CompleteAbort', `rs-abort ${when}`);
    };
    await check('before the crash');
    const snapshots = readdirSync(join(dir.path, 'rs-0')).filter((f) => f.endsWith('.producer-state'));
    if (mode === 'snapshot + log') assert.ok(snapshots.length > 0, 'a producer-state snapshot was written before the crash');
    else assert.deepEqual(snapshots, [], 'no producer-state snapshot before the crash');

    await broker.kill();
    client.close();
    ({ broker, client } = await start(dir.path, extra));
    await waitFor(async () => (await describeTransaction(client, 'rs-open')).errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 10_000, 'transactions loaded');
    const recoveredAfter = Date.now() - timedOpenedAt;
    assert.ok(recoveredAfter < TIMEOUT - 2000, `recovery took ${recoveredAfter} ms: rs-timeout may time out before it is checked open`);
    await check('after recovery');

    // A new producer with the same transactional id: its InitProducerId aborts the open transaction.
    const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'txn-restart', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 } });
    const producer = kafka.producer({ transactionalId: 'rs-open', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanup.push(() => producer.disconnect().catch(() => {}));
    const t = await producer.transaction();
    const d = await describeTransaction(client, 'rs-open');
    assert.deepEqual([d.transactionState, d.producerId], ['Empty', open.producerId]);
    assert.ok(d.producerEpoch >= open.epoch + 1, `epoch ${d.producerEpoch} after ${open.epoch}`);
    const raw = await readPartition(client, 'rs', 0);
    assert.deepEqual(raw.records.slice(7).map((r) => [r.offset, r.control ?? r.value, r.producerId]), [
      [7, 'o0', open.producerId], [8, 'o1', open.producerId], [9, 'o2', open.producerId], [10, 'p2', -1n], [11, 'ABORT', open.producerId],
    ], 'the open transaction was aborted');
    assert.deepEqual(await stableOffsets(client, 'rs', 0), { hw: 12n, lso: 12n }, 'rs after the abort');
    await t.send({ topic: 'rs', messages: [{ value: 'n0', partition: 0 }] });
    await t.commit();
    assert.deepEqual(await stableOffsets(client, 'rs', 0), { hw: 14n, lso: 14n }, 'rs after the new producer committed');
    assert.deepEqual((await kcatRead(broker.bootstrap, 'rs', 'read_committed')).map((m) => m.value), ['p0', 'p1', 'c0', 'c1', 'p2', 'n0']);

    // The other open transaction is aborted by its timeout (start time survived the restart).
    await waitFor(async () => (await describeTransaction(client, 'rs-timeout')).transactionState === 'CompleteAbort', 12_000, 'rs-timeout aborted by its timeout');
    assert.ok(Date.now() - timedOpenedAt >= TIMEOUT, 'aborted before its timeout');
    assert.equal((await describeTransaction(client, 'rs-timeout')).producerEpoch, timed.epoch + 1, 'the timeout abort bumps the epoch');
    assert.deepEqual(await stableOffsets(client, 'rs2', 0), { hw: 3n, lso: 3n }, 'rs2 after the timeout abort');
    assert.deepEqual((await readPartition(client, 'rs2', 0)).records.map((r) => r.control ?? r.value), ['t0', 't1', 'ABORT']);
    assert.deepEqual(await kcatRead(broker.bootstrap, 'rs2', 'read_committed'), []);
    console.log(`# restart with open transactions (${mode}): ${Date.now() - started} ms (checked ${recoveredAfter} ms after rs-timeout opened)`);
  });
}

test('producer ids handed out before a restart are not handed out again', { timeout: 30_000 }, async () => {
  const dir = tempDir('samsa-txn-pids-');
  cleanup.push(() => dir.remove());
  let { broker, client } = await start(dir.path);
  await createTopics(client, [{ name: 'pids', partitions: 1 }]);
  const before = await initProducer(client, null);
  ok(await produceNext(client, before, 'pids', 0, ['old0', 'old1', 'old2']), 'before the restart');
  const txnBefore = await initProducer(client, 'pids-txn');

  await broker.kill();
  client.close();
  ({ broker, client } = await start(dir.path));
  await waitFor(async () => (await describeTransaction(client, 'pids-txn')).errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 10_000, 'transactions loaded');

  // A new idempotent producer and a new transactional id after the restart.
  const after1 = await initProducer(client, null);
  const txnAfter = await initProducer(client, 'pids-txn-new');
  // Writing as a brand-new producer: sequence 0, three records.
  const r = await produceNext(client, after1, 'pids', 0, ['new0', 'new1', 'new2']);
  const log = (await readPartition(client, 'pids', 0)).records.map((x) => x.value);
  const used = [before.producerId, txnBefore.producerId];
  assert.deepEqual(
    { reused: [after1.producerId, txnAfter.producerId].filter((p) => used.includes(p)), produce: [errorName(r.errorCode), r.baseOffset], log },
    { reused: [], produce: ['NONE', 3n], log: ['old0', 'old1', 'old2', 'new0', 'new1', 'new2'] },
    `ids before the restart: ${used.join(', ')}; after: ${after1.producerId}, ${txnAfter.producerId}`,
  );
});
