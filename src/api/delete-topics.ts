/** DeleteTopics (v0–6): by name, and by topic id from v6. */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { DeleteTopicsRequest, DeleteTopicsResponse, DeleteTopicsResponseDeletableTopicResult } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { ZERO_UUID } from '../../protocol/primitives/uuid.js';
import type { Topic } from '../cluster/topics.js';
import { OFFSETS_TOPIC } from '../coordinator/groups/offsets-topic.js';
import { THROTTLING_QUOTA_EXCEEDED_MESSAGE } from '../quotas/quota-manager.js';
import type { ApiHandler, RequestContext } from './context.js';

async function handle(ctx: RequestContext<DeleteTopicsRequest>): Promise<Encodable<DeleteTopicsResponse>> {
  const { broker, body, apiVersion } = ctx;
  const wanted = apiVersion >= 6 ? body.topics : body.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
  if (!broker.config.bool('delete.topic.enable')) {
    // Kafka refuses the whole request: INVALID_REQUEST before v3, which has no better code.
    const errorCode = apiVersion < 3 ? ErrorCode.INVALID_REQUEST : ErrorCode.TOPIC_DELETION_DISABLED;
    return { throttleTimeMs: 0, responses: wanted.map((w) => ({ name: w.name, topicId: w.topicId, errorCode, errorMessage: null })) };
  }
  // Kafka's controller drops an operation whose deadline passed before it ran: nothing is deleted.
  if (body.timeoutMs <= 0) return { throttleTimeMs: 0, responses: wanted.map((w) => ({ name: w.name, topicId: w.topicId, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: null })) };
  const responses: Encodable<DeleteTopicsResponseDeletableTopicResult>[] = [];
  const deletions: Promise<void>[] = [];
  const seen = new Set<Topic>();
  const names = new Map<string, number>();
  const ids = new Map<string, number>();
  // Naming a topic by both or by neither is an error of its own, and not counted as a duplicate.
  const malformed = (w: { name: string | null; topicId: string }) => (w.name !== null) === (w.topicId !== ZERO_UUID);
  for (const w of wanted) {
    if (malformed(w)) continue;
    if (w.name !== null) names.set(w.name, (names.get(w.name) ?? 0) + 1);
    else ids.set(w.topicId, (ids.get(w.topicId) ?? 0) + 1);
  }
  // A topic named once by name and also by id: Kafka answers the name with INVALID_REQUEST, the id
  // not at all, and deletes nothing (ControllerApis.deleteTopics).
  const namedIds = new Set<string>();
  for (const [name, n] of names) {
    const topic = broker.topics.get(name);
    if (n === 1 && topic && ids.has(topic.id)) namedIds.add(topic.id);
  }
  const duplicatesAnswered = new Set<string>();
  const quota = ctx.quota.mutations(apiVersion >= 5);
  for (const w of wanted) {
    const result = { name: w.name, topicId: w.topicId, errorCode: ErrorCode.NONE as number, errorMessage: null as string | null };
    // (A duplicated id still gets its own "Duplicate topic id." answer.)
    if (!malformed(w) && w.name === null && namedIds.has(w.topicId) && ids.get(w.topicId) === 1) continue;
    const duplicate = !malformed(w) && (w.name !== null ? names.get(w.name)! : ids.get(w.topicId)!) > 1;
    // A duplicated name or id gets one answer, as in Kafka.
    const key = w.name !== null ? `name ${w.name}` : `id ${w.topicId}`;
    if (duplicate && duplicatesAnswered.has(key)) continue;
    if (duplicate) duplicatesAnswered.add(key);
    responses.push(result);
    const invalid =
      w.name !== null && w.topicId !== ZERO_UUID ? 'You may not specify both topic name and topic id.'
      : w.name === null && w.topicId === ZERO_UUID ? 'Neither topic name nor id were specified.'
      : duplicate ? (w.name !== null ? 'Duplicate topic name.' : 'Duplicate topic id.')
      : null;
    if (invalid) {
      result.errorCode = ErrorCode.INVALID_REQUEST;
      result.errorMessage = invalid;
      continue;
    }
    const topic = w.name !== null ? broker.topics.get(w.name) : broker.topics.getById(w.topicId);
    if (!topic) {
      result.errorCode = w.name !== null ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID;
      result.errorMessage = w.name !== null ? 'This server does not host this topic-partition.' : 'This server does not host this topic ID.';
      continue;
    }
    result.name = topic.name;
    result.topicId = topic.id;
    if (w.name !== null && namedIds.has(topic.id)) {
      result.errorCode = ErrorCode.INVALID_REQUEST;
      result.errorMessage = 'The provided topic name maps to an ID that was already supplied.';
      continue;
    }
    if (seen.has(topic)) continue;
    seen.add(topic);
    if (!quota.record(topic.record.partitions)) {
      result.errorCode = ErrorCode.THROTTLING_QUOTA_EXCEEDED;
      result.errorMessage = THROTTLING_QUOTA_EXCEEDED_MESSAGE;
      continue;
    }
    deletions.push(
      // The topic leaves the registry and its offsets leave the groups in the same turn. Deleting
      // __consumer_offsets itself unloads every group, as Kafka's coordinator resigning it does.
      Promise.all([broker.topics.delete(topic), topic.name === OFFSETS_TOPIC ? broker.groups.unloadAll() : broker.offsets.forgetTopic(topic.name)]).then(() => undefined, (err: unknown) => {
        broker.log.error({ err, topic: topic.name }, 'topic deletion failed');
        result.errorCode = ErrorCode.UNKNOWN_SERVER_ERROR;
        result.errorMessage = String(err);
      }),
    );
  }
  await Promise.all(deletions);
  if (apiVersion < 5) for (const r of responses) r.errorMessage = null;
  return { throttleTimeMs: 0, responses };
}

export const deleteTopicsHandler: ApiHandler = { apiKey: ApiKey.DeleteTopics, minVersion: 0, maxVersion: 6, handle };
