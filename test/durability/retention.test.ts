/**
 * Segment roll and retention on the disk engine: small segment.bytes rolls segments, retention.ms
 * and retention.bytes delete whole old segments in the background, the log start offset moves,
 * and consumers below it are told OFFSET_OUT_OF_RANGE and reset as their client does.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type BrokerProcess, PYTHON, run, sleep, startBrokerProcess, tempDir } from '../support/processes.js';
import { kcatProduce } from '../support/kcat.js';
import { RawClient } from '../support/raw-client.js';

const ARGS = ['--set', 'log.retention.check.interval.ms=200', '--set', 'log.initial.task.delay.ms=0', '--set', 'log.segment.delete.delay.ms=0'];

function segments(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
}

async function createTopic(c: RawClient, name: string, configs: Record<string, string>): Promise<void> {
  const r = await c.send(ApiKey.CreateTopics, 5, { timeoutMs: 5000, validateOnly: false, topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })) }] });
  assert.equal(r.topics[0].errorCode, 0, r.topics[0].errorMessage);
}

async function earliest(c: RawClient, topic: string): Promise<bigint> {
  const r = await c.send(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n }] }] });
  return r.topics[0].partitions[0].offset;
}

const PY_FROM_ZERO = `
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'unused', 'enable.auto.commit': False, 'auto.offset.reset': 'earliest'})
c.assign([TopicPartition(sys.argv[2], 0, 0)])
m = c.poll(15.0)
print(-1 if m is None or m.error() else m.offset(), m.value().decode() if m is not None and not m.error() else '')
c.close()
`;

test('retention.ms deletes expired segments; consumers below the log start reset', async () => {
  const dir = tempDir();
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBrokerProcess(['--port', '0', '--data-dir', dir.path, ...ARGS]);
    const c = await RawClient.connect(broker.port);
    await createTopic(c, 'ret-time', { 'segment.bytes': '2048', 'retention.ms': '1500' });
    for (let b = 0; b < 8; b++) await kcatProduce(broker.bootstrap, 'ret-time', Array.from({ length: 20 }, (_, i) => `old-${b}-${i}-${'x'.repeat(40)}`), ['-p', '0', '-X', 'linger.ms=50']);
    const partDir = join(dir.path, 'ret-time-0');
    const before = segments(partDir);
    assert.ok(before.length >= 3, `expected several segments, got ${before.length}`);
    assert.equal(await earliest(c, 'ret-time'), 0n);

    await sleep(2500); // everything written so far is now older than retention.ms
    await kcatProduce(broker.bootstrap, 'ret-time', ['fresh'], ['-p', '0', '-X', 'linger.ms=50']);
    let start = 0n;
    for (let i = 0; i < 50 && start < 160n; i++) {
      await sleep(100);
      start = await earliest(c, 'ret-time');
    }
    assert.equal(start, 160n, 'the log now starts at the fresh message');
    assert.ok(!segments(partDir).includes(before[0]), 'the oldest segment file is gone');
    // As in Kafka, 'fresh' would expire in turn 1.5 s from now (active segment included): keep it.
    const alter = await c.send(ApiKey.IncrementalAlterConfigs, 0, {
      resources: [{ resourceType: 2, resourceName: 'ret-time', configs: [{ name: 'retention.ms', configOperation: 0, value: '3600000' }] }], validateOnly: false,
    });
    assert.equal(alter.responses[0].errorCode, ErrorCode.NONE);

    const f = await c.send(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, rackId: '', forgottenTopicsData: [],
      topics: [{ topic: 'ret-time', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    });
    assert.equal(f.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    c.close();

    // librdkafka resets by auto.offset.reset=earliest and reads from the new start.
    const r = await run(PYTHON, ['-c', PY_FROM_ZERO, broker.bootstrap, 'ret-time'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '160 fresh');
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('retention.bytes keeps the newest segments within the limit; the start offset survives a restart', async () => {
  const dir = tempDir();
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBrokerProcess(['--port', '0', '--data-dir', dir.path, ...ARGS]);
    let c = await RawClient.connect(broker.port);
    await createTopic(c, 'ret-size', { 'segment.bytes': '2048', 'retention.bytes': '4096' });
    for (let b = 0; b < 12; b++) await kcatProduce(broker.bootstrap, 'ret-size', Array.from({ length: 20 }, (_, i) => `v-${b}-${i}-${'y'.repeat(40)}`), ['-p', '0', '-X', 'linger.ms=50']);
    let start = 0n;
    for (let i = 0; i < 50 && start === 0n; i++) {
      await sleep(100);
      start = await earliest(c, 'ret-size');
    }
    assert.ok(start > 0n, 'old segments were deleted');
    c.close();
    await broker.stop();
    broker = await startBrokerProcess(['--port', '0', '--data-dir', dir.path, ...ARGS]);
    c = await RawClient.connect(broker.port);
    assert.ok((await earliest(c, 'ret-size')) >= start, 'the log start offset is persisted');
    c.close();
  } finally {
    await broker?.stop();
    dir.remove();
  }
});
