/**
 * The produce checks that need to look inside records (Kafka's LogValidator.validateRecord): keys
 * on compacted topics and CreateTime timestamp bounds, plus the batch rebuild when a topic's
 * compression.type differs from the producer's codec, and the max timestamp a batch's header is
 * given. Records are decoded only when a topic setting asks for one of these (or a timestamp
 * wraps around the int64 range); otherwise the structure walk's findings suffice.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import {
  ATTR_TIMESTAMP_TYPE, NO_TIMESTAMP, RecordsError, compressionOf, readAttributes, readBaseTimestamp, readMaxTimestamp, readRecords, recompressBatch, type RecordsShape,
} from '../../protocol/records/index.js';
import { CompressionCodec } from '../../protocol/records/index.js';
import type { ProduceSettings } from '../cluster/produce-settings.js';

export interface RecordsFailure {
  errorCode: number;
  errorMessage: string;
  recordErrors: { batchIndex: number; batchIndexErrorMessage: string | null }[];
}

const INT64_MAX = (1n << 63n) - 1n;

/** Java's long arithmetic, for messages that must read as Kafka's do. */
const long = (v: bigint): bigint => BigInt.asIntN(64, v);

/**
 * Checks every record of a produced batch against the topic's settings. Null when the batch is
 * acceptable (or when no setting needs the records read); else Kafka's error, message and
 * per-record errors (ProduceResponse v8+ RecordErrors). `recordsData`: the batch's records
 * section if an earlier check already decompressed it.
 */
export function checkRecords(batch: Buffer, s: ProduceSettings, now: bigint, topicPartition: string, recordsData?: Buffer): RecordsFailure | null {
  const checkTimestamps = !s.logAppendTime && (s.timestampBeforeMaxMs !== null || s.timestampAfterMaxMs !== null);
  // A producer may not claim LogAppendTime itself (Kafka checks it record by record).
  const producerLogAppendTime = (readAttributes(batch) & ATTR_TIMESTAMP_TYPE) !== 0 && (s.logAppendTime || readMaxTimestamp(batch) === -1n);
  if (!s.compacted && !checkTimestamps && !producerLogAppendTime) return null;

  const before = s.timestampBeforeMaxMs ?? INT64_MAX;
  const after = s.timestampAfterMaxMs ?? INT64_MAX;
  const errors: { index: number; timestamp: boolean; message: string }[] = [];
  let index = 0;
  try {
    for (const r of readRecords(batch, { recordsData })) {
      if (s.compacted && r.key === null) {
        errors.push({ index, timestamp: false, message: `Compacted topic cannot accept message without key in topic partition ${topicPartition}` });
      } else if (!s.logAppendTime && r.timestamp !== -1n) {
        if (checkTimestamps) {
          const diff = long(now - r.timestamp);
          if (diff > before || -diff > after) {
            errors.push({
              index,
              timestamp: true,
              message: `Timestamp ${r.timestamp} of message with offset ${r.offset} is out of range. The timestamp should be within [${long(now - before)}, ${long(now + after)}]`,
            });
          }
        }
      } else if (producerLogAppendTime) {
        const record = `DefaultRecord(offset=${r.offset}, timestamp=${r.timestamp}, key=${r.key?.length ?? 0} bytes, value=${r.value?.length ?? 0} bytes)`;
        errors.push({ index, timestamp: true, message: `Invalid timestamp type in message ${record}. Producer should not set timestamp type to LogAppendTime.` });
      }
      index++;
    }
  } catch (e) {
    if (e instanceof RecordsError) return { errorCode: e.kafkaErrorCode, errorMessage: e.message, recordErrors: [] };
    throw e;
  }
  if (errors.length === 0) return null;
  const recordErrors = errors.map((e) => ({ batchIndex: e.index, batchIndexErrorMessage: e.message }));
  if (errors.some((e) => e.timestamp)) {
    return { errorCode: ErrorCode.INVALID_TIMESTAMP, errorMessage: 'One or more records have been rejected due to invalid timestamp', recordErrors };
  }
  const shown = errors.slice(0, 3).map((e) => `RecordError(batchIndex=${e.index}, message='${e.message}')`).join(', ');
  return {
    errorCode: ErrorCode.INVALID_RECORD,
    errorMessage: `One or more records have been rejected due to ${errors.length} record errors in total, and only showing the first three errors at most: [${shown}]`,
    recordErrors,
  };
}

/**
 * The max timestamp Kafka's LogValidator gives a batch of a CreateTime topic: the largest of its
 * records' timestamps, never below -1. Each is the base timestamp plus its delta in Java's long
 * arithmetic, or, in a batch the producer flagged LogAppendTime, the header's max for all of them.
 */
export function recordsMaxTimestamp(batch: Buffer, shape: RecordsShape, recordsData?: Buffer): bigint {
  const atLeastNone = (t: bigint): bigint => (t > NO_TIMESTAMP ? t : NO_TIMESTAMP);
  if ((readAttributes(batch) & ATTR_TIMESTAMP_TYPE) !== 0) return atLeastNone(readMaxTimestamp(batch));
  const base = readBaseTimestamp(batch);
  // No timestamp wraps around (deltas are int64 too): the largest delta gives the largest one.
  if (base >= 0n && base + shape.maxTimestampDelta <= INT64_MAX) return atLeastNone(base + shape.maxTimestampDelta);
  let max = NO_TIMESTAMP;
  for (const r of readRecords(batch, { recordsData })) {
    const t = BigInt.asIntN(64, base + r.timestampDelta);
    if (t > max) max = t;
  }
  return max;
}

/** Whether the topic wants the batch stored with another codec than the producer's. */
export function needsRecompression(batch: Buffer, s: ProduceSettings): s is ProduceSettings & { targetCodec: CompressionCodec } {
  return s.targetCodec !== null && compressionOf(readAttributes(batch)) !== s.targetCodec;
}

/** The batch rebuilt with the topic's codec and level (snappy with the xerial framing Java writes). */
export function recompress(batch: Buffer, s: ProduceSettings & { targetCodec: CompressionCodec }, recordsData?: Buffer): Buffer {
  return recompressBatch(batch, s.targetCodec, {
    compressionOptions: { level: s.compressionLevel, snappyFraming: s.targetCodec === CompressionCodec.Snappy ? 'xerial' : undefined },
    recordsData,
  });
}
