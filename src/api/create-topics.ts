/** CreateTopics (v0–7) and the validation shared with auto-creation. */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { CreateTopicsRequest, CreateTopicsResponse, CreateTopicsResponseCreatableTopicResult } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { ZERO_UUID, randomUuid } from '../../protocol/primitives/uuid.js';
import { effectiveTopicConfigs } from '../cluster/config-describe.js';
import { validateTopicConfigs } from '../cluster/topic-configs.js';
import { type Topic, invalidTopicName } from '../cluster/topics.js';
import { type MutationQuota, THROTTLING_QUOTA_EXCEEDED_MESSAGE } from '../quotas/quota-manager.js';
import { CLUSTER_METADATA_TOPIC } from '../storage/storage.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';
import { manualAssignmentError } from './create-partitions.js';

export interface TopicSpec {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: readonly { partitionIndex: number; brokerIds: readonly number[] }[];
  configs: readonly { name: string; value: string | null }[];
}

export interface CreateOutcome {
  errorCode: number;
  errorMessage: string | null;
  numPartitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
  /** Set when creation started (not for validate-only or errors). */
  created?: Promise<Topic>;
}

/**
 * Records Kafka's controller writes for one request at most (MAX_RECORDS_PER_USER_OP): a topic
 * costs one, plus one per partition and per config.
 */
const MAX_RECORDS_PER_REQUEST = 10_000;

const failed = (errorCode: number, errorMessage: string): CreateOutcome => ({ errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: {} });

/**
 * Validates a topic creation the way Kafka's controller does, takes its partitions from `quota`
 * once every other check passed, and, unless validateOnly, starts it.
 */
export function createTopic(broker: BrokerState, spec: TopicSpec, validateOnly: boolean, quota?: MutationQuota): CreateOutcome {
  const checked = checkTopic(broker, spec);
  const outcome = checked.errorCode === ErrorCode.NONE && quota && !quota.record(checked.numPartitions) ? failed(ErrorCode.THROTTLING_QUOTA_EXCEEDED, THROTTLING_QUOTA_EXCEEDED_MESSAGE) : checked;
  if (outcome.errorCode === ErrorCode.NONE && !validateOnly) outcome.created = broker.topics.create(spec.name, outcome.numPartitions, outcome.configs);
  return outcome;
}

