/**
 * The child side of test/admin/platformatic-admin.test.ts: run under Node >= 22 with
 * --platformatic-admin-run, it reads {"address"} on stdin, drives @platformatic/kafka's Admin
 * (and a Producer for data) and prints what each call returned as JSON (bigints as "<n>n").
 */
export const TOPIC = 'pl-admin';

export interface Plan {
  address: string;
}

/** The child side: runs under Node 22 with @platformatic/kafka. */
async function child(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const plan = JSON.parse(input) as Plan;
  const pk: any = await import('@platformatic/kafka');
  const base = { clientId: 'pl-admin', bootstrapBrokers: [plan.address], retries: 2, retryDelay: 100 };
  const admin = new pk.Admin(base);
  const report: Record<string, unknown> = {};
  await admin.createTopics({ topics: [TOPIC], partitions: 1, replicas: 1 });
  await admin.createPartitions({ topics: [{ name: TOPIC, count: 3 }] });
  report.grownAgain = await admin.createPartitions({ topics: [{ name: TOPIC, count: 3 }] }).then(() => 'ok', (e: any) => e.errors?.[0]?.errors?.[0]?.apiId ?? e.message);

  const producer = new pk.Producer({ ...base, serializers: pk.stringSerializers, acks: -1 });
  await producer.send({ messages: [0, 0, 0, 0, 0, 2, 2].map((partition, i) => ({ topic: TOPIC, partition, value: `v${i}`.repeat(10) })) });
  await producer.close();

  report.deleted = await admin.deleteRecords({ topics: [{ name: TOPIC, partitions: [{ partition: 0, offset: 3n }, { partition: 2, offset: -1n }] }] });
  report.logDirs = await admin.describeLogDirs({ topics: [{ name: TOPIC, partitions: [0, 1, 2] }] });
  report.altered = await admin.alterClientQuotas({
    entries: [
      { entities: [{ entityType: 'client-id', entityName: 'pl-client' }], ops: [{ key: 'producer_byte_rate', value: 1048576, remove: false }, { key: 'request_percentage', value: 50, remove: false }] },
      { entities: [{ entityType: 'user', entityName: null }], ops: [{ key: 'consumer_byte_rate', value: 2097152, remove: false }] },
    ],
  });
  report.byClient = await admin.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 0, match: 'pl-client' }] });
  report.defaultUser = await admin.describeClientQuotas({ components: [{ entityType: 'user', matchType: 1 }], strict: true });
  report.topics = await admin.listTopics();
  await admin.close();
  process.stdout.write(JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
}

if (process.argv.includes('--platformatic-admin-run')) {
  child().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

