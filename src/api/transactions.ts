/**
 * Idempotent and transactional producers: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit, and the admin views DescribeProducers, DescribeTransactions,
 * ListTransactions. Thin, over the TransactionCoordinator and OffsetManager.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeProducersRequest, DescribeTransactionsRequest, EndTxnRequest, InitProducerIdRequest,
  ListTransactionsRequest, TxnOffsetCommitRequest,
} from '../../protocol/generated/index.js';
import { OFFSETS_TOPIC, partitionFor } from '../coordinator/groups/offsets-topic.js';
import { verificationError } from '../coordinator/txn/transaction-coordinator.js';
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

async function addTopics(broker: BrokerState, apiVersion: number, transactionalId: string, producerId: bigint, producerEpoch: number, topics: { name: string; partitions: number[] }[], verifyOnly: boolean) {
  if (verifyOnly) {
    return topics.map((t) => ({
      name: t.name,
      resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: broker.transactions.verify(producerId, producerEpoch, t.name, p) })),
    }));
  }
  const unknown = topics.some((t) => t.partitions.some((p) => !knownPartition(broker, t.name, p)));
  let error: number | null = null;
  if (!unknown) {
    const partitions = topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
    error = fencedFor(await broker.transactions.addPartitions(transactionalId, producerId, producerEpoch, partitions), apiVersion, 2);
  }
  // With an unknown partition nothing is added: it gets UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED.
  return topics.map((t) => ({
    name: t.name,
    resultsByPartition: t.partitions.map((p) => ({
      partitionIndex: p,
      partitionErrorCode: error ?? (knownPartition(broker, t.name, p) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    })),
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
      verified: verificationError(broker.transactions.verify(body.producerId, body.producerEpoch, OFFSETS_TOPIC, partition), apiVersion >= 4),
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
      if (errorCode !== ErrorCode.NONE || !meta) return { errorCode, transactionalId: id, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [] };
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
  const known = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'PrepareEpochFence'];
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

export const transactionHandlers: ApiHandler[] = [
  { apiKey: ApiKey.InitProducerId, minVersion: 0, maxVersion: 5, handle: initProducerId },
  { apiKey: ApiKey.AddPartitionsToTxn, minVersion: 0, maxVersion: 5, handle: addPartitionsToTxn },
  { apiKey: ApiKey.AddOffsetsToTxn, minVersion: 0, maxVersion: 4, handle: addOffsetsToTxn },
  { apiKey: ApiKey.EndTxn, minVersion: 0, maxVersion: 4, handle: endTxn },
  { apiKey: ApiKey.TxnOffsetCommit, minVersion: 0, maxVersion: 4, handle: txnOffsetCommit },
  { apiKey: ApiKey.DescribeProducers, minVersion: 0, maxVersion: 0, handle: describeProducers },
  { apiKey: ApiKey.DescribeTransactions, minVersion: 0, maxVersion: 0, handle: describeTransactions },
  { apiKey: ApiKey.ListTransactions, minVersion: 0, maxVersion: 1, handle: listTransactions },
];