/** The checks, in the controller's order: the name, then the configs, then partitions and replicas. */
function checkTopic(broker: BrokerState, spec: TopicSpec): CreateOutcome {
  const registry = broker.topics;
  if (spec.name === CLUSTER_METADATA_TOPIC) return failed(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${CLUSTER_METADATA_TOPIC} is prohibited.`);
  const badName = invalidTopicName(spec.name);
  if (badName) return failed(ErrorCode.INVALID_TOPIC_EXCEPTION, badName);
  if (registry.get(spec.name) || registry.isCreating(spec.name)) return failed(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${spec.name}' already exists.`);
  const other = registry.collision(spec.name);
  if (other) return failed(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${spec.name}' collides with existing topic: ${other}`);

  const nulls = spec.configs.filter((c) => c.value === null).map((c) => c.name);
  if (nulls.length > 0) return failed(ErrorCode.INVALID_CONFIG, `Null value not supported for topic configs: ${nulls.join(',')}`);
  // A name given twice takes its last value (Kafka builds a map). Then every name, the values in
  // Kafka's define order, and the rules across configs (compaction lags, tiered storage).
  const configs: Record<string, string> = {};
  for (const c of spec.configs) if (c.value !== null) configs[c.name] = c.value.trim();
  const conflict = validateTopicConfigs(configs, broker.config);
  if (conflict) return failed(ErrorCode.INVALID_CONFIG, conflict);

  let numPartitions = spec.numPartitions;
  let replicationFactor = spec.replicationFactor;
  if (spec.assignments.length > 0) {
    if (replicationFactor !== -1) return failed(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.');
    if (numPartitions !== -1) return failed(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.');
    // Kafka's ReplicationControlManager.createTopic: the assignments in request order, each checked
    // as CreatePartitions checks them, then the partition indexes 0, 1, 2, ….
    const indexes = new Set<number>();
    let replicas: number | undefined;
    for (const a of spec.assignments) {
      if (indexes.has(a.partitionIndex)) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Found multiple manual partition assignments for partition ${a.partitionIndex}`);
      const error = manualAssignmentError(broker.nodeId, a.brokerIds, replicas);
      if (error !== null) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, error);
      replicas = a.brokerIds.length;
      indexes.add(a.partitionIndex);
    }
    for (let i = 0; i < indexes.size; i++) if (!indexes.has(i)) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence');
    numPartitions = indexes.size;
    replicationFactor = replicas!;
  } else {
    if (numPartitions === -1) numPartitions = broker.config.number('num.partitions');
    if (replicationFactor === -1) replicationFactor = broker.config.number('default.replication.factor');
    if (replicationFactor <= 0) return failed(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.');
    if (numPartitions <= 0) return failed(ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.');
    if (replicationFactor > 1) {
      return failed(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only 1 broker(s) are registered.`);
    }
  }

  return { errorCode: ErrorCode.NONE, errorMessage: null, numPartitions, replicationFactor, configs };
}

async function handle(ctx: RequestContext<CreateTopicsRequest>): Promise<Encodable<CreateTopicsResponse>> {
  const { broker, body, apiVersion } = ctx;
  const everyName = (errorCode: number, errorMessage: string | null): Encodable<CreateTopicsResponse> => ({
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({ name: t.name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: [] })),
  });
  // Kafka's controller drops an operation whose deadline passed before it ran: nothing is created.
  if (body.timeoutMs <= 0) return everyName(ErrorCode.REQUEST_TIMED_OUT, null);
  const counts = new Map<string, number>();
  for (const t of body.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  // Kafka's controller takes each topic's partitions from the mutation quota once it passed every other check, validate-only too.
  const quota = ctx.quota.mutations(apiVersion >= 6);
  const results = body.topics.filter((t) => counts.get(t.name) === 1).map((t) => {
    const outcome = checkTopic(broker, t);
    const throttled = outcome.errorCode === ErrorCode.NONE && !quota.record(outcome.numPartitions);
    return { name: t.name, outcome: throttled ? failed(ErrorCode.THROTTLING_QUOTA_EXCEEDED, THROTTLING_QUOTA_EXCEEDED_MESSAGE) : outcome };
  });
  const records = results.reduce((n, { outcome: o }) => (o.errorCode === ErrorCode.NONE ? n + 1 + o.numPartitions + Object.keys(o.configs).length : n), 0);
  if (records > MAX_RECORDS_PER_REQUEST) {
    // Kafka's controller refuses the whole request, validate-only or not: every name it holds.
    return everyName(ErrorCode.POLICY_VIOLATION, apiVersion >= 1 ? 'Unable to perform excessively large batch operation.' : null);
  } else if (!body.validateOnly) {
    for (const { name, outcome } of results) {
      if (outcome.errorCode === ErrorCode.NONE) outcome.created = broker.topics.create(name, outcome.numPartitions, outcome.configs);
    }
  }
  // As in Kafka: one INVALID_REQUEST result per duplicated name, after the others.
  for (const [name, n] of counts) {
    if (n > 1) results.push({ name, outcome: { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.', numPartitions: -1, replicationFactor: -1, configs: {} } });
  }
  const topics: Encodable<CreateTopicsResponseCreatableTopicResult>[] = [];
  for (const { name, outcome } of results) {
    // Kafka's controller draws the id before it knows whether the creation is only a validation.
    let topicId = body.validateOnly && outcome.errorCode === ErrorCode.NONE ? randomUuid() : ZERO_UUID;
    let errorCode = outcome.errorCode;
    let errorMessage = outcome.errorMessage;
    if (outcome.created) {
      try {
        topicId = (await outcome.created).id;
      } catch (err) {
        broker.log.error({ err, topic: name }, 'topic creation failed');
        errorCode = ErrorCode.UNKNOWN_SERVER_ERROR;
        errorMessage = String(err);
      }
    }
    const ok = errorCode === ErrorCode.NONE;
    topics.push({
      name,
      topicId,
      errorCode,
      errorMessage: apiVersion >= 1 ? errorMessage : null,
      numPartitions: ok ? outcome.numPartitions : -1,
      replicationFactor: ok ? outcome.replicationFactor : -1,
      configs: ok && apiVersion >= 5
        ? effectiveTopicConfigs(outcome.configs, broker.config).map((c) => ({ name: c.name, value: c.value, readOnly: false, configSource: c.source, isSensitive: false }))
        : [],
    });
  }
  return { throttleTimeMs: 0, topics };
}

export const createTopicsHandler: ApiHandler = { apiKey: ApiKey.CreateTopics, minVersion: 0, maxVersion: 7, handle };
