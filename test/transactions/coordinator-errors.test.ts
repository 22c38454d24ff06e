/**
 * The transaction coordinator's answers at the protocol level (RawClient), against Kafka 3.9:
 * InitProducerId timeouts, KIP-360 epoch bumps and fencing (with PRODUCER_FENCED shown as
 * INVALID_PRODUCER_EPOCH to old request versions); AddPartitionsToTxn with a wrong producer or an
 * unknown partition; transactional writes to a partition not in the transaction (KIP-890
 * verification); the EndTxn state table; TxnOffsetCommit without AddOffsetsToTxn or with a stale epoch.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';
import {
  type RawProducer, addPartitions, createTopics, describeTransaction, endTxn, errorName, initProducer, initProducerId, produceBatch, produceNext, producerBatch, readPartition,
} from './support.js';

let broker: RunningBroker;
let client: RawClient;

before(async () => {
  broker = await startBroker({ port: 0, config: { 'transaction.max.timeout.ms': 60_000 } });
  client = await RawClient.connect(broker.port);
  await createTopics(client, [{ name: 'ce', partitions: 3 }]);
});
after(async () => {
  client.close();
  await broker.stop();
});

const E = ErrorCode;
const eq = (got: number, want: number, what: string) => assert.equal(got, want, `${what}: got ${errorName(got)}, want ${errorName(want)}`);

test('InitProducerId: timeouts, KIP-360 bumps with an expected epoch, fencing by version', async () => {
  eq((await initProducerId(client, 'ce-init', 60_001)).errorCode, E.INVALID_TRANSACTION_TIMEOUT, 'timeout above transaction.max.timeout.ms');
  eq((await initProducerId(client, 'ce-init', 0)).errorCode, E.INVALID_TRANSACTION_TIMEOUT, 'timeout 0');
  eq((await initProducerId(client, '', 1000)).errorCode, E.INVALID_REQUEST, 'empty transactional id');
  const half = await client.send(ApiKey.InitProducerId, 3, { transactionalId: 'ce-init', transactionTimeoutMs: 1000, producerId: 5n, producerEpoch: -1 });
  eq(half.errorCode, E.INVALID_REQUEST, 'a producer id without an epoch');
  const idem = await initProducerId(client, null, -1);
  assert.deepEqual([idem.errorCode, idem.producerEpoch], [E.NONE, 0], 'an idempotent producer ignores the timeout');

  const first = await initProducerId(client, 'ce-init', 1000);
  assert.deepEqual([first.errorCode, first.producerEpoch], [E.NONE, 0]);
  const pid = first.producerId;
  assert.notEqual(pid, idem.producerId);
  const bump = (producerId: bigint, producerEpoch: number, version = 4) =>
    client.send(ApiKey.InitProducerId, version, { transactionalId: 'ce-init', transactionTimeoutMs: 1000, producerId, producerEpoch });
  const bumped = await bump(pid, 0);
  assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [E.NONE, pid, 1], 'KIP-360: the current epoch is bumped');
  // A transaction, then a retry of that bump with another timeout: the same epoch, and the
  // transaction is recorded as Empty with the new timeout, as Kafka does.
  const bumpedProducer: RawProducer = { producerId: pid, epoch: 1, seq: new Map() };
  assert.deepEqual(await addPartitions(client, 'ce-init', bumpedProducer, 'ce', [0]), [E.NONE]);
  eq(await endTxn(client, 'ce-init', bumpedProducer, true), E.NONE, 'commit');
  assert.equal((await describeTransaction(client, 'ce-init')).transactionState, 'CompleteCommit');
  const retried = await client.send(ApiKey.InitProducerId, 4, { transactionalId: 'ce-init', transactionTimeoutMs: 2000, producerId: pid, producerEpoch: 0 });
  assert.deepEqual([retried.errorCode, retried.producerId, retried.producerEpoch], [E.NONE, pid, 1], 'a retry of that bump gets the same epoch');
  const after = await describeTransaction(client, 'ce-init');
  assert.deepEqual([after.transactionState, after.transactionTimeoutMs, after.producerEpoch], ['Empty', 2000, 1]);
  eq((await bump(pid, 7)).errorCode, E.PRODUCER_FENCED, 'an epoch that is neither the current nor the last one (v4)');
  eq((await bump(pid, 7, 3)).errorCode, E.INVALID_PRODUCER_EPOCH, 'the same with v3, which has no PRODUCER_FENCED');
  eq((await bump(pid + 1000n, 1)).errorCode, E.PRODUCER_FENCED, 'another producer id');
  const plain = await initProducerId(client, 'ce-init', 1000, 0);
  assert.deepEqual([plain.errorCode, plain.producerId, plain.producerEpoch], [E.NONE, pid, 2], 'v0 without an expected epoch bumps too');
});

test('AddPartitionsToTxn: wrong producer, stale epoch, unknown partitions', async () => {
  const p = await initProducer(client, 'ce-add');
  await initProducer(client, 'ce-add'); // epoch + 1: `p` is now stale
  const cur = await describeTransaction(client, 'ce-add');
  const now: RawProducer = { producerId: cur.producerId, epoch: cur.producerEpoch, seq: new Map() };
  assert.deepEqual(await addPartitions(client, 'ce-add', { ...now, producerId: now.producerId + 77n }, 'ce', [0, 1]), [E.INVALID_PRODUCER_ID_MAPPING, E.INVALID_PRODUCER_ID_MAPPING], 'wrong producer id');
  assert.deepEqual(await addPartitions(client, 'ce-nobody', now, 'ce', [0]), [E.INVALID_PRODUCER_ID_MAPPING], 'unknown transactional id');
  assert.deepEqual(await addPartitions(client, 'ce-add', p, 'ce', [0]), [E.PRODUCER_FENCED], 'stale epoch, v3');
  const v1 = await client.send(ApiKey.AddPartitionsToTxn, 1, { v3AndBelowTransactionalId: 'ce-add', v3AndBelowProducerId: p.producerId, v3AndBelowProducerEpoch: p.epoch, v3AndBelowTopics: [{ name: 'ce', partitions: [0] }] });
  eq(v1.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, E.INVALID_PRODUCER_EPOCH, 'stale epoch, v1');
  const mixed = await client.send(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'ce-add', v3AndBelowProducerId: now.producerId, v3AndBelowProducerEpoch: now.epoch,
    v3AndBelowTopics: [{ name: 'ce', partitions: [0, 9] }, { name: 'ce-missing', partitions: [0] }],
  });
  assert.deepEqual(
    mixed.resultsByTopicV3AndBelow.map((t: any) => [t.name, t.resultsByPartition.map((r: any) => [r.partitionIndex, r.partitionErrorCode])]),
    [['ce', [[0, E.OPERATION_NOT_ATTEMPTED], [9, E.UNKNOWN_TOPIC_OR_PARTITION]]], ['ce-missing', [[0, E.UNKNOWN_TOPIC_OR_PARTITION]]]],
  );
  assert.equal((await describeTransaction(client, 'ce-add')).transactionState, 'Empty', 'nothing was added');
  assert.deepEqual(await addPartitions(client, 'ce-add', now, 'ce', [0, 1]), [E.NONE, E.NONE]);
  const d = await describeTransaction(client, 'ce-add');
  assert.deepEqual([d.transactionState, d.topics.map((t: any) => [t.topic, [...t.partitions].sort()])], ['Ongoing', [['ce', [0, 1]]]]);
  assert.equal(await endTxn(client, 'ce-add', now, false), E.NONE);
});

test('a transactional write to a partition not added to the transaction is refused (verification)', async () => {
  const p = await initProducer(client, 'ce-verify');
  const before = (await readPartition(client, 'ce', 2)).highWatermark;
  const r = await produceNext(client, p, 'ce', 2, ['not-added'], 'ce-verify');
  eq(r.errorCode, E.INVALID_TXN_STATE, 'produce v9 to a partition outside the transaction');
  assert.deepEqual(await addPartitions(client, 'ce-verify', p, 'ce', [1]), [E.NONE]);
  eq((await produceNext(client, p, 'ce', 2, ['still-not'], 'ce-verify')).errorCode, E.INVALID_TXN_STATE, 'another partition is in the transaction, not this one');
  assert.equal((await readPartition(client, 'ce', 2)).highWatermark, before, 'nothing was appended');
  eq((await produceNext(client, p, 'ce', 1, ['added'], 'ce-verify')).errorCode, E.NONE, 'the added partition');
  assert.equal(await endTxn(client, 'ce-verify', p, true), E.NONE);
});

test('a fenced producer writing to a partition it never wrote to gets INVALID_PRODUCER_EPOCH', async () => {
  // Kafka verifies the write with the coordinator, which answers PRODUCER_FENCED for the old epoch,
  // and the produce response carries INVALID_PRODUCER_EPOCH.
  const old = await initProducer(client, 'ce-fenced');
  assert.deepEqual(await addPartitions(client, 'ce-fenced', old, 'ce', [0]), [E.NONE]);
  await initProducer(client, 'ce-fenced'); // aborts the (empty) transaction, bumps the epoch twice
  const r = await produceNext(client, old, 'ce', 2, ['zombie'], 'ce-fenced');
  eq(r.errorCode, E.INVALID_PRODUCER_EPOCH, 'transactional produce with a fenced epoch to an untouched partition');
});

test('EndTxn: the state table, stale epochs by version, wrong producer', async () => {
  const p = await initProducer(client, 'ce-end');
  eq(await endTxn(client, 'ce-end', p, true), E.INVALID_TXN_STATE, 'commit with no transaction (Empty)');
  eq(await endTxn(client, 'ce-end', p, false), E.INVALID_TXN_STATE, 'abort with no transaction (Empty)');
  assert.deepEqual(await addPartitions(client, 'ce-end', p, 'ce', [0]), [E.NONE]);
  eq((await produceNext(client, p, 'ce', 0, ['e0'], 'ce-end')).errorCode, E.NONE, 'produce');
  eq(await endTxn(client, 'ce-end', { ...p, producerId: p.producerId + 55n }, true), E.INVALID_PRODUCER_ID_MAPPING, 'wrong producer id');
  eq(await endTxn(client, 'ce-end', p, true), E.NONE, 'commit');
  eq(await endTxn(client, 'ce-end', p, true), E.NONE, 'commit again (a retry) in CompleteCommit');
  eq(await endTxn(client, 'ce-end', p, false), E.INVALID_TXN_STATE, 'abort in CompleteCommit');
  assert.deepEqual(await addPartitions(client, 'ce-end', p, 'ce', [0]), [E.NONE], 'a new transaction, same epoch');
  eq(await endTxn(client, 'ce-end', p, false), E.NONE, 'abort');
  eq(await endTxn(client, 'ce-end', p, false), E.NONE, 'abort again in CompleteAbort');
  eq(await endTxn(client, 'ce-end', p, true), E.INVALID_TXN_STATE, 'commit in CompleteAbort');
  await initProducer(client, 'ce-end');
  eq(await endTxn(client, 'ce-end', p, true, 1), E.INVALID_PRODUCER_EPOCH, 'stale epoch, v1');
  eq(await endTxn(client, 'ce-end', p, true, 2), E.PRODUCER_FENCED, 'stale epoch, v2');
});

async function txnOffsetCommit(transactionalId: string, p: RawProducer, groupId: string, offset: bigint, version = 3): Promise<number> {
  const r = await client.send(ApiKey.TxnOffsetCommit, version, {
    transactionalId, groupId, producerId: p.producerId, producerEpoch: p.epoch, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'ce', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  });
  return r.topics[0].partitions[0].errorCode;
}

async function committed(groupId: string): Promise<bigint> {
  const r = await client.send(ApiKey.OffsetFetch, 7, { groupId, topics: [{ name: 'ce', partitionIndexes: [0] }], requireStable: true });
  return r.topics[0].partitions[0].committedOffset;
}

test('TxnOffsetCommit needs AddOffsetsToTxn first, and the current epoch', async () => {
  await initProducer(client, 'ce-offsets');
  const p = await initProducer(client, 'ce-offsets'); // epoch 1: epoch 0 is stale
  assert.equal(p.epoch, 1);
  assert.deepEqual(await addPartitions(client, 'ce-offsets', p, 'ce', [0]), [E.NONE]);
  eq(await txnOffsetCommit('ce-offsets', p, 'ce-group', 3n), E.INVALID_TXN_STATE, 'v3 without AddOffsetsToTxn');
  eq(await txnOffsetCommit('ce-offsets', p, 'ce-group', 3n, 4), E.TRANSACTION_ABORTABLE, 'v4 without AddOffsetsToTxn');
  const add = await client.send(ApiKey.AddOffsetsToTxn, 3, { transactionalId: 'ce-offsets', producerId: p.producerId, producerEpoch: p.epoch, groupId: 'ce-group' });
  eq(add.errorCode, E.NONE, 'AddOffsetsToTxn');
  eq(await txnOffsetCommit('ce-offsets', p, 'ce-group', 4n), E.NONE, 'after AddOffsetsToTxn');
  eq(await txnOffsetCommit('ce-offsets', { ...p, epoch: p.epoch - 1 }, 'ce-group', 5n), E.INVALID_PRODUCER_EPOCH, 'a stale epoch');
  assert.equal(await endTxn(client, 'ce-offsets', p, true), E.NONE);
  assert.equal(await committed('ce-group'), 4n, 'only the accepted commit was applied');
});

test('verification, as Kafka 3.9 orders it: by transactional id, before the log\'s own producer checks, with Kafka\'s messages', async () => {
  const p = await initProducer(client, 'ce-order');
  assert.deepEqual(await addPartitions(client, 'ce-order', p, 'ce', [0]), [E.NONE]);
  eq((await produceNext(client, p, 'ce', 0, ['in'], 'ce-order')).errorCode, E.NONE, 'produce');
  assert.equal(await endTxn(client, 'ce-order', p, true), E.NONE);
  // The same batch again after its transaction committed: verification refuses it before any duplicate check.
  const again = producerBatch({ producerId: p.producerId, epoch: p.epoch, baseSequence: 0, values: ['in'], transactional: true });
  const v9 = await produceBatch(client, 'ce', 0, again, 'ce-order');
  assert.deepEqual([v9.errorCode, v9.errorMessage], [E.INVALID_TXN_STATE, 'Partition was not added to the transaction']);
  const v11 = (await client.send(ApiKey.Produce, 11, { transactionalId: 'ce-order', acks: -1, timeoutMs: 5000, topicData: [{ name: 'ce', partitionData: [{ index: 0, records: again }] }] })).responses[0].partitionResponses[0];
  assert.deepEqual([v11.errorCode, v11.errorMessage], [E.TRANSACTION_ABORTABLE, null], 'v11: no message, as Kafka');
  // Verification looks the transaction up by the request's transactional id.
  assert.deepEqual(await addPartitions(client, 'ce-order', p, 'ce', [1]), [E.NONE]);
  const other = await produceBatch(client, 'ce', 1, producerBatch({ producerId: p.producerId, epoch: p.epoch, baseSequence: 0, values: ['x'], transactional: true }), 'ce-someone-else');
  eq(other.errorCode, E.INVALID_PRODUCER_ID_MAPPING, 'another transactional id');
  const verify = async (transactionalId: string, topic: string) => {
    const r = await client.send(ApiKey.AddPartitionsToTxn, 4, { transactions: [{ transactionalId, producerId: p.producerId, producerEpoch: p.epoch, verifyOnly: true, topics: [{ name: topic, partitions: [1] }] }] });
    return r.resultsByTransaction[0].topicResults[0].resultsByPartition[0].partitionErrorCode;
  };
  eq(await verify('ce-order', 'ce'), E.NONE, 'verifyOnly, the right id');
  eq(await verify('ce-nobody', 'ce'), E.INVALID_PRODUCER_ID_MAPPING, 'verifyOnly, an unknown id');
  eq(await verify('', 'ce'), E.INVALID_REQUEST, 'verifyOnly, an empty id');
  eq(await verify('ce-order', 'ce-missing'), E.UNKNOWN_TOPIC_OR_PARTITION, 'verifyOnly, an unknown topic');
  // A non-transactional batch while a transaction is open on the partition, even at a newer epoch.
  eq((await produceNext(client, p, 'ce', 1, ['t'], 'ce-order')).errorCode, E.NONE, 'transactional write');
  const bumped = producerBatch({ producerId: p.producerId, epoch: p.epoch + 1, baseSequence: 0, values: ['plain'] });
  eq((await produceBatch(client, 'ce', 1, bumped)).errorCode, E.INVALID_TXN_STATE, 'plain batch, newer epoch, transaction open');
  // Clients may not add internal topics to a transaction (v0-3): the others are not attempted.
  await client.send(ApiKey.FindCoordinator, 3, { key: 'ce-group-x', keyType: 0 });
  const internal = await client.send(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'ce-order', v3AndBelowProducerId: p.producerId, v3AndBelowProducerEpoch: p.epoch,
    v3AndBelowTopics: [{ name: '__consumer_offsets', partitions: [0] }, { name: 'ce', partitions: [2, 2] }],
  });
  assert.deepEqual(
    internal.resultsByTopicV3AndBelow.map((t: any) => [t.name, t.resultsByPartition.map((r: any) => [r.partitionIndex, r.partitionErrorCode])]),
    [['__consumer_offsets', [[0, E.TOPIC_AUTHORIZATION_FAILED]]], ['ce', [[2, E.OPERATION_NOT_ATTEMPTED]]]],
    'each partition once',
  );
  assert.equal(await endTxn(client, 'ce-order', p, false), E.NONE);
});

test('verification comes before the acks and the log\'s checks, as in Kafka\'s ReplicaManager.handleProduceAppend', async () => {
  const p = await initProducer(client, 'ce-early');
  const batch = producerBatch({ producerId: p.producerId, epoch: p.epoch, baseSequence: 0, values: ['early'], transactional: true });
  const send = async (records: Buffer, acks: number) =>
    (await client.send(ApiKey.Produce, 9, { transactionalId: 'ce-early', acks, timeoutMs: 5000, topicData: [{ name: 'ce', partitionData: [{ index: 2, records }] }] })).responses[0].partitionResponses[0];
  eq((await send(batch, 2)).errorCode, E.INVALID_TXN_STATE, 'unverified, with acks=2');
  const corrupt = Buffer.from(batch);
  corrupt[corrupt.length - 1] ^= 0xff;
  eq((await send(corrupt, -1)).errorCode, E.INVALID_TXN_STATE, 'unverified, with a bad CRC');
});

test('transaction.partition.verification.enable=false: transactional writes and offset commits are not verified, as in Kafka', async () => {
  const b = await startBroker({ port: 0, logger: 'silent', config: { 'transaction.partition.verification.enable': 'false' } });
  const c = await RawClient.connect(b.port);
  try {
    await createTopics(c, [{ name: 'nv', partitions: 1 }]);
    const p = await initProducer(c, 'nv-txn');
    eq((await produceNext(c, p, 'nv', 0, ['unverified'], 'nv-txn')).errorCode, E.NONE, 'a partition not added to the transaction');
    const commit = await c.send(ApiKey.TxnOffsetCommit, 3, {
      transactionalId: 'nv-txn', groupId: 'nv-group', producerId: p.producerId, producerEpoch: p.epoch, generationId: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: 'nv', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
    });
    eq(commit.topics[0].partitions[0].errorCode, E.NONE, 'TxnOffsetCommit without AddOffsetsToTxn');
  } finally {
    c.close();
    await b.stop();
  }
});

test('TxnOffsetCommit from a fenced producer whose member is gone: the fencing is reported, not the member', async () => {
  const old = await initProducer(client, 'ce-zombie');
  await initProducer(client, 'ce-zombie');
  const r = await client.send(ApiKey.TxnOffsetCommit, 3, {
    transactionalId: 'ce-zombie', groupId: 'ce-zombie-group', producerId: old.producerId, producerEpoch: old.epoch, generationId: 5, memberId: 'bogus', groupInstanceId: null,
    topics: [{ name: 'ce', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  });
  eq(r.topics[0].partitions[0].errorCode, E.INVALID_PRODUCER_EPOCH, 'fenced, with an unknown member');
});

test('while __transaction_state loads, verification is retriable: NOT_ENOUGH_REPLICAS to Produce, COORDINATOR_LOAD_IN_PROGRESS to the others (Kafka)', async () => {
  await createTopics(client, [{ name: 'ce-load', partitions: 1 }]);
  const p = await initProducer(client, 'ce-load');
  assert.deepEqual(await addPartitions(client, 'ce-load', p, 'ce-load', [0]), [E.NONE]);
  assert.equal(await client.send(ApiKey.AddOffsetsToTxn, 3, { transactionalId: 'ce-load', producerId: p.producerId, producerEpoch: p.epoch, groupId: 'ce-load-group' }).then((r: any) => r.errorCode), E.NONE);
  // As after a restart: the producer's first write to a partition it added arrives before the load ends.
  const coordinator = broker.broker.transactions;
  coordinator.loading = true;
  try {
    const r = await produceNext(client, p, 'ce-load', 0, ['early'], 'ce-load');
    assert.deepEqual([errorName(r.errorCode), r.errorMessage], ['NOT_ENOUGH_REPLICAS', 'Unable to verify the partition has been added to the transaction. Underlying error: COORDINATOR_LOAD_IN_PROGRESS']);
    const v = await client.send(ApiKey.AddPartitionsToTxn, 4, { transactions: [{ transactionalId: 'ce-load', producerId: p.producerId, producerEpoch: p.epoch, verifyOnly: true, topics: [{ name: 'ce-load', partitions: [0] }] }] });
    eq(v.resultsByTransaction[0].topicResults[0].resultsByPartition[0].partitionErrorCode, E.COORDINATOR_LOAD_IN_PROGRESS, 'verifyOnly');
    eq(await txnOffsetCommit('ce-load', p, 'ce-load-group', 1n), E.COORDINATOR_LOAD_IN_PROGRESS, 'TxnOffsetCommit v3');
    eq(await txnOffsetCommit('ce-load', p, 'ce-load-group', 1n, 1), E.COORDINATOR_NOT_AVAILABLE, 'TxnOffsetCommit v1');
  } finally {
    coordinator.loading = false;
  }
  eq((await produceNext(client, p, 'ce-load', 0, ['later'], 'ce-load')).errorCode, E.NONE, 'the retry, once loaded');
  eq(await txnOffsetCommit('ce-load', p, 'ce-load-group', 1n), E.NONE, 'TxnOffsetCommit, once loaded');
  assert.equal(await endTxn(client, 'ce-load', p, true), E.NONE);
});

test('EndTxn while the markers of a commit are being written: a retry of the commit is CONCURRENT_TRANSACTIONS, an abort INVALID_TXN_STATE (Kafka)', async () => {
  const p = await initProducer(client, 'ce-marking');
  assert.deepEqual(await addPartitions(client, 'ce-marking', p, 'ce', [1]), [E.NONE]);
  eq((await produceNext(client, p, 'ce', 1, ['m'], 'ce-marking')).errorCode, E.NONE, 'produce');
  // Hold the markers: the transaction stays in PrepareCommit.
  const markers = broker.broker.markers;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  markers.writeMarker = async function (...args) {
    await held;
    return Object.getPrototypeOf(this).writeMarker.apply(this, args);
  };
  const other = await RawClient.connect(broker.port);
  try {
    const committing = endTxn(other, 'ce-marking', p, true);
    for (let i = 0; i < 100 && (await describeTransaction(client, 'ce-marking')).transactionState !== 'PrepareCommit'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await describeTransaction(client, 'ce-marking')).transactionState, 'PrepareCommit');
    eq(await endTxn(client, 'ce-marking', p, false), E.INVALID_TXN_STATE, 'abort during PrepareCommit');
    eq(await endTxn(client, 'ce-marking', p, true), E.CONCURRENT_TRANSACTIONS, 'commit again during PrepareCommit');
    assert.deepEqual(await addPartitions(client, 'ce-marking', p, 'ce', [0]), [E.CONCURRENT_TRANSACTIONS], 'AddPartitionsToTxn during PrepareCommit');
    eq((await initProducerId(client, 'ce-marking')).errorCode, E.CONCURRENT_TRANSACTIONS, 'InitProducerId during PrepareCommit');
    release();
    eq(await committing, E.NONE, 'the commit');
  } finally {
    delete (markers as { writeMarker?: unknown }).writeMarker;
    release();
    other.close();
  }
  assert.equal((await describeTransaction(client, 'ce-marking')).transactionState, 'CompleteCommit');
});

test('a producer starting while its transactional id is being expired is told CONCURRENT_TRANSACTIONS, then gets a new producer id (Kafka)', async () => {
  const b = await startBroker({ port: 0, logger: 'silent', config: { 'transactional.id.expiration.ms': 1 } });
  const c = await RawClient.connect(b.port);
  const store = b.broker.transactionTopic;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  try {
    await createTopics(c, [{ name: 'exp', partitions: 1 }]);
    const old = await initProducer(c, 'exp-txn');
    await new Promise((r) => setTimeout(r, 10));
    // Hold the tombstone: the id is being removed.
    store.append = async function (...args) {
      if (args[1].value === null) await held;
      return Object.getPrototypeOf(this).append.apply(this, args);
    };
    const expiring = b.broker.transactions.expire();
    eq((await initProducerId(c, 'exp-txn')).errorCode, E.CONCURRENT_TRANSACTIONS, 'InitProducerId while the id is being expired');
    release();
    assert.equal(await expiring, 1);
    eq((await describeTransaction(c, 'exp-txn')).errorCode, E.TRANSACTIONAL_ID_NOT_FOUND, 'expired');
    const fresh = await initProducer(c, 'exp-txn');
    assert.notEqual(fresh.producerId, old.producerId, 'a new producer id');
    assert.equal(fresh.epoch, 0);
    assert.deepEqual(await addPartitions(c, 'exp-txn', fresh, 'exp', [0]), [E.NONE], 'the new producer is known');
  } finally {
    release();
    delete (store as { append?: unknown }).append;
    c.close();
    await b.stop();
  }
});

test('two producers starting at once with a new transactional id: one gets it, the other CONCURRENT_TRANSACTIONS (Kafka)', async () => {
  const ids = (broker.broker.transactions as unknown as { ids: { next(): Promise<bigint> } }).ids;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let waiting = 0;
  ids.next = async function () {
    waiting++;
    await held;
    return Object.getPrototypeOf(this).next.apply(this);
  };
  const other = await RawClient.connect(broker.port);
  try {
    // Both wait for a producer id, as while a block of ids is reserved.
    const a = initProducerId(client, 'ce-twins');
    const b = initProducerId(other, 'ce-twins');
    for (let i = 0; i < 100 && waiting < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(waiting, 2);
    release();
    const answers = await Promise.all([a, b]);
    const won = answers.filter((r) => r.errorCode === E.NONE);
    assert.equal(won.length, 1, `answers: ${answers.map((r) => errorName(r.errorCode))}`);
    eq(answers.find((r) => r.errorCode !== E.NONE)!.errorCode, E.CONCURRENT_TRANSACTIONS, 'the other');
    const d = await describeTransaction(client, 'ce-twins');
    assert.deepEqual([d.producerId, d.producerEpoch], [won[0].producerId, won[0].producerEpoch], 'the coordinator knows the producer that won');
  } finally {
    release();
    delete (ids as { next?: unknown }).next;
    other.close();
  }
});
