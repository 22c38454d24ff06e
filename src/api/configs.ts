/**
 * DescribeConfigs (v0–4), AlterConfigs (v0–2) and IncrementalAlterConfigs (v0–1) on topics,
 * this broker, the cluster-wide broker defaults, the broker's logger and client metrics
 * subscriptions (with ListClientMetricsResources), answered as a Kafka 3.9
 * KRaft broker does (its ConfigHelper, ConfigAdminManager and the controller's validation).
 * Changes are persisted before they are answered and apply at once to the running partitions.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsRequestDescribeConfigsResource, DescribeConfigsResponse,
  DescribeConfigsResponseDescribeConfigsResourceResult, DescribeConfigsResponseDescribeConfigsResult, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
  ListClientMetricsResourcesRequest, ListClientMetricsResourcesResponse,
} from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { ROOT_LOGGER, applyLoggerChanges, loggerChangeError, loggerLevel } from '../cluster/broker-logger.js';
import { invalidConnectionLimits } from '../cluster/broker-configs.js';
import { applyClientMetricsOps, clientMetricsError } from '../cluster/client-metrics.js';
import { type AlterableConfig, type Altered, type ApiError, AlterOp, applyBrokerOps, applyTopicOps, preprocessError } from '../cluster/config-changes.js';
import { type ConfigEntry, describeBrokerConfigs, describeTopicConfigs } from '../cluster/config-describe.js';
import { CONFIG_TYPE_ID, ConfigSource, ResourceType } from '../cluster/config-schema.js';
import { type DynamicLevel, invalidDynamicConfigs } from '../cluster/dynamic-configs.js';
import { invalidLogDefaults, validateTopicConfigs } from '../cluster/topic-configs.js';
import { type Topic, invalidTopicName } from '../cluster/topics.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';
import { INVALID_REQUEST_MESSAGE } from './java-messages.js';

type DescribeResult = Encodable<DescribeConfigsResponseDescribeConfigsResult>;

const NONE: ApiError = { errorCode: ErrorCode.NONE, errorMessage: null };
const invalidRequest = (errorMessage: string): ApiError => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage });

/** Java's Integer.parseInt, or null. */
function parseId(name: string): number | null {
  if (!/^[+-]?\d+$/.test(name)) return null;
  const n = Number(name);
  return n >= -2147483648 && n <= 2147483647 ? n : null;
}

// ------------------------------------------------------------------ DescribeConfigs

function describeResource(broker: BrokerState, r: DescribeConfigsRequestDescribeConfigsResource): ApiError | ConfigEntry[] {
  switch (r.resourceType) {
    case ResourceType.TOPIC: {
      const bad = invalidTopicName(r.resourceName);
      if (bad) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: bad };
      const topic = broker.topics.get(r.resourceName);
      if (!topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null };
      return describeTopicConfigs(topic.record.configs, broker.config);
    }
    case ResourceType.BROKER: {
      if (r.resourceName === '') return describeBrokerConfigs(broker.config, false);
      const id = parseId(r.resourceName);
      if (id === null) return invalidRequest(`Broker id must be an integer, but it is: ${r.resourceName}`);
      if (id !== broker.nodeId) return invalidRequest(`Unexpected broker id, expected ${broker.nodeId} or empty string, but received ${r.resourceName}`);
      return describeBrokerConfigs(broker.config, true);
    }
    case ResourceType.BROKER_LOGGER: {
      if (r.resourceName === '') return invalidRequest('Broker id must not be empty');
      const id = parseId(r.resourceName);
      if (id === null) return invalidRequest(`Broker id must be an integer, but it is: ${r.resourceName}`);
      if (id !== broker.nodeId) return invalidRequest(`Unexpected broker id, expected ${broker.nodeId} but received ${r.resourceName}`);
      return [{
        name: ROOT_LOGGER, value: loggerLevel(broker.log), readOnly: false, source: ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG,
        isSensitive: false, synonyms: [], type: null, doc: null,
      }];
    }
    case ResourceType.CLIENT_METRICS: {
      if (r.resourceName === '') return invalidRequest('Client metrics subscription name must not be empty');
      return Object.entries(broker.clientMetrics.configs(r.resourceName)).map(([name, value]) => ({
        name, value, readOnly: false, source: ConfigSource.CLIENT_METRICS_CONFIG, isSensitive: false, synonyms: [], type: null, doc: null,
      }));
    }
    default:
      return invalidRequest(`Unexpected resource type ${r.resourceType} for resource ${r.resourceName}`);
  }
}

/** The resource types DescribeConfigs knows. */
const DESCRIBABLE = new Set<number>([ResourceType.TOPIC, ResourceType.BROKER, ResourceType.BROKER_LOGGER, ResourceType.CLIENT_METRICS]);

