/**
 * DeleteRecords (v0–2): moves a partition's log start offset (its low watermark) forward, as Kafka's
 * ReplicaManager.deleteRecords does on the leader. Offset -1 means the high watermark; beyond it is
 * OFFSET_OUT_OF_RANGE; a topic whose cleanup.policy lacks 'delete' refuses (POLICY_VIOLATION), and
 * so do internal topics (INVALID_TOPIC_EXCEPTION). Consumers below the new start get
 * OFFSET_OUT_OF_RANGE from Fetch and reset as their auto.offset.reset says.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { DeleteRecordsRequest, DeleteRecordsResponse, DeleteRecordsResponseDeleteRecordsTopicResult } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { OffsetOutOfRangeError, PolicyViolationError, storageFailureLevel } from '../storage/storage.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';

interface PartitionResult {
  partitionIndex: number;
  lowWatermark: bigint;
  errorCode: number;
}

async function deleteOne(broker: BrokerState, topicName: string, partitionIndex: number, offset: bigint): Promise<PartitionResult> {
  const fail = (errorCode: number): PartitionResult => ({ partitionIndex, lowWatermark: -1n, errorCode });
  const topic = broker.topics.get(topicName);
  const log = topic?.partitions[partitionIndex];
  if (!topic || !log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (topic.isInternal) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION);
  try {
    const lowWatermark = await log.deleteRecordsBefore(offset);
    topic.producers[partitionIndex]?.logStartMoved(lowWatermark);
    return { partitionIndex, lowWatermark, errorCode: ErrorCode.NONE };
  } catch (err) {
    if (err instanceof OffsetOutOfRangeError) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
    if (err instanceof PolicyViolationError) return fail(ErrorCode.POLICY_VIOLATION);
    broker.log[storageFailureLevel(err)]({ err, topic: topicName, partition: partitionIndex }, 'DeleteRecords failed');
    return fail(ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

async function handle(ctx: RequestContext<DeleteRecordsRequest>): Promise<Encodable<DeleteRecordsResponse>> {
  const { broker, body } = ctx;
  // Kafka keys the request by partition: a partition named twice is deleted to its last offset and answered once.
  const wanted = new Map<string, Map<number, bigint>>();
  for (const t of body.topics) {
    let parts = wanted.get(t.name);
    if (!parts) wanted.set(t.name, (parts = new Map()));
    for (const p of t.partitions) parts.set(p.partitionIndex, p.offset);
  }
  const topics: Encodable<DeleteRecordsResponseDeleteRecordsTopicResult>[] = await Promise.all(
    [...wanted].map(async ([name, parts]) => ({
      name,
      partitions: await Promise.all([...parts].map(([index, offset]) => deleteOne(broker, name, index, offset))),
    })),
  );
  return { throttleTimeMs: 0, topics };
}

export const deleteRecordsHandler: ApiHandler = { apiKey: ApiKey.DeleteRecords, minVersion: 0, maxVersion: 2, handle };
