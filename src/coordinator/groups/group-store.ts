/**
 * Where the group coordinator persists: the __consumer_offsets topic on the broker's own storage,
 * one partition per group (Kafka's partitionFor), records as Kafka writes them.
 */
import { readRecords, buildRecordBatch, iterateBatches, isControl, readAttributes } from '../../../protocol/records/index.js';
import type { BrokerConfig } from '../../config.js';
import type { Topic, TopicRegistry } from '../../cluster/topics.js';
import { type GroupRecord, OFFSETS_TOPIC, decodeRecord, encodeRecord, partitionFor } from './offsets-topic.js';

export interface GroupStore {
  /** Appends records for one group; resolves once they are written. */
  append(groupId: string, records: GroupRecord[]): Promise<void>;
  /** Every record stored, partition by partition, in log order. */
  load(): AsyncIterable<GroupRecord>;
}

const READ_CHUNK = 1024 * 1024;

export class OffsetsTopicStore implements GroupStore {
  private topic: Promise<Topic> | null = null;

  constructor(
    private readonly topics: TopicRegistry,
    private readonly config: BrokerConfig,
  ) {}

  /** The topic, created on first use with Kafka's settings for it. */
  ensureTopic(): Promise<Topic> {
    const existing = this.topics.get(OFFSETS_TOPIC);
    if (existing) return Promise.resolve(existing);
    this.topic ??= this.topics.create(OFFSETS_TOPIC, this.config.number('offsets.topic.num.partitions'), {
      'cleanup.policy': 'compact',
      'segment.bytes': String(this.config.number('offsets.topic.segment.bytes')),
      'compression.type': 'producer',
    });
    return this.topic;
  }

  async append(groupId: string, records: GroupRecord[]): Promise<void> {
    if (records.length === 0) return;
    const topic = await this.ensureTopic();
    const log = topic.partitions[partitionFor(groupId, topic.partitions.length)];
    const now = BigInt(Date.now());
    const batch = buildRecordBatch({ baseOffset: 0n, records: records.map((r) => ({ ...encodeRecord(r), headers: [], timestamp: now })) });
    await log.append(batch, { leaderEpoch: topic.leaderEpoch });
  }

  async *load(): AsyncIterable<GroupRecord> {
    const topic = this.topics.get(OFFSETS_TOPIC);
    if (!topic) return;
    for (const log of topic.partitions) {
      let offset = log.logStartOffset;
      const end = log.highWatermark;
      while (offset < end) {
        const { records } = await log.read(offset, READ_CHUNK, { maxOffset: end, minOneBatch: true });
        if (records.length === 0) break;
        const before = offset;
        for (const b of iterateBatches(records)) {
          // Transaction markers carry no group data (transactional commits come with transactions).
          if (b.magic !== 2 || isControl(readAttributes(b.buf))) {
            offset = b.baseOffset + 1n;
            continue;
          }
          for (const r of readRecords(b.buf)) {
            if (r.offset < offset) continue;
            offset = r.offset + 1n;
            if (r.key === null) continue;
            const rec = decodeRecord(r.key, r.value);
            if (rec) yield rec;
          }
        }
        if (offset === before) break; // nothing whole could be read: stop rather than spin
      }
    }
  }
}
