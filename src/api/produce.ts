/**
 * Produce (v0–11). The hot path: validate each batch (header, CRC, and a walk over its records'
 * structure, as Kafka's LogValidator makes), hand it to the partition log (which assigns offsets
 * in place); records are decoded only where a topic setting needs their contents. Legacy magic 0/1 input
 * (v0–2) is converted to one magic-2 batch first, as Kafka 3.x stores only magic 2.
 */
import { ErrorCode, errorName } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { ProduceRequest, ProduceResponse, ProduceResponsePartitionProduceResponse } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import {
  MAGIC_OFFSET, RecordsError, TimestampType, isTransactional, readAttributes, readBaseOffset, readMagic, readBaseSequence, readBatchSize, readLastOffsetDelta,
  readMaxTimestamp, readProducerEpoch, readProducerId, readRecordCount, setMaxTimestamp, batchRecordsData, checkRecordStructure,
  CompressionCodec, compressionOf, decodeRecords, iterateBatches, upConvert, validateBatch, validateProduceRecords, validateRecordsAsync, type RecordsCheck, type RecordsShape,
} from '../../protocol/records/index.js';
import type { Topic } from '../cluster/topics.js';
import { verificationError } from '../coordinator/txn/transaction-coordinator.js';
import { produceSettings } from '../cluster/produce-settings.js';
import { checkRecords, needsRecompression, recompress, recordsMaxTimestamp } from './produce-records.js';
import { mapInSlices } from './slices.js';
import { type AppendResult, type PartitionLog, storageFailureLevel } from '../storage/storage.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';

type PartitionResponse = Encodable<ProduceResponsePartitionProduceResponse>;

function failed(index: number, errorCode: number, errorMessage: string | null = null): PartitionResponse {
  return { index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage };
}

/**
 * A batch refused before its records are looked at. Kafka answers these with the error code alone
 * (its errorMessage is for record-level validation and transactions); the reason goes to the debug log.
 */
function refused(broker: BrokerState, topic: string, index: number, errorCode: number, reason: string): PartitionResponse {
  broker.log.debug({ topic, partition: index, errorCode, reason }, 'produce refused');
  return failed(index, errorCode);
}

/**
 * A batch the log's validation refused. Kafka's ReplicaManager answers the exceptions it does not
 * name (InvalidRecordException, a failed decompression) with the partition's log start offset.
 */
function rejected(broker: BrokerState, log: PartitionLog, topic: string, index: number, errorCode: number, reason: string): PartitionResponse {
  const response = refused(broker, topic, index, errorCode, reason);
  if (errorCode === ErrorCode.INVALID_RECORD || errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) response.logStartOffset = log.logStartOffset;
  return response;
}

/**
 * Kafka answers data it cannot decompress with UNKNOWN_SERVER_ERROR (a KafkaException from the
 * record iterator), and so a rebuilt batch with a timestamp below -1 (MemoryRecordsBuilder's IllegalArgumentException).
 */
const logErrorCode = (e: RecordsError): number => (e.reason === 'DECOMPRESSION_FAILED' || e.reason === 'NEGATIVE_TIMESTAMP' ? ErrorCode.UNKNOWN_SERVER_ERROR : e.kafkaErrorCode);

/**
 * KIP-890 verification, where Kafka's ReplicaManager.handleProduceAppend makes it: after the
 * request's framing, before the acks and every check of the log (so an unverified batch is told
 * so even when its CRC or its acks are wrong). Only a transactional batch of a request with a
 * transactional id, while transaction.partition.verification.enable is on, of a producer with no
 * transaction open on the partition (UnifiedLog.maybeStartTransactionVerification). Null: go on.
 */
function verifyTransaction(broker: BrokerState, ctx: RequestContext<ProduceRequest>, topic: Topic, index: number, batch: Buffer): PartitionResponse | null {
  const producerId = readProducerId(batch);
  const { transactionalId } = ctx.body;
  if (!isTransactional(readAttributes(batch)) || producerId < 0n || transactionalId === null) return null;
  if (topic.producers[index].hasOngoingTransaction(producerId) || !broker.config.bool('transaction.partition.verification.enable')) return null;
  const verified = broker.transactions.verify(transactionalId, producerId, readProducerEpoch(batch), topic.name, index);
  if (verified === ErrorCode.NONE) return null;
  // Kafka's ReplicaManager: a coordinator that cannot answer yet (completing the transaction,
  // loading) is retriable for every producer as NOT_ENOUGH_REPLICAS.
  const errorCode = RETRIABLE_VERIFICATION.has(verified) ? ErrorCode.NOT_ENOUGH_REPLICAS : verificationError(verified, ctx.apiVersion >= 11);
  return failed(index, errorCode, verificationMessage(errorCode, verified));
}

