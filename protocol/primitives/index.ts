export { DecodeError, EncodeError, type DecodeErrorCode } from './errors.js';
export { Reader, readArray, readNullableArray, readElement, type ElementReader } from './reader.js';
export { Writer, writeArray, writeNullableArray, writeElement, type ElementWriter, type TaggedWrite } from './writer.js';
export { ZERO_UUID, uuidFromBytes, uuidToBytes, randomUuid } from './uuid.js';
export type { Encodable, TaggedField } from './types.js';
