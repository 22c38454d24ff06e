/**
 * Idempotent and transactional producers: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit, the admin views DescribeProducers, DescribeTransactions,
 * ListTransactions, and WriteTxnMarkers. Thin, over the TransactionCoordinator, OffsetManager and
 * the marker writer.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeProducersRequest, DescribeTransactionsRequest, EndTxnRequest, InitProducerIdRequest,
  ListTransactionsRequest, TxnOffsetCommitRequest, WriteTxnMarkersRequest,
} from '../../protocol/generated/index.js';
import { OFFSETS_TOPIC, partitionFor } from '../coordinator/groups/offsets-topic.js';
import { verificationError } from '../coordinator/txn/transaction-coordinator.js';
import { INTERNAL_TOPICS } from '../cluster/topics.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';

/** Clients before these versions do not know PRODUCER_FENCED and get INVALID_PRODUCER_EPOCH (as from Kafka). */
function fencedFor(errorCode: number, version: number, since: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && version < since ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode;
}

async function initProducerId(ctx: RequestContext<InitProducerIdRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  const pid = apiVersion >= 3 ? body.producerId : -1n;
  const epoch = apiVersion >= 3 ? body.producerEpoch : -1;
  if ((pid === -1n) !== (epoch === -1)) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 };
  if (body.transactionalId !== null) await broker.transactionTopic.ensureTopic();
  const r = await broker.transactions.initProducerId(body.transactionalId, body.transactionTimeoutMs, pid, epoch);
  return { throttleTimeMs: 0, errorCode: fencedFor(r.errorCode, apiVersion, 4), producerId: r.producerId, producerEpoch: r.producerEpoch };
}

function knownPartition(broker: BrokerState, topic: string, partition: number): boolean {
  const t = broker.topics.get(topic);
  return t !== undefined && partition >= 0 && partition < t.partitions.length;
}