/**
 * Idempotence and transactions (Kafka's ProducerAppendInfo): a duplicate of one of the producer's
 * last five batches is answered with its original offsets; epochs, sequences and the transaction
 * are checked. Records the batch in the producer state at the offset it is about to get, so the
 * next batch of a pipelining producer is checked against it. Null means "append it".
 */
function checkProducer(topic: Topic, index: number, batch: Buffer, producerId: bigint, logAppendTime: bigint | undefined): PartitionResponse | null {
  const transactional = isTransactional(readAttributes(batch));
  // The timestamp a duplicate of this batch is answered with: the one the log keeps.
  const maxTimestamp = logAppendTime ?? readMaxTimestamp(batch);
  const info = { producerId, epoch: readProducerEpoch(batch), baseSequence: readBaseSequence(batch), offsetDelta: readLastOffsetDelta(batch), maxTimestamp, transactional };
  const producers = topic.producers[index];
  const log = topic.partitions[index];
  const verdict = producers.check(info, 'client');
  if (verdict.kind === 'duplicate') {
    const d = verdict.batch;
    return { index, errorCode: ErrorCode.NONE, baseOffset: d.firstOffset, logAppendTimeMs: d.timestamp, logStartOffset: log.logStartOffset, recordErrors: [], errorMessage: null };
  }
  if (verdict.kind === 'error') return { ...failed(index, verdict.errorCode), logStartOffset: log.logStartOffset };
  producers.appended(info, log.logEndOffset);
  return null;
}

/** Verification errors Kafka's ReplicaManager.handleProduceAppend answers as NOT_ENOUGH_REPLICAS (older clients may not retry them). */
const RETRIABLE_VERIFICATION = new Set<number>([
  ErrorCode.CONCURRENT_TRANSACTIONS, ErrorCode.NETWORK_EXCEPTION, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR,
]);

/** The messages Kafka's ReplicaManager gives failed verifications it translates; it leaves the others bare. */
function verificationMessage(errorCode: number, verified: number): string | null {
  if (errorCode === ErrorCode.INVALID_TXN_STATE) return 'Partition was not added to the transaction';
  if (RETRIABLE_VERIFICATION.has(verified)) return `Unable to verify the partition has been added to the transaction. Underlying error: ${errorName(verified)}`;
  return null;
}

