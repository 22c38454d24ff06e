/**
 * The Python admin clients (Debian's confluent-kafka-python on librdkafka 2.0.2 and kafka-python
 * 2.0.2): create_partitions with validate-only, manual assignments and refusals; list_topics,
 * describe_topics and describe_cluster. Each outcome is checked against a following describe.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { PYTHON, ROOT, run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const PY = join(ROOT, 'test/admin/py');
let broker: RunningBroker;
before(async () => {
  broker = await startBroker({ port: 0 });
});
after(() => broker.stop());

async function python(script: string, args: object): Promise<any> {
  const r = await run(PYTHON, [join(PY, script), JSON.stringify({ bootstrap: broker.bootstrap, node_id: broker.broker.nodeId, ...args })], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${script} exited with ${r.code}:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout);
}

async function partitionCount(topic: string): Promise<number> {
  const client = await RawClient.connect(broker.port);
  try {
    const md = await client.send(ApiKey.Metadata, 1, { topics: [{ name: topic }] });
    return md.topics[0].partitions.length;
  } finally {
    client.close();
  }
}

test('confluent-kafka-python: create_partitions and list_topics', { timeout: 90_000 }, async () => {
  const out = await python('ck_admin.py', { topic: 'ck-grow' });
  assert.deepEqual(out.created, [0]);
  assert.equal(out.validate_only, null);
  assert.deepEqual(out.after_validate_only, [0], 'validate_only changes nothing');
  assert.equal(out.grow, null);
  assert.deepEqual(out.after_grow, [0, 1, 2, 3]);
  assert.equal(out.same_count, 'INVALID_PARTITIONS');
  assert.equal(out.other_broker, 'INVALID_REPLICA_ASSIGNMENT');
  assert.equal(out.own_broker, null, 'a new partition placed by hand on this broker');
  assert.deepEqual(out.after_assignment, [0, 1, 2, 3, 4]);
  assert.ok(out.topics.includes('ck-grow'));
  assert.deepEqual(out.brokers, [broker.broker.nodeId]);
  assert.equal(out.controller_id, broker.broker.nodeId);
  assert.deepEqual(out.leaders, [broker.broker.nodeId]);
  assert.equal(await partitionCount('ck-grow'), 5);
});

test('kafka-python: create_partitions, describe_topics and describe_cluster', { timeout: 90_000 }, async () => {
  const out = await python('kp_admin.py', { topic: 'kp-grow' });
  assert.deepEqual(out.created, [0, 1]);
  assert.deepEqual(out.response, [['kp-grow', 0]]);
  assert.deepEqual(out.after_grow, [0, 1, 2, 3, 4]);
  assert.equal(out.validate_only, null);
  assert.deepEqual(out.after_validate_only, [0, 1, 2, 3, 4]);
  assert.equal(out.shrink, 'InvalidPartitionsError');
  assert.equal(out.unknown_topic, 'UnknownTopicOrPartitionError');
  assert.deepEqual(out.described, { topic: 'kp-grow', error_code: 0, is_internal: false, leaders: [broker.broker.nodeId] });
  assert.deepEqual(out.cluster, {
    brokers: [[broker.broker.nodeId, broker.host, broker.port]],
    controller_id: broker.broker.nodeId,
    cluster_id: broker.broker.clusterId,
  });
  assert.equal(await partitionCount('kp-grow'), 5);
});
