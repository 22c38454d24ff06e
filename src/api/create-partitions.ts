/**
 * CreatePartitions (v0–3): grows topics the way Kafka's KRaft controller does
 * (ReplicationControlManager.createPartitions). The new count is written to the topic table before
 * the new partitions open; clients see them from their next Metadata request.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { CreatePartitionsRequest, CreatePartitionsRequestCreatePartitionsTopic, CreatePartitionsResponse, CreatePartitionsResponseCreatePartitionsTopicResult } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { type MutationQuota, THROTTLING_QUOTA_EXCEEDED_MESSAGE } from '../quotas/quota-manager.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';

type Result = Encodable<CreatePartitionsResponseCreatePartitionsTopicResult>;

class Refused extends Error {
  constructor(
    readonly errorCode: number,
    message: string | null,
  ) {
    super(message ?? '');
  }
}

/**
 * Kafka's validateManualPartitionAssignment: why a replica list cannot be used here (only this
 * broker exists), or null. With a replication factor, the list must also have that many replicas.
 */
export function manualAssignmentError(nodeId: number, brokerIds: readonly number[], replicationFactor?: number): string | null {
  if (brokerIds.length === 0) return 'The manual partition assignment includes an empty replica list.';
  const sorted = [...brokerIds].sort((a, b) => a - b);
  let previous: number | undefined;
  for (const id of sorted) {
    if (id !== nodeId) return `The manual partition assignment includes broker ${id}, but no such broker is registered.`;
    if (id === previous) return `The manual partition assignment includes the broker ${previous} more than once.`;
    previous = id;
  }
  if (replicationFactor !== undefined && sorted.length !== replicationFactor) {
    return `The manual partition assignment includes a partition with ${sorted.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`;
  }
  return null;
}

/** Kafka's controller builds at most this many records for one request (QuorumController.MAX_RECORDS_PER_USER_OP). */
const MAX_RECORDS_PER_REQUEST = 10_000;

/**
 * Validates one topic's growth and takes its new partitions from the mutation quota, in Kafka's
 * order (the quota before the replica lists are looked at); returns how many partitions it adds.
 */
function checkGrowth(broker: BrokerState, t: CreatePartitionsRequestCreatePartitionsTopic, quota: MutationQuota): number {
  const topic = broker.topics.get(t.name);
  if (!topic) throw new Refused(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null);
  // What the topic table says, additions still opening included: a second request sees the first.
  const current = topic.record.partitions;
  if (t.count === current) throw new Refused(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`);
  if (t.count < current) throw new Refused(ErrorCode.INVALID_PARTITIONS, `The topic ${t.name} currently has ${current} partition(s); ${t.count} would not be an increase.`);
  const additional = t.count - current;
  if (t.assignments !== null && t.assignments.length !== additional) {
    throw new Refused(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Attempted to add ${additional} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`);
  }
  if (!quota.record(additional)) throw new Refused(ErrorCode.THROTTLING_QUOTA_EXCEEDED, THROTTLING_QUOTA_EXCEEDED_MESSAGE);
  if (t.assignments !== null) {
    // Every partition of this broker has one replica: this one.
    for (const a of t.assignments) {
      const error = manualAssignmentError(broker.nodeId, a.brokerIds, 1);
      if (error !== null) throw new Refused(ErrorCode.INVALID_REPLICA_ASSIGNMENT, error);
    }
  }
  return additional;
}

async function handle(ctx: RequestContext<CreatePartitionsRequest>): Promise<Encodable<CreatePartitionsResponse>> {
  const { broker, body, apiVersion } = ctx;
  const everyName = (errorCode: number, errorMessage: string | null): Encodable<CreatePartitionsResponse> => ({
    throttleTimeMs: 0,
    results: body.topics.map((t) => ({ name: t.name, errorCode, errorMessage })),
  });
  // Kafka's controller drops an operation whose deadline passed before it ran: nothing changes.
  if (body.timeoutMs <= 0) return everyName(ErrorCode.REQUEST_TIMED_OUT, null);
  const counts = new Map<string, number>();
  for (const t of body.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  // As Kafka's ControllerApis: the duplicated names first, each once, then the others in order.
  const results: Result[] = [...counts].filter(([, n]) => n > 1).map(([name]) => ({ name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' }));
  const growing: { result: Result; topic: CreatePartitionsRequestCreatePartitionsTopic }[] = [];
  let records = 0;
  const quota = ctx.quota.mutations(apiVersion >= 3);
  for (const t of body.topics) {
    if (counts.get(t.name)! > 1) continue;
    const result: Result = { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
    results.push(result);
    try {
      records += checkGrowth(broker, t, quota);
      growing.push({ result, topic: t });
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      result.errorCode = e.errorCode;
      result.errorMessage = e.message === '' ? null : e.message;
    }
  }
  // One record per new partition: past the limit the controller refuses the whole request, validate-only or not.
  if (records > MAX_RECORDS_PER_REQUEST) return everyName(ErrorCode.POLICY_VIOLATION, 'Unable to perform excessively large batch operation.');
  const pending = body.validateOnly ? [] : growing.map(({ result, topic }) => ({ result, done: broker.topics.addPartitions(broker.topics.get(topic.name)!, topic.count) }));
  for (const { result, done } of pending) {
    try {
      await done;
    } catch (err) {
      broker.log.error({ err, topic: result.name }, 'adding partitions failed');
      result.errorCode = ErrorCode.UNKNOWN_SERVER_ERROR;
      result.errorMessage = null;
    }
  }
  return { throttleTimeMs: 0, results };
}

export const createPartitionsHandler: ApiHandler = { apiKey: ApiKey.CreatePartitions, minVersion: 0, maxVersion: 3, handle };
