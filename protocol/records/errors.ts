/**
 * Error type shared by the records library. `code` is the Kafka error a broker should answer
 * with; `reason` says precisely what was wrong, so tests and logs can tell cases apart.
 */

export type RecordErrorCode =
  | 'CORRUPT_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'UNSUPPORTED_FOR_MESSAGE_FORMAT'
  | 'UNSUPPORTED_COMPRESSION_TYPE'
  | 'INVALID_RECORD';

/** Numeric Kafka error codes for the names above. */
export const KAFKA_ERROR_CODES: Readonly<Record<RecordErrorCode, number>> = {
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
};

export type RecordErrorReason =
  | 'TRUNCATED'
  | 'BAD_LENGTH'
  | 'BAD_MAGIC'
  | 'BAD_CRC'
  | 'BAD_ATTRIBUTES'
  | 'UNKNOWN_CODEC'
  | 'CODEC_NOT_ALLOWED'
  | 'CODEC_UNAVAILABLE'
  | 'COUNT_MISMATCH'
  | 'BAD_OFFSETS'
  | 'BAD_SEQUENCE'
  | 'CONTROL_NOT_ALLOWED'
  | 'BAD_RECORD'
  | 'OVERLONG_VARINT'
  | 'TRAILING_BYTES'
  | 'NESTED_COMPRESSION'
  | 'NOT_SINGLE_BATCH'
  | 'DECOMPRESSION_FAILED'
  | 'DECOMPRESSION_LIMIT'
  | 'NEGATIVE_TIMESTAMP';

export class RecordsError extends Error {
  readonly code: RecordErrorCode;
  readonly reason: RecordErrorReason;

  constructor(code: RecordErrorCode, reason: RecordErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecordsError';
    this.code = code;
    this.reason = reason;
  }

  get kafkaErrorCode(): number {
    return KAFKA_ERROR_CODES[this.code];
  }
}

export const corrupt = (reason: RecordErrorReason, message: string, cause?: unknown): RecordsError =>
  new RecordsError('CORRUPT_MESSAGE', reason, message, cause === undefined ? undefined : { cause });

export const invalid = (reason: RecordErrorReason, message: string): RecordsError =>
  new RecordsError('INVALID_RECORD', reason, message);
