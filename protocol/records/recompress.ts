/**
 * Rebuilding a batch, as a Kafka broker does when a topic's compression.type differs from the
 * codec a producer used, or a compressed batch's offset deltas do not run 0, 1, 2, … (LogValidator's
 * buildRecordsAndAssignOffsets): same records (keys, values, headers, timestamps) at offset deltas
 * 0, 1, 2, …, and same header fields (base offset, producer id, epoch, base sequence,
 * transactional flag, partition leader epoch).
 */
import {
  ATTR_TRANSACTIONAL,
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readPartitionLeaderEpoch,
  readProducerEpoch,
  readProducerId,
  TimestampType,
} from './batch.js';
import { buildRecordBatch } from './builder.js';
import type { CompressionCodec, CompressOptions } from './compression.js';
import { invalid } from './errors.js';
import { decodeRecords } from './record.js';

export interface RecompressOptions {
  compressionOptions?: CompressOptions;
  /** Limit on the decompressed size of the input. */
  maxBytes?: number;
  /** The input's records section, already decompressed. */
  recordsData?: Buffer;
}

/**
 * Returns a new CreateTime batch holding the records of `batch` compressed with `codec`. A record
 * of a LogAppendTime batch keeps the time it reads as (the batch's max timestamp); callers that
 * want LogAppendTime stamp the result again. Throws RecordsError when the records cannot be read,
 * or one has a timestamp below -1 (NEGATIVE_TIMESTAMP).
 */
export function recompressBatch(batch: Buffer, codec: CompressionCodec, options: RecompressOptions = {}): Buffer {
  const records = decodeRecords(batch, { maxBytes: options.maxBytes, recordsData: options.recordsData });
  // Kafka's MemoryRecordsBuilder refuses to write a timestamp below -1 (IllegalArgumentException),
  // so a broker rebuilding such a batch fails the append.
  const negative = records.find((r) => r.timestamp < -1n);
  if (negative !== undefined) throw invalid('NEGATIVE_TIMESTAMP', `Invalid negative timestamp ${negative.timestamp}`);
  return buildRecordBatch({
    baseOffset: readBaseOffset(batch),
    records: records.map((r, i) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: i })),
    compression: codec,
    compressionOptions: options.compressionOptions,
    timestampType: TimestampType.CreateTime,
    producerId: readProducerId(batch),
    producerEpoch: readProducerEpoch(batch),
    baseSequence: readBaseSequence(batch),
    transactional: (readAttributes(batch) & ATTR_TRANSACTIONAL) !== 0,
    partitionLeaderEpoch: readPartitionLeaderEpoch(batch),
  });
}
