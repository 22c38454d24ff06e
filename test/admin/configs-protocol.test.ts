/**
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs at the protocol level (RawClient), against
 * what a Kafka 3.9 broker answers: values, sources and synonyms at every level (topic override,
 * dynamic per-broker, dynamic cluster default, static, default), per-version fields, the errors and
 * their messages, and that changes are in force at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe as suite, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';
import {
  APPEND, BROKER, BROKER_LOGGER, DELETE, SET, SUBTRACT, Source, TOPIC, alter, assertOk, configsOf, createTopic, describe, errorName, incremental,
} from './configs-support.js';

let broker: RunningBroker;
let client: RawClient;

before(async () => {
  // A static setting, as if from server.properties.
  broker = await startBroker({ port: 0, logger: 'warn', config: { 'log.retention.hours': '100', 'num.partitions': '2' } });
  client = await RawClient.connect(broker.port);
});
after(async () => {
  client.close();
  await broker.stop();
});

suite('DescribeConfigs', () => {
  test('a topic: every LogConfig config, overrides as TOPIC_CONFIG, others from the broker, with Kafka\'s synonyms', async () => {
    await createTopic(client, 'dc-topic', 1, { 'retention.ms': '5000', 'cleanup.policy': 'compact , delete' });
    const c = await configsOf(client, TOPIC, 'dc-topic', { synonyms: true, docs: true });
    assert.equal(c.size, 36, `Kafka 3.9 defines 36 topic configs, got ${[...c.keys()].join(',')}`);
    for (const name of ['remote.log.copy.disable', 'message.timestamp.before.max.ms', 'local.retention.ms', 'compression.zstd.level']) assert.ok(c.has(name), name);

    const retention = c.get('retention.ms')!;
    assert.equal(retention.value, '5000');
    assert.equal(retention.configSource, Source.TOPIC_CONFIG);
    assert.equal(retention.readOnly, false);
    assert.equal(retention.configType, 5, 'LONG');
    // log.retention.hours is set statically, but Kafka lists synonyms from log.retention.ms on, so it drops them.
    assert.deepEqual(retention.synonyms, [{ name: 'retention.ms', value: '5000', source: Source.TOPIC_CONFIG }]);
    assert.match(retention.documentation ?? '', /delete policy/);

    const policy = c.get('cleanup.policy')!;
    assert.equal(policy.value, 'compact,delete', 'a list is shown in its canonical form');
    assert.equal(policy.configType, 7, 'LIST');
    assert.deepEqual(policy.synonyms, [
      { name: 'cleanup.policy', value: 'compact,delete', source: Source.TOPIC_CONFIG },
      { name: 'log.cleanup.policy', value: 'delete', source: Source.DEFAULT_CONFIG },
    ]);

    const maxBytes = c.get('max.message.bytes')!;
    assert.equal(maxBytes.value, '1048588');
    assert.equal(maxBytes.configSource, Source.DEFAULT_CONFIG);
    assert.deepEqual(maxBytes.synonyms, [{ name: 'message.max.bytes', value: '1048588', source: Source.DEFAULT_CONFIG }]);
    // Configs with no broker synonym.
    assert.deepEqual(c.get('remote.storage.enable')!.synonyms, []);
    assert.equal(c.get('remote.storage.enable')!.value, 'false');
    assert.equal(c.get('segment.ms')!.value, '604800000');
    assert.equal(c.get('min.cleanable.dirty.ratio')!.value, '0.5');
    assert.equal(c.get('min.cleanable.dirty.ratio')!.configType, 6, 'DOUBLE');
  });

  test('a topic without overrides takes static broker settings (retention from log.retention.hours)', async () => {
    await createTopic(client, 'dc-plain');
    const c = await configsOf(client, TOPIC, 'dc-plain', { synonyms: true });
    assert.equal(c.get('retention.ms')!.value, String(100 * 3_600_000));
    assert.equal(c.get('retention.ms')!.configSource, Source.DEFAULT_CONFIG, 'Kafka reports DEFAULT_CONFIG here: log.retention.ms is set nowhere');
  });

  test('this broker: static, default and read-only configs, node.id mirrored into broker.id', async () => {
    const c = await configsOf(client, BROKER, '1', { synonyms: true, docs: true });
    for (const name of ['log.dirs', 'num.partitions', 'default.replication.factor', 'auto.create.topics.enable', 'message.max.bytes', 'compression.type',
      'offsets.topic.num.partitions', 'transaction.state.log.num.partitions', 'group.initial.rebalance.delay.ms', 'socket.request.max.bytes', 'listeners',
      'advertised.listeners', 'node.id', 'broker.id', 'log.segment.bytes', 'log.retention.check.interval.ms']) {
      assert.ok(c.has(name), name);
    }
    assert.ok(!c.has('producer.id.expiration.check.interval.ms'), 'internal configs are described only when set');

    const hours = c.get('log.retention.hours')!;
    assert.equal(hours.value, '100');
    assert.equal(hours.configSource, Source.STATIC_BROKER_CONFIG);
    assert.equal(hours.readOnly, true, 'log.retention.hours cannot change at run time in Kafka either');
    assert.deepEqual(hours.synonyms, [
      { name: 'log.retention.hours', value: '100', source: Source.STATIC_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: Source.DEFAULT_CONFIG },
    ]);
    const ms = c.get('log.retention.ms')!;
    assert.equal(ms.value, null);
    assert.equal(ms.readOnly, false);
    assert.equal(ms.configSource, Source.DEFAULT_CONFIG);
    assert.equal(c.get('num.partitions')!.configSource, Source.STATIC_BROKER_CONFIG);
    assert.equal(c.get('num.partitions')!.value, '2');
    assert.equal(c.get('auto.create.topics.enable')!.configType, 1, 'BOOLEAN');
    assert.equal(c.get('node.id')!.value, '1');
    assert.equal(c.get('broker.id')!.value, '1');
    assert.equal(c.get('message.max.bytes')!.readOnly, false);
    assert.equal(c.get('listeners')!.readOnly, true);
    assert.ok(c.get('socket.request.max.bytes')!.documentation);
  });

  test('errors: unknown topic, invalid topic name, another broker id, non-numeric id, the logger; an unknown type fails the whole request', async () => {
    const resources = [
      { type: TOPIC, name: 'dc-nope' },
      { type: TOPIC, name: 'bad/name' },
      { type: BROKER, name: '7' },
      { type: BROKER, name: 'x' },
      { type: BROKER_LOGGER, name: '' },
      { type: BROKER_LOGGER, name: '1' },
    ];
    const rs = await describe(client, resources);
    assert.deepEqual(rs.map((r) => [errorName(r.errorCode), r.errorMessage]), [
      ['UNKNOWN_TOPIC_OR_PARTITION', null],
      ['INVALID_TOPIC_EXCEPTION', 'Topic name is invalid: \'bad/name\' contains one or more characters other than ASCII alphanumerics, \'.\', \'_\' and \'-\''],
      ['INVALID_REQUEST', 'Unexpected broker id, expected 1 or empty string, but received 7'],
      ['INVALID_REQUEST', 'Broker id must be an integer, but it is: x'],
      ['INVALID_REQUEST', 'Broker id must not be empty'],
      ['NONE', null],
    ]);
    assert.deepEqual(rs[5].configs.map((c) => [c.name, c.value, c.configSource]), [['root', 'WARN', Source.DYNAMIC_BROKER_LOGGER_CONFIG]]);
    // As Kafka's ConfigHelper, which throws while sorting the resources: every one gets the generic INVALID_REQUEST.
    const failed = await describe(client, [{ type: TOPIC, name: 'dc-topic' }, { type: 99, name: 'z' }]);
    assert.deepEqual(failed.map((r) => [r.resourceName, errorName(r.errorCode), r.configs.length]), [['dc-topic', 'INVALID_REQUEST', 0], ['z', 'INVALID_REQUEST', 0]]);
    assert.match(failed[0].errorMessage!, /request being malformed by the client library/);
  });

  test('every version: v0 has isDefault, v1+ sources and synonyms (only when asked), v3+ types and documentation', async () => {
    for (let v = 0; v <= 4; v++) {
      const [r] = await describe(client, [{ type: TOPIC, name: 'dc-topic', keys: ['retention.ms', 'segment.bytes'] }], { version: v, synonyms: true, docs: true });
      assert.equal(r.errorCode, ErrorCode.NONE);
      const byName = new Map(r.configs.map((c) => [c.name, c]));
      assert.deepEqual([...byName.keys()].sort(), ['retention.ms', 'segment.bytes'], `v${v}: configurationKeys filter`);
      const seg = byName.get('segment.bytes')!;
      assert.equal(seg.value, '1073741824');
      if (v === 0) {
        assert.equal(seg.isDefault, true);
        assert.equal(byName.get('retention.ms')!.isDefault, false);
      } else {
        assert.equal(seg.configSource, Source.DEFAULT_CONFIG, `v${v}`);
        assert.equal(seg.synonyms.length, 1, `v${v}`);
      }
      if (v >= 3) {
        assert.equal(seg.configType, 3, 'INT');
        assert.ok(seg.documentation);
      }
    }
    const [plain] = await describe(client, [{ type: TOPIC, name: 'dc-topic', keys: ['segment.bytes'] }], { version: 3, synonyms: false, docs: false });
    assert.deepEqual(plain.configs[0].synonyms, []);
    assert.equal(plain.configs[0].documentation, null);
  });
});

suite('AlterConfigs', () => {
  test('replaces the whole set of topic overrides; validateOnly changes nothing', async () => {
    await createTopic(client, 'ac-topic', 1, { 'retention.ms': '5000', 'segment.bytes': '100000' });
    assertOk(await alter(client, [{ type: TOPIC, name: 'ac-topic', configs: { 'retention.ms': '7000' } }], true), 'validateOnly');
    let c = await configsOf(client, TOPIC, 'ac-topic');
    assert.equal(c.get('retention.ms')!.value, '5000');
    assert.equal(c.get('segment.bytes')!.value, '100000');

    for (const version of [0, 1, 2]) {
      assertOk(await alter(client, [{ type: TOPIC, name: 'ac-topic', configs: { 'retention.ms': String(7000 + version) } }], false, version), `v${version}`);
      c = await configsOf(client, TOPIC, 'ac-topic');
      assert.equal(c.get('retention.ms')!.value, String(7000 + version));
      assert.equal(c.get('segment.bytes')!.configSource, Source.DEFAULT_CONFIG, 'an override left out of the request is removed');
      assert.equal(c.get('segment.bytes')!.value, '1073741824');
    }
  });

  test('invalid topic configs: INVALID_CONFIG with Kafka\'s messages; unknown topics; request errors', async () => {
    await createTopic(client, 'ac-bad');
    const cases: [Record<string, string | null>, string, string | null][] = [
      [{ 'retention.ms': 'soon' }, 'INVALID_CONFIG', 'Invalid value soon for configuration retention.ms: Not a number of type LONG'],
      [{ 'retention.ms': '-5' }, 'INVALID_CONFIG', 'Invalid value -5 for configuration retention.ms: Value must be at least -1'],
      [{ 'no.such.config': '1' }, 'INVALID_CONFIG', 'Unknown topic config name: no.such.config'],
      [{ 'cleanup.policy': 'compact,forever' }, 'INVALID_CONFIG', 'Invalid value forever for configuration cleanup.policy: String must be one of: compact, delete'],
      [{ 'compression.type': 'brotli' }, 'INVALID_CONFIG', 'Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer'],
      [{ 'compression.gzip.level': '0' }, 'INVALID_CONFIG', 'Invalid value 0 for configuration compression.gzip.level: Value must be between 1 and 9 or equal to -1'],
      [{ 'min.cleanable.dirty.ratio': '1.5' }, 'INVALID_CONFIG', 'Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1'],
      [{ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' }, 'INVALID_CONFIG', 'conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)'],
      [{ 'remote.storage.enable': 'true' }, 'INVALID_CONFIG', 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.'],
      [{ 'unclean.leader.election.enable': 'yes' }, 'INVALID_CONFIG', 'Invalid value yes for configuration unclean.leader.election.enable: Expected value to be either true or false'],
      [{ 'retention.ms': null }, 'INVALID_REQUEST', 'Null value not supported for : retention.ms'],
    ];
    for (const [configs, error, message] of cases) {
      const [r] = await alter(client, [{ type: TOPIC, name: 'ac-bad', configs }]);
      assert.deepEqual([errorName(r.errorCode), r.errorMessage], [error, message], JSON.stringify(configs));
    }
    const rs = await alter(client, [
      { type: TOPIC, name: 'ac-missing', configs: { 'retention.ms': '1' } },
      { type: TOPIC, name: '', configs: {} },
      { type: BROKER_LOGGER, name: '1', configs: { root: 'DEBUG' } },
      { type: TOPIC, name: 'ac-dup', configs: {} },
      { type: TOPIC, name: 'ac-dup', configs: {} },
    ]);
    assert.deepEqual(rs.map((r) => [errorName(r.errorCode), r.errorMessage]), [
      ['UNKNOWN_TOPIC_OR_PARTITION', 'The topic \'ac-missing\' does not exist.'],
      ['INVALID_REQUEST', 'Default topic resources are not allowed.'],
      ['INVALID_REQUEST', 'Unknown resource type 8'],
      ['INVALID_REQUEST', 'Each resource must appear at most once.'],
      ['INVALID_REQUEST', 'Each resource must appear at most once.'],
    ]);
    const [dupKeys] = await incremental(client, [{ type: TOPIC, name: 'ac-bad', ops: [['retention.ms', SET, '1'], ['retention.ms', SET, '2']] }]);
    assert.deepEqual([errorName(dupKeys.errorCode), dupKeys.errorMessage], ['INVALID_REQUEST', 'Error due to duplicate config keys']);
    const c = await configsOf(client, TOPIC, 'ac-bad');
    assert.ok([...c.values()].every((e) => e.configSource !== Source.TOPIC_CONFIG), 'no refused change was applied');
  });

  test('broker resources: dynamic configs per broker and as cluster default, static ones refused', async () => {
    const [stat] = await alter(client, [{ type: BROKER, name: '1', configs: { 'log.retention.hours': '1', 'num.partitions': '3' } }]);
    assert.deepEqual([errorName(stat.errorCode), stat.errorMessage], ['INVALID_REQUEST', 'Cannot update these configs dynamically: Set(log.retention.hours, num.partitions)']);
    const [badValue] = await alter(client, [{ type: BROKER, name: '', configs: { 'log.segment.bytes': '10' } }]);
    assert.deepEqual([errorName(badValue.errorCode), badValue.errorMessage], ['INVALID_REQUEST', 'Invalid value 10 for configuration log.segment.bytes: Value must be at least 14']);
    // Values each fine alone that KafkaConfig.validateValues refuses together (a retention of 0 would empty every topic).
    for (const [name, message] of [
      ['log.retention.ms', 'requirement failed: log.retention.ms must be unlimited (-1) or, greater than or equal to 1'],
      ['log.roll.ms', 'requirement failed: log.roll.ms must be greater than or equal to 1'],
    ]) {
      const [zero] = await incremental(client, [{ type: BROKER, name: '', ops: [[name, SET, '0']] }]);
      assert.deepEqual([errorName(zero.errorCode), zero.errorMessage], ['INVALID_REQUEST', message]);
    }
    const [jitter] = await alter(client, [{ type: BROKER, name: '1', configs: { 'log.roll.jitter.ms': '-1' } }]);
    assert.deepEqual([errorName(jitter.errorCode), jitter.errorMessage], ['INVALID_REQUEST', 'requirement failed: log.roll.jitter.ms must be greater than or equal to 0']);
    const [other] = await alter(client, [{ type: BROKER, name: '2', configs: {} }]);
    assert.deepEqual([errorName(other.errorCode), other.errorMessage], ['INVALID_REQUEST', 'Unexpected broker id, expected 1, but received 2']);

    await createTopic(client, 'ac-broker');
    assertOk(await alter(client, [{ type: BROKER, name: '', configs: { 'log.retention.ms': '90000', 'compression.type': 'lz4' } }]), 'cluster default');
    assertOk(await alter(client, [{ type: BROKER, name: '1', configs: { 'log.retention.ms': '80000', 'my.custom.setting': 'x' } }]), 'per broker');

    const b = await configsOf(client, BROKER, '1', { synonyms: true });
    assert.equal(b.get('log.retention.ms')!.value, '80000');
    assert.equal(b.get('log.retention.ms')!.configSource, Source.DYNAMIC_BROKER_CONFIG);
    assert.deepEqual(b.get('log.retention.ms')!.synonyms, [
      { name: 'log.retention.ms', value: '80000', source: Source.DYNAMIC_BROKER_CONFIG },
      { name: 'log.retention.ms', value: '90000', source: Source.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '100', source: Source.STATIC_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: Source.DEFAULT_CONFIG },
    ]);
    assert.equal(b.get('compression.type')!.configSource, Source.DYNAMIC_DEFAULT_BROKER_CONFIG);
    const custom = b.get('my.custom.setting')!;
    assert.deepEqual([custom.value, custom.isSensitive, custom.readOnly], [null, true, true], 'Kafka hides what it cannot type');

    const d = await configsOf(client, BROKER, '', { synonyms: true });
    assert.deepEqual([...d.keys()].sort(), ['compression.type', 'log.retention.ms'], 'the default resource lists the cluster defaults only');
    assert.deepEqual(d.get('log.retention.ms')!.synonyms, [{ name: 'log.retention.ms', value: '90000', source: Source.DYNAMIC_DEFAULT_BROKER_CONFIG }]);

    const t = await configsOf(client, TOPIC, 'ac-broker', { synonyms: true });
    assert.equal(t.get('retention.ms')!.value, '80000');
    assert.equal(t.get('retention.ms')!.configSource, Source.DYNAMIC_BROKER_CONFIG);
    assert.equal(t.get('compression.type')!.value, 'lz4');
    assert.equal(t.get('compression.type')!.configSource, Source.DYNAMIC_DEFAULT_BROKER_CONFIG);

    // Legacy AlterConfigs replaces the level's whole set.
    assertOk(await alter(client, [{ type: BROKER, name: '1', configs: {} }, { type: BROKER, name: '', configs: {} }]), 'clear');
    const t2 = await configsOf(client, TOPIC, 'ac-broker');
    assert.equal(t2.get('retention.ms')!.value, String(100 * 3_600_000));
    assert.equal(t2.get('compression.type')!.value, 'producer');
    assert.equal((await configsOf(client, BROKER, '')).size, 0);
  });
});

suite('IncrementalAlterConfigs', () => {
  test('SET, DELETE, APPEND and SUBTRACT on topics, with list rules', async () => {
    await createTopic(client, 'ia-topic', 1, { 'segment.bytes': '50000' });
    assertOk(await incremental(client, [{ type: TOPIC, name: 'ia-topic', ops: [['retention.ms', SET, '60000'], ['segment.bytes', DELETE, null], ['cleanup.policy', APPEND, 'compact']] }]), 'first');
    let c = await configsOf(client, TOPIC, 'ia-topic');
    assert.equal(c.get('retention.ms')!.value, '60000');
    assert.equal(c.get('segment.bytes')!.configSource, Source.DEFAULT_CONFIG);
    assert.equal(c.get('cleanup.policy')!.value, 'delete,compact', 'APPEND starts from the default list');

    assertOk(await incremental(client, [{ type: TOPIC, name: 'ia-topic', ops: [['cleanup.policy', SUBTRACT, 'delete'], ['leader.replication.throttled.replicas', APPEND, '0:1,1:1']] }]), 'second');
    c = await configsOf(client, TOPIC, 'ia-topic');
    assert.equal(c.get('cleanup.policy')!.value, 'compact');
    assert.equal(c.get('leader.replication.throttled.replicas')!.value, '0:1,1:1');
    assertOk(await incremental(client, [{ type: TOPIC, name: 'ia-topic', ops: [['cleanup.policy', APPEND, 'compact,delete']] }], false, 0), 'no duplicates (v0)');
    c = await configsOf(client, TOPIC, 'ia-topic');
    assert.equal(c.get('cleanup.policy')!.value, 'compact,delete');

    const rs = await incremental(client, [
      { type: TOPIC, name: 'ia-topic', ops: [['retention.ms', APPEND, '5']] },
      { type: TOPIC, name: 'ia-nope', ops: [['retention.ms', SET, '5']] },
      { type: BROKER, name: '1', ops: [['message.max.bytes', APPEND, '5']] },
      { type: BROKER, name: '', ops: [['message.max.bytes', 7, '5']] },
    ]);
    assert.deepEqual(rs.map((r) => [errorName(r.errorCode), r.errorMessage]), [
      ['INVALID_CONFIG', 'Can\'t APPEND to key retention.ms because its type is not LIST.'],
      ['UNKNOWN_TOPIC_OR_PARTITION', 'The topic \'ia-nope\' does not exist.'],
      ['INVALID_CONFIG', 'Config value append is not allowed for config key: message.max.bytes'],
      ['INVALID_REQUEST', 'Unknown operations type 7'],
    ]);

    // validateOnly checks without changing anything.
    assertOk(await incremental(client, [{ type: TOPIC, name: 'ia-topic', ops: [['retention.ms', SET, '1']] }], true), 'validateOnly');
    assert.equal((await configsOf(client, TOPIC, 'ia-topic')).get('retention.ms')!.value, '60000');
    const [invalid] = await incremental(client, [{ type: TOPIC, name: 'ia-topic', ops: [['retention.ms', SET, 'x']] }], true);
    assert.equal(errorName(invalid.errorCode), 'INVALID_CONFIG');
  });

  test('broker resources keep their other dynamic configs; the logger level changes live', async () => {
    assertOk(await incremental(client, [{ type: BROKER, name: '', ops: [['log.retention.bytes', SET, '1000000'], ['log.cleanup.policy', APPEND, 'compact']] }]), 'default');
    assertOk(await incremental(client, [{ type: BROKER, name: '', ops: [['min.insync.replicas', SET, '1']] }]), 'default, more');
    const d = await configsOf(client, BROKER, '');
    assert.deepEqual([...d.keys()].sort(), ['log.cleanup.policy', 'log.retention.bytes', 'min.insync.replicas']);
    assert.equal(d.get('log.cleanup.policy')!.value, 'delete,compact');
    assertOk(await incremental(client, [{ type: BROKER, name: '', ops: [['log.retention.bytes', DELETE, null], ['log.cleanup.policy', DELETE, null], ['min.insync.replicas', DELETE, null]] }]), 'delete');
    assert.equal((await configsOf(client, BROKER, '')).size, 0);

    const [refused] = await incremental(client, [{ type: BROKER, name: '1', ops: [['listeners', SET, 'PLAINTEXT://:1']] }]);
    assert.deepEqual([errorName(refused.errorCode), refused.errorMessage], ['INVALID_REQUEST', 'Cannot update these configs dynamically: Set(listeners)']);

    const rs = await incremental(client, [{ type: BROKER_LOGGER, name: '1', ops: [['root', SET, 'NOISY']] }]);
    assert.equal(errorName(rs[0].errorCode), 'INVALID_CONFIG');
    const [other] = await incremental(client, [{ type: BROKER_LOGGER, name: '1', ops: [['kafka.server', SET, 'DEBUG']] }]);
    assert.deepEqual([errorName(other.errorCode), other.errorMessage], ['INVALID_CONFIG', 'Logger kafka.server does not exist!']);
    assertOk(await incremental(client, [{ type: BROKER_LOGGER, name: '1', ops: [['root', SET, 'ERROR']] }]), 'logger');
    const [logger] = await describe(client, [{ type: BROKER_LOGGER, name: '1' }]);
    assert.equal(logger.configs[0].value, 'ERROR');
    assert.equal(broker.broker.log.level, 'error');
    assertOk(await incremental(client, [{ type: BROKER_LOGGER, name: '1', ops: [['root', SET, 'WARN']] }]), 'logger back');
  });
});

test('CreateTopics v5+ returns every topic config with the level it comes from, and checks the rules across configs', async () => {
  assertOk(await incremental(client, [{ type: BROKER, name: '', ops: [['compression.type', SET, 'gzip']] }]), 'cluster default');
  try {
    const r = await client.send(ApiKey.CreateTopics, 7, {
      topics: [
        { name: 'ct-configs', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'segment.bytes', value: '100000' }] },
        { name: 'ct-conflict', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'min.compaction.lag.ms', value: '10' }, { name: 'max.compaction.lag.ms', value: '5' }] },
      ],
      timeoutMs: 5000, validateOnly: false,
    });
    const [created, conflict] = r.topics;
    assert.equal(created.errorCode, ErrorCode.NONE);
    const c = new Map<string, any>(created.configs.map((e: any) => [e.name, e]));
    assert.equal(c.size, 36);
    assert.deepEqual([c.get('segment.bytes').value, c.get('segment.bytes').configSource], ['100000', Source.TOPIC_CONFIG]);
    assert.deepEqual([c.get('retention.ms').value, c.get('retention.ms').configSource], [String(100 * 3_600_000), Source.STATIC_BROKER_CONFIG]);
    assert.deepEqual([c.get('compression.type').value, c.get('compression.type').configSource], ['gzip', Source.DYNAMIC_DEFAULT_BROKER_CONFIG]);
    assert.deepEqual([c.get('max.message.bytes').value, c.get('max.message.bytes').configSource], ['1048588', Source.DEFAULT_CONFIG]);
    assert.deepEqual([errorName(conflict.errorCode), conflict.errorMessage], ['INVALID_CONFIG', 'conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)']);
  } finally {
    assertOk(await incremental(client, [{ type: BROKER, name: '', ops: [['compression.type', DELETE, null]] }]), 'cleared');
  }
});
