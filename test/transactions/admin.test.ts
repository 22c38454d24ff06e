/**
 * The admin views of producers and transactions, at the protocol level (RawClient):
 * DescribeProducers shows each producer's id, epoch, last sequence and the start offset of its open
 * transaction on a partition; DescribeTransactions shows a transaction's state, timeout, start time
 * and partitions; ListTransactions filters by state, producer id and (v1) duration; WriteTxnMarkers
 * aborts a hanging transaction as Kafka's admin abortTransaction does.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';
import { addPartitions, createTopics, endTxn, errorName, initProducer, produceNext } from './support.js';

let broker: RunningBroker;
let client: RawClient;

before(async () => {
  broker = await startBroker({ port: 0 });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  client.close();
  await broker.stop();
});

async function describeProducers(topics: { name: string; partitionIndexes: number[] }[]): Promise<any[]> {
  const r = await client.send(ApiKey.DescribeProducers, 0, { topics });
  return r.topics;
}

async function listTransactions(filters: { stateFilters?: string[]; producerIdFilters?: bigint[]; durationFilter?: bigint }, version = 0): Promise<any> {
  return client.send(ApiKey.ListTransactions, version, { stateFilters: [], producerIdFilters: [], durationFilter: -1n, ...filters });
}

const ids = (r: any) => r.transactionStates.map((t: any) => t.transactionalId).sort();

test('DescribeProducers, DescribeTransactions and ListTransactions show producers and transactions as they are', async () => {
  const topic = 'adm';
  await createTopics(client, [{ name: topic, partitions: 2 }]);
  const t0 = BigInt(Date.now());
  const ok = (r: any, what: string) => assert.equal(r.errorCode, ErrorCode.NONE, `${what}: ${errorName(r.errorCode)}`);

  // An idempotent producer: two batches of 3 on partition 0 (sequences 0-5, offsets 0-5).
  const idem = await initProducer(client, null);
  ok(await produceNext(client, idem, topic, 0, ['i0', 'i1', 'i2']), 'idempotent batch 1');
  ok(await produceNext(client, idem, topic, 0, ['i3', 'i4', 'i5']), 'idempotent batch 2');

  // An open transaction on both partitions: offsets 6-7 of partition 0, 0 of partition 1.
  const open = await initProducer(client, 'adm-open', 45_000);
  assert.deepEqual(await addPartitions(client, 'adm-open', open, topic, [0, 1]), [ErrorCode.NONE, ErrorCode.NONE]);
  ok(await produceNext(client, open, topic, 0, ['o0', 'o1'], 'adm-open'), 'open txn, partition 0');
  ok(await produceNext(client, open, topic, 1, ['o2'], 'adm-open'), 'open txn, partition 1');

  // A committed transaction on partition 1 (offset 1, marker at 2), and an id with no transaction yet.
  const done = await initProducer(client, 'adm-done', 20_000);
  assert.deepEqual(await addPartitions(client, 'adm-done', done, topic, [1]), [ErrorCode.NONE]);
  ok(await produceNext(client, done, topic, 1, ['d0'], 'adm-done'), 'done txn');
  assert.equal(await endTxn(client, 'adm-done', done, true), ErrorCode.NONE);
  const empty = await initProducer(client, 'adm-empty', 30_000);
  const t1 = BigInt(Date.now());

  // --- DescribeProducers ---
  const [dp, missing] = await describeProducers([{ name: topic, partitionIndexes: [0, 1, 7] }, { name: 'adm-nope', partitionIndexes: [0] }]);
  const [p0, p1, p7] = dp.partitions;
  const view = (ps: any) => ps.activeProducers
    .map((s: any) => ({ producerId: s.producerId, producerEpoch: s.producerEpoch, lastSequence: s.lastSequence, currentTxnStartOffset: s.currentTxnStartOffset }))
    .sort((a: any, b: any) => (a.producerId < b.producerId ? -1 : 1));
  assert.equal(p0.errorCode, ErrorCode.NONE);
  assert.deepEqual(view(p0), [
    { producerId: idem.producerId, producerEpoch: 0, lastSequence: 5, currentTxnStartOffset: -1n },
    { producerId: open.producerId, producerEpoch: open.epoch, lastSequence: 1, currentTxnStartOffset: 6n },
  ].sort((a, b) => (a.producerId < b.producerId ? -1 : 1)), 'partition 0');
  assert.deepEqual(view(p1), [
    { producerId: open.producerId, producerEpoch: open.epoch, lastSequence: 0, currentTxnStartOffset: 0n },
    { producerId: done.producerId, producerEpoch: done.epoch, lastSequence: 0, currentTxnStartOffset: -1n },
  ].sort((a, b) => (a.producerId < b.producerId ? -1 : 1)), 'partition 1');
  for (const s of [...p0.activeProducers, ...p1.activeProducers]) {
    assert.ok(s.lastTimestamp >= t0 - 1000n && s.lastTimestamp <= t1 + 1000n, `lastTimestamp ${s.lastTimestamp} of producer ${s.producerId}`);
  }
  const idemState = p0.activeProducers.find((s: any) => s.producerId === idem.producerId);
  assert.equal(idemState.coordinatorEpoch, -1, 'no marker was ever written for the idempotent producer');
  assert.ok(p1.activeProducers.find((s: any) => s.producerId === done.producerId).coordinatorEpoch >= 0, 'the COMMIT marker set the coordinator epoch');
  assert.equal(p7.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'a partition that does not exist');
  assert.equal(missing.partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'a topic that does not exist');

  // --- DescribeTransactions ---
  const dt = await client.send(ApiKey.DescribeTransactions, 0, { transactionalIds: ['adm-open', 'adm-done', 'adm-empty', 'adm-missing'] });
  const [dOpen, dDone, dEmpty, dMissing] = dt.transactionStates;
  assert.deepEqual(
    [dOpen.errorCode, dOpen.transactionalId, dOpen.transactionState, dOpen.transactionTimeoutMs, dOpen.producerId, dOpen.producerEpoch],
    [ErrorCode.NONE, 'adm-open', 'Ongoing', 45_000, open.producerId, open.epoch],
  );
  assert.ok(dOpen.transactionStartTimeMs >= t0 && dOpen.transactionStartTimeMs <= t1, `start time ${dOpen.transactionStartTimeMs} of the open transaction`);
  assert.deepEqual(dOpen.topics.map((t: any) => [t.topic, [...t.partitions].sort()]), [[topic, [0, 1]]]);
  assert.deepEqual([dDone.errorCode, dDone.transactionState, dDone.transactionTimeoutMs, dDone.producerId, dDone.topics], [ErrorCode.NONE, 'CompleteCommit', 20_000, done.producerId, []]);
  assert.deepEqual([dEmpty.errorCode, dEmpty.transactionState, dEmpty.transactionStartTimeMs, dEmpty.producerId, dEmpty.producerEpoch, dEmpty.topics], [ErrorCode.NONE, 'Empty', -1n, empty.producerId, empty.epoch, []]);
  assert.deepEqual([dMissing.errorCode, dMissing.transactionalId], [ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, 'adm-missing']);

  // --- ListTransactions ---
  const all = await listTransactions({});
  assert.equal(all.errorCode, ErrorCode.NONE);
  assert.deepEqual(ids(all), ['adm-done', 'adm-empty', 'adm-open']);
  assert.deepEqual(all.transactionStates.map((t: any) => [t.transactionalId, t.producerId, t.transactionState]).sort(), [
    ['adm-done', done.producerId, 'CompleteCommit'], ['adm-empty', empty.producerId, 'Empty'], ['adm-open', open.producerId, 'Ongoing'],
  ]);
  assert.deepEqual(ids(await listTransactions({ stateFilters: ['Ongoing'] })), ['adm-open']);
  assert.deepEqual(ids(await listTransactions({ stateFilters: ['CompleteCommit', 'Empty'] })), ['adm-done', 'adm-empty']);
  assert.deepEqual(ids(await listTransactions({ producerIdFilters: [done.producerId, 999_999n] })), ['adm-done']);
  assert.deepEqual(ids(await listTransactions({ stateFilters: ['Ongoing'], producerIdFilters: [done.producerId] })), [], 'filters combine');
  const bogus = await listTransactions({ stateFilters: ['Ongoing', 'Bogus'] });
  assert.deepEqual([ids(bogus), bogus.unknownStateFilters], [['adm-open'], ['Bogus']], 'unknown state names are reported back');
  // v1 duration filter: transactions running longer than the filter. An Empty id has no start time
  // (-1) and so always passes, as in Kafka.
  assert.deepEqual(ids(await listTransactions({ durationFilter: 600_000n }, 1)), ['adm-empty']);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ids(await listTransactions({ stateFilters: ['Ongoing'], durationFilter: 10n }, 1)), ['adm-open']);

  // Once committed, the transaction is no longer open anywhere.
  assert.equal(await endTxn(client, 'adm-open', open, true), ErrorCode.NONE);
  assert.deepEqual(ids(await listTransactions({ stateFilters: ['Ongoing'] })), []);
  const [after0] = await describeProducers([{ name: topic, partitionIndexes: [0, 1] }]);
  for (const p of after0.partitions) {
    const s = p.activeProducers.find((x: any) => x.producerId === open.producerId);
    assert.equal(s.currentTxnStartOffset, -1n, `partition ${p.partitionIndex}: no open transaction after the commit`);
  }
  const dAfter = (await client.send(ApiKey.DescribeTransactions, 0, { transactionalIds: ['adm-open'] })).transactionStates[0];
  assert.deepEqual([dAfter.transactionState, dAfter.topics], ['CompleteCommit', []]);
});

test('WriteTxnMarkers ends an open transaction by hand (admin abortTransaction): read_committed readers move past it', async () => {
  const topic = 'hanging';
  await createTopics(client, [{ name: topic, partitions: 1 }]);
  const p = await initProducer(client, 'hanging-txn', 60_000);
  assert.deepEqual(await addPartitions(client, 'hanging-txn', p, topic, [0]), [ErrorCode.NONE]);
  assert.equal((await produceNext(client, p, topic, 0, ['h0', 'h1'], 'hanging-txn')).errorCode, ErrorCode.NONE);
  const committedEnd = async () =>
    (await client.send(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] })).topics[0].partitions[0].offset;
  assert.equal(await committedEnd(), 0n, 'the open transaction holds the last stable offset');
  // What abortTransaction takes from DescribeProducers.
  const [state] = (await describeProducers([{ name: topic, partitionIndexes: [0] }]))[0].partitions[0].activeProducers;
  assert.equal(state.currentTxnStartOffset, 0n);
  const r = await client.send(ApiKey.WriteTxnMarkers, 1, {
    markers: [{
      producerId: state.producerId, producerEpoch: state.producerEpoch, transactionResult: false, coordinatorEpoch: state.coordinatorEpoch,
      topics: [{ name: topic, partitionIndexes: [0] }, { name: 'hanging-nope', partitionIndexes: [0] }],
    }],
  });
  assert.deepEqual(r.markers.map((m: any) => [m.producerId, m.topics.map((t: any) => [t.name, t.partitions.map((x: any) => [x.partitionIndex, x.errorCode])])]), [
    [state.producerId, [[topic, [[0, ErrorCode.NONE]]], ['hanging-nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]]]],
  ]);
  assert.equal(await committedEnd(), 3n, 'two records and the ABORT marker');
  const fetched = await client.send(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  });
  assert.deepEqual(fetched.responses[0].partitions[0].abortedTransactions, [{ producerId: state.producerId, firstOffset: 0n }]);
  const [after] = (await describeProducers([{ name: topic, partitionIndexes: [0] }]))[0].partitions[0].activeProducers;
  assert.equal(after.currentTxnStartOffset, -1n);
});
