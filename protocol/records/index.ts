/** Public API of the record-batch library (RECORDS.md). */
export * from './errors.js';
export { crc32c, crc32cJs, crc32cNative, CRC32C_NATIVE_THRESHOLD } from './crc32c.js';
export * from './batch.js';
export * from './iterate.js';
export * from './validate.js';
export {
  batchRecordsData,
  batchRecordsDataAsync,
  ControlRecordType,
  decodeRecords,
  decodeRecordsAsync,
  parseControlRecordKey,
  parseEndTransactionMarker,
  readControlRecord,
  readRecords,
  type ControlRecordInfo,
  type ControlRecordKey,
  type EndTransactionMarker,
  type ReadRecordsOptions,
  type Record,
  type Record as KafkaRecord,
  type RecordHeader,
} from './record.js';
export { RecordReader, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';
export {
  buildControlBatch,
  buildRecordBatch,
  buildRecordBatchAsync,
  type BuildBatchOptions,
  type BytesInput,
  type ControlBatchOptions,
  type HeaderInput,
  type RecordInput,
} from './builder.js';
export * from './compression.js';
export { isXerialFramed, type SnappyFraming } from './snappy.js';
export * from './legacy.js';
export * from './convert.js';
export { recompressBatch, type RecompressOptions } from './recompress.js';
export { checkRecordStructure, type RecordsShape } from './structure.js';
