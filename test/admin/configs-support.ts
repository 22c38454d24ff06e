/** Helpers for the config tests: DescribeConfigs / AlterConfigs / IncrementalAlterConfigs and raw produce and fetch with our RawClient. */
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RecordInput, buildRecordBatch, CompressionCodec, iterateBatches } from '../../protocol/records/index.js';
import type { RawClient } from '../support/raw-client.js';

export const TOPIC = 2;
export const BROKER = 4;
export const BROKER_LOGGER = 8;

export const SET = 0;
export const DELETE = 1;
export const APPEND = 2;
export const SUBTRACT = 3;

export const Source = { TOPIC_CONFIG: 1, DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5, DYNAMIC_BROKER_LOGGER_CONFIG: 6 } as const;

export function errorName(code: number): string {
  return Object.entries(ErrorCode).find(([, c]) => c === code)?.[0] ?? String(code);
}

export async function createTopic(client: RawClient, name: string, partitions = 1, configs: Record<string, string> = {}): Promise<void> {
  const r = await client.send(ApiKey.CreateTopics, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }],
    timeoutMs: 5000, validateOnly: false,
  });
  assert.equal(r.topics[0].errorCode, ErrorCode.NONE, `create ${name}: ${r.topics[0].errorMessage}`);
}

export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  synonyms: { name: string; value: string | null; source: number }[];
  configType: number;
  documentation: string | null;
}

export interface DescribeResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
  configs: DescribedConfig[];
}

export async function describe(client: RawClient, resources: { type: number; name: string; keys?: string[] | null }[], options: { version?: number; synonyms?: boolean; docs?: boolean } = {}): Promise<DescribeResult[]> {
  const version = options.version ?? 4;
  const r = await client.send(ApiKey.DescribeConfigs, version, {
    resources: resources.map((x) => ({ resourceType: x.type, resourceName: x.name, configurationKeys: x.keys ?? null })),
    ...(version >= 1 ? { includeSynonyms: options.synonyms ?? false } : {}),
    ...(version >= 3 ? { includeDocumentation: options.docs ?? false } : {}),
  });
  return r.results;
}

/** One resource's configs by name; asserts the resource had no error. */
export async function configsOf(client: RawClient, type: number, name: string, options: { version?: number; synonyms?: boolean; docs?: boolean; keys?: string[] } = {}): Promise<Map<string, DescribedConfig>> {
  const [res] = await describe(client, [{ type, name, keys: options.keys ?? null }], options);
  assert.equal(res.errorCode, ErrorCode.NONE, `describe ${type}/${name}: ${errorName(res.errorCode)} ${res.errorMessage}`);
  return new Map(res.configs.map((c) => [c.name, c]));
}

export interface AlterResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

export async function alter(client: RawClient, resources: { type: number; name: string; configs: Record<string, string | null> }[], validateOnly = false, version = 2): Promise<AlterResult[]> {
  const r = await client.send(ApiKey.AlterConfigs, version, {
    resources: resources.map((x) => ({ resourceType: x.type, resourceName: x.name, configs: Object.entries(x.configs).map(([name, value]) => ({ name, value })) })),
    validateOnly,
  });
  return r.responses;
}

export async function incremental(client: RawClient, resources: { type: number; name: string; ops: [string, number, string | null][] }[], validateOnly = false, version = 1): Promise<AlterResult[]> {
  const r = await client.send(ApiKey.IncrementalAlterConfigs, version, {
    resources: resources.map((x) => ({ resourceType: x.type, resourceName: x.name, configs: x.ops.map(([name, configOperation, value]) => ({ name, configOperation, value })) })),
    validateOnly,
  });
  return r.responses;
}

export function assertOk(results: AlterResult[], what: string): void {
  for (const r of results) assert.equal(r.errorCode, ErrorCode.NONE, `${what} ${r.resourceType}/${r.resourceName}: ${errorName(r.errorCode)} ${r.errorMessage}`);
}

/** Produce v9 of one batch; returns the partition response. */
export async function produceBatch(client: RawClient, topic: string, partition: number, batch: Buffer, acks = -1, version = 9): Promise<any> {
  const r = await client.send(ApiKey.Produce, version, {
    transactionalId: null, acks, timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  });
  return r.responses[0].partitionResponses[0];
}

export function batchOf(records: RecordInput[], compression = CompressionCodec.None, extra: { producerId?: bigint; producerEpoch?: number; baseSequence?: number } = {}): Buffer {
  return buildRecordBatch({ records, compression, ...extra });
}

/** The stored batches of a partition from `offset` (Fetch v12, one round). */
export async function fetchBatches(client: RawClient, topic: string, partition: number, offset = 0n): Promise<Buffer[]> {
  const r = await client.send(ApiKey.Fetch, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 16 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 16 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.NONE, `fetch ${topic}-${partition}: ${errorName(p.errorCode)}`);
  return p.records ? [...iterateBatches(p.records as Buffer)].map((b) => b.buf) : [];
}

/** ListOffsets v5 EARLIEST (-2) or LATEST (-1). */
export async function listOffset(client: RawClient, topic: string, partition: number, timestamp: bigint): Promise<bigint> {
  const r = await client.send(ApiKey.ListOffsets, 5, {
    replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
  });
  const p = r.topics[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.NONE, `ListOffsets ${topic}-${partition}: ${errorName(p.errorCode)}`);
  return p.offset;
}
