/** OffsetCommit (v0–9), OffsetFetch (v0–9) and OffsetDelete (v0), over the OffsetManager. */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest } from '../../protocol/generated/index.js';
import type { FetchedOffset, OffsetToCommit } from '../coordinator/groups/offset-manager.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';

function partitionExists(broker: BrokerState, topic: string, partition: number): boolean {
  const t = broker.topics.get(topic);
  return t !== undefined && partition >= 0 && partition < t.partitions.length;
}

/**
 * The expiry of an offset committed with v2–v4's RetentionTimeMs (Kafka's GroupCoordinatorAdapter):
 * -1 keeps the broker's offsets.retention.minutes (-1n here); anything else is now + retention in
 * Java's long arithmetic, where a negative sum (a negative retention, or Long.MAX wrapping round)
 * is already past: 0, due at the next expiry pass.
 */
function expiry(now: bigint, retention: bigint): bigint {
  if (retention === -1n) return -1n;
  const at = BigInt.asIntN(64, now + retention);
  return at < 0n ? 0n : at;
}

async function offsetCommit(ctx: RequestContext<OffsetCommitRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  const now = BigInt(Date.now());
  const retention = apiVersion >= 2 && apiVersion <= 4 ? body.retentionTimeMs : -1n;
  // Unknown partitions are refused before the coordinator sees the request, as in Kafka.
  const results = body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: partitionExists(broker, t.name, p.partitionIndex) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })) }));
  const toCommit: OffsetToCommit[] = [];
  const slots: { errorCode: number }[] = [];
  body.topics.forEach((t, ti) => t.partitions.forEach((p, pi) => {
    const slot = results[ti].partitions[pi];
    if (slot.errorCode !== ErrorCode.NONE) return;
    slots.push(slot);
    toCommit.push({
      topic: t.name,
      partition: p.partitionIndex,
      offset: p.committedOffset,
      leaderEpoch: apiVersion >= 6 ? p.committedLeaderEpoch : -1,
      metadata: p.committedMetadata,
      commitTimestamp: apiVersion === 1 ? p.commitTimestamp : -1n,
      expireTimestamp: expiry(now, retention),
    });
  }));
  if (toCommit.length > 0) {
    const errors = await broker.offsets.commit({
      groupId: body.groupId,
      // v0 carries no membership: it is a simple commit.
      generationId: apiVersion >= 1 ? body.generationIdOrMemberEpoch : -1,
      memberId: apiVersion >= 1 ? body.memberId : '',
      groupInstanceId: apiVersion >= 7 ? body.groupInstanceId : null,
      offsets: toCommit,
    });
    errors.forEach((e, i) => (slots[i].errorCode = e));
  }
  return { throttleTimeMs: 0, topics: results };
}

function topicsOf(offsets: FetchedOffset[], v: number) {
  const byTopic = new Map<string, FetchedOffset[]>();
  for (const o of offsets) {
    if (!byTopic.has(o.topic)) byTopic.set(o.topic, []);
    byTopic.get(o.topic)!.push(o);
  }
  return [...byTopic].map(([name, ps]) => ({
    name,
    partitions: ps.map((p) => ({ partitionIndex: p.partition, committedOffset: p.offset, committedLeaderEpoch: v >= 5 ? p.leaderEpoch : -1, metadata: p.metadata, errorCode: p.errorCode })),
  }));
}

function fetchGroup(broker: BrokerState, groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, requireStable = false) {
  const wanted = topics === null ? null : topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })));
  const r = broker.offsets.fetch(groupId, wanted);
  if (requireStable) {
    // Offsets committed in a transaction still open are not answered yet (v7+, KIP-447).
    for (const o of r.offsets) {
      if (broker.offsets.hasPendingTxnOffset(groupId, o.topic, o.partition)) Object.assign(o, { offset: -1n, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT });
    }
  }
  return r;
}

function offsetFetch(ctx: RequestContext<OffsetFetchRequest>): unknown {
  const { broker, body, apiVersion } = ctx;
  if (apiVersion >= 8) {
    const groups = body.groups.map((g) => {
      const r = fetchGroup(broker, g.groupId, g.topics, body.requireStable);
      return { groupId: g.groupId, errorCode: r.errorCode, topics: topicsOf(r.offsets, apiVersion) };
    });
    return { throttleTimeMs: 0, groups };
  }
  // v0–1 have no null topic list and no group-level error: a group error goes on every partition.
  const r = fetchGroup(broker, body.groupId, apiVersion >= 2 ? body.topics : body.topics ?? [], apiVersion >= 7 && body.requireStable);
  if (apiVersion < 2 && r.errorCode !== ErrorCode.NONE) {
    const failed = (body.topics ?? []).flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition, offset: -1n, leaderEpoch: -1, metadata: '', errorCode: r.errorCode })));
    return { throttleTimeMs: 0, topics: topicsOf(failed, apiVersion) };
  }
  return { throttleTimeMs: 0, errorCode: r.errorCode, topics: topicsOf(r.offsets, apiVersion) };
}

async function offsetDelete(ctx: RequestContext<OffsetDeleteRequest>): Promise<unknown> {
  const { broker, body } = ctx;
  const results = body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: partitionExists(broker, t.name, p.partitionIndex) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })) }));
  const slots: { errorCode: number }[] = [];
  const partitions: { topic: string; partition: number }[] = [];
  results.forEach((t) => t.partitions.forEach((p) => {
    if (p.errorCode !== ErrorCode.NONE) return;
    slots.push(p);
    partitions.push({ topic: t.name, partition: p.partitionIndex });
  }));
  const r = await broker.offsets.deleteOffsets(body.groupId, partitions);
  if (r.errorCode !== ErrorCode.NONE) return { errorCode: r.errorCode, throttleTimeMs: 0, topics: [] };
  r.partitions.forEach((e, i) => (slots[i].errorCode = e));
  return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics: results };
}

export const offsetHandlers: ApiHandler[] = [
  { apiKey: ApiKey.OffsetCommit, minVersion: 0, maxVersion: 9, handle: offsetCommit },
  { apiKey: ApiKey.OffsetFetch, minVersion: 0, maxVersion: 9, handle: offsetFetch },
  { apiKey: ApiKey.OffsetDelete, minVersion: 0, maxVersion: 0, handle: offsetDelete },
];