async function addPartitionsToTxn(ctx: RequestContext<AddPartitionsToTxnRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  if (apiVersion >= 4) {
    // Batched form (meant for brokers verifying, but accepted from anyone when there is no authorizer).
    const resultsByTransaction = [];
    for (const txn of body.transactions) {
      resultsByTransaction.push({ transactionalId: txn.transactionalId, topicResults: await addTopics(broker, apiVersion, txn.transactionalId, txn.producerId, txn.producerEpoch, txn.topics, txn.verifyOnly) });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
  }
  return {
    throttleTimeMs: 0,
    resultsByTopicV3AndBelow: await addTopics(broker, apiVersion, body.v3AndBelowTransactionalId, body.v3AndBelowProducerId, body.v3AndBelowProducerEpoch, body.v3AndBelowTopics, false),
  };
}

/**
 * One transaction's partitions, as Kafka's handleAddPartitionsToTxnRequest takes them: each partition
 * once; internal topics refused to clients (v0–3; Kafka leaves them out of the authorized set
 * even without an authorizer); an unknown partition fails them all (the others
 * OPERATION_NOT_ATTEMPTED); then the coordinator adds them, or only verifies (v4+ verifyOnly).
 */
async function addTopics(broker: BrokerState, apiVersion: number, transactionalId: string, producerId: bigint, producerEpoch: number, topics: { name: string; partitions: number[] }[], verifyOnly: boolean) {
  const byTopic = new Map<string, Set<number>>();
  for (const t of topics) {
    const set = byTopic.get(t.name) ?? new Set<number>();
    for (const p of t.partitions) set.add(p);
    byTopic.set(t.name, set);
  }
  const refusal = (topic: string, partition: number): number | null =>
    apiVersion < 4 && INTERNAL_TOPICS.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED
    : !knownPartition(broker, topic, partition) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    : null;
  const refused = [...byTopic].some(([name, partitions]) => [...partitions].some((p) => refusal(name, p) !== null));
  let error: (topic: string, partition: number) => number;
  if (refused) {
    error = (topic, partition) => refusal(topic, partition) ?? ErrorCode.OPERATION_NOT_ATTEMPTED;
  } else if (verifyOnly) {
    error = (topic, partition) => broker.transactions.verify(transactionalId, producerId, producerEpoch, topic, partition);
  } else {
    const partitions = [...byTopic].flatMap(([name, set]) => [...set].map((partition) => ({ topic: name, partition })));
    const added = fencedFor(await broker.transactions.addPartitions(transactionalId, producerId, producerEpoch, partitions), apiVersion, 2);
    error = () => added;
  }
  return [...byTopic].map(([name, partitions]) => ({
    name,
    resultsByPartition: [...partitions].map((p) => ({ partitionIndex: p, partitionErrorCode: error(name, p) })),
  }));
}

async function addOffsetsToTxn(ctx: RequestContext<AddOffsetsToTxnRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  const offsets = await broker.offsetsTopic.ensureTopic();
  const partition = partitionFor(body.groupId, offsets.partitions.length);
  const error = await broker.transactions.addPartitions(body.transactionalId, body.producerId, body.producerEpoch, [{ topic: OFFSETS_TOPIC, partition }]);
  return { throttleTimeMs: 0, errorCode: fencedFor(error, apiVersion, 2) };
}

async function endTxn(ctx: RequestContext<EndTxnRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  const error = await broker.transactions.endTxn(body.transactionalId, body.producerId, body.producerEpoch, body.committed);
  return { throttleTimeMs: 0, errorCode: fencedFor(error, apiVersion, 2) };
}

async function txnOffsetCommit(ctx: RequestContext<TxnOffsetCommitRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  const results = body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: knownPartition(broker, t.name, p.partitionIndex) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })) }));
  const slots: { errorCode: number }[] = [];
  const offsets = body.topics.flatMap((t, ti) => t.partitions.flatMap((p, pi) => {
    const slot = results[ti].partitions[pi];
    if (slot.errorCode !== ErrorCode.NONE) return [];
    slots.push(slot);
    return [{ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: apiVersion >= 2 ? p.committedLeaderEpoch : -1, metadata: p.committedMetadata, commitTimestamp: -1n, expireTimestamp: -1n }];
  }));
  if (offsets.length > 0) {
    const topic = await broker.offsetsTopic.ensureTopic();
    const partition = partitionFor(body.groupId, topic.partitions.length);
    const errors = await broker.offsets.txnCommit({
      groupId: body.groupId, generationId: apiVersion >= 3 ? body.generationId : -1, memberId: apiVersion >= 3 ? body.memberId : '',
      groupInstanceId: apiVersion >= 3 ? body.groupInstanceId : null, offsets, producerId: body.producerId, producerEpoch: body.producerEpoch,
      // Kafka verifies only a producer without a transaction open on that offsets partition, and
      // only while transaction.partition.verification.enable is on (ReplicaManager).
      verified: topic.producers[partition]?.hasOngoingTransaction(body.producerId) || !broker.config.bool('transaction.partition.verification.enable')
        ? ErrorCode.NONE
        : verificationError(broker.transactions.verify(body.transactionalId, body.producerId, body.producerEpoch, OFFSETS_TOPIC, partition), apiVersion >= 4),
    });
    errors.forEach((e, i) => (slots[i].errorCode = apiVersion < 2 && e === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode.COORDINATOR_NOT_AVAILABLE : e));
  }
  return { throttleTimeMs: 0, topics: results };
}

function describeProducers(ctx: RequestContext<DescribeProducersRequest>): unknown {
  const { broker, body } = ctx;
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => {
        const topic = broker.topics.get(t.name);
        const state = topic?.producers[p];
        if (!state) return { partitionIndex: p, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null, activeProducers: [] };
        return {
          partitionIndex: p, errorCode: ErrorCode.NONE, errorMessage: null,
          activeProducers: [...state.producers.values()].map((e) => ({
            producerId: e.producerId, producerEpoch: e.epoch, lastSequence: e.batches.at(-1)?.lastSeq ?? -1, lastTimestamp: e.lastTimestamp,
            coordinatorEpoch: e.coordinatorEpoch, currentTxnStartOffset: e.txnFirstOffset ?? -1n,
          })),
        };
      }),
    })),
  };
}

