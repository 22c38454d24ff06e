/**
 * Produce (v0–11). The hot path: validate each batch by its header and CRC, hand it to the
 * partition log (which assigns offsets in place), never decode records. Legacy magic 0/1 input
 * (v0–2) is converted to one magic-2 batch first, as Kafka 3.x stores only magic 2.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { ProduceRequest, ProduceResponse, ProduceResponsePartitionProduceResponse } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import {
  RecordsError, isTransactional, readAttributes, readRecords, readBaseSequence, readBatchSize, readLastOffsetDelta, readMaxTimestamp, readProducerEpoch, readProducerId,
  upConvert, validateProduceRecords,
} from '../../protocol/records/index.js';
import type { Topic } from '../cluster/topics.js';
import { effectiveConfig } from '../cluster/topic-configs.js';
import type { AppendResult } from '../storage/storage.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';

type PartitionResponse = Encodable<ProduceResponsePartitionProduceResponse>;

function failed(index: number, errorCode: number, errorMessage: string | null = null): PartitionResponse {
  return { index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage };
}

/** Validates one partition's data and starts its append; everything up to `append` runs synchronously. */
/** Whether a record has no key; a batch whose records cannot be read counts as having one. */
function hasKeylessRecord(batch: Buffer): boolean {
  try {
    for (const r of readRecords(batch)) if (r.key === null) return true;
    return false;
  } catch (e) {
    if (e instanceof RecordsError) return true;
    throw e;
  }
}

/**
 * Idempotence and transactions (Kafka's ProducerAppendInfo): a duplicate of one of the producer's
 * last five batches is answered with its original offsets; epochs, sequences and the transaction
 * are checked. Records the batch in the producer state at the offset it is about to get, so the
 * next batch of a pipelining producer is checked against it. Null means "append it".
 */
