/**
 * OffsetForLeaderEpoch (v0–4): the end offset of a leader epoch, from the partition's leader epoch
 * cache (leader-epoch-checkpoint), as Kafka's Partition.lastOffsetForLeaderEpoch. Consumers use it
 * after a leader change to detect log truncation (KIP-320). The current leader epoch a client sends
 * is checked first: older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  OffsetForLeaderEpochRequest, OffsetForLeaderEpochRequestOffsetForLeaderPartition, OffsetForLeaderEpochResponse, OffsetForLeaderEpochResponseEpochEndOffset,
} from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import type { Topic } from '../cluster/topics.js';
import type { ApiHandler, RequestContext } from './context.js';

type EpochEndOffset = Encodable<OffsetForLeaderEpochResponseEpochEndOffset>;

/** A current leader epoch of -1 means "not checked". */
const NO_PARTITION_LEADER_EPOCH = -1;

function endOffset(topic: Topic | undefined, p: OffsetForLeaderEpochRequestOffsetForLeaderPartition, version: number): EpochEndOffset {
  const fail = (errorCode: number): EpochEndOffset => ({ errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1n });
  const log = topic?.partitions[p.partition];
  if (!topic || !log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const current = version >= 2 ? p.currentLeaderEpoch : NO_PARTITION_LEADER_EPOCH;
  if (current !== NO_PARTITION_LEADER_EPOCH) {
    if (topic.leaderEpoch(p.partition) > current) return fail(ErrorCode.FENCED_LEADER_EPOCH);
    if (topic.leaderEpoch(p.partition) < current) return fail(ErrorCode.UNKNOWN_LEADER_EPOCH);
  }
  const found = log.endOffsetForEpoch(p.leaderEpoch);
  return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: found.leaderEpoch, endOffset: found.endOffset };
}

function handle(ctx: RequestContext<OffsetForLeaderEpochRequest>): Encodable<OffsetForLeaderEpochResponse> {
  const { broker, body, apiVersion } = ctx;
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((t) => {
      const topic = broker.topics.get(t.topic);
      return { topic: t.topic, partitions: t.partitions.map((p) => endOffset(topic, p, apiVersion)) };
    }),
  };
}

export const offsetForLeaderEpochHandler: ApiHandler = { apiKey: ApiKey.OffsetForLeaderEpoch, minVersion: 0, maxVersion: 4, handle };
