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
import { batchRecordsData, batchRecordsDataAsync } from './record.js';
import { checkRecordStructure, type RecordsShape } from './structure.js';

export interface ValidateOptions {
  /** Walk every record's structure, decompressing if needed, as Kafka does on produce. Default true. */
  deep?: boolean;
  /**
   * The batch comes from a producer: require recordCount == lastOffsetDelta + 1, as Kafka's
   * LogValidator does of client batches. Compacted batches legitimately break it. Default true.
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
    checkRecordStructure(batchRecordsData(batch, o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes }), count);
  }
  return null;
}

/**
 * The deep part of validateBatch alone (every record's structure), decompressing off the JS
 * thread where the codec's binding allows: a large or hostile compressed batch then costs the
 * thread pool, not every other connection's wait. Returns the decompressed records with the verdict.
 */
export async function validateRecordsAsync(batch: Buffer, options: { maxBytes?: number } = {}): Promise<RecordsCheck> {
  try {
    const data = await batchRecordsDataAsync(batch, options);
    return { error: null, data, shape: checkRecordStructure(data, readRecordCount(batch)) };
  } catch (e) {
    if (e instanceof RecordsError) return { error: e, data: null, shape: null };
    throw e;
  }
}

/**
 * What validateRecordsAsync found: the error, else the records section it walked (decompressed),
 * for later readers to reuse, and the records' shape.
 */
export type RecordsCheck = { error: RecordsError; data: null; shape: null } | { error: null; data: Buffer; shape: RecordsShape };

export type ProduceValidation = { ok: true; batch: Buffer } | { ok: false; error: RecordsError };

/**
 * Produce v3+ partition data as Kafka's ProduceRequest.validateRecords frames it: the first
 * complete batch, which must be magic 2 (zstd only from v7) and the only complete one. An
 * incomplete batch is not a batch: alone it means "no batch", after a whole one it is ignored,
 * as Kafka's batch iterator stops there and the log append trims it. The batch's own checks
 * (`validateBatch`) come later, as LogValidator's do in Kafka.
 */
export function validateProduceRecords(records: Buffer, version: number): ProduceValidation {
  try {
    const it = iterateBatches(records);
    const first = it.next();
    if (first.done) {
      return { ok: false, error: invalid('NOT_SINGLE_BATCH', `Produce requests with version ${version} must have at least one record batch per partition`) };
    }
    const batch = first.value.buf;
    if (first.value.magic !== 2) {
      return { ok: false, error: invalid('BAD_MAGIC', `Produce requests with version ${version} are only allowed to contain record batches with magic version 2`) };
    }
    if (version < 7 && compressionOf(readAttributes(batch)) === CompressionCodec.Zstd) {
      return { ok: false, error: new RecordsError('UNSUPPORTED_COMPRESSION_TYPE', 'CODEC_NOT_ALLOWED', `Produce requests with version ${version} are not allowed to use ZStandard compression`) };
    }
    if (!it.next().done) {
      return { ok: false, error: invalid('NOT_SINGLE_BATCH', `Produce requests with version ${version} are only allowed to contain exactly one record batch per partition`) };
    }
    return { ok: true, batch };
  } catch (e) {
    if (e instanceof RecordsError) return { ok: false, error: e };
    throw e;
  }
}
