/**
 * Leadership and replica placement on a single broker, answered as Kafka's KRaft controller
 * answers them when there is nothing to move:
 * - ElectLeaders (v0–2): this broker is every partition's preferred (only) replica and leader, so
 *   an election is never needed (ELECTION_NOT_NEEDED); electing for all partitions lists none.
 * - AlterPartitionReassignments (v0): a reassignment to this broker alone is already in place;
 *   other broker ids are INVALID_REPLICA_ASSIGNMENT; cancelling finds nothing in progress.
 * - ListPartitionReassignments (v0): nothing is ever being reassigned.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ElectLeadersRequest, ElectLeadersResponse, ElectLeadersResponsePartitionResult,
  ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
} from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';
import { manualAssignmentError } from './create-partitions.js';

const PREFERRED = 0;
const UNCLEAN = 1;
const ELECTION_NOT_NEEDED_MESSAGE = 'Leader election not needed for topic partition.';

type PartitionResult = Encodable<ElectLeadersResponsePartitionResult>;

/** Kafka's electLeader for one partition: its leader is already the preferred replica, and alive. */
function electLeader(broker: BrokerState, topicName: string, partitionId: number): PartitionResult {
  const topic = broker.topics.get(topicName);
  if (!topic) return { partitionId, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic as ${topicName}` };
  if (partitionId < 0 || partitionId >= topic.partitions.length) {
    return { partitionId, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such partition as ${topicName}-${partitionId}` };
  }
  return { partitionId, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: ELECTION_NOT_NEEDED_MESSAGE };
}

function electLeaders(ctx: RequestContext<ElectLeadersRequest>): Encodable<ElectLeadersResponse> {
  const { broker, body, apiVersion } = ctx;
  const electionType = apiVersion >= 1 ? body.electionType : PREFERRED;
  if (body.topicPartitions !== null && body.topicPartitions.length === 0) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults: [] };
  if (electionType !== PREFERRED && electionType !== UNCLEAN) {
    const errorMessage = `Unknown election type ${electionType}`;
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.INVALID_REQUEST,
      replicaElectionResults: (body.topicPartitions ?? []).map((t) => ({
        topic: t.topic,
        partitionResult: t.partitions.map((partitionId) => ({ partitionId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage })),
      })),
    };
  }
  if (body.topicPartitions === null) {
    // Every partition; those that need no election are left out of the answer.
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      replicaElectionResults: broker.topics.all().map((t) => ({
        topic: t.name,
        partitionResult: t.partitions.map((_, i) => electLeader(broker, t.name, i)).filter((r) => r.errorCode !== ErrorCode.ELECTION_NOT_NEEDED),
      })),
    };
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    replicaElectionResults: body.topicPartitions.map((t) => ({ topic: t.topic, partitionResult: t.partitions.map((p) => electLeader(broker, t.topic, p)) })),
  };
}

function alterPartitionReassignments(ctx: RequestContext<AlterPartitionReassignmentsRequest>): Encodable<AlterPartitionReassignmentsResponse> {
  const { broker, body } = ctx;
  const responses = body.topics.map((t) => {
    const topic = broker.topics.get(t.name);
    return {
      name: t.name,
      partitions: t.partitions.map((p) => {
        const result = (errorCode: number, errorMessage: string | null) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage });
        if (!topic) return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find a topic named ${t.name}.`);
        if (p.partitionIndex < 0 || p.partitionIndex >= topic.partitions.length) {
          return result(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${t.name}:${p.partitionIndex}.`);
        }
        if (p.replicas === null) return result(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, null);
        const error = manualAssignmentError(broker.nodeId, p.replicas);
        if (error !== null) return result(ErrorCode.INVALID_REPLICA_ASSIGNMENT, error);
        // The target is this broker, where the partition already is: nothing to move.
        return result(ErrorCode.NONE, null);
      }),
    };
  });
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
}

function listPartitionReassignments(_ctx: RequestContext<ListPartitionReassignmentsRequest>): Encodable<ListPartitionReassignmentsResponse> {
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [] };
}

export const electLeadersHandler: ApiHandler = { apiKey: ApiKey.ElectLeaders, minVersion: 0, maxVersion: 2, handle: electLeaders };
export const alterPartitionReassignmentsHandler: ApiHandler = { apiKey: ApiKey.AlterPartitionReassignments, minVersion: 0, maxVersion: 0, handle: alterPartitionReassignments };
export const listPartitionReassignmentsHandler: ApiHandler = { apiKey: ApiKey.ListPartitionReassignments, minVersion: 0, maxVersion: 0, handle: listPartitionReassignments };
