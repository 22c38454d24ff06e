/**
 * Splitting a `records` field (a plain concatenation of batches of any magic) into views of
 * single batches, following the parse sketch of RECORDS.md §3. Nothing is copied.
 */
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, MAGIC_OFFSET } from './batch.js';
import { corrupt } from './errors.js';

/** Bytes needed to read offset, length and magic: the common prefix of every format. */
export const HEADER_SIZE_UP_TO_MAGIC = MAGIC_OFFSET + 1;

/** Smallest legal batch/message size (the int32 length field) for magic 0, 1 and 2. */
export const MIN_LENGTH_BY_MAGIC: readonly number[] = [14, 22, BATCH_HEADER_SIZE - LOG_OVERHEAD];

export interface BatchView {
  /** Where the batch starts in the input. */
  position: number;
  baseOffset: bigint;
  magic: number;
  /** The whole batch (12 + length bytes), a subarray of the input. */
  buf: Buffer;
}

/** A partial batch at the end of the input: normal in Fetch responses, and to be ignored. */
export interface TruncatedTail {
  position: number;
  available: number;
  /** Full size of the cut batch, when at least its length field was present. */
  needed: number | null;
}

export interface SplitResult {
  batches: BatchView[];
  truncated: TruncatedTail | null;
}

/**
 * Yields one view per complete batch; the return value reports a truncated trailing batch.
 * A bad length or magic throws RecordsError CORRUPT_MESSAGE (BAD_LENGTH / BAD_MAGIC).
 */
export function* iterateBatches(records: Buffer): Generator<BatchView, TruncatedTail | null, undefined> {
  let pos = 0;
  while (pos < records.length) {
    const available = records.length - pos;
    if (available < HEADER_SIZE_UP_TO_MAGIC) {
      const needed = available >= LOG_OVERHEAD ? LOG_OVERHEAD + records.readInt32BE(pos + 8) : null;
      return { position: pos, available, needed };
    }
    const length = records.readInt32BE(pos + 8);
    const magic = records.readInt8(pos + MAGIC_OFFSET);
    if (magic < 0 || magic > 2) throw corrupt('BAD_MAGIC', `unknown magic ${magic} at byte ${pos}`);
    const min = MIN_LENGTH_BY_MAGIC[magic]!;
    if (length < min) throw corrupt('BAD_LENGTH', `magic ${magic} batch at byte ${pos} has length ${length} < ${min}`);
    const size = LOG_OVERHEAD + length;
    if (available < size) return { position: pos, available, needed: size };
    yield { position: pos, baseOffset: records.readBigInt64BE(pos), magic, buf: records.subarray(pos, pos + size) };
    pos += size;
  }
  return null;
}

/** Array form of `iterateBatches`. */
export function splitBatches(records: Buffer): SplitResult {
  const batches: BatchView[] = [];
  const it = iterateBatches(records);
  for (;;) {
    const step = it.next();
    if (step.done) return { batches, truncated: step.value };
    batches.push(step.value);
  }
}
