/**
 * ListOffsets (v0–9): earliest, latest, max timestamp and by timestamp. Lookups by time find the
 * batch through the log's time index, then decode just that batch for the exact record. Version 0
 * keeps its own older meaning: offsets of segments by their modification time.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { ListOffsetsRequest, ListOffsetsResponse, ListOffsetsResponseListOffsetsPartitionResponse } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { decodeRecordsAsync, readLastOffset, readPartitionLeaderEpoch } from '../../protocol/records/index.js';
import type { Topic } from '../cluster/topics.js';
import type { PartitionLog } from '../storage/storage.js';
import type { ApiHandler, RequestContext } from './context.js';

export const LATEST = -1n;
export const EARLIEST = -2n;
export const MAX_TIMESTAMP = -3n;
export const EARLIEST_LOCAL = -4n;
/** KIP-1005: the last offset in tiered storage (none here). */
export const LATEST_TIERED = -5n;

const SPECIAL_MIN_VERSION = new Map<bigint, number>([[LATEST, 0], [EARLIEST, 0], [MAX_TIMESTAMP, 7], [EARLIEST_LOCAL, 8], [LATEST_TIERED, 9]]);

type PartitionResponse = Encodable<ListOffsetsResponseListOffsetsPartitionResponse>;

interface Found {
  offset: bigint;
  timestamp: bigint;
  /** The leader epoch the offset was written in, as Kafka answers it (-1: unknown). */
  leaderEpoch: number;
}

const NOT_FOUND: Found = { offset: -1n, timestamp: -1n, leaderEpoch: -1 };

/** A found batch's epoch (Kafka's TimestampAndOffset takes the batch's partitionLeaderEpoch). */
const epochOf = (batch: Buffer): number => Math.max(-1, readPartitionLeaderEpoch(batch));

/**
 * The first record from the log start offset on, below `limit`, whose timestamp is ≥ `timestamp`,
 * or NOT_FOUND. A batch whose matching records all lie below the log start (DeleteRecords can cut
 * a batch) sends the search on to the next one, as Kafka's searchForTimestamp goes on.
 */
async function byTimestamp(log: PartitionLog, timestamp: bigint, limit: bigint): Promise<Found> {
  let from = log.logStartOffset;
  for (;;) {
    const batch = await log.findBatchByTimestamp(timestamp, from);
    if (!batch) return NOT_FOUND;
    for (const r of await decodeRecordsAsync(batch)) {
      if (r.offset >= limit) return NOT_FOUND;
      if (r.timestamp >= timestamp && r.offset >= from) return { offset: r.offset, timestamp: r.timestamp, leaderEpoch: epochOf(batch) };
    }
    // On past the batch's own last offset: compaction can leave it ending beyond its last record,
    // or with no record at all.
    from = readLastOffset(batch) + 1n;
  }
}

async function maxTimestamp(log: PartitionLog, limit: bigint): Promise<Found> {
  const batch = await log.findMaxTimestampBatch();
  if (!batch) return NOT_FOUND;
  let best = NOT_FOUND;
  for (const r of await decodeRecordsAsync(batch)) {
    if (r.offset >= limit) break;
    if (best === NOT_FOUND || r.timestamp > best.timestamp) best = { offset: r.offset, timestamp: r.timestamp, leaderEpoch: epochOf(batch) };
  }
  return best;
}

/**
 * ListOffsets v0, as Kafka's UnifiedLog.legacyFetchOffsetsBefore and Partition.legacyFetchOffsetsForTimestamp:
 * up to maxNumOffsets offsets, newest first, from the segments' base offsets (each at least the log
 * start) and the log end offset (when the active segment holds data), each dated by its segment's
 * last modification (the log end: now). -1 starts from the newest, -2 from the oldest, a time from
 * the newest dated at or before it. A consumer sees nothing past the high watermark.
 */
function legacyOffsets(log: PartitionLog, timestamp: bigint, maxNumOffsets: number, consumer: boolean): bigint[] {
  const segments = log.segmentTimes();
  const points = segments.map((s) => ({ offset: s.baseOffset > log.logStartOffset ? s.baseOffset : log.logStartOffset, time: s.lastModified }));
  if (segments[segments.length - 1]!.size > 0) points.push({ offset: log.logEndOffset, time: Date.now() });
  let start = points.length - 1;
  if (timestamp === EARLIEST) start = 0;
  else if (timestamp !== LATEST) while (start >= 0 && BigInt(points[start]!.time) > timestamp) start--;
  const offsets: bigint[] = [];
  for (let i = start; i >= 0 && offsets.length < maxNumOffsets; i--) offsets.push(points[i]!.offset);
  offsets.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  const hw = log.highWatermark;
  if (!consumer || !offsets.some((o) => o > hw)) return offsets;
  return [hw, ...offsets.filter((o) => o <= hw)];
}

