/**
 * Where the group coordinator persists: the __consumer_offsets topic on the broker's own storage,
 * one partition per group (Kafka's partitionFor), records as Kafka writes them.
 */
import type { BrokerConfig } from '../../config.js';
import type { Topic, TopicRegistry } from '../../cluster/topics.js';
import { InternalTopic, type TxnWriter } from '../internal-topic.js';
import { type GroupRecord, OFFSETS_TOPIC, decodeRecord, encodeRecord } from './offsets-topic.js';

/** What loading finds, in log order: records (with their producer when transactional) and transaction markers. */
export type LoadedEvent =
  | { kind: 'record'; record: GroupRecord; producerId: bigint | null }
  | { kind: 'marker'; producerId: bigint; commit: boolean };

export interface GroupStore {
  /** Appends records for one group (in a transaction when `txn` is given); resolves once they are written. */
  append(groupId: string, records: GroupRecord[], txn?: TxnWriter): Promise<void>;
  /** Everything stored, partition by partition, in log order. */
  load(): AsyncIterable<LoadedEvent>;
}

/** __consumer_offsets, created with Kafka's settings for it. */
export class OffsetsTopicStore implements GroupStore {
  private readonly topic: InternalTopic;

  constructor(topics: TopicRegistry, config: BrokerConfig) {
    this.topic = new InternalTopic(topics, OFFSETS_TOPIC, () => ({
      partitions: config.number('offsets.topic.num.partitions'),
      configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(config.number('offsets.topic.segment.bytes')), 'compression.type': 'producer' },
    }));
  }

  ensureTopic(): Promise<Topic> {
    return this.topic.ensure();
  }

  append(groupId: string, records: GroupRecord[], txn?: TxnWriter): Promise<void> {
    return this.topic.append(groupId, records.map(encodeRecord), txn);
  }

  async *load(): AsyncIterable<LoadedEvent> {
    for await (const e of this.topic.load()) {
      if (e.kind === 'marker') {
        yield e;
        continue;
      }
      const record = decodeRecord(e.key, e.value);
      if (record) yield { kind: 'record', record, producerId: e.producerId };
    }
  }
}
