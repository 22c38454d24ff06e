/** The disk engine: Kafka's segment files under one data directory. */
export { DiskStorage, type DiskStorageOptions } from './disk-storage.js';
export { DiskPartitionLog, PartitionFailedError, RecordBatchTooLargeError, type PartitionStats } from './partition-log.js';
export type { StorageLogger } from './logger.js';