function handleDescribe(ctx: RequestContext<DescribeConfigsRequest>): Encodable<DescribeConfigsResponse> {
  const { broker, body, apiVersion } = ctx;
  const includeSynonyms = apiVersion >= 1 && body.includeSynonyms;
  const includeDocumentation = apiVersion >= 3 && body.includeDocumentation;
  // A resource type without configs fails the whole request (Kafka's ConfigHelper throws while
  // sorting the resources; getErrorResponse answers each with Errors.INVALID_REQUEST's message).
  if (body.resources.some((r) => !DESCRIBABLE.has(r.resourceType))) {
    return {
      throttleTimeMs: 0,
      results: body.resources.map((r) => ({ resourceType: r.resourceType, resourceName: r.resourceName, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: INVALID_REQUEST_MESSAGE, configs: [] })),
    };
  }
  const results: DescribeResult[] = body.resources.map((r) => {
    const described = describeResource(broker, r);
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    if (!Array.isArray(described)) return { ...base, ...described, configs: [] };
    const keys = r.configurationKeys;
    // Kafka's ConfigHelper answers a subscription's configs whatever keys were asked for.
    const all = keys === null || keys.length === 0 || r.resourceType === ResourceType.CLIENT_METRICS;
    const wanted = all ? described : described.filter((e) => keys.includes(e.name));
    const configs = wanted.map((e): Encodable<DescribeConfigsResponseDescribeConfigsResourceResult> => {
      const c: Encodable<DescribeConfigsResponseDescribeConfigsResourceResult> = { name: e.name, value: e.value, readOnly: e.readOnly, isSensitive: e.isSensitive };
      // Kafka 3.9 leaves v0's isDefault false; we answer with what the field means.
      if (apiVersion === 0) c.isDefault = e.source === ConfigSource.DEFAULT_CONFIG;
      if (apiVersion >= 1) {
        c.configSource = e.source;
        c.synonyms = includeSynonyms ? e.synonyms.map((s) => ({ name: s.name, value: s.value, source: s.source })) : [];
      }
      if (apiVersion >= 3) {
        c.configType = e.type === null ? 0 : CONFIG_TYPE_ID[e.type];
        c.documentation = includeDocumentation ? e.doc : null;
      }
      return c;
    });
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
  });
  return { throttleTimeMs: 0, results };
}

// ------------------------------------------------------------------ AlterConfigs, IncrementalAlterConfigs

interface Resource {
  resourceType: number;
  resourceName: string;
  configs: readonly AlterableConfig[];
}

/** What to do once every resource is checked: a topic's new overrides or a broker level's new dynamic configs. */
type Change =
  | { kind: 'topic'; topic: Topic; configs: Record<string, string> }
  | { kind: 'broker'; level: DynamicLevel; configs: Record<string, string> }
  | { kind: 'logger'; ops: readonly AlterableConfig[] }
  | { kind: 'clientMetrics'; name: string; configs: Record<string, string> };

type Checked = { error: ApiError } | { change: Change };

/** Resource names the broker preprocessing accepts for BROKER (empty: cluster default). */
function brokerLevel(broker: BrokerState, name: string): DynamicLevel | ApiError {
  if (name === '') return 'clusterDefault';
  const id = parseId(name);
  if (id === null) return invalidRequest(`Node id must be an integer, but it is: ${name}`);
  if (id !== broker.nodeId) return invalidRequest(`Unexpected broker id, expected ${broker.nodeId}, but received ${name}`);
  return 'broker';
}

/** The controller's checks of a topic's complete new set of overrides. */
function checkTopic(broker: BrokerState, name: string, next: (current: Record<string, string>) => Altered): Checked {
  if (name === '') return { error: invalidRequest('Default topic resources are not allowed.') };
  const bad = invalidTopicName(name);
  if (bad) return { error: { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: bad } };
  const topic = broker.topics.get(name);
  const altered = next(topic?.record.configs ?? {});
  if (!altered.ok) return { error: altered.error };
  const reason = validateTopicConfigs(altered.configs, broker.config);
  if (reason) return { error: { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: reason } };
  if (!topic) return { error: { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `The topic '${name}' does not exist.` } };
  // No alter.config.policy.class.name can be configured here, so POLICY_VIOLATION never arises.
  return { change: { kind: 'topic', topic, configs: altered.configs } };
}

function checkBroker(broker: BrokerState, name: string, next: (current: Record<string, string>) => Altered): Checked {
  const level = brokerLevel(broker, name);
  if (typeof level !== 'string') return { error: level };
  const altered = next({ ...broker.dynamicConfigs.current(level) });
  if (!altered.ok) return { error: altered.error };
  const after = broker.config.withDynamic(level, altered.configs);
  const reason = invalidDynamicConfigs(altered.configs) ?? invalidLogDefaults(after) ?? invalidConnectionLimits(after);
  if (reason) return { error: invalidRequest(reason) };
  return { change: { kind: 'broker', level, configs: altered.configs } };
}

/** The controller's checks of a client metrics subscription's complete new configs. */
function checkClientMetrics(broker: BrokerState, name: string, next: (current: Record<string, string>) => Altered): Checked {
  const altered = next({ ...broker.clientMetrics.configs(name) });
  if (!altered.ok) return { error: altered.error };
  const error = clientMetricsError(name, altered.configs);
  return error ? { error } : { change: { kind: 'clientMetrics', name, configs: altered.configs } };
}

