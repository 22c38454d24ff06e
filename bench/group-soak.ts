/**
 * `npm run soak:groups`: consumer groups under churn. An idempotent kafkajs producer (acks=all)
 * writes numbered messages to a 6-partition topic while two groups read it: one of kafkajs
 * members, one of confluent-kafka-python (librdkafka, cooperative-sticky) members, each member a
 * process of its own. Every second or two a member joins, leaves (SIGTERM) or dies (SIGKILL), and
 * now and then the broker is killed (SIGKILL) and started again on the same data directory.
 * What the groups had committed before a broker kill must still be committed after the restart;
 * at the end each group must have consumed every acknowledged message (at least once), every
 * message at one partition and offset only, and committed the end of every partition. Runs a
 * minute or more, which is why it is not in `npm test`.
 *
 *   npm run soak:groups -- [seconds (default 60)] [broker options...]
 *
 * The same file is the kafkajs member: `node group-soak.js member <bootstrap> <group> <topic>`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { type BrokerProcess, PYTHON, ROOT, sleep, startBrokerProcess, tempDir } from '../test/support/processes.js';

const { Kafka, logLevel } = kafkajs;
const TOPIC = 'churn';
const PARTITIONS = 6;
const MAX_MEMBERS = 4;
const random = (n: number): number => Math.floor(Math.random() * n);

/** A kafkajs group member: prints "partition offset value" per message, commits as it goes, leaves on SIGTERM. */
async function member(bootstrap: string, group: string, topic: string): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 8000 });
  process.on('SIGTERM', () => {
    void consumer.disconnect().finally(() => process.exit(0));
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 300,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      process.stdout.write(batch.messages.map((m) => `${batch.partition} ${m.offset} ${m.value!.toString()}\n`).join(''));
      for (const m of batch.messages) resolveOffset(m.offset);
      await heartbeat();
    },
  });
}

/** One group: its members' processes and what they consumed. */
class Group {
  readonly members: ChildProcess[] = [];
  /** Message value → "partition offset" where it was consumed. */
  readonly seen = new Map<string, string>();
  redelivered = 0;
  /** Values consumed at two different places. */
  readonly moved: string[] = [];
  joins = 0;
  leaves = 0;
  deaths = 0;

  constructor(
    readonly name: string,
    private readonly command: (bootstrap: string) => [string, string[]],
  ) {}

  join(bootstrap: string): void {
    const [cmd, args] = this.command(bootstrap);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const [partition, offset, value] = line.split(' ');
        const at = `${partition} ${offset}`;
        const before = this.seen.get(value!);
        if (before !== undefined) {
          this.redelivered++;
          if (before !== at) this.moved.push(`${value} at ${before} and at ${at}`);
        }
        this.seen.set(value!, at);
      }
    });
    this.members.push(child);
    this.joins++;
  }

  /** SIGTERM (a clean leave) or SIGKILL (a crash) of a member at random. */
  remove(signal: 'SIGTERM' | 'SIGKILL'): void {
    const [child] = this.members.splice(random(this.members.length), 1);
    child!.kill(signal);
    if (signal === 'SIGTERM') this.leaves++;
    else this.deaths++;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.splice(0).map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))));
  }
}

/** "group partition" → committed offset, for every partition with a commit. */
async function committedOffsets(admin: kafkajs.Admin, groups: readonly Group[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const g of groups) {
    const [topic] = await admin.fetchOffsets({ groupId: g.name, topics: [TOPIC] });
    for (const p of topic!.partitions) if (Number(p.offset) >= 0) out.set(`${g.name} ${p.partition}`, Number(p.offset));
  }
  return out;
}