function checkProducer(broker: BrokerState, ctx: RequestContext<ProduceRequest>, topic: Topic, index: number, batch: Buffer, producerId: bigint): PartitionResponse | null {
  const transactional = isTransactional(readAttributes(batch));
  if (transactional && ctx.body.transactionalId === null) return failed(index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  const info = { producerId, epoch: readProducerEpoch(batch), baseSequence: readBaseSequence(batch), offsetDelta: readLastOffsetDelta(batch), maxTimestamp: readMaxTimestamp(batch), transactional };
  const producers = topic.producers[index];
  const log = topic.partitions[index];
  const verdict = producers.check(info, 'client');
  if (verdict.kind === 'duplicate') {
    const d = verdict.batch;
    return { index, errorCode: ErrorCode.NONE, baseOffset: d.firstOffset, logAppendTimeMs: d.timestamp, logStartOffset: log.logStartOffset, recordErrors: [], errorMessage: null };
  }
  if (verdict.kind === 'error') return { ...failed(index, verdict.errorCode), logStartOffset: log.logStartOffset };
  // KIP-890: a transactional write must belong to a transaction the coordinator knows.
  if (transactional && !producers.hasOngoingTransaction(producerId) && !broker.transactions.inTransaction(producerId, info.epoch, topic.name, index)) {
    return failed(index, ctx.apiVersion >= 11 ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE, 'Partition was not added to the transaction');
  }
  producers.appended(info, log.logEndOffset);
  return null;
}

function produceOne(broker: BrokerState, ctx: RequestContext<ProduceRequest>, topicName: string, index: number, records: Buffer | null): PartitionResponse | Promise<PartitionResponse> {
  const version = ctx.apiVersion;
  const clientId = ctx.header.clientId;
  const topic = broker.topics.get(topicName);
  const log = topic?.partitions[index];
  if (!topic || !log) return failed(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.');
  if (topic.isInternal && clientId !== '__admin_client') return failed(index, ErrorCode.INVALID_TOPIC_EXCEPTION);
  if (records === null || records.length === 0) return failed(index, ErrorCode.INVALID_RECORD, 'Produce request has no record batch');

  let batch: Buffer;
  try {
    if (version < 3) {
      batch = upConvert(records);
      if (batch.length === 0) return failed(index, ErrorCode.INVALID_RECORD, 'Produce request has no messages');
    } else {
      const v = validateProduceRecords(records, { deep: false, allowZstd: version >= 7, requireZeroBaseOffset: true });
      if (!v.ok) return failed(index, v.error.kafkaErrorCode, v.error.message);
      batch = v.batch;
    }
  } catch (e) {
    if (e instanceof RecordsError) return failed(index, e.kafkaErrorCode, e.message);
    throw e;
  }

  const maxMessageBytes = Number(effectiveConfig('max.message.bytes', topic.record.configs, broker.config));
  if (readBatchSize(batch) > maxMessageBytes) {
    return failed(index, ErrorCode.MESSAGE_TOO_LARGE, `The batch of ${readBatchSize(batch)} bytes is larger than max.message.bytes (${maxMessageBytes}).`);
  }
  const segmentBytes = Number(effectiveConfig('segment.bytes', topic.record.configs, broker.config));
  if (readBatchSize(batch) > segmentBytes) {
    return failed(index, ErrorCode.RECORD_LIST_TOO_LARGE, `The batch of ${readBatchSize(batch)} bytes is larger than segment.bytes (${segmentBytes}).`);
  }
  if (effectiveConfig('cleanup.policy', topic.record.configs, broker.config).includes('compact') && hasKeylessRecord(batch)) {
    // The one case where Kafka looks inside records on produce, and so do we.
    return { ...failed(index, ErrorCode.INVALID_RECORD, `Compacted topic cannot accept message without key in topic partition ${topicName}-${index}.`), logStartOffset: log.logStartOffset };
  }
  const producerId = readProducerId(batch);
  if (producerId >= 0n) {
    const checked = checkProducer(broker, ctx, topic, index, batch, producerId);
    if (checked !== null) return checked;
  }
  const logAppendTime = effectiveConfig('message.timestamp.type', topic.record.configs, broker.config) === 'LogAppendTime' ? BigInt(Date.now()) : undefined;
  return log.append(batch, { logAppendTime, leaderEpoch: topic.leaderEpoch }).then(
    (r: AppendResult): PartitionResponse => ({
      index, errorCode: ErrorCode.NONE, baseOffset: r.baseOffset, logAppendTimeMs: logAppendTime ?? -1n, logStartOffset: r.logStartOffset, recordErrors: [], errorMessage: null,
    }),
    (err: unknown): PartitionResponse => {
      broker.log.error({ err, topic: topicName, partition: index }, 'append failed');
      return failed(index, ErrorCode.KAFKA_STORAGE_ERROR, 'Disk error when trying to access log file on the disk.');
    },
  );
}

function handle(ctx: RequestContext<ProduceRequest>): Promise<Encodable<ProduceResponse> | null> | null {
  const { broker, body, apiVersion } = ctx;
  const badAcks = body.acks !== 0 && body.acks !== 1 && body.acks !== -1;
  const topics = body.topicData.map((t) => ({
    name: t.name,
    partitions: t.partitionData.map((p) =>
      badAcks ? failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS) : produceOne(broker, ctx, t.name, p.index, p.records),
    ),
  }));
  const done = Promise.all(topics.map(async (t) => ({ name: t.name, partitionResponses: await Promise.all(t.partitions) })));
  if (body.acks === 0) {
    // No response at all; as in Kafka, a failure closes the connection so the producer notices
    // and refreshes its metadata.
    done.then((responses) => {
      const failures = responses.flatMap((t) => t.partitionResponses.filter((p) => p.errorCode !== ErrorCode.NONE).map((p) => ({ topic: t.name, partition: p.index, errorCode: p.errorCode })));
      if (failures.length > 0) ctx.connection.close('error during produce request with acks=0', 'info', { failures });
    }, () => {});
    return null;
  }
  return done.then((responses) => ({ responses, throttleTimeMs: 0 }));
}

export const produceHandler: ApiHandler = { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 11, handle };
