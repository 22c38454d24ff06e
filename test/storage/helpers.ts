/** Shared helpers for the storage engine tests: temp dirs, configs, batches, engines. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ATTR_CONTROL,
  buildRecordBatch,
  decodeRecords,
  readAttributes,
  readBaseOffset,
  readLastOffset,
  readMaxTimestamp,
  splitBatches,
  verifyBatchCrc,
} from '../../protocol/records/index.js';
import { DiskStorage, type DiskStorageOptions } from '../../src/storage/disk/index.js';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.js';
import type { LogConfig, PartitionLog, Storage, TopicRecord } from '../../src/storage/storage.js';

/** A fresh directory under the OS temp dir, removed after the test. */
export async function tempDir(t: { after(fn: () => Promise<void> | void): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-storage-'));
  // Retried: a test that stops before closing its storage may leave a background write (a rolled
  // segment's recovery point) landing while the directory is removed.
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

export function logConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    segmentBytes: 1024 * 1024 * 1024,
    segmentMs: 7 * 24 * 3600 * 1000,
    segmentJitterMs: 0,
    segmentIndexBytes: 10 * 1024 * 1024,
    retentionMs: -1,
    retentionBytes: -1,
    indexIntervalBytes: 4096,
    flushMessages: Number.MAX_SAFE_INTEGER,
    flushMs: Number.MAX_SAFE_INTEGER,
    fileDeleteDelayMs: 0,
    cleanupPolicy: 'delete',
    deleteRetentionMs: 86_400_000,
    minCompactionLagMs: 0,
    maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
    minCleanableDirtyRatio: 0.5,
    ...overrides,
  };
}

export function topicRecord(name = 'orders', partitions = 1, topicId = 'AAAAAAAAAAAAAAAAAAAAAQ'): TopicRecord {
  return { name, topicId, partitions, configs: {} };
}

export interface BatchSpec {
  /** Records in the batch. Default 1. */
  count?: number;
  /** Bytes per record value. Default 20. */
  valueSize?: number;
  /** Timestamp of every record (or one per record). Default 1_000. */
  timestamp?: number | number[];
  /** Prefix of record values, to tell batches apart. */
  tag?: string;
  /** Explicit offset deltas (to make huge lastOffsetDelta). */
  offsetDeltas?: number[];
}

/** A producer-style v2 batch (base offset 0, CRC valid). */
export function makeBatch(spec: BatchSpec = {}): Buffer {
  const count = spec.offsetDeltas?.length ?? spec.count ?? 1;
  const records = [];
  for (let i = 0; i < count; i++) {
    const ts = Array.isArray(spec.timestamp) ? spec.timestamp[i]! : (spec.timestamp ?? 1_000);
    const value = `${spec.tag ?? 'v'}-${i}-`.padEnd(spec.valueSize ?? 20, 'x');
    const r: { key: string; value: string; timestamp: number; offsetDelta?: number } = { key: `k${i}`, value, timestamp: ts };
    if (spec.offsetDeltas) r.offsetDelta = spec.offsetDeltas[i]!;
    records.push(r);
  }
  return buildRecordBatch({ records });
}

export interface BatchSummary {
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
  size: number;
}

/** Splits a read result into its batches, asserting they are whole and CRC-valid. */
export function batchesIn(records: Buffer): BatchSummary[] {
  const { batches, truncated } = splitBatches(records);
  assert.equal(truncated, null, 'read results hold whole batches only');
  return batches.map((b) => {
    assert.ok(verifyBatchCrc(b.buf), `batch at ${b.baseOffset} has a valid CRC`);
    return { baseOffset: readBaseOffset(b.buf), lastOffset: readLastOffset(b.buf), maxTimestamp: readMaxTimestamp(b.buf), size: b.buf.length };
  });
}

/** Reads the whole log from `from` by repeated reads. */
export async function readAll(log: PartitionLog, from = log.logStartOffset, maxBytes = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = from;
  for (;;) {
    const { records } = await log.read(offset, maxBytes, { maxOffset: log.highWatermark, minOneBatch: true });
    if (records.length === 0) break;
    parts.push(Buffer.from(records));
    const batches = batchesIn(records);
    offset = batches[batches.length - 1]!.lastOffset + 1n;
  }
  return Buffer.concat(parts);
}

export interface EngineFactory {
  name: string;
  /** Creates a storage over `dir` (the memory engine ignores it). */
  create(dir: string, options?: Partial<DiskStorageOptions>): Storage;
  disk: boolean;
}

export const ENGINES: EngineFactory[] = [
  { name: 'memory', disk: false, create: (_dir, o) => new MemoryStorage({ now: o?.now }) },
  { name: 'disk', disk: true, create: (dir, o) => new DiskStorage({ dataDir: dir, nodeId: 1, ...o }) },
  // No tail cache: every read goes to the segment files.
  { name: 'disk (uncached reads)', disk: true, create: (dir, o) => new DiskStorage({ dataDir: dir, nodeId: 1, tailCacheBytes: 0, ...o }) },
];

export function diskStorage(dir: string, options: Partial<DiskStorageOptions> = {}): DiskStorage {
  return new DiskStorage({ dataDir: dir, nodeId: 1, ...options });
}

/** Appends batches in order, awaiting all; returns the results. */
export async function appendAll(log: PartitionLog, batches: Buffer[], leaderEpoch = 0) {
  return Promise.all(batches.map((b) => log.append(b, { leaderEpoch })));
}

export interface KeyedRecord {
  key: string | null;
  /** null: a tombstone. */
  value: string | null;
  timestamp?: number;
}

/** A batch of keyed records (timestamp 1 000 unless given), optionally idempotent/transactional. */
export function keyedBatch(records: KeyedRecord[], o: { producerId?: bigint; producerEpoch?: number; baseSequence?: number; transactional?: boolean; compression?: number } = {}): Buffer {
  return buildRecordBatch({
    records: records.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp ?? 1_000 })),
    producerId: o.producerId,
    producerEpoch: o.producerEpoch,
    baseSequence: o.baseSequence,
    transactional: o.transactional,
    compression: o.compression,
  });
}

export interface VisibleRecord {
  offset: bigint;
  key: string | null;
  value: string | null;
}

/** Every record a consumer would see (control batches left out), reading from the log start. */
export async function visibleRecords(log: PartitionLog): Promise<VisibleRecord[]> {
  const out: VisibleRecord[] = [];
  for (const b of splitBatches(await readAll(log)).batches) {
    if (readAttributes(b.buf) & ATTR_CONTROL) continue;
    for (const r of decodeRecords(b.buf)) out.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null });
  }
  return out;
}
