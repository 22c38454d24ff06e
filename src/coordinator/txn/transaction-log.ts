/**
 * __transaction_state, as Kafka writes it: key = int16 version 0 + TransactionLogKey,
 * value = int16 version 0 + TransactionLogValue; a null value removes the transactional id.
 */
import { TransactionLogKey, TransactionLogValue } from '../../../protocol/generated/index.js';
import type { TransactionLogValue as TxnValue } from '../../../protocol/generated/index.js';
import { Reader } from '../../../protocol/primitives/reader.js';
import { Writer } from '../../../protocol/primitives/writer.js';
import type { BrokerConfig } from '../../config.js';
import type { Topic, TopicRegistry } from '../../cluster/topics.js';
import { InternalTopic } from '../internal-topic.js';

export const TRANSACTION_TOPIC = '__transaction_state';

export type TxnRecord = { transactionalId: string; value: TxnValue | null };

export function encodeTxnRecord(r: TxnRecord): { key: Buffer; value: Buffer | null } {
  const k = new Writer();
  k.int16(0);
  TransactionLogKey.write(k, 0, { transactionalId: r.transactionalId });
  if (r.value === null) return { key: k.toBuffer(), value: null };
  const v = new Writer();
  v.int16(0);
  TransactionLogValue.write(v, 0, r.value);
  return { key: k.toBuffer(), value: v.toBuffer() };
}

export function decodeTxnRecord(key: Buffer, value: Buffer | null): TxnRecord | null {
  const kr = new Reader(key);
  const kv = kr.int16();
  if (kv !== 0) return null;
  const { transactionalId } = TransactionLogKey.read(kr, 0);
  if (value === null) return { transactionalId, value: null };
  const vr = new Reader(value);
  return { transactionalId, value: TransactionLogValue.decode(vr.int16(), vr) };
}

export interface TxnStore {
  append(transactionalId: string, record: TxnRecord): Promise<void>;
  load(): AsyncIterable<TxnRecord>;
}

/** __transaction_state, created with Kafka's settings for it. */
export class TransactionTopicStore implements TxnStore {
  private readonly topic: InternalTopic;

  constructor(topics: TopicRegistry, config: BrokerConfig) {
    this.topic = new InternalTopic(topics, TRANSACTION_TOPIC, () => ({
      partitions: config.number('transaction.state.log.num.partitions'),
      configs: {
        'cleanup.policy': 'compact',
        'compression.type': 'uncompressed',
        'segment.bytes': String(config.number('transaction.state.log.segment.bytes')),
        'unclean.leader.election.enable': 'false',
      },
    }));
  }

  ensureTopic(): Promise<Topic> {
    return this.topic.ensure();
  }

  append(transactionalId: string, record: TxnRecord): Promise<void> {
    return this.topic.append(transactionalId, [encodeTxnRecord(record)]);
  }

  async *load(): AsyncIterable<TxnRecord> {
    for await (const e of this.topic.load()) {
      if (e.kind !== 'record') continue;
      const record = decodeTxnRecord(e.key, e.value);
      if (record) yield record;
    }
  }
}