/** Validates one partition's data and starts its append; everything up to `append` runs synchronously. */
function produceOne(broker: BrokerState, ctx: RequestContext<ProduceRequest>, topicName: string, index: number, records: Buffer | null, checked: RecordChecks): PartitionResponse | Promise<PartitionResponse> {
  const version = ctx.apiVersion;
  const topic = broker.topics.get(topicName);
  const log = topic?.partitions[index];
  // Kafka's order: the topic, the request's framing (KafkaApis), the transaction's verification, the acks (ReplicaManager), then the log's own checks.
  if (!topic || !log) return failed(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  let framed: Buffer | null = null;
  // Below v3 Kafka leaves the framing unchecked and stores a magic 2 batch sent there as it is.
  if (records !== null && (version >= 3 || (records.length > MAGIC_OFFSET && readMagic(records) === 2))) {
    const v = validateProduceRecords(records, version);
    if (!v.ok) return refused(broker, topicName, index, v.error.kafkaErrorCode, v.error.message);
    framed = v.batch;
    const unverified = verifyTransaction(broker, ctx, topic, index, framed);
    if (unverified !== null) return unverified;
  }
  const acks = ctx.body.acks;
  if (acks !== 0 && acks !== 1 && acks !== -1) return failed(index, ErrorCode.INVALID_REQUIRED_ACKS);
  if (topic.isInternal && ctx.header.clientId !== '__admin_client') return failed(index, ErrorCode.INVALID_TOPIC_EXCEPTION);
  // min.insync.replicas counts at most the partition's replicas (Kafka's effectiveMinIsr): one
  // broker always satisfies it, so acks=all never fails with NOT_ENOUGH_REPLICAS here.
  const settings = produceSettings(topic.record.configs, broker.config);
  if (records === null) return refused(broker, topicName, index, ErrorCode.INVALID_RECORD, 'no record batch');

  const { maxMessageBytes, segmentBytes } = settings;
  // The log's checks, in UnifiedLog.analyzeAndValidateRecords' and LogValidator's order: base
  // offset, size, CRC, the batch header, then every record's structure (decompressing as Kafka does).
  let batch: Buffer;
  // The records section the off-thread check decompressed: the checks below that read records reuse it.
  let recordsData: Buffer | undefined;
  // What the records say of the batch (not known of converted legacy input, built here from its records).
  let shape: RecordsShape | null = null;
  // What its header is given (Kafka's LogValidator): its records' max timestamp.
  let maxTimestamp: bigint | null = null;
  try {
    if (framed === null) {
      batch = upConvert(records);
      // Nothing whole to append: Kafka's UnifiedLog.append returns at once, without an error.
      if (batch.length === 0) return { ...failed(index, ErrorCode.NONE), logStartOffset: log.logStartOffset };
      if (readBatchSize(batch) > maxMessageBytes) {
        return refused(broker, topicName, index, ErrorCode.MESSAGE_TOO_LARGE, `batch of ${readBatchSize(batch)} bytes, max.message.bytes ${maxMessageBytes}`);
      }
    } else {
      if (readBaseOffset(framed) !== 0n) return rejected(broker, log, topicName, index, ErrorCode.INVALID_RECORD, `baseOffset must be 0, found ${readBaseOffset(framed)}`);
      if (readBatchSize(framed) > maxMessageBytes) {
        return refused(broker, topicName, index, ErrorCode.MESSAGE_TOO_LARGE, `batch of ${readBatchSize(framed)} bytes, max.message.bytes ${maxMessageBytes}`);
      }
      // Records checked off the event loop come with their verdict; the others are walked here.
      const offThread = checked.get(records);
      const error = validateBatch(framed, { deep: false }) ?? offThread?.error ?? null;
      if (error !== null) return rejected(broker, log, topicName, index, logErrorCode(error), error.message);
      batch = framed;
      recordsData = offThread?.data ?? undefined;
      shape = offThread?.shape ?? checkRecordStructure(batchRecordsData(framed), readRecordCount(framed));
      maxTimestamp = recordsMaxTimestamp(framed, shape, recordsData);
    }
  } catch (e) {
    if (e instanceof RecordsError) return rejected(broker, log, topicName, index, logErrorCode(e), e.message);
    throw e;
  }
  const timed = settings.logAppendTime || settings.timestampBeforeMaxMs !== null || settings.timestampAfterMaxMs !== null;
  const now = timed ? BigInt(Date.now()) : 0n;
  // Keys on compacted topics and timestamp bounds: the only reasons to read records on produce.
  const bad = checkRecords(batch, settings, now, `${topicName}-${index}`, recordsData);
  if (bad !== null) return { ...failed(index, bad.errorCode, bad.errorMessage), logStartOffset: log.logStartOffset, recordErrors: bad.recordErrors };
  // Legacy messages are rebuilt as a v2 batch (Kafka's LogValidator.convertAndAssignOffsetsNonCompressed,
  // buildRecordsAndAssignOffsets), whose MemoryRecordsBuilder refuses a timestamp below -1.
  if (framed === null) {
    const negative = decodeRecords(batch).find((r) => r.timestamp < -1n);
    if (negative !== undefined) return rejected(broker, log, topicName, index, ErrorCode.UNKNOWN_SERVER_ERROR, `Invalid negative timestamp ${negative.timestamp}`);
  }
  const codec = compressionOf(readAttributes(batch));
  if (needsRecompression(batch, settings) || (codec !== CompressionCodec.None && shape?.consecutiveOffsets === false)) {
    // compression.type names another codec than the producer's, or compressed records' offset
    // deltas do not run 0, 1, 2, …: rebuild the batch (Kafka's LogValidator).
    try {
      batch = recompress(batch, { ...settings, targetCodec: settings.targetCodec ?? codec }, recordsData);
    } catch (e) {
      if (e instanceof RecordsError) return rejected(broker, log, topicName, index, logErrorCode(e), e.message);
      throw e;
    }
    if (readBatchSize(batch) > maxMessageBytes) {
      return refused(broker, topicName, index, ErrorCode.MESSAGE_TOO_LARGE, `recompressed batch of ${readBatchSize(batch)} bytes, max.message.bytes ${maxMessageBytes}`);
    }
  }
  if (readBatchSize(batch) > segmentBytes) {
    return refused(broker, topicName, index, ErrorCode.RECORD_LIST_TOO_LARGE, `batch of ${readBatchSize(batch)} bytes, segment.bytes ${segmentBytes}`);
  }
  // Kafka's LogValidator stamps every batch with its records' max timestamp (none below -1) and the
  // topic's timestamp type; under LogAppendTime the log stamps the append time instead.
  if (!settings.logAppendTime && maxTimestamp !== null) setMaxTimestamp(batch, TimestampType.CreateTime, maxTimestamp);
  const logAppendTime = settings.logAppendTime ? now : undefined;
  const producerId = readProducerId(batch);
  if (producerId >= 0n) {
    const checked = checkProducer(topic, index, batch, producerId, logAppendTime);
    if (checked !== null) return checked;
  }
  return log.append(batch, { logAppendTime, leaderEpoch: topic.leaderEpoch(index) }).then(
    (r: AppendResult): PartitionResponse => ({
      index, errorCode: ErrorCode.NONE, baseOffset: r.baseOffset, logAppendTimeMs: logAppendTime ?? -1n, logStartOffset: r.logStartOffset, recordErrors: [], errorMessage: null,
    }),
    (err: unknown): PartitionResponse => {
      broker.log[storageFailureLevel(err)]({ err, topic: topicName, partition: index }, 'append failed');
      return failed(index, ErrorCode.KAFKA_STORAGE_ERROR);
    },
  );
}

function handle(ctx: RequestContext<ProduceRequest>): Promise<Encodable<ProduceResponse> | null> | null {
  const { body } = ctx;
  // Kafka keys the request by partition: a partition named twice is produced to once, with its last data.
  const requested = new Map<string, Map<number, Buffer | null>>();
  for (const t of body.topicData) {
    let partitions = requested.get(t.name);
    if (partitions === undefined) requested.set(t.name, (partitions = new Map()));
    for (const p of t.partitionData) partitions.set(p.index, p.records);
  }
  // Transactional data without a transactional id fails the whole request (KafkaApis), judged on
  // every entry as sent, before a repeated partition's last entry replaces the others.
  const unauthorized = body.transactionalId === null && body.topicData.some((t) => t.partitionData.some((p) => startsTransactional(p.records)));
  // Transactional batches of more than one producer fail it whole too (ReplicaManager.handleProduceAppend);
  // without a transactional id there are none here.
  const mixed = body.transactionalId !== null && transactionalProducers(ctx.broker, requested, ctx.apiVersion) > 1;
  const wholeRequestError = unauthorized ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : mixed ? ErrorCode.INVALID_PRODUCER_ID_MAPPING : null;
  const appendAll = (checked: RecordChecks) => {
    // (Loops, not flatMap: this runs for every produce request.)
    const entries: { name: string; index: number; records: Buffer | null }[] = [];
    for (const [name, partitions] of requested) for (const [index, records] of partitions) entries.push({ name, index, records });
    // After a wait (compressed records checked, a slice) this is still the request's time.
    return mapInSlices(entries, (e) =>
      wholeRequestError !== null
        ? failed(e.index, wholeRequestError, mixed ? 'Transactional records contained more than one producer ID' : null)
        : ctx.quota.timed(() => produceOne(ctx.broker, ctx, e.name, e.index, e.records, checked)),
    );
  };
  const offThread = wholeRequestError !== null ? [] : [...requested.values()].flatMap((partitions) => [...partitions.values()].flatMap((r) => compressedBatchOf(r, ctx.apiVersion)));
  const collect = (appends: (PartitionResponse | Promise<PartitionResponse>)[]) => {
    let next = 0;
    const topics = [...requested].map(([name, partitions]) => ({ name, partitions: appends.slice(next, (next += partitions.size)) }));
    return Promise.all(topics.map(async (t) => ({ name: t.name, partitionResponses: await Promise.all(t.partitions) })));
  };
  const appended = offThread.length === 0 ? appendAll(NOTHING_CHECKED) : checkedOffThread(offThread).then(appendAll);
  const done = appended instanceof Promise ? appended.then(collect) : collect(appended);
  if (body.acks === 0) {
    // No response at all; as in Kafka, a failure closes the connection so the producer notices
    // and refreshes its metadata. The request ends once written, so the connection's next
    // request sees its records, as in Kafka.
    return done.then((responses) => {
      // The bandwidth quota still counts the request (and may mute the connection).
      ctx.quota.produced(body.acks);
      const failures = responses.flatMap((t) => t.partitionResponses.filter((p) => p.errorCode !== ErrorCode.NONE).map((p) => ({ topic: t.name, partition: p.index, errorCode: p.errorCode })));
      if (failures.length > 0) ctx.connection.close('error during produce request with acks=0', 'info', { failures });
      return null;
    }, () => null);
  }
  return done.then((responses) => ({ responses, throttleTimeMs: ctx.quota.produced(body.acks) }));
}

/** Verdicts of record checks made off the event loop, by the partition's records as they came. */
type RecordChecks = ReadonlyMap<Buffer, RecordsCheck>;
const NOTHING_CHECKED: RecordChecks = new Map();
/**
 * The records of compressed batches, checked off the event loop: Kafka decompresses each batch to
 * walk it, and a large or hostile one must not stall every other client meanwhile. The
 * connection takes its next request only once this one is done (Connection), so appends keep the
 * order the requests came in.
 */
async function checkedOffThread(offThread: { records: Buffer; batch: Buffer }[]): Promise<RecordChecks> {
  const verdicts = await Promise.all(offThread.map((o) => validateRecordsAsync(o.batch)));
  return new Map(offThread.map((o, i) => [o.records, verdicts[i]!]));
}

/**
 * The partition's batch when it is a framed compressed v2 batch, whose records are checked off
 * the event loop (its header is checked in produceOne, before that verdict is looked at).
 */
function compressedBatchOf(records: Buffer | null, version: number): { records: Buffer; batch: Buffer }[] {
  if (records === null || records.length <= MAGIC_OFFSET || (version < 3 && readMagic(records) !== 2)) return [];
  const v = validateProduceRecords(records, version);
  return v.ok && compressionOf(readAttributes(v.batch)) !== CompressionCodec.None ? [{ records, batch: v.batch }] : [];
}

/** Whether a partition's data opens with a whole transactional v2 batch (Kafka's RequestUtils.hasTransactionalRecords). */
function startsTransactional(records: Buffer | null): boolean {
  if (records === null) return false;
  try {
    const first = iterateBatches(records).next();
    return !first.done && first.value.magic === 2 && isTransactional(readAttributes(first.value.buf));
  } catch {
    return false; // not a batch at all: its own check answers it
  }
}

/**
 * How many producers (id and epoch) write transactional batches in the request, counting the
 * partitions Kafka's ReplicaManager gets: known ones whose data passed the request's framing.
 */
function transactionalProducers(broker: BrokerState, requested: Map<string, Map<number, Buffer | null>>, version: number): number {
  const producers = new Set<string>();
  for (const [name, partitions] of requested) {
    const topic = broker.topics.get(name);
    for (const [index, records] of partitions) {
      if (records === null || topic?.partitions[index] === undefined) continue;
      for (const batch of framedBatches(records, version)) {
        const producerId = readProducerId(batch);
        if (producerId >= 0n && isTransactional(readAttributes(batch))) producers.add(`${producerId}/${readProducerEpoch(batch)}`);
      }
    }
  }
  return producers.size;
}

/** The v2 batches of a partition's data that Kafka's ReplicaManager sees (v3+: the one framed batch). */
function framedBatches(records: Buffer, version: number): Buffer[] {
  if (version >= 3) {
    const v = validateProduceRecords(records, version);
    return v.ok ? [v.batch] : [];
  }
  const batches: Buffer[] = [];
  try {
    for (const b of iterateBatches(records)) if (b.magic === 2) batches.push(b.buf);
  } catch {
    // malformed: its own check answers it
  }
  return batches;
}

export const produceHandler: ApiHandler = { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 11, handle };
