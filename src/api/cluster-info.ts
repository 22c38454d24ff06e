/**
 * What the cluster and its disks look like: DescribeCluster (v0–1; this broker is the whole
 * cluster and its controller) and DescribeLogDirs (v0–4; the one data directory with the size of
 * every partition in it and, v4, the size and free space of its volume).
 */
import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  DescribeClusterRequest, DescribeClusterResponse, DescribeLogDirsRequest, DescribeLogDirsResponse, DescribeLogDirsResponseDescribeLogDirsTopic,
} from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import type { ApiHandler, RequestContext } from './context.js';

/** Kafka's AclOperation codes. */
const AclOperation = {
  READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9, DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12,
} as const;

const bitfield = (ops: readonly number[]): number => ops.reduce((m, op) => m | (1 << op), 0);

/**
 * Authorized operations as Kafka reports them without an authorizer: every operation the resource
 * type supports (AclEntry.supportedOperations).
 */
export const CLUSTER_AUTHORIZED_OPERATIONS = bitfield([
  AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER, AclOperation.DESCRIBE,
]);
export const TOPIC_AUTHORIZED_OPERATIONS = bitfield([
  AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS,
]);
export const GROUP_AUTHORIZED_OPERATIONS = bitfield([AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE]);
/** The schema default: not asked for. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

const ENDPOINT_BROKER = 1;
const ENDPOINT_CONTROLLER = 2;

function describeCluster(ctx: RequestContext<DescribeClusterRequest>): Encodable<DescribeClusterResponse> {
  const { broker, body, apiVersion } = ctx;
  const requested = apiVersion >= 1 ? body.endpointType : ENDPOINT_BROKER;
  if (requested !== ENDPOINT_BROKER && requested !== ENDPOINT_CONTROLLER) {
    return {
      throttleTimeMs: 0,
      errorCode: apiVersion === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
      errorMessage: `Unsupported endpoint type ${requested}`,
    };
  }
  if (requested !== ENDPOINT_BROKER) {
    return {
      throttleTimeMs: 0,
      errorCode: apiVersion === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.MISMATCHED_ENDPOINT_TYPE,
      errorMessage: 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER',
    };
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: ENDPOINT_BROKER,
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    brokers: [{ brokerId: broker.nodeId, host: ctx.advertised.host, port: ctx.advertised.port, rack: null }],
    clusterAuthorizedOperations: body.includeClusterAuthorizedOperations ? CLUSTER_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
  };
}

/** Total and usable bytes of the volume holding `dir`; -1 (the schema default) when it cannot be told. */
async function volumeSpace(dir: string): Promise<{ totalBytes: bigint; usableBytes: bigint }> {
  try {
    const s = await fsp.statfs(dir, { bigint: true });
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize };
  } catch {
    return { totalBytes: -1n, usableBytes: -1n };
  }
}

async function describeLogDirs(ctx: RequestContext<DescribeLogDirsRequest>): Promise<Encodable<DescribeLogDirsResponse>> {
  const { broker, body } = ctx;
  const wanted = body.topics === null ? null : new Map<string, Set<number>>();
  for (const t of body.topics ?? []) {
    const set = wanted!.get(t.topic) ?? new Set<number>();
    for (const p of t.partitions) set.add(p);
    wanted!.set(t.topic, set);
  }
  const topics: Encodable<DescribeLogDirsResponseDescribeLogDirsTopic>[] = [];
  for (const topic of broker.topics.all()) {
    const want = wanted === null ? null : wanted.get(topic.name);
    if (wanted !== null && !want) continue;
    const partitions = topic.partitions
      .filter((log) => want === null || want!.has(log.partition))
      .map((log) => ({
        partitionIndex: log.partition,
        partitionSize: BigInt(log.size),
        // How far this replica is behind the high watermark: the leader never is.
        offsetLag: log.highWatermark > log.logEndOffset ? log.highWatermark - log.logEndOffset : 0n,
        isFutureKey: false,
      }));
    if (partitions.length > 0) topics.push({ name: topic.name, partitions });
  }
  const logDir = resolve(broker.config.dataDir);
  const space = await volumeSpace(logDir);
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    results: [{ errorCode: ErrorCode.NONE, logDir, topics, ...space }],
  };
}

export const describeClusterHandler: ApiHandler = { apiKey: ApiKey.DescribeCluster, minVersion: 0, maxVersion: 1, handle: describeCluster };
export const describeLogDirsHandler: ApiHandler = { apiKey: ApiKey.DescribeLogDirs, minVersion: 0, maxVersion: 4, handle: describeLogDirs };