async function main(seconds: number, brokerOptions: string[]): Promise<number> {
  const dir = tempDir('samsa-group-soak-');
  const port = 29000 + random(1000);
  const start = () => startBrokerProcess(['--port', String(port), '--data-dir', dir.path, ...brokerOptions]);
  let broker: BrokerProcess = await start();
  const bootstrap = broker.bootstrap;
  const errors: string[] = [];
  const collectErrors = (b: BrokerProcess) => errors.push(...b.logs.filter((l) => /"level":(50|60)/.test(l)));
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });

  const acked = new Set<string>();
  let next = 0;
  let stop = false;
  const producing = (async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    while (!stop) {
      const values = Array.from({ length: 1 + random(50) }, () => String(next++));
      try {
        await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ key: String(Number(value) % 97), value })) });
        for (const v of values) acked.add(v);
      } catch {
        await sleep(200); // the broker was killed under it
      }
      await sleep(5);
    }
    await producer.disconnect().catch(() => {});
  })();

  const script = join(ROOT, 'dist/bench/group-soak.js');
  const groups = [
    new Group('kafkajs', (bs) => [process.execPath, [script, 'member', bs, 'kafkajs', TOPIC]]),
    new Group('librdkafka', (bs) => [PYTHON, [join(ROOT, 'bench/group_soak_member.py'), bs, 'librdkafka', TOPIC, 'cooperative-sticky']]),
  ];
  for (const g of groups) for (let i = 0; i < 2; i++) g.join(bootstrap);
  let brokerKills = 0;
  const lostCommits: string[] = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    await sleep(1000 + random(2000));
    const g = groups[random(groups.length)]!;
    const r = Math.random();
    if (r < 0.25 && g.members.length > 1) g.remove('SIGKILL');
    else if (r < 0.5 && g.members.length > 1) g.remove('SIGTERM');
    else if (g.members.length < MAX_MEMBERS) g.join(bootstrap);
    if (Math.random() < 0.12) {
      // What the groups had committed before the kill must still be committed after the restart.
      const before = await committedOffsets(admin, groups);
      await broker.kill();
      collectErrors(broker);
      broker = await start();
      brokerKills++;
      const after = await committedOffsets(admin, groups);
      for (const [key, offset] of before) if ((after.get(key) ?? -1) < offset) lostCommits.push(`${key}: ${offset} before the kill, ${after.get(key) ?? 'none'} after`);
    }
  }
  stop = true;
  await producing;

  // Every group must catch up with everything acknowledged, then commit it as its members leave.
  const deadline = Date.now() + 90_000;
  while (groups.some((g) => [...acked].some((v) => !g.seen.has(v))) && Date.now() < deadline) await sleep(500);
  await sleep(1000);
  for (const g of groups) await g.stopAll();
  const ends = await admin.fetchTopicOffsets(TOPIC);
  let problems = 0;
  for (const g of groups) {
    const [committed] = await admin.fetchOffsets({ groupId: g.name, topics: [TOPIC] });
    const behind = committed!.partitions.filter((p) => p.offset !== ends.find((e) => e.partition === p.partition)!.high);
    const missing = [...acked].filter((v) => !g.seen.has(v));
    problems += missing.length + g.moved.length + behind.length;
    console.log(
      `${g.name}: ${g.joins} joined, ${g.leaves} left, ${g.deaths} killed; ${g.seen.size} messages consumed, ${g.redelivered} redelivered; ` +
        `missing ${missing.length}${missing.length ? ` (${missing.slice(0, 5).join(', ')}…)` : ''}, at two places ${g.moved.length}${g.moved.length ? ` (${g.moved.slice(0, 3).join('; ')})` : ''}, ` +
        `partitions committed short of the end ${behind.length}${behind.length ? ` (${behind.map((p) => `${p.partition}: ${p.offset}`).join(', ')})` : ''}`,
    );
  }
  await admin.disconnect();
  await broker.stop();
  collectErrors(broker);
  dir.remove();
  problems += errors.length + lostCommits.length;
  if (lostCommits.length) console.log(`committed offsets that went back over a broker kill: ${lostCommits.slice(0, 5).join('; ')}`);
  if (errors.length) console.log(`broker errors logged:\n${errors.slice(0, 5).join('\n')}`);
  console.log(`${problems === 0 ? 'passed' : 'FAILED'}: ${seconds} s, ${acked.size} messages acknowledged, ${brokerKills} broker kills, ${problems} problems`);
  return problems === 0 ? 0 : 1;
}

if (process.argv[2] === 'member') {
  await member(process.argv[3]!, process.argv[4]!, process.argv[5]!);
} else {
  const seconds = Number(process.argv[2] ?? 60);
  if (!Number.isInteger(seconds) || seconds < 1) {
    console.error(`usage: npm run soak:groups -- [seconds (a positive integer, default 60)] [broker options...]; got ${process.argv[2]}`);
    process.exit(2);
  }
  process.exitCode = await main(seconds, process.argv.slice(3));
}
