/**
 * The harness's own reference client (kafkajs, in the harness process): it prepares topics and data
 * for scenarios whose subject is not admin, reads committed offsets and end offsets to check what a
 * client did, and cleans up. The behaviour a scenario checks is always driven by the client under test.
 *
 * One HarnessAdmin serves one scenario: kafkajs clients remember every topic they touched and fail
 * their later metadata refreshes once one of those topics is deleted, so nothing is kept across
 * scenarios, and each produce uses a producer of its own.
 */
import kafkajs, { type Admin, type Producer } from 'kafkajs';
import type { OutMessage } from './ops.js';

const { Kafka, logLevel } = kafkajs;

export class HarnessAdmin {
  private kafka: InstanceType<typeof Kafka>;
  private admin: Admin;

  constructor(readonly bootstrap: string) {
    this.kafka = new Kafka({ brokers: [bootstrap], clientId: 'compat-harness', logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
    this.admin = this.kafka.admin();
  }

  async connect(): Promise<void> {
    await this.admin.connect();
  }

  async close(): Promise<void> {
    await this.admin.disconnect().catch(() => {});
  }

  async createTopic(topic: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: partitions, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
    });
  }

  async listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length) await this.admin.deleteTopics({ topics, timeout: 10000 });
  }

  async deleteGroups(groups: string[]): Promise<void> {
    if (groups.length) await this.admin.deleteGroups(groups);
  }

  async produce(topic: string, messages: OutMessage[]): Promise<void> {
    const producer: Producer = this.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await this.sendWith(producer, topic, messages);
    } finally {
      await producer.disconnect().catch(() => {});
    }
  }

  private async sendWith(producer: Producer, topic: string, messages: OutMessage[]): Promise<void> {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: Object.fromEntries(m.headers ?? []),
        ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
        ...(m.partition !== undefined ? { partition: m.partition } : {}),
      })),
    });
  }

  /** Low and high watermarks per partition. */
  async offsets(topic: string): Promise<Map<number, { low: number; high: number }>> {
    const r = await this.admin.fetchTopicOffsets(topic);
    return new Map(r.map((p) => [p.partition, { low: Number(p.low), high: Number(p.high) }]));
  }

  /** Committed offsets of a group on a topic (-1 where none). */
  async committed(group: string, topic: string): Promise<Map<number, number>> {
    const r = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map(r[0].partitions.map((p) => [p.partition, Number(p.offset)]));
  }
}
