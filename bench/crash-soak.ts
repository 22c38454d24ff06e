/**
 * `npm run soak`: the disk engine killed again and again. Six idempotent kafkajs producers
 * (acks=all) send batches of mixed sizes, a third of them large enough to take the direct-write
 * path, to a topic whose segments roll every 300 kB; every few seconds the broker is killed with
 * SIGKILL and started again on the same data directory. After each restart every partition is
 * read back with kcat: every acknowledged message must be there once, whole, in the order it was
 * sent, at offsets without gaps, and every producer must keep getting its sends through. Runs
 * minutes, not seconds, which is why it is not in `npm test`.
 *
 *   npm run soak -- [rounds] [broker options...]   e.g. npm run soak -- 40 --set samsa.log.direct.writes=false
 */
import kafkajs from 'kafkajs';
import { kcatReadAll } from '../test/support/kcat.js';
import { type BrokerProcess, sleep, startBrokerProcess, tempDir } from '../test/support/processes.js';

const { Kafka, logLevel } = kafkajs;
const rounds = Number(process.argv[2] ?? 30);
const brokerOptions = process.argv.slice(3);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`usage: npm run soak -- [kills (a positive integer, default 30)] [broker options...]; got ${process.argv[2]}`);
  process.exit(2);
}
const WRITERS = 6;
const PARTITIONS = 3;
const TOPIC = 'soak';
const random = (n: number): number => Math.floor(Math.random() * n);
/** A message's whole value, from its id and length: what is read back must be exactly this. */
const valueOf = (id: string, length: number): string => `${id} ${`${id}.`.repeat(Math.ceil(length / (id.length + 1)))}`.slice(0, length);
/** Rounds in a row a writer may go without an acknowledgement (a kill, the restart, its retries) before that counts as a problem. */
const STALL_ROUNDS = 3;

interface Round {
  acknowledged: number;
  read: number;
  missing: number;
  duplicated: number;
  reordered: number;
  altered: number;
  gaps: number;
  /** Writers that have had no send acknowledged for STALL_ROUNDS rounds. */
  stalled: number;
  warnings: string[];
}

/** Checks what the restarted broker holds against what was acknowledged before the kill. */
function check(read: { partition: number; offset: number; value: string }[], acked: ReadonlyMap<string, number>, sent: readonly string[][]): Omit<Round, 'warnings' | 'stalled'> {
  const seen = new Map<string, { offset: number; value: string }>();
  let duplicated = 0;
  for (const c of read) {
    const id = c.value.slice(0, c.value.indexOf(' '));
    if (seen.has(id)) duplicated++;
    seen.set(id, { offset: c.offset, value: c.value });
  }
  let missing = 0;
  let altered = 0;
  for (const [id, length] of acked) {
    const c = seen.get(id);
    if (c === undefined) missing++;
    else if (c.value !== valueOf(id, length)) altered++;
  }
  let reordered = 0;
  for (const ids of sent) {
    let last = -1;
    for (const id of ids) {
      const c = seen.get(id);
      if (c === undefined) continue;
      if (c.offset <= last) reordered++;
      last = c.offset;
    }
  }
  let gaps = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = read.filter((c) => c.partition === p).map((c) => c.offset);
    for (let i = 1; i < offsets.length; i++) if (offsets[i] !== offsets[i - 1]! + 1) gaps++;
  }
  return { acknowledged: acked.size, read: read.length, missing, duplicated, reordered, altered, gaps };
}

async function main(): Promise<number> {
  const dir = tempDir('samsa-soak-');
  const port = 29000 + random(1000);
  const start = () => startBrokerProcess(['--port', String(port), '--data-dir', dir.path, ...brokerOptions]);
  let broker: BrokerProcess = await start();
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, configEntries: [{ name: 'segment.bytes', value: '300000' }] }] });
  await admin.disconnect();

  /** Message id → length, for every acknowledged message; and each writer's acknowledged ids in order. */
  const acked = new Map<string, number>();
  const sent: string[][] = Array.from({ length: WRITERS }, () => []);
  let stop = false;
  let failedSends = 0;
  const writer = async (w: number): Promise<void> => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let seq = 0; !stop; ) {
      const large = Math.random() < 0.3;
      const messages = Array.from({ length: 1 + random(20) }, () => {
        const id = `w${w}-${seq++}`;
        return { value: valueOf(id, id.length + 1 + (large ? 20_000 + random(60_000) : random(300))), partition: w % PARTITIONS };
      });
      try {
        await producer.send({ topic: TOPIC, acks: -1, messages });
        for (const m of messages) {
          const id = m.value.slice(0, m.value.indexOf(' '));
          acked.set(id, m.value.length);
          sent[w]!.push(id);
        }
      } catch {
        failedSends++; // the broker was killed under it; the next send goes to the restarted one
        await sleep(200);
      }
    }
    await producer.disconnect().catch(() => {});
  };
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));

  let problems = 0;
  // Each writer's acknowledged count when it last grew, and the rounds since.
  const progress = sent.map(() => ({ count: 0, idleRounds: 0 }));
  for (let r = 0; r < rounds; r++) {
    await sleep(800 + random(2500));
    await broker.kill();
    const ackedBefore = new Map(acked);
    const sentBefore = sent.map((ids) => ids.slice());
    let stalled = 0;
    sentBefore.forEach((ids, w) => {
      const p = progress[w]!;
      if (ids.length > p.count) Object.assign(p, { count: ids.length, idleRounds: 0 });
      else if (++p.idleRounds >= STALL_ROUNDS) stalled++;
    });
    broker = await start();
    const result: Round = {
      ...check(await kcatReadAll(broker.bootstrap, TOPIC), ackedBefore, sentBefore),
      stalled,
      warnings: broker.logs.filter((l) => /"level":(40|50|60)/.test(l)).map((l) => (JSON.parse(l) as { msg: string }).msg),
    };
    const bad = result.missing + result.duplicated + result.reordered + result.altered + result.gaps + result.stalled;
    problems += bad;
    console.log(
      `kill ${r + 1}/${rounds}: ${result.acknowledged} acknowledged, ${result.read} read back; missing ${result.missing}, duplicated ${result.duplicated}, ` +
        `out of order ${result.reordered}, altered ${result.altered}, offset gaps ${result.gaps}, writers stalled ${result.stalled}` +
        `${result.warnings.length ? `; warnings: ${result.warnings.join(' | ')}` : ''}`,
    );
  }
  // After the last restart every writer must get sends through again.
  const last = sent.map((ids) => ids.length);
  const deadline = Date.now() + 15_000;
  while (sent.some((ids, w) => ids.length === last[w]) && Date.now() < deadline) await sleep(200);
  const stuck = sent.filter((ids, w) => ids.length === last[w]).length;
  if (stuck > 0) console.log(`${stuck} writers had nothing acknowledged in the 15 s after the last restart`);
  problems += stuck;
  stop = true;
  await Promise.race([Promise.all(writers), sleep(20_000)]);
  await broker.stop();
  dir.remove();
  console.log(`${problems === 0 ? 'passed' : 'FAILED'}: ${rounds} kills, ${acked.size} messages acknowledged, ${problems} problems (${failedSends} sends failed at a kill and were retried)`);
  return problems === 0 ? 0 : 1;
}

process.exitCode = await main();