function checkResource(broker: BrokerState, r: Resource, incremental: boolean): Checked {
  const pre = preprocessError(r.configs);
  if (pre) return { error: pre };
  switch (r.resourceType) {
    case ResourceType.TOPIC:
      return checkTopic(broker, r.resourceName, incremental ? (current) => applyTopicOps(current, r.configs) : () => ({ ok: true, configs: setOf(r.configs) }));
    case ResourceType.BROKER:
      return checkBroker(broker, r.resourceName, incremental ? (current) => applyBrokerOps(current, r.configs) : () => ({ ok: true, configs: setOf(r.configs) }));
    case ResourceType.CLIENT_METRICS:
      return checkClientMetrics(broker, r.resourceName, incremental ? (current) => applyClientMetricsOps(current, r.configs) : () => ({ ok: true, configs: setOf(r.configs) }));
    case ResourceType.BROKER_LOGGER: {
      if (!incremental) break;
      const id = parseId(r.resourceName);
      if (id === null) return { error: invalidRequest(`Node id must be an integer, but it is: ${r.resourceName}`) };
      if (id !== broker.nodeId) return { error: invalidRequest(`Unexpected node id. Expected ${broker.nodeId}, but received ${r.resourceName}`) };
      const bad = loggerChangeError(r.configs);
      return bad ? { error: bad } : { change: { kind: 'logger', ops: r.configs } };
    }
  }
  return { error: invalidRequest(`Unknown resource type ${r.resourceType}`) };
}

const setOf = (configs: readonly AlterableConfig[]): Record<string, string> => Object.fromEntries(configs.map((c) => [c.name, c.value!]));

async function apply(broker: BrokerState, change: Change): Promise<ApiError> {
  try {
    switch (change.kind) {
      case 'topic':
        if (broker.topics.get(change.topic.name) !== change.topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `The topic '${change.topic.name}' does not exist.` };
        await broker.topics.updateConfigs(change.topic, change.configs);
        break;
      case 'broker':
        await broker.dynamicConfigs.replace(change.level, change.configs);
        break;
      case 'logger':
        applyLoggerChanges(broker.log, change.ops);
        break;
      case 'clientMetrics':
        await broker.clientMetrics.replace(change.name, change.configs);
        break;
    }
    return NONE;
  } catch (err) {
    broker.log.error({ err }, 'config change failed');
    return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: String(err) };
  }
}

/** Both AlterConfigs flavours: check every resource, then (unless validateOnly) apply the good ones. */
async function alter(broker: BrokerState, resources: readonly Resource[], validateOnly: boolean, incremental: boolean) {
  const counts = new Map<string, number>();
  const key = (r: Resource) => `${r.resourceType}\u0000${r.resourceName}`;
  for (const r of resources) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  const checked: Checked[] = resources.map((r) =>
    counts.get(key(r))! > 1 ? { error: invalidRequest('Each resource must appear at most once.') } : checkResource(broker, r, incremental));
  const outcomes: ApiError[] = [];
  for (const c of checked) outcomes.push('error' in c ? c.error : validateOnly ? NONE : await apply(broker, c.change));
  return {
    throttleTimeMs: 0,
    responses: resources.map((r, i) => ({ errorCode: outcomes[i].errorCode, errorMessage: outcomes[i].errorMessage, resourceType: r.resourceType, resourceName: r.resourceName })),
  };
}

function handleAlter(ctx: RequestContext<AlterConfigsRequest>): Promise<Encodable<AlterConfigsResponse>> {
  const { body } = ctx;
  const resources = body.resources.map((r) => ({
    resourceType: r.resourceType,
    resourceName: r.resourceName,
    configs: r.configs.map((c) => ({ name: c.name, value: c.value, configOperation: AlterOp.SET })),
  }));
  return alter(ctx.broker, resources, body.validateOnly, false);
}

function handleIncrementalAlter(ctx: RequestContext<IncrementalAlterConfigsRequest>): Promise<Encodable<IncrementalAlterConfigsResponse>> {
  const { body } = ctx;
  return alter(ctx.broker, body.resources, body.validateOnly, true);
}

/** ListClientMetricsResources (v0): the subscriptions that have configs (kafka-client-metrics.sh --list). */
function handleListClientMetrics(ctx: RequestContext<ListClientMetricsResourcesRequest>): Encodable<ListClientMetricsResourcesResponse> {
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, clientMetricsResources: ctx.broker.clientMetrics.names().map((name) => ({ name })) };
}

export const configHandlers: ApiHandler[] = [
  { apiKey: ApiKey.DescribeConfigs, minVersion: 0, maxVersion: 4, handle: handleDescribe },
  { apiKey: ApiKey.AlterConfigs, minVersion: 0, maxVersion: 2, handle: handleAlter },
  { apiKey: ApiKey.IncrementalAlterConfigs, minVersion: 0, maxVersion: 1, handle: handleIncrementalAlter },
  { apiKey: ApiKey.ListClientMetricsResources, minVersion: 0, maxVersion: 0, handle: handleListClientMetrics },
];
