/** The topic table is written once for topics created together, not once per topic. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopicRegistry } from '../../src/cluster/topics.js';
import { BrokerConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.js';
import type { TopicRecord } from '../../src/storage/storage.js';

/** Memory storage whose table writes take a turn of the event loop, as a file write does, and are counted. */
class CountingStorage extends MemoryStorage {
  saves: string[][] = [];

  override async saveTopics(topics: readonly TopicRecord[]): Promise<void> {
    this.saves.push(topics.map((t) => t.name));
    await new Promise((r) => setImmediate(r));
    return super.saveTopics(topics);
  }
}

test('200 topics created at once write the topic table a few times, the last time with all of them', async () => {
  const storage = new CountingStorage();
  const registry = new TopicRegistry(storage, new BrokerConfig(), silentLogger());
  await registry.load([]);
  const names = Array.from({ length: 200 }, (_, i) => `t${i}`);
  await Promise.all(names.map((name) => registry.create(name, 1, {})));
  assert.ok(storage.saves.length <= 3, `${storage.saves.length} writes of the table`);
  assert.deepEqual(storage.saves.at(-1)!.sort(), [...names].sort());
  assert.deepEqual((await storage.open()).topics.map((t) => t.name).sort(), [...names].sort());
  // A creation after them writes the table again, with it.
  await registry.create('late', 1, {});
  assert.ok(storage.saves.at(-1)!.includes('late'));
});

test('config updates that share a failed write of the table leave the configs the table has', async () => {
  class FailingStorage extends MemoryStorage {
    fail = false;
    override async saveTopics(topics: readonly TopicRecord[]): Promise<void> {
      await new Promise((r) => setImmediate(r));
      if (this.fail) throw new Error('disk full');
      return super.saveTopics(topics);
    }
  }
  const storage = new FailingStorage();
  const registry = new TopicRegistry(storage, new BrokerConfig(), silentLogger());
  await registry.load([{ name: 't', topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: 1, configs: { 'retention.ms': '1000' } }]);
  const topic = registry.get('t')!;
  storage.fail = true;
  const results = await Promise.allSettled([registry.updateConfigs(topic, { 'retention.ms': '2000' }), registry.updateConfigs(topic, { 'retention.ms': '3000' })]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.deepEqual(topic.record.configs, { 'retention.ms': '1000' }, 'not the first update, which was never saved either');
});
