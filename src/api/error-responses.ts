/**
 * The answer to a request whose handler failed unexpectedly (a bug, an unforeseen storage error):
 * what Kafka's AbstractRequest.getErrorResponse builds for each API, so the client gets the error
 * code (UNKNOWN_SERVER_ERROR) for every entity it asked about and its connection stays up, instead
 * of a closed connection it would take for a network fault and retry into the same failure.
 * Fields are written as far as the request's version has them; anything not named takes its
 * schema default (empty arrays, -1 offsets). Null means there is no answer: an acks=0 produce.
 */
import { ApiKey } from '../../protocol/generated/index.js';

type Body = any; // the decoded request, of the API the table entry is for
type Builder = (body: Body, version: number, errorCode: number) => object | null;

const perPartition = (indexes: readonly number[], field: string, errorCode: number, extra: object = {}) =>
  indexes.map((i) => ({ [field]: i, errorCode, ...extra }));

/** Kafka's builders for responses whose errors are per entity; every other response has a top-level errorCode. */
const BUILDERS: Partial<Record<number, Builder>> = {
  [ApiKey.Produce]: (b, _v, errorCode) =>
    b.acks === 0 ? null : {
      responses: b.topicData.map((t: Body) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p: Body) => ({ index: p.index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage: null })),
      })),
    },
  // From v13 the top-level error code alone; before, every partition's too.
  [ApiKey.Fetch]: (b, v, errorCode) => ({
    errorCode,
    sessionId: b.sessionId,
    responses: v >= 13 ? [] : b.topics.map((t: Body) => ({
      topic: t.topic, topicId: t.topicId,
      partitions: t.partitions.map((p: Body) => ({ partitionIndex: p.partition, errorCode, highWatermark: -1n })),
    })),
  }),
  [ApiKey.ListOffsets]: (b, v, errorCode) => ({
    topics: b.topics.map((t: Body) => ({
      name: t.name,
      partitions: t.partitions.map((p: Body) => ({ partitionIndex: p.partitionIndex, errorCode, ...(v === 0 ? { oldStyleOffsets: [] } : { timestamp: -1n, offset: -1n }) })),
    })),
  }),
  [ApiKey.Metadata]: (b, _v, errorCode) => ({
    brokers: [],
    topics: (b.topics ?? []).map((t: Body) => ({ name: t.name ?? '', topicId: t.topicId, errorCode, isInternal: false, partitions: [] })),
  }),
  [ApiKey.OffsetCommit]: (b, _v, errorCode) => ({
    topics: b.topics.map((t: Body) => ({ name: t.name, partitions: t.partitions.map((p: Body) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
  [ApiKey.OffsetFetch]: (b, v, errorCode) => {
    if (v >= 8) return { groups: b.groups.map((g: Body) => ({ groupId: g.groupId, errorCode, topics: [] })) };
    if (v >= 2) return { errorCode, topics: [] };
    return {
      topics: (b.topics ?? []).map((t: Body) => ({
        name: t.name, partitions: perPartition(t.partitionIndexes, 'partitionIndex', errorCode, { committedOffset: -1n, metadata: '' }),
      })),
    };
  },
  [ApiKey.FindCoordinator]: (b, v, errorCode) =>
    v >= 4
      ? { coordinators: b.coordinatorKeys.map((key: string) => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: null })) }
      : { errorCode, errorMessage: null, nodeId: -1, host: '', port: -1 },
  [ApiKey.JoinGroup]: (_b, v, errorCode) => ({ errorCode, generationId: -1, protocolName: v >= 7 ? null : '', leader: '', memberId: '', members: [] }),
  [ApiKey.DescribeGroups]: (b, _v, errorCode) => ({ groups: b.groups.map((groupId: string) => ({ groupId, errorCode, groupState: '', protocolType: '', protocolData: '', members: [] })) }),
  [ApiKey.CreateTopics]: (b, _v, errorCode) => ({ topics: b.topics.map((t: Body) => ({ name: t.name, errorCode, errorMessage: null })) }),
  [ApiKey.DeleteTopics]: (b, v, errorCode) => ({
    responses: v >= 6 ? b.topics.map((t: Body) => ({ name: t.name, topicId: t.topicId, errorCode })) : b.topicNames.map((name: string) => ({ name, errorCode })),
  }),
  [ApiKey.DeleteRecords]: (b, _v, errorCode) => ({
    topics: b.topics.map((t: Body) => ({ name: t.name, partitions: t.partitions.map((p: Body) => ({ partitionIndex: p.partitionIndex, errorCode, lowWatermark: -1n })) })),
  }),
  [ApiKey.InitProducerId]: (_b, _v, errorCode) => ({ errorCode, producerId: -1n, producerEpoch: -1 }),
  [ApiKey.OffsetForLeaderEpoch]: (b, _v, errorCode) => ({
    topics: b.topics.map((t: Body) => ({ topic: t.topic, partitions: t.partitions.map((p: Body) => ({ partition: p.partition, errorCode, leaderEpoch: -1, endOffset: -1n })) })),
  }),
  [ApiKey.AddPartitionsToTxn]: (b, v, errorCode) =>
    v >= 4 ? { errorCode } : {
      resultsByTopicV3AndBelow: b.v3AndBelowTopics.map((t: Body) => ({
        name: t.name, resultsByPartition: t.partitions.map((partitionIndex: number) => ({ partitionIndex, partitionErrorCode: errorCode })),
      })),
    },
  [ApiKey.WriteTxnMarkers]: (b, _v, errorCode) => ({
    markers: b.markers.map((m: Body) => ({
      producerId: m.producerId, topics: m.topics.map((t: Body) => ({ name: t.name, partitions: perPartition(t.partitionIndexes, 'partitionIndex', errorCode) })),
    })),
  }),
  [ApiKey.TxnOffsetCommit]: (b, _v, errorCode) => ({
    topics: b.topics.map((t: Body) => ({ name: t.name, partitions: t.partitions.map((p: Body) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
  [ApiKey.CreateAcls]: (b, _v, errorCode) => ({ results: b.creations.map(() => ({ errorCode, errorMessage: null })) }),
  [ApiKey.DeleteAcls]: (b, _v, errorCode) => ({ filterResults: b.filters.map(() => ({ errorCode, errorMessage: null, matchingAcls: [] })) }),
  [ApiKey.DescribeConfigs]: (b, _v, errorCode) => ({
    results: b.resources.map((r: Body) => ({ resourceType: r.resourceType, resourceName: r.resourceName, errorCode, errorMessage: null, configs: [] })),
  }),
  [ApiKey.AlterConfigs]: (b, _v, errorCode) => ({ responses: b.resources.map((r: Body) => ({ resourceType: r.resourceType, resourceName: r.resourceName, errorCode, errorMessage: null })) }),
  [ApiKey.IncrementalAlterConfigs]: (b, _v, errorCode) => ({ responses: b.resources.map((r: Body) => ({ resourceType: r.resourceType, resourceName: r.resourceName, errorCode, errorMessage: null })) }),
  [ApiKey.CreatePartitions]: (b, _v, errorCode) => ({ results: b.topics.map((t: Body) => ({ name: t.name, errorCode, errorMessage: null })) }),
  [ApiKey.DeleteGroups]: (b, _v, errorCode) => ({ results: b.groupsNames.map((groupId: string) => ({ groupId, errorCode })) }),
  [ApiKey.ElectLeaders]: (b, _v, errorCode) => ({
    errorCode,
    replicaElectionResults: (b.topicPartitions ?? []).map((t: Body) => ({
      topic: t.topic, partitionResult: t.partitions.map((partitionId: number) => ({ partitionId, errorCode, errorMessage: null })),
    })),
  }),
  [ApiKey.AlterClientQuotas]: (b, _v, errorCode) => ({
    entries: b.entries.map((e: Body) => ({ errorCode, errorMessage: null, entity: e.entity.map((x: Body) => ({ entityType: x.entityType, entityName: x.entityName })) })),
  }),
  [ApiKey.DescribeProducers]: (b, _v, errorCode) => ({
    topics: b.topics.map((t: Body) => ({ name: t.name, partitions: perPartition(t.partitionIndexes, 'partitionIndex', errorCode, { errorMessage: null, activeProducers: [] }) })),
  }),
  [ApiKey.DescribeTransactions]: (b, _v, errorCode) => ({ transactionStates: b.transactionalIds.map((transactionalId: string) => ({ transactionalId, errorCode, transactionState: '', topics: [] })) }),
  [ApiKey.DescribeTopicPartitions]: (b, _v, errorCode) => ({ topics: b.topics.map((t: Body) => ({ name: t.name, errorCode, isInternal: false, partitions: [] })) }),
};

/** The response body answering `body` (of `apiKey`, at `version`) with `errorCode` everywhere it can; null: none. */
export function errorResponse(apiKey: number, version: number, body: Body, errorCode: number): object | null {
  const build = BUILDERS[apiKey];
  return build ? build(body, version, errorCode) : { errorCode };
}
