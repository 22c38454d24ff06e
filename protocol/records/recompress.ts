/**
 * Rebuilding a batch with another codec, as a Kafka broker does when a topic's compression.type
 * differs from the codec a producer used (LogValidator): same records (keys, values, headers,
 * timestamps, offset deltas) and same header fields (base offset, producer id, epoch, base
 * sequence, transactional flag, partition leader epoch); only the compression changes.
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
 * want LogAppendTime stamp the result again. Throws RecordsError when the records cannot be read.
 */
export function recompressBatch(batch: Buffer, codec: CompressionCodec, options: RecompressOptions = {}): Buffer {
  const records = decodeRecords(batch, { maxBytes: options.maxBytes, recordsData: options.recordsData });
  return buildRecordBatch({
    baseOffset: readBaseOffset(batch),
    records: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp, offsetDelta: r.offsetDelta })),
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
