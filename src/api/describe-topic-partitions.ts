/**
 * DescribeTopicPartitions (v0, KIP-966): topic metadata in pages. Topics come sorted by name, at most
 * ResponsePartitionLimit partitions per response (capped by max.request.partition.size.limit), and
 * the cursor says where the next page starts — Kafka's DescribeTopicPartitionsRequestHandler and
 * KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse, for one broker that leads everything.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, DescribeTopicPartitionsResponseCursor, DescribeTopicPartitionsResponseTopic,
} from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { ZERO_UUID } from '../../protocol/primitives/uuid.js';
import { brokerValue } from '../cluster/broker-configs.js';
import { INTERNAL_TOPICS, type Topic, invalidTopicName } from '../cluster/topics.js';
import { AUTHORIZED_OPERATIONS_OMITTED, TOPIC_AUTHORIZED_OPERATIONS } from './cluster-info.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';

type ResponseTopic = Encodable<DescribeTopicPartitionsResponseTopic>;

function partitions(broker: BrokerState, topic: Topic, from: number, to: number) {
  const out = [];
  for (let i = from; i < to; i++) {
    out.push({
      errorCode: ErrorCode.NONE,
      partitionIndex: i,
      leaderId: broker.nodeId,
      leaderEpoch: topic.leaderEpoch(i),
      replicaNodes: [broker.nodeId],
      isrNodes: [broker.nodeId],
      // No eligible leader replicas (KIP-966) beyond the ISR on a single broker.
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
      offlineReplicas: [],
    });
  }
  return out;
}

function handle(ctx: RequestContext<DescribeTopicPartitionsRequest>): Encodable<DescribeTopicPartitionsResponse> {
  const { broker, body } = ctx;
  const all = body.topics.length === 0;
  const cursor = body.cursor;
  const cursorTopic = cursor?.topicName ?? '';
  const invalid = (message: string): Encodable<DescribeTopicPartitionsResponse> => {
    broker.log.debug({ clientId: ctx.header.clientId, error: message }, 'DescribeTopicPartitions refused');
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((t) => ({
        errorCode: ErrorCode.INVALID_REQUEST, name: t.name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      })),
      nextCursor: null,
    };
  };
  const names = new Set<string>();
  for (const name of all ? broker.topics.all().map((t) => t.name) : body.topics.map((t) => t.name)) if (name >= cursorTopic) names.add(name);
  if (!all && cursor !== null && !names.has(cursor.topicName)) {
    return invalid(`DescribeTopicPartitionsRequest topic list should contain the cursor topic: ${cursor.topicName}`);
  }
  if (cursor !== null && cursor.partitionIndex < 0) return invalid(`DescribeTopicPartitionsRequest cursor partition must be valid: ${cursor.topicName}-${cursor.partitionIndex}`);

  const configured = Number(brokerValue(broker.config, 'max.request.partition.size.limit'));
  let remaining = Math.max(Math.min(configured, body.responsePartitionLimit), 1);
  const topics: ResponseTopic[] = [];
  let nextCursor: Encodable<DescribeTopicPartitionsResponseCursor> | null = null;
  for (const name of [...names].sort()) {
    if (remaining === 0) {
      // The page is full: the next one starts at this topic (whether it exists or not).
      nextCursor = { topicName: name, partitionIndex: 0 };
      break;
    }
    const topic = broker.topics.get(name);
    if (!topic) {
      // Listing everything skips what disappeared meanwhile; a named topic is reported.
      if (!all) {
        const errorCode = invalidTopicName(name) === null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION;
        topics.push({ errorCode, name, topicId: ZERO_UUID, isInternal: INTERNAL_TOPICS.has(name), partitions: [], topicAuthorizedOperations: TOPIC_AUTHORIZED_OPERATIONS });
      }
      continue;
    }
    const start = name === cursorTopic ? cursor!.partitionIndex : 0;
    const count = topic.partitions.length;
    const upper = Math.min(count, start + remaining);
    const page = partitions(broker, topic, start, upper);
    topics.push({ errorCode: ErrorCode.NONE, name, topicId: topic.id, isInternal: topic.isInternal, partitions: page, topicAuthorizedOperations: TOPIC_AUTHORIZED_OPERATIONS });
    if (upper < count) {
      nextCursor = { topicName: name, partitionIndex: upper };
      break;
    }
    remaining -= page.length;
  }
  return { throttleTimeMs: 0, topics, nextCursor };
}

export const describeTopicPartitionsHandler: ApiHandler = { apiKey: ApiKey.DescribeTopicPartitions, minVersion: 0, maxVersion: 0, handle };
