/** Metadata (v0–12): this node as the only broker and controller, topics with ids, auto-creation. */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { MetadataRequest, MetadataResponse, MetadataResponseTopic } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { ZERO_UUID } from '../../protocol/primitives/uuid.js';
import { INTERNAL_TOPICS, type Topic, invalidTopicName } from '../cluster/topics.js';
import { OFFSETS_TOPIC } from '../coordinator/groups/offsets-topic.js';
import { TRANSACTION_TOPIC } from '../coordinator/txn/transaction-log.js';
import type { MutationQuota } from '../quotas/quota-manager.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_AUTHORIZED_OPERATIONS, TOPIC_AUTHORIZED_OPERATIONS } from './cluster-info.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';
import { createTopic } from './create-topics.js';

export function partitionsMetadata(broker: BrokerState, topic: Topic) {
  return topic.partitions.map((_, i) => ({
    errorCode: ErrorCode.NONE,
    partitionIndex: i,
    leaderId: broker.nodeId,
    leaderEpoch: topic.leaderEpoch(i),
    replicaNodes: [broker.nodeId],
    isrNodes: [broker.nodeId],
    offlineReplicas: [],
  }));
}

function topicMetadata(broker: BrokerState, topic: Topic): Encodable<MetadataResponseTopic> {
  return { errorCode: ErrorCode.NONE, name: topic.name, topicId: topic.id, isInternal: topic.isInternal, partitions: partitionsMetadata(broker, topic) };
}

function errorTopic(errorCode: number, name: string | null, topicId = ZERO_UUID): Encodable<MetadataResponseTopic> {
  return { errorCode, name, topicId, isInternal: name !== null && INTERNAL_TOPICS.has(name), partitions: [] };
}

/**
 * Starts creating a topic a Metadata request named (Kafka's AutoTopicCreationManager): the
 * coordinators' topics with their own settings (partitions, compaction), others with the defaults.
 * Returns the error to answer with: LEADER_NOT_AVAILABLE while it is being created.
 *
 * Kafka's broker forwards the creation to the controller as the client (an envelope with its
 * principal and client id, at the latest CreateTopics version), so the client's
 * controller_mutation_rate applies strictly: past it the topic is not created, and the client,
 * told only that the topic is unknown, asks again. The Metadata answer carries no throttle for it.
 */
function autoCreate(broker: BrokerState, name: string, quota: () => MutationQuota): number {
  const internal = name === OFFSETS_TOPIC ? broker.offsetsTopic : name === TRANSACTION_TOPIC ? broker.transactionTopic : null;
  if (internal !== null) {
    internal.ensureTopic().catch((err: unknown) => broker.log.warn({ err, topic: name }, 'auto-creation failed'));
    return ErrorCode.LEADER_NOT_AVAILABLE;
  }
  const result = createTopic(broker, { name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] }, false, quota());
  if (result.errorCode === ErrorCode.NONE || result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) return ErrorCode.LEADER_NOT_AVAILABLE;
  if (result.errorCode === ErrorCode.THROTTLING_QUOTA_EXCEEDED) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  broker.log.warn({ topic: name, error: result.errorMessage }, 'auto-creation refused');
  return result.errorCode;
}

function handle(ctx: RequestContext<MetadataRequest>): Encodable<MetadataResponse> {
  const { broker, body, apiVersion } = ctx;
  const registry = broker.topics;
  // v0: an empty list means all topics; v1+: null means all, empty means none.
  const all = body.topics === null || (apiVersion === 0 && body.topics.length === 0);
  let topics: Encodable<MetadataResponseTopic>[];
  if (all) {
    topics = registry.all().map((t) => topicMetadata(broker, t));
  } else {
    const mayCreate = broker.config.bool('auto.create.topics.enable') && (apiVersion < 4 || body.allowAutoTopicCreation);
    // One CreateTopics for the request's creations, as Kafka's: one share of the mutation quota, kept out of this answer's throttle.
    let shared: MutationQuota | undefined;
    const mutationQuota = () => (shared ??= broker.quotas.mutation.newQuotaFor(ctx.quota.user, ctx.quota.clientId, true, broker.quotas.now));
    const ids = [...new Set(body.topics!.map((t) => t.topicId).filter((id) => id !== ZERO_UUID))];
    if (apiVersion < 12 && (ids.length > 0 || body.topics!.some((t) => t.name === null))) {
      // Kafka refuses the whole request (ids, and topics without a name, are for v12 on) with
      // MetadataRequest.getErrorResponse: no brokers, no cluster id, no controller.
      return {
        clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
        throttleTimeMs: 0,
        brokers: [],
        clusterId: null,
        controllerId: -1,
        topics: body.topics!.map((t) => ({ ...errorTopic(ErrorCode.INVALID_REQUEST, t.name ?? ''), topicId: t.topicId, isInternal: false })),
      };
    } else if (ids.length > 0) {
      // As in Kafka, a request naming any topic by id is answered for its ids alone.
      topics = ids.map((id) => {
        const byId = registry.getById(id);
        return byId ? topicMetadata(broker, byId) : errorTopic(ErrorCode.UNKNOWN_TOPIC_ID, null, id);
      });
    } else {
      topics = [...new Set(body.topics!.map((t) => t.name))].map((name) => {
        if (name === null) return errorTopic(ErrorCode.INVALID_REQUEST, null);
        const topic = registry.get(name);
        if (topic) return topicMetadata(broker, topic);
        if (invalidTopicName(name) !== null) return errorTopic(ErrorCode.INVALID_TOPIC_EXCEPTION, name);
        // A topic still being created is not there yet: unknown unless this request may create it.
        if (!mayCreate) return errorTopic(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name);
        if (registry.isCreating(name)) return errorTopic(ErrorCode.LEADER_NOT_AVAILABLE, name);
        // As in Kafka, the topic exists for the client from its next metadata request on.
        return errorTopic(autoCreate(broker, name, mutationQuota), name);
      });
    }
  }
  // Without an authorizer, Kafka reports every operation the resource type supports, when asked.
  // (Kafka adds the UNKNOWN_TOPIC_ID entries after setting them.)
  if (body.includeTopicAuthorizedOperations) for (const t of topics) if (t.errorCode !== ErrorCode.UNKNOWN_TOPIC_ID) t.topicAuthorizedOperations = TOPIC_AUTHORIZED_OPERATIONS;
  return {
    clusterAuthorizedOperations: body.includeClusterAuthorizedOperations && apiVersion <= 10 ? CLUSTER_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
    throttleTimeMs: 0,
    brokers: [{ nodeId: broker.nodeId, host: ctx.advertised.host, port: ctx.advertised.port, rack: null }],
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    topics,
  };
}

export const metadataHandler: ApiHandler = { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12, handle };
