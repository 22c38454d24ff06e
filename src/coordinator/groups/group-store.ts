/**
 * Where the group coordinator persists: the __consumer_offsets topic on the broker's own storage,
 * one partition per group (Kafka's partitionFor), records as Kafka writes them.
 */
import {
  ControlRecordType, buildRecordBatch, isControl, isTransactional, iterateBatches, readAttributes, readControlRecord, readProducerId, readRecords,
} from '../../../protocol/records/index.js';
import type { BrokerConfig } from '../../config.js';
import type { Topic, TopicRegistry } from '../../cluster/topics.js';
import { type GroupRecord, OFFSETS_TOPIC, decodeRecord, encodeRecord, partitionFor } from './offsets-topic.js';

/** A transactional write: the producer whose transaction the records belong to. */
export interface TxnWriter {
  producerId: bigint;
  producerEpoch: number;
}

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

const READ_CHUNK = 1024 * 1024;

/** A transactional write refused by the partition's producer state (a fenced epoch, say). */
export class TxnWriteError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

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

  async append(groupId: string, records: GroupRecord[], txn?: TxnWriter): Promise<void> {
    if (records.length === 0) return;
    const topic = await this.ensureTopic();
    const p = partitionFor(groupId, topic.partitions.length);
    const log = topic.partitions[p];
    const now = BigInt(Date.now());
    const encoded = records.map((r) => ({ ...encodeRecord(r), headers: [], timestamp: now }));
    if (!txn) {
      await log.append(buildRecordBatch({ baseOffset: 0n, records: encoded }), { leaderEpoch: topic.leaderEpoch });
      return;
    }
    // Transactional offsets: the partition's producer state must know the transaction is open here.
    const batch = buildRecordBatch({ baseOffset: 0n, records: encoded, producerId: txn.producerId, producerEpoch: txn.producerEpoch, baseSequence: 0, transactional: true });
    const info = { producerId: txn.producerId, epoch: txn.producerEpoch, baseSequence: 0, offsetDelta: encoded.length - 1, maxTimestamp: now, transactional: true };
    const verdict = topic.producers[p].check(info, 'coordinator');
    if (verdict.kind === 'error') throw new TxnWriteError(verdict.errorCode, verdict.message);
    topic.producers[p].appended(info, log.logEndOffset);
    await log.append(batch, { leaderEpoch: topic.leaderEpoch });
  }

  async *load(): AsyncIterable<LoadedEvent> {
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
          if (b.magic !== 2) continue;
          const attributes = readAttributes(b.buf);
          const producerId = isTransactional(attributes) ? readProducerId(b.buf) : null;
          if (isControl(attributes)) {
            const info = readControlRecord(b.buf);
            if (info.offset >= offset && producerId !== null && info.marker) yield { kind: 'marker', producerId, commit: info.type === ControlRecordType.COMMIT };
            offset = b.baseOffset + 1n;
            continue;
          }
          for (const r of readRecords(b.buf)) {
            if (r.offset < offset) continue;
            offset = r.offset + 1n;
            if (r.key === null) continue;
            const rec = decodeRecord(r.key, r.value);
            if (rec) yield { kind: 'record', record: rec, producerId };
          }
        }
        if (offset === before) break; // nothing whole could be read: stop rather than spin
      }
    }
  }
}
