/**
 * Client metrics subscriptions (CLIENT_METRICS config resources, KIP-714) as kafka-client-metrics.sh
 * uses them on Kafka 3.9: set with IncrementalAlterConfigs or AlterConfigs, listed by
 * ListClientMetricsResources, described by DescribeConfigs, refused with ClientMetricsConfigs'
 * errors, removed when their last config goes, and kept across a restart.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { tempDir } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import { APPEND, DELETE, SET, alter, assertOk, describe, incremental } from './configs-support.js';

const CLIENT_METRICS = 16;
const CLIENT_METRICS_CONFIG = 7;

const dir = tempDir('samsa-client-metrics-');
let broker: RunningBroker | undefined;
let raw: RawClient | undefined;
after(async () => {
  raw?.close();
  await broker?.stop();
  dir.remove();
});

async function start(): Promise<RawClient> {
  raw?.close();
  await broker?.stop();
  broker = await startBroker({ port: 0, dataDir: dir.path, logger: 'silent' });
  raw = await RawClient.connect(broker.port);
  return raw;
}

async function listed(c: RawClient): Promise<string[]> {
  const r = await c.send(ApiKey.ListClientMetricsResources, 0, {});
  assert.equal(r.errorCode, ErrorCode.NONE);
  return r.clientMetricsResources.map((x: { name: string }) => x.name).sort();
}

async function configsOf(c: RawClient, name: string, keys: string[] | null = null): Promise<Record<string, string | null>> {
  const [res] = await describe(c, [{ type: CLIENT_METRICS, name, keys }]);
  assert.equal(res.errorCode, ErrorCode.NONE, `${res.errorMessage}`);
  for (const e of res.configs) assert.equal(e.configSource, CLIENT_METRICS_CONFIG, e.name);
  return Object.fromEntries(res.configs.map((e) => [e.name, e.value]));
}

test('client metrics subscriptions: set, listed, described, refused as Kafka refuses, deleted, kept across a restart', async () => {
  let c = await start();
  assert.deepEqual(await listed(c), []);
  const ops: [string, number, string | null][] = [['interval.ms', SET, '1000'], ['metrics', SET, 'org.apache.kafka.producer.'], ['match', SET, 'client_id=app-.*,client_software_name=apache-kafka-java']];
  assertOk(await incremental(c, [{ type: CLIENT_METRICS, name: 'cm-a', ops }]), 'incremental');
  assertOk(await incremental(c, [{ type: CLIENT_METRICS, name: 'cm-checked', ops }], true), 'validate only');
  assertOk(await alter(c, [{ type: CLIENT_METRICS, name: 'cm-b', configs: { metrics: '*' } }]), 'legacy');
  assert.deepEqual(await listed(c), ['cm-a', 'cm-b'], 'validateOnly stores nothing');
  // Every config of the subscription, whatever keys were asked for (Kafka's ConfigHelper).
  assert.deepEqual(await configsOf(c, 'cm-a', ['interval.ms']), { 'interval.ms': '1000', metrics: 'org.apache.kafka.producer.', match: 'client_id=app-.*,client_software_name=apache-kafka-java' });
  assert.deepEqual(await configsOf(c, 'cm-none'), {});

  // ClientMetricsConfigs.validate over the subscription's new configs, and the controller's rules.
  const refusal = async (name: string, op: [string, number, string | null]) => {
    const [r] = await incremental(c, [{ type: CLIENT_METRICS, name, ops: [op] }]);
    return [r.errorCode, r.errorMessage];
  };
  assert.deepEqual(await refusal('cm-a', ['interval.ms', SET, '50']), [ErrorCode.INVALID_REQUEST, 'Invalid value 50 for interval.ms, interval must be between 100 and 3600000 (1 hour)']);
  assert.deepEqual(await refusal('cm-a', ['interval.ms', SET, 'soon']), [ErrorCode.UNKNOWN_SERVER_ERROR, null]);
  assert.deepEqual(await refusal('cm-a', ['color', SET, 'red']), [ErrorCode.INVALID_REQUEST, 'Unknown client metrics configuration: color']);
  assert.deepEqual(await refusal('cm-a', ['match', SET, 'client_id=a,host=b']), [ErrorCode.INVALID_CONFIG, 'Illegal client matching pattern: host=b']);
  assert.deepEqual(await refusal('cm-a', ['match', SET, 'client_id=(']), [ErrorCode.INVALID_CONFIG, 'Illegal client matching pattern: client_id=(']);
  assert.deepEqual(await refusal('cm-a', ['metrics', APPEND, 'x']), [ErrorCode.INVALID_CONFIG, "Can't APPEND to key metrics because its type is not LIST."]);
  assert.deepEqual(await refusal('', ['metrics', SET, 'x']), [ErrorCode.INVALID_REQUEST, "Subscription name can't be empty"]);
  assert.equal((await configsOf(c, 'cm-a'))['interval.ms'], '1000', 'refusals change nothing');

  // kafka-client-metrics.sh --delete: every config goes, and so does the subscription.
  assertOk(await incremental(c, [{ type: CLIENT_METRICS, name: 'cm-b', ops: [['metrics', DELETE, null], ['interval.ms', DELETE, null], ['match', DELETE, null]] }]), 'delete');
  assert.deepEqual(await listed(c), ['cm-a']);

  c = await start();
  assert.deepEqual(await listed(c), ['cm-a'], 'after a restart');
  assert.equal((await configsOf(c, 'cm-a'))['match'], 'client_id=app-.*,client_software_name=apache-kafka-java');
});
