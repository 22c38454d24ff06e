/**
 * Checks a broker applies to a produced v2 batch before appending it (RECORDS.md §1.5, and
 * Kafka's LogValidator in spirit). Results are RecordsError values, not exceptions, so the
 * produce path can map them straight to a partition error code.
 */
import {
  BATCH_HEADER_SIZE,
  compressionOf,
  isControl,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readBatchSize,
  readLastOffsetDelta,
  readMagic,
  readProducerId,
  readRecordCount,
  verifyBatchCrc,
} from './batch.js';
import { CompressionCodec, isKnownCodec } from './compression.js';
import { corrupt, invalid, RecordsError } from './errors.js';
import { iterateBatches } from './iterate.js';
import { readRecords } from './record.js';

export interface ValidateOptions {
  /** Decode every record, decompressing if needed, as Kafka does on produce. Default true. */
  deep?: boolean;
  /**
   * The batch comes from a producer: require recordCount == lastOffsetDelta + 1 and offset
   * deltas 0, 1, 2, … Compacted batches legitimately break both. Default true.
   */
  producerInput?: boolean;
  /** Clients may not write control batches. Default false. */
  allowControl?: boolean;
  /** Kafka rejects client batches whose baseOffset is not 0. Default false (lenient). */
  requireZeroBaseOffset?: boolean;
  /** zstd needs Produce v7+. Default true. */
  allowZstd?: boolean;
  /** Limit on the decompressed size during deep validation. */
  maxBytes?: number;
}

export function validateBatch(batch: Buffer, options: ValidateOptions = {}): RecordsError | null {
  try {
    return check(batch, options);
  } catch (e) {
    if (e instanceof RecordsError) return e;
    throw e;
  }
}

function check(batch: Buffer, o: ValidateOptions): RecordsError | null {
  // Magic first: a legacy message is shorter than a v2 header but is a format error, not corruption.
  if (batch.length > MAGIC_OFFSET && readMagic(batch) !== 2) {
    return invalid('BAD_MAGIC', `produce batches must have magic 2, found ${readMagic(batch)}`);
  }
  if (batch.length < BATCH_HEADER_SIZE) {
    return corrupt('BAD_LENGTH', `batch of ${batch.length} bytes is shorter than the ${BATCH_HEADER_SIZE}-byte header`);
  }
  const size = readBatchSize(batch);
  if (size !== batch.length) {
    return corrupt('BAD_LENGTH', `batch length field says ${size - LOG_OVERHEAD} bytes, view holds ${batch.length - LOG_OVERHEAD}`);
  }
  if (!verifyBatchCrc(batch)) return corrupt('BAD_CRC', 'record batch CRC-32C mismatch');

  const attributes = readAttributes(batch);
  const codec = compressionOf(attributes);
  if (!isKnownCodec(codec)) {
    return new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'UNKNOWN_CODEC', `unknown compression codec ${codec}`);
  }
  if (codec === CompressionCodec.Zstd && o.allowZstd === false) {
    return new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED', 'zstd needs Produce v7 or later');
  }
  if (isControl(attributes) && !o.allowControl) return invalid('CONTROL_NOT_ALLOWED', 'clients may not write control batches');
  if (o.requireZeroBaseOffset && readBaseOffset(batch) !== 0n) {
    return invalid('BAD_OFFSETS', `baseOffset must be 0, found ${readBaseOffset(batch)}`);
  }

  const count = readRecordCount(batch);
  const lastOffsetDelta = readLastOffsetDelta(batch);
  if (count <= 0) return invalid('COUNT_MISMATCH', `invalid record count ${count}`);
  if (lastOffsetDelta < 0) return invalid('BAD_OFFSETS', `invalid lastOffsetDelta ${lastOffsetDelta}`);
  const producerInput = o.producerInput ?? true;
  if (producerInput && count !== lastOffsetDelta + 1) {
    return invalid('COUNT_MISMATCH', `recordCount ${count} but lastOffsetDelta ${lastOffsetDelta}`);
  }
  // Transaction markers carry a producer but no sequence; data batches need both.
  if (!isControl(attributes) && readProducerId(batch) >= 0n && readBaseSequence(batch) < 0) {
    return invalid('BAD_SEQUENCE', `producerId ${readProducerId(batch)} with baseSequence ${readBaseSequence(batch)}`);
  }

  if (o.deep ?? true) {
    let expected = 0;
    const readOptions = o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes };
    for (const record of readRecords(batch, readOptions)) {
      if (producerInput && record.offsetDelta !== expected) {
        return invalid('BAD_OFFSETS', `record ${expected} has offsetDelta ${record.offsetDelta}`);
      }
      expected++;
    }
  }
  return null;
}

export type ProduceValidation = { ok: true; batch: Buffer } | { ok: false; error: RecordsError };

/**
 * Produce v3+ partition data: exactly one complete magic-2 batch, then `validateBatch`.
 * (Produce v0–v2 data goes through `upConvert` in convert.ts instead.)
 */
export function validateProduceRecords(records: Buffer, options: ValidateOptions = {}): ProduceValidation {
  try {
    const it = iterateBatches(records);
    const first = it.next();
    if (first.done) {
      const error = first.value
        ? corrupt('TRUNCATED', `partial batch: ${first.value.available} of ${first.value.needed ?? '?'} bytes`)
        : invalid('NOT_SINGLE_BATCH', 'produce data holds no record batch');
      return { ok: false, error };
    }
    const rest = it.next();
    if (!rest.done || rest.value !== null) {
      return { ok: false, error: invalid('NOT_SINGLE_BATCH', 'produce data must hold exactly one record batch') };
    }
    const error = validateBatch(first.value.buf, options);
    return error ? { ok: false, error } : { ok: true, batch: first.value.buf };
  } catch (e) {
    if (e instanceof RecordsError) return { ok: false, error: e };
    throw e;
  }
}
