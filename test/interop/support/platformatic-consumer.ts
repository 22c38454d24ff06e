/**
 * The child side of test/interop/platformatic-fetch-sessions.test.ts: run under Node >= 22 with
 * --platformatic-consume-run, it reads {"address", "topic"} on stdin, produces 30 records over the
 * topic's 3 partitions, consumes them with a group Consumer (which fetches in a fetch session),
 * produces 30 more while consuming, and prints what it consumed as JSON.
 */
export interface Plan {
  address: string;
  topic: string;
}

async function child(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const plan = JSON.parse(input) as Plan;
  const pk: any = await import('@platformatic/kafka');
  const base = { clientId: 'pl-sessions', bootstrapBrokers: [plan.address], retries: 2, retryDelay: 100 };
  const producer = new pk.Producer({ ...base, serializers: pk.stringSerializers, acks: -1 });
  const send = (from: number) => producer.send({ messages: Array.from({ length: 30 }, (_, i) => ({ topic: plan.topic, partition: i % 3, value: `m${from + i}` })) });
  await send(0);
  const consumer = new pk.Consumer({ ...base, groupId: 'pl-sessions', deserializers: pk.stringDeserializers, maxWaitTime: 200, sessionTimeout: 10000, heartbeatInterval: 1000 });
  const stream = await consumer.consume({ topics: [plan.topic], mode: 'earliest', autocommit: false });
  const consumed: { partition: number; offset: string; value: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${consumed.length} of 60`)), 30_000);
    stream.on('error', reject);
    stream.on('data', (m: any) => {
      consumed.push({ partition: m.partition, offset: String(m.offset), value: m.value });
      if (consumed.length === 30) send(30).catch(reject);
      if (consumed.length >= 60) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await stream.close();
  await consumer.close();
  await producer.close();
  process.stdout.write(JSON.stringify(consumed));
}

if (process.argv.includes('--platformatic-consume-run')) {
  child().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
