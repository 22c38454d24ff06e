/** Why bytes could not be decoded. Every decode failure is one of these, never a generic exception. */
export type DecodeErrorCode =
  | 'TRUNCATED'          // the frame ended before the value did
  | 'NULL_NOT_ALLOWED'   // a negative length or count (null) where the field is not nullable
  | 'LENGTH_TOO_LARGE'   // a length or count larger than what remains of the frame
  | 'VARINT_TOO_LONG'    // an unsigned varint of more than 5 bytes
  | 'UNKNOWN_API_KEY'
  | 'UNSUPPORTED_VERSION';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(readonly code: DecodeErrorCode, message: string) {
    super(message);
  }
}

/** A value that cannot be written in the requested version (Java throws UnsupportedVersionException / RuntimeException). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(message: string) {
    super(message);
  }
}