function describeTransactions(ctx: RequestContext<DescribeTransactionsRequest>): unknown {
  const { broker, body } = ctx;
  const tc = broker.transactions;
  return {
    throttleTimeMs: 0,
    transactionStates: body.transactionalIds.map((id) => {
      const meta = tc.txns.get(id);
      const errorCode = tc.loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : id === '' ? ErrorCode.INVALID_REQUEST : !meta || meta.state === 'Dead' ? ErrorCode.TRANSACTIONAL_ID_NOT_FOUND : ErrorCode.NONE;
      if (errorCode !== ErrorCode.NONE || !meta) return { errorCode, transactionalId: id, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: 0n, producerId: 0n, producerEpoch: 0, topics: [] };
      return {
        errorCode, transactionalId: id, transactionState: meta.state, transactionTimeoutMs: meta.timeoutMs, transactionStartTimeMs: BigInt(meta.startTimestamp),
        producerId: meta.producerId, producerEpoch: meta.epoch, topics: tc.topicsOf(meta).map((t) => ({ topic: t.topic, partitions: t.partitions })),
      };
    }),
  };
}

function listTransactions(ctx: RequestContext<ListTransactionsRequest>): unknown {
  const { broker, body, apiVersion } = ctx;
  const tc = broker.transactions;
  const known = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead', 'PrepareEpochFence'];
  const states = new Set(body.stateFilters);
  const pids = new Set(body.producerIdFilters);
  const duration = apiVersion >= 1 ? body.durationFilter : -1n;
  const now = Date.now();
  const transactionStates = [...tc.txns.values()]
    .filter((m) => m.state !== 'Dead' && (states.size === 0 || states.has(m.state)) && (pids.size === 0 || pids.has(m.producerId)))
    .filter((m) => duration < 0n || BigInt(now - m.startTimestamp) > duration)
    .map((m) => ({ transactionalId: m.transactionalId, producerId: m.producerId, transactionState: m.state }));
  return {
    throttleTimeMs: 0,
    errorCode: tc.loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE,
    unknownStateFilters: body.stateFilters.filter((s) => !known.includes(s)),
    transactionStates,
  };
}

/**
 * WriteTxnMarkers, answered as a partition leader answers it: Kafka's admin abortTransaction sends
 * it to end a transaction whose coordinator does not know it (a hanging one). One answer per
 * producer id, its markers' partitions together (Kafka keys the response by producer id).
 */
async function writeTxnMarkers(ctx: RequestContext<WriteTxnMarkersRequest>): Promise<unknown> {
  const { broker, body } = ctx;
  const byProducer = new Map<bigint, Map<string, { partitionIndex: number; errorCode: number }[]>>();
  await Promise.all(
    body.markers.flatMap((m) => {
      let topics = byProducer.get(m.producerId);
      if (!topics) byProducer.set(m.producerId, (topics = new Map()));
      return m.topics.flatMap((t) => {
        let partitions = topics.get(t.name);
        if (!partitions) topics.set(t.name, (partitions = []));
        return t.partitionIndexes.map(async (partitionIndex) => {
          const errorCode = await broker.markers.writeMarker(t.name, partitionIndex, m.producerId, m.producerEpoch, m.coordinatorEpoch, m.transactionResult);
          partitions.push({ partitionIndex, errorCode });
        });
      });
    }),
  );
  return {
    markers: [...byProducer].map(([producerId, topics]) => ({ producerId, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) })),
  };
}

export const transactionHandlers: ApiHandler[] = [
  { apiKey: ApiKey.InitProducerId, minVersion: 0, maxVersion: 5, handle: initProducerId },
  { apiKey: ApiKey.AddPartitionsToTxn, minVersion: 0, maxVersion: 5, handle: addPartitionsToTxn },
  { apiKey: ApiKey.AddOffsetsToTxn, minVersion: 0, maxVersion: 4, handle: addOffsetsToTxn },
  { apiKey: ApiKey.EndTxn, minVersion: 0, maxVersion: 4, handle: endTxn },
  { apiKey: ApiKey.TxnOffsetCommit, minVersion: 0, maxVersion: 4, handle: txnOffsetCommit },
  { apiKey: ApiKey.DescribeProducers, minVersion: 0, maxVersion: 0, handle: describeProducers },
  { apiKey: ApiKey.DescribeTransactions, minVersion: 0, maxVersion: 0, handle: describeTransactions },
  { apiKey: ApiKey.ListTransactions, minVersion: 0, maxVersion: 1, handle: listTransactions },
  { apiKey: ApiKey.WriteTxnMarkers, minVersion: 0, maxVersion: 1, handle: writeTxnMarkers },
];