/** How far a lookup may see: consumers up to the high watermark (read_committed: the last stable offset), others (ReplicaId ≠ -1) the whole log. */
type Isolation = 'uncommitted' | 'committed' | 'none';

async function lookup(
  topic: Topic | undefined,
  p: { partitionIndex: number; timestamp: bigint; currentLeaderEpoch: number; maxNumOffsets: number },
  version: number,
  isolation: Isolation,
): Promise<PartitionResponse> {
  const fail = (errorCode: number): PartitionResponse => ({ partitionIndex: p.partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 });
  // Kafka's order: the timestamp against the version, then the partition, then its leader epoch.
  // Special timestamps exist from specific versions; anything else negative is not a timestamp.
  const minVersion = SPECIAL_MIN_VERSION.get(p.timestamp);
  if (p.timestamp < 0n && (minVersion === undefined || version < minVersion)) return fail(ErrorCode.UNSUPPORTED_VERSION);
  const log = topic?.partitions[p.partitionIndex];
  if (!topic || !log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  // Only -1 means "not checked" here (Fetch treats every negative epoch so).
  if (p.currentLeaderEpoch !== -1 && p.currentLeaderEpoch !== topic.leaderEpoch(p.partitionIndex)) {
    return fail(p.currentLeaderEpoch > topic.leaderEpoch(p.partitionIndex) ? ErrorCode.UNKNOWN_LEADER_EPOCH : ErrorCode.FENCED_LEADER_EPOCH);
  }
  if (version === 0) {
    // Kafka sizes an array by a negative count and answers the exception.
    if (p.maxNumOffsets < 0) return fail(ErrorCode.UNKNOWN_SERVER_ERROR);
    return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, oldStyleOffsets: legacyOffsets(log, p.timestamp, p.maxNumOffsets, isolation !== 'none') };
  }
  const limit =
    isolation === 'none' ? log.logEndOffset
    : isolation === 'committed' ? topic.producers[p.partitionIndex].lastStableOffset(log)
    : log.highWatermark;
  let found: Found;
  switch (p.timestamp) {
    case LATEST: found = { offset: limit, timestamp: -1n, leaderEpoch: log.latestLeaderEpoch }; break;
    case EARLIEST:
    case EARLIEST_LOCAL: found = { offset: log.logStartOffset, timestamp: -1n, leaderEpoch: log.epochForOffset(log.logStartOffset) }; break;
    case MAX_TIMESTAMP: found = await maxTimestamp(log, limit); break;
    case LATEST_TIERED: found = NOT_FOUND; break; // no tiered storage
    default:
      found = await byTimestamp(log, p.timestamp, limit);
  }
  return {
    partitionIndex: p.partitionIndex,
    errorCode: ErrorCode.NONE,
    timestamp: found.timestamp,
    offset: found.offset,
    leaderEpoch: version >= 4 ? found.leaderEpoch : -1,
  };
}

async function handle(ctx: RequestContext<ListOffsetsRequest>): Promise<Encodable<ListOffsetsResponse>> {
  const { broker, body, apiVersion } = ctx;
  const isolation: Isolation = body.replicaId !== -1 ? 'none' : apiVersion >= 2 && body.isolationLevel === 1 ? 'committed' : 'uncommitted';
  // Kafka refuses every occurrence of a partition asked for twice (v1+).
  const counts = new Map<string, number>();
  const key = (t: string, p: number) => `${t}\u0000${p}`;
  for (const t of body.topics) for (const p of t.partitions) counts.set(key(t.name, p.partitionIndex), (counts.get(key(t.name, p.partitionIndex)) ?? 0) + 1);
  const topics = await Promise.all(
    body.topics.map(async (t) => {
      const topic = broker.topics.get(t.name);
      const partitions = await Promise.all(
        t.partitions.map((p) =>
          apiVersion >= 1 && counts.get(key(t.name, p.partitionIndex))! > 1
            ? { partitionIndex: p.partitionIndex, errorCode: ErrorCode.INVALID_REQUEST, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 }
            : lookup(topic, p, apiVersion, isolation),
        ),
      );
      return { name: t.name, partitions };
    }),
  );
  return { throttleTimeMs: 0, topics };
}

export const listOffsetsHandler: ApiHandler = { apiKey: ApiKey.ListOffsets, minVersion: 0, maxVersion: 9, handle };
