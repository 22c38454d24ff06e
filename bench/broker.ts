/**
 * The broker, end to end, with real clients: produce and consume throughput (kcat/librdkafka and
 * kafkajs), end-to-end latency at a fixed rate (confluent-kafka-python), the broker's CPU and
 * memory, start-up time and idle memory. Every figure stands next to a reference measured in the
 * same run on the same machine with the same client: librdkafka's in-memory mock cluster (C) for
 * throughput and latency, a bare Node TCP server that discards bytes for the ingest ceiling, and
 * start-up and memory floors.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import {
  KCAT_CONSUMER, KCAT_PRODUCER, type Latency, PYTHON,
  type FileWriteCost, advertisedApis, blast, fileWriteCost, kafkajsConsume, kafkajsProduce, kcatConsume, kcatProduce, pythonLatency, writeMessageFile,
} from './broker-clients.js';
import {
  type Broker, CLI, Meter, ROOT, cpuSeconds, freePort, installCleanup, machineBusySeconds, memory, overallPeak, pollConnect,
  removeDir, samsaArgs, sleep, spawnTracked, startBareServer, startMock, startSamsa, tempDir, treeCpuSeconds,
} from './broker-procs.js';
import { row } from './harness.js';

// Sizes: each phase takes a few seconds against Samsa on a 2-core machine.
const KCAT_100 = 1_000_000;
const KCAT_1K = 200_000;
const KCAT_ROUNDS = 5;
// Consume sets fit in what the mock cluster keeps (about 5 MiB per partition, 4 partitions).
const PARTITIONS = 4;
const CONSUME_100_PER_PARTITION = 40_000;
const CONSUME_1K_PER_PARTITION = 4_500;
const CONSUME_RUNS = 7;
const KAFKAJS_100 = 300_000;
const KAFKAJS_1K = 90_000;
const KAFKAJS_ROUNDS = 5;
const KAFKAJS_WARMUP = 20_000;
const KAFKAJS_CONSUME_ROUNDS = 7;
const LATENCY_RATE = 1000;
const LATENCY_SECONDS = 5;
const STARTS = 5;
const STARTUP_TARGET_MS = 300;
const IDLE_RSS_TARGET = 80 * 1024 * 1024;
// ApiVersions keys a kafkajs group consumer needs: OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup.
const GROUP_APIS = [9, 10, 11, 12, 13, 14];

type Key = 'disk' | 'memory' | 'mock';
const KEYS: Key[] = ['disk', 'memory', 'mock'];
/**
 * The brokers in the order round `round` runs them: each takes every place in turn, so that no
 * broker always follows another's garbage (the kafkajs clients share this process) or always
 * starts a round.
 */
const inTurn = (round: number, keys: readonly Key[] = KEYS): Key[] => keys.map((_, i) => keys[(i + round) % keys.length]!);
const LABEL: Record<Key, string> = { disk: 'Samsa (disk)', memory: 'Samsa (memory)', mock: 'mock cluster' };

/** What one client run reports. */
interface RunResult {
  ok: boolean;
  error?: string;
  messages: number;
  /** The time the rate is computed over. */
  seconds: number;
  clientCpu: number;
}

/** Runs of one phase against one broker, added up. */
interface Tally {
  ok: boolean;
  messages: number;
  seconds: number;
  clientCpu: number;
  /** Broker CPU seconds and peak RSS over the runs. */
  cpu: number;
  peak: number;
  /** msgs/s of each run. */
  perRun: number[];
}

// ---------------------------------------------------------------------------------------------
// Formatting

const k = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)} k` : n.toFixed(0));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const mb1 = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const ms = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(0)) + ' ms' : 'n/a');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
const count = (n: number) => n.toLocaleString('en-US');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const table = (head: string[], rows: string[][]) => [row(head), row(head.map(() => '---')), ...rows.map(row)];

function machine(): string[] {
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const tryRun = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch {
      return 'unavailable';
    }
  };
  const kcat = /Version (\S+).*?librdkafka (\S+)/s.exec(tryRun('kcat', ['-V']));
  const ckp = tryRun(PYTHON, ['-c', 'import confluent_kafka as c; print(c.version()[0], c.libversion()[0])']).split(' ');
  const kafkajsVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/kafkajs/package.json'), 'utf8')) as { version: string }).version;
  const memTotal = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
  return [
    `Machine: ${cpuModel}, ${cpus().length} cores, ${mb(memTotal)} RAM, Linux ${release()}; Node ${process.version}. ` +
      `Clients: kcat ${kcat?.[1] ?? '?'} (librdkafka ${kcat?.[2] ?? '?'}), confluent-kafka-python ${ckp[0]} (librdkafka ${ckp[1] ?? '?'}), kafkajs ${kafkajsVersion}. ` +
      `Brokers and clients share the machine, over loopback (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the start); everything below comes from this one run.`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Start-up

interface StartSpec {
  cmd: string;
  args: string[];
  before?: () => void;
  after?: () => void;
}

/** The V8 code cache the samsa command keeps beside its bundle (src/cli/launch.ts). */
/** The code cache dist/samsa.mjs keeps for this V8 version (src/cli/launch.ts). */
const CODE_CACHE = `${join(ROOT, 'dist/samsa-cli.cjs')}.v8-${process.versions.v8}.cache`;

/** One start, unmeasured, that lives long enough to write the code cache (1 s after starting). */
async function writeCodeCache(): Promise<void> {
  const port = await freePort();
  const proc = spawnTracked('Samsa (writing its code cache)', process.execPath, samsaArgs({ storage: 'memory', port }));
  try {
    await pollConnect(port, 15_000, 2);
    await sleep(1500);
  } finally {
    await proc.stop();
  }
}

/** Spawn → first accepted connection, STARTS times; also Samsa's own startupMs when it logs one. */
async function startupTimes(label: string, spec: (port: number, i: number) => StartSpec): Promise<{ label: string; times: number[]; selfMs: number[]; error?: string }> {
  const times: number[] = [];
  const selfMs: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const port = await freePort();
    const s = spec(port, i);
    s.before?.();
    const proc = spawnTracked(label, s.cmd, s.args);
    const exited = new Promise<never>((_, reject) => proc.child.once('exit', (code, sig) => reject(new Error(`exited (${code ?? sig}) before accepting a connection`))));
    exited.catch(() => {});
    try {
      const t = await Promise.race([pollConnect(port, 15_000, 2), exited]);
      times.push(t - proc.spawnedAt);
    } catch (e) {
      await proc.stop();
      const output = proc.lines.filter((l) => l.trim()).slice(-3).join(' / ').slice(0, 500);
      return { label, times, selfMs, error: `start ${i + 1} of ${STARTS}: ${(e as Error).message}${output ? `; its output: ${output}` : ''}` };
    }
    const self = await proc.waitForLine(/"startupMs":(\d+)/, s.cmd === process.execPath && s.args[0] === CLI ? 2000 : 1).then((m) => Number(m[1]), () => NaN);
    selfMs.push(self);
    await proc.stop();
    s.after?.();
  }
  return { label, times, selfMs };
}

// ---------------------------------------------------------------------------------------------

export async function brokerBench(): Promise<string[]> {
  const cleanup = installCleanup();
  try {
    return await run();
  } finally {
    await cleanup();
  }
}

async function run(): Promise<string[]> {
  const out: string[] = ['### Broker, end to end', '', ...machine(), ''];
  const notes: string[] = [];
  const failures: string[] = [];
  const scratch = tempDir('samsa-bench-');

  // Message files for kcat -P (one message a line).
  const files = {
    p100: join(scratch, 'p100.txt'), p1k: join(scratch, 'p1k.txt'),
    c100: join(scratch, 'c100.txt'), c1k: join(scratch, 'c1k.txt'),
  };
  writeMessageFile(files.p100, KCAT_100, 100);
  writeMessageFile(files.p1k, KCAT_1K, 1024);
  writeMessageFile(files.c100, CONSUME_100_PER_PARTITION, 100);
  writeMessageFile(files.c1k, CONSUME_1K_PER_PARTITION, 1024);

  // --- Start-up: spawn → first accepted connection, nothing else running.
  const starts = [
    await startupTimes('bare Node TCP server (floor)', (port) => ({ cmd: process.execPath, args: ['-e', 'require("net").createServer((s) => s.resume()).listen(Number(process.argv[1]), "127.0.0.1")', String(port)] })),
    // The first start after a build compiles the whole bundle and writes the code cache every
    // later start reads: measured alone (the cache removed before each start), then written.
    await startupTimes('Samsa (memory), first start after a build', (port) => ({
      cmd: process.execPath, args: samsaArgs({ storage: 'memory', port }), before: () => rmSync(CODE_CACHE, { force: true }),
    })),
    await writeCodeCache().then(() => startupTimes('Samsa (memory)', (port) => ({ cmd: process.execPath, args: samsaArgs({ storage: 'memory', port }) }))),
    await startupTimes('Samsa (disk, empty data dir)', (port, i) => {
      const dir = join(scratch, `start-${i}`);
      return { cmd: process.execPath, args: samsaArgs({ storage: 'disk', port, dataDir: dir }), after: () => removeDir(dir) };
    }),
  ];

  // --- The long-lived processes; idle RSS 1 s after each is ready, one at a time.
  const dataDir = join(scratch, 'data');
  const idle = new Map<string, { rss: number; cpu: number }>();
  const measureIdle = async (b: Broker) => {
    const cpu0 = cpuSeconds(b.proc.pid);
    await sleep(1000);
    idle.set(b.label, { rss: memory(b.proc.pid).rss, cpu: cpuSeconds(b.proc.pid) - cpu0 });
  };
  const bare = await startBareServer('bare Node TCP server');
  await measureIdle(bare);
  const disk = await startSamsa(LABEL.disk, { storage: 'disk', dataDir, extra: ['--set', `num.partitions=${PARTITIONS}`] });
  await measureIdle(disk);
  const mem = await startSamsa(LABEL.memory, { storage: 'memory', extra: ['--set', `num.partitions=${PARTITIONS}`] });
  await measureIdle(mem);
  const mock = await startMock(LABEL.mock);
  await measureIdle(mock);
  const brokers: Record<Key, Broker> = { disk, memory: mem, mock };

  // --- Every measured run goes through here: the broker's CPU and peak RSS around it, results added up per phase.
  const tallies = new Map<string, Map<Key, Tally>>();
  const measure = async (phase: string, key: Key, fn: () => Promise<RunResult>): Promise<RunResult> => {
    const pid = brokers[key].proc.pid;
    const meter = new Meter([pid]);
    const r = await fn();
    const u = meter.read().get(pid)!;
    if (!tallies.has(phase)) tallies.set(phase, new Map());
    const byKey = tallies.get(phase)!;
    const t = byKey.get(key) ?? { ok: true, messages: 0, seconds: 0, clientCpu: 0, cpu: 0, peak: 0, perRun: [] };
    t.ok &&= r.ok;
    t.messages += r.messages;
    t.seconds += r.seconds;
    t.clientCpu += r.clientCpu;
    t.cpu += u.cpu;
    t.peak = Math.max(t.peak, u.peak);
    t.perRun.push(r.messages / r.seconds);
    byKey.set(key, t);
    if (!r.ok) failures.push(`${phase}, ${LABEL[key]}: ${r.error}`);
    return r;
  };

  // What else ran on the machine during the measurements: its busy time minus this benchmark's.
  const busy0 = machineBusySeconds();
  const ours0 = treeCpuSeconds();
  const wall0 = performance.now();

  // --- Ingest ceiling: the bare server, fed the 100-byte phase's payload bytes, 5 times.
  const ceilingBytes = KCAT_100 * 100;
  const bareMeter = new Meter([bare.proc.pid]);
  const ceilingSeconds: number[] = [];
  for (let i = 0; i < 5; i++) ceilingSeconds.push(await blast(bare.port, ceilingBytes));
  const bareCpu = bareMeter.read().get(bare.proc.pid)!.cpu;
  const ceiling = ceilingBytes / median(ceilingSeconds);

  // --- Topics exist before anything is timed: a new topic costs a librdkafka producer about a
  // second against Samsa (its first Metadata answer is LEADER_NOT_AVAILABLE, as Kafka's is; the
  // client asks again a second later) and nothing against the mock.
  const oneLine = join(scratch, 'one.txt');
  writeMessageFile(oneLine, 1, 100);
  const created = await Promise.all(KEYS.flatMap((key) => ['kcat-100', 'kcat-1k'].map(async (topic) => {
    const t0 = performance.now();
    const r = await kcatProduce(brokers[key].bootstrap, topic, oneLine);
    if (!r.ok) failures.push(`creating ${topic} on ${LABEL[key]}: ${r.error}`);
    return { key, ms: performance.now() - t0 };
  })));
  notes.push(`First produce to a new topic (kcat, one message, ${created.length / KEYS.length} topics each): ${KEYS.map((key) => `${LABEL[key]} ${ms(median(created.filter((c) => c.key === key).map((c) => c.ms)))}`).join(', ')} (median).`);

  // --- kcat produce, rounds interleaved across the brokers.
  for (const [phase, file, total] of [['kcat produce 100 B', files.p100, KCAT_100], ['kcat produce 1 KiB', files.p1k, KCAT_1K]] as const) {
    for (let round = 0; round < KCAT_ROUNDS; round++) {
      for (const key of inTurn(round)) {
        await measure(phase, key, async () => {
          const r = await kcatProduce(brokers[key].bootstrap, phase.endsWith('100 B') ? 'kcat-100' : 'kcat-1k', file);
          return { ...r, messages: total };
        });
      }
    }
  }

  // --- What writing the 1 KiB phase's bytes costs the machine itself, new pages against cached ones
  // (after the produce rounds, which it would otherwise disturb).
  const writeCosts: FileWriteCost[] = [];
  try {
    for (let i = 0; i < 3; i++) writeCosts.push(await fileWriteCost(scratch, KCAT_1K * 1024));
  } catch (e) {
    failures.push(`file write reference: ${(e as Error).message}`);
  }

  // --- kcat consume: the same data on every broker (one kcat -P per partition), runs interleaved.
  for (const key of KEYS) {
    for (let p = 0; p < PARTITIONS; p++) {
      for (const [topic, file] of [['consume-100', files.c100], ['consume-1k', files.c1k]] as const) {
        const r = await kcatProduce(brokers[key].bootstrap, topic, file, p);
        if (!r.ok) failures.push(`writing ${topic} [${p}] to ${LABEL[key]}: ${r.error}`);
      }
    }
  }
  const consumeExpected = { '100': CONSUME_100_PER_PARTITION * PARTITIONS, '1k': CONSUME_1K_PER_PARTITION * PARTITIONS };
  const consumedFile = join(scratch, 'consumed.txt');
  for (const size of ['100', '1k'] as const) {
    const phase = `kcat consume ${size === '100' ? '100 B' : '1 KiB'}`;
    for (let i = 0; i < CONSUME_RUNS; i++) {
      for (const key of inTurn(i)) {
        await measure(phase, key, async () => {
          const r = await kcatConsume(brokers[key].bootstrap, `consume-${size}`, consumedFile);
          const complete = r.messages === consumeExpected[size];
          return {
            ok: r.ok && complete, messages: r.messages, seconds: r.activeSeconds, clientCpu: r.clientCpu,
            ...(r.ok && !complete ? { error: `got ${count(r.messages)} messages, expected ${count(consumeExpected[size])}` } : r.error ? { error: r.error } : {}),
          };
        });
      }
    }
  }
  removeDir(consumedFile);

  // --- kafkajs produce: a warm-up (JIT, topic creation) against each broker, then rounds interleaved.
  for (const [size, bytes] of [['100', 100], ['1k', 1024]] as const) {
    for (const key of KEYS) {
      const r = await kafkajsProduce(brokers[key].bootstrap, `kafkajs-${size}`, bytes, KAFKAJS_WARMUP);
      if (!r.ok) failures.push(`kafkajs warm-up against ${LABEL[key]}: ${r.error}`);
    }
  }
  for (const [size, bytes, total] of [['100', 100, KAFKAJS_100], ['1k', 1024, KAFKAJS_1K]] as const) {
    const phase = `kafkajs produce ${size === '100' ? '100 B' : '1 KiB'}`;
    for (let round = 0; round < KAFKAJS_ROUNDS; round++) {
      for (const key of inTurn(round)) {
        await measure(phase, key, async () => ({ ...(await kafkajsProduce(brokers[key].bootstrap, `kafkajs-${size}`, bytes, total / KAFKAJS_ROUNDS)), messages: total / KAFKAJS_ROUNDS }));
      }
    }
  }

  // --- kafkajs consume: needs consumer groups; run only where the broker advertises them.
  const kafkajsConsumeSkipped = new Map<Key, string>();
  const joins: { key: Key; seconds: number }[] = [];
  for (const key of KEYS) {
    let missing: number[];
    try {
      const apis = await advertisedApis(brokers[key].port);
      missing = GROUP_APIS.filter((a) => !apis.has(a));
    } catch (e) {
      missing = GROUP_APIS;
      notes.push(`ApiVersions probe of ${LABEL[key]} failed: ${(e as Error).message}`);
    }
    if (missing.length) kafkajsConsumeSkipped.set(key, `n/a: no consumer groups (ApiVersions lacks keys ${missing.join(', ')})`);
  }
  for (let round = 0; round < KAFKAJS_CONSUME_ROUNDS; round++) {
    for (const size of ['100', '1k'] as const) {
      for (const key of inTurn(round, KEYS.filter((k) => !kafkajsConsumeSkipped.has(k)))) {
        const phase = `kafkajs consume ${size === '100' ? '100 B' : '1 KiB'}`;
        await measure(phase, key, async () => {
          const cpu0 = process.cpuUsage();
          const r = await kafkajsConsume(brokers[key].bootstrap, `consume-${size}`, consumeExpected[size]);
          const cpu = process.cpuUsage(cpu0);
          joins.push({ key, seconds: r.joinSeconds });
          return { ...r, seconds: r.activeSeconds, clientCpu: (cpu.user + cpu.system) / 1e6 };
        });
      }
    }
  }

  if (joins.length) {
    notes.push(`kafkajs consumer, connect + group join until the first batch (excluded from its rate): ${KEYS.filter((key) => joins.some((j) => j.key === key)).map((key) => `${LABEL[key]} ${joins.filter((j) => j.key === key).map((j) => `${j.seconds.toFixed(1)} s`).join(' / ')}`).join(', ')}.`);
  }

  // --- End-to-end latency at a fixed rate.
  const latency = new Map<Key, Latency>();
  for (const key of KEYS) {
    await measure(`latency, ${LATENCY_RATE} msg/s`, key, async () => {
      const t0 = performance.now();
      const r = await pythonLatency(brokers[key].bootstrap, 'latency', scratch, LATENCY_RATE, LATENCY_SECONDS, 100);
      latency.set(key, r);
      // The broker's CPU over the whole client run (start-up, warm-up, the measured seconds, draining).
      return { ok: r.ok, ...(r.error ? { error: r.error } : {}), messages: r.sent, seconds: (performance.now() - t0) / 1000, clientCpu: NaN };
    });
  }

  const others = (machineBusySeconds() - busy0) - (treeCpuSeconds() - ours0);
  const measuredSeconds = (performance.now() - wall0) / 1000;
  out.splice(3, 0, '', `Other processes on the machine used about ${Math.max(0, others).toFixed(1)} CPU-seconds during the ${measuredSeconds.toFixed(0)} s of throughput and latency measurements (${Math.max(0, (others / measuredSeconds) * 100).toFixed(0)} % of one core on average: the machine's busy time minus this benchmark's processes).`);

  // --- Still alive? Memory at the end, shutdown, start-up again on the data this run wrote.
  for (const key of KEYS) {
    const c = brokers[key].proc.child;
    if (c.exitCode !== null || c.signalCode !== null) {
      failures.push(`${LABEL[key]} died during the run (exit ${c.exitCode}, signal ${c.signalCode}); its last output: ${brokers[key].proc.lines.slice(-3).join(' / ')}`);
    }
  }
  const endRss = new Map<Key | 'bare', number>();
  const peak = new Map<Key | 'bare', number>();
  for (const [key, b] of [...KEYS.map((kk) => [kk, brokers[kk]] as const), ['bare', bare] as const]) {
    try {
      endRss.set(key, memory(b.proc.pid).rss);
    } catch {
      endRss.set(key, NaN);
    }
    peak.set(key, overallPeak(b.proc.pid));
  }
  const stops = new Map<Key, Awaited<ReturnType<Broker['proc']['stop']>>>();
  for (const key of ['disk', 'memory'] as const) stops.set(key, await brokers[key].proc.stop(10_000));
  await mock.proc.stop();
  await bare.proc.stop();
  const dataBytes = dirSize(dataDir);
  starts.push(await startupTimes(`Samsa (disk, reopening this run's ${mb(dataBytes)} log)`, (port) => ({ cmd: process.execPath, args: samsaArgs({ storage: 'disk', port, dataDir }) })));

  // ===========================================================================================
  // Report

  const tally = (phase: string, key: Key) => tallies.get(phase)?.get(key);
  /** The median run's msgs/s: one run slowed by something else on the machine does not move it. */
  const msgRate = (phase: string, key: Key) => {
    const t = tally(phase, key);
    return t && t.ok ? median(t.perRun) : NaN;
  };
  const cell = (phase: string, key: Key, bytesPerMessage: number) => {
    const t = tally(phase, key);
    if (!t) return 'n/a';
    if (!t.ok) return '**failed**';
    const r = median(t.perRun);
    const runs = t.perRun.length > 1 ? ` (runs ${t.perRun.map(k).join(' / ')})` : '';
    return `${k(r)} msg/s, ${((r * bytesPerMessage) / 1e6).toFixed(1)} MB/s${runs}`;
  };
  const judged: { produce: string[]; consume: string[] } = { produce: [], consume: [] };
  const throughputRow = (list: string[], label: string, phase: string, bytesPerMessage: number, skipped?: Map<Key, string>) => {
    const show = (key: Key) => skipped?.get(key) ?? cell(phase, key, bytesPerMessage);
    for (const key of ['disk', 'memory'] as const) {
      const r = msgRate(phase, key) / msgRate(phase, 'mock');
      list.push(`${phase.replace(/^(kcat|kafkajs) (produce|consume) /, '$1 ')} ${key} ${Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a'}${Number.isFinite(r) && r < 1 ? ' ✗' : ''}`);
    }
    return [label, ...KEYS.map(show), ratio(msgRate(phase, 'disk'), msgRate(phase, 'mock')), ratio(msgRate(phase, 'memory'), msgRate(phase, 'mock'))];
  };
  const head = ['client, messages', LABEL.disk, LABEL.memory, LABEL.mock, 'disk ÷ mock', 'memory ÷ mock'];

  out.push(`**Produce throughput** (payload bytes; each run timed from starting the client to its last acknowledgement; rounds interleaved across the brokers, which take turns going first; the median run, then every run; ratio = Samsa ÷ mock cluster with the same client and settings)`, '');
  out.push(...table(head, [
    throughputRow(judged.produce, `kcat, ${KCAT_ROUNDS} × ${count(KCAT_100)} × 100 B`, 'kcat produce 100 B', 100),
    throughputRow(judged.produce, `kcat, ${KCAT_ROUNDS} × ${count(KCAT_1K)} × 1 KiB`, 'kcat produce 1 KiB', 1024),
    throughputRow(judged.produce, `kafkajs, ${KAFKAJS_ROUNDS} × ${count(KAFKAJS_100 / KAFKAJS_ROUNDS)} × 100 B`, 'kafkajs produce 100 B', 100),
    throughputRow(judged.produce, `kafkajs, ${KAFKAJS_ROUNDS} × ${count(KAFKAJS_1K / KAFKAJS_ROUNDS)} × 1 KiB`, 'kafkajs produce 1 KiB', 1024),
  ]), '');
  out.push(
    `kcat: ${KCAT_PRODUCER.filter((a) => a !== '-X').join(', ')}, messages read from a file. ` +
      `kafkajs (in the benchmark process, after a ${count(KAFKAJS_WARMUP)}-message warm-up per broker): 1000 messages a send, 4 sends in flight, acks=1, no compression. ` +
      `Topics have ${PARTITIONS} partitions everywhere (the mock's auto-create default; Samsa with num.partitions=${PARTITIONS}).`,
    '',
  );

  out.push(`**Consume throughput** (the same ${count(consumeExpected['100'])} × 100 B and ${count(consumeExpected['1k'])} × 1 KiB on every broker, sized to fit the ~5 MiB per partition the mock keeps; each run timed from the first message to the last; the median run, then every run)`, '');
  out.push(...table(head, [
    throughputRow(judged.consume, `kcat -C, ${CONSUME_RUNS} runs × ${count(consumeExpected['100'])} × 100 B`, 'kcat consume 100 B', 100),
    throughputRow(judged.consume, `kcat -C, ${CONSUME_RUNS} runs × ${count(consumeExpected['1k'])} × 1 KiB`, 'kcat consume 1 KiB', 1024),
    throughputRow(judged.consume, `kafkajs group consumer, ${KAFKAJS_CONSUME_ROUNDS} runs × ${count(consumeExpected['100'])} × 100 B`, 'kafkajs consume 100 B', 100, kafkajsConsumeSkipped),
    throughputRow(judged.consume, `kafkajs group consumer, ${KAFKAJS_CONSUME_ROUNDS} runs × ${count(consumeExpected['1k'])} × 1 KiB`, 'kafkajs consume 1 KiB', 1024, kafkajsConsumeSkipped),
  ]), '');
  out.push(
    `kcat -C -e -o beginning -q with ${KCAT_CONSUMER.filter((a) => a !== '-X').join(', ')} (otherwise its first drained partition's 500 ms long poll holds back the others, against every broker alike), writing to a file whose growth is timed, so kcat's start-up and exit are excluded. ` +
      `kafkajs: ${KAFKAJS_CONSUME_ROUNDS} rounds interleaved across the brokers (taking turns going first), each run a fresh group subscribing from the beginning; the group join is excluded (see Notes).`,
    '',
  );

  out.push('**Ingest ceiling** (a bare Node TCP server that reads and discards, fed from a Node client as fast as it goes; the brokers\' kcat produce rates in payload MB/s against it)', '');
  const ceilingRows: string[][] = [[`bare Node TCP server, ${mb(ceilingBytes)} × 5 runs, median`, `${(ceiling / 1e6).toFixed(0)} MB/s`, '1', `${((bareCpu / ceilingSeconds.reduce((a, b) => a + b, 0)) * 100).toFixed(0)} %`]];
  for (const [phase, bytes] of [['kcat produce 100 B', 100], ['kcat produce 1 KiB', 1024]] as const) {
    for (const key of KEYS) {
      const t = tally(phase, key);
      const bps = msgRate(phase, key) * bytes;
      ceilingRows.push([`${LABEL[key]}, ${phase}`, Number.isFinite(bps) ? `${(bps / 1e6).toFixed(1)} MB/s` : 'n/a', Number.isFinite(bps) ? (bps / ceiling).toFixed(3) : 'n/a', t ? `${((t.cpu / t.seconds) * 100).toFixed(0)} %` : 'n/a']);
    }
  }
  out.push(...table(['', 'MB/s', 'fraction of the ceiling', 'server CPU (% of a core)'], ceilingRows), '');

  out.push(`**End-to-end latency** (confluent-kafka-python, one thread: ${LATENCY_RATE} msg/s × ${LATENCY_SECONDS} s of 100 B to one partition, linger.ms=0, acks=1; a consumer assigned at the end with fetch.wait.max.ms=5 waits in poll() between sends; receive − send on one clock)`, '');
  const mockLat = latency.get('mock');
  out.push(...table(['broker', 'received', 'p50', 'p99', 'max', 'p50 ÷ mock', 'p99 ÷ mock'], KEYS.map((key) => {
    const l = latency.get(key)!;
    if (!Number.isFinite(l.p50)) return [LABEL[key], `**failed**: ${l.error}`, '', '', '', '', ''];
    return [LABEL[key], `${count(l.received)}/${count(l.sent)} at ${l.rate.toFixed(0)}/s`, ms(l.p50), ms(l.p99), ms(l.max), ratio(l.p50, mockLat?.p50 ?? NaN), ratio(l.p99, mockLat?.p99 ?? NaN)];
  })), '');

  out.push('**CPU and memory by phase** (broker: utime+stime over the phase as % of one core and CPU-seconds per million messages, peak RSS within the phase; client: its CPU-seconds)', '');
  const cpuRows: string[][] = [];
  for (const [phase, byKey] of tallies) {
    cpuRows.push([phase, ...KEYS.map((key) => {
      const t = byKey.get(key);
      if (!t) return 'n/a';
      const client = Number.isFinite(t.clientCpu) ? `; client ${t.clientCpu.toFixed(2)} s` : '';
      return `${((t.cpu / t.seconds) * 100).toFixed(0)} % · ${(t.cpu / (t.messages / 1e6)).toFixed(2)} s/M · ${mb(t.peak)}${client}`;
    })]);
  }
  out.push(...table(['phase', LABEL.disk, LABEL.memory, `${LABEL.mock} (its kcat process)`], cpuRows), '');
  out.push('Consume phases: % of a core over the time messages flowed (the broker\'s work for kcat\'s start-up is in the numerator too). Latency: % over the whole client run, idle fetches (fetch.wait.max.ms=5) included. The mock cluster runs inside a kcat that also consumes an idle topic. The machine has 2 cores for brokers and clients together.', '');

  if (writeCosts.length) {
    const perRun = (key: Key) => {
      const t = tally('kcat produce 1 KiB', key);
      return t ? `${(t.cpu / t.perRun.length).toFixed(2)} s` : 'n/a';
    };
    out.push(`**Writing new bytes on this machine** (a Node process writes the kcat 1 KiB phase's ${mb(KCAT_1K * 1024)} in 1 MiB writes to a new file, then again over the same file, then to another new file past the page cache; CPU-seconds, median of ${writeCosts.length}, runs in brackets; next to the brokers' CPU per run of that phase)`, '');
    out.push(...table(['', 'CPU-seconds'], [
      ['to a new file (the kernel allocates each page)', `${median(writeCosts.map((c) => c.fresh)).toFixed(2)} s (${writeCosts.map((c) => c.fresh.toFixed(2)).join(' / ')})`],
      ['over the same file (pages cached)', `${median(writeCosts.map((c) => c.cached)).toFixed(2)} s (${writeCosts.map((c) => c.cached.toFixed(2)).join(' / ')})`],
      ...(writeCosts.every((c) => c.direct !== null)
        ? [['to a new file with O_DIRECT (past the page cache, as Samsa\'s disk engine writes large appends)', `${median(writeCosts.map((c) => c.direct!)).toFixed(2)} s (${writeCosts.map((c) => c.direct!.toFixed(2)).join(' / ')})`]]
        : [['to a new file with O_DIRECT', 'refused by this filesystem']]),
      ...KEYS.map((key) => [`${LABEL[key]}, kcat produce 1 KiB, per run`, perRun(key)]),
    ]), '');
    out.push('A broker that keeps its log puts every byte it is sent somewhere new; the mock keeps a few MiB per partition and reuses that memory. Where new pages are dear (on a VM whose host reclaims the guest\'s free memory, a first touch costs many times a reuse), the page cache pays it for every byte written through it. Samsa\'s disk engine writes large appends past it (O_DIRECT) from memory it reuses; the memory engine keeps every byte in its heap, and pays it there.', '');
  }

  out.push(`**Start-up** (spawn → first accepted TCP connection, polling every 2 ms; median of ${STARTS}; Samsa's own startupMs counts from its start() to listening, after Node and the modules have loaded)`, '');
  const floor = median(starts[0].times);
  out.push(...table(['process', 'median', 'min – max', 'above the floor', 'Samsa\'s startupMs (median)'], starts.map((s) => {
    if (s.error) {
      failures.push(`start-up of ${s.label}: ${s.error}`);
      return [s.label, '**failed** (see Failures)', '', '', ''];
    }
    const self = s.selfMs.filter(Number.isFinite);
    return [s.label, ms(median(s.times)), `${ms(Math.min(...s.times))} – ${ms(Math.max(...s.times))}`, s === starts[0] ? '—' : `+${ms(median(s.times) - floor)}`, self.length ? ms(median(self)) : '—'];
  })), '');

  out.push('**Memory** (idle: VmRSS 1 s after ready, before any traffic; end: VmRSS after every phase; peak: highest VmHWM over the run)', '');
  const bareIdle = idle.get(bare.label)!;
  out.push(...table(['process', 'idle RSS', 'idle ÷ bare Node', 'CPU while idle', 'RSS at the end', 'peak RSS'], [
    [bare.label, mb1(bareIdle.rss), '1', `${(bareIdle.cpu * 100).toFixed(0)} %`, mb(endRss.get('bare')!), mb(peak.get('bare')!)],
    ...KEYS.map((key) => {
      const i = idle.get(LABEL[key])!;
      return [key === 'mock' ? `${LABEL.mock} (its kcat process)` : LABEL[key], mb1(i.rss), ratio(i.rss, bareIdle.rss), `${(i.cpu * 100).toFixed(0)} %`, mb(endRss.get(key)!), mb(peak.get(key)!)];
    }),
  ]), '');

  // --- Targets
  const [, firstStart, memStart, diskStart] = starts;
  const startDisk = median(diskStart.times);
  const startMem = median(memStart.times);
  const idleDisk = idle.get(LABEL.disk)!.rss;
  const idleMem = idle.get(LABEL.memory)!.rss;
  const verdict = (list: string[]) => (list.some((l) => l.includes('✗')) ? 'not met' : list.some((l) => l.includes('n/a')) ? 'met where measured' : 'met');
  out.push('**Targets**', '');
  out.push(`- Produce throughput ≥ the mock cluster's, same client: **${verdict(judged.produce)}** — ${judged.produce.join('; ')}.`);
  out.push(`- Consume throughput ≥ the mock cluster's, same client: **${verdict(judged.consume)}** — ${judged.consume.join('; ')}.`);
  const startVerdict = memStart.error || diskStart.error ? 'not measured (a start failed)' : startDisk < STARTUP_TARGET_MS && startMem < STARTUP_TARGET_MS ? 'met' : 'not met';
  out.push(`- Start-up < ${STARTUP_TARGET_MS} ms: **${startVerdict}** — disk ${ms(startDisk)}, memory ${ms(startMem)} (bare Node ${ms(floor)}; the first start after a build, which writes the code cache: ${ms(median(firstStart.times))}).`);
  out.push(`- Idle RSS < ${mb(IDLE_RSS_TARGET)}: **${idleDisk < IDLE_RSS_TARGET && idleMem < IDLE_RSS_TARGET ? 'met' : 'not met'}** — disk ${mb1(idleDisk)}, memory ${mb1(idleMem)} (bare Node ${mb1(bareIdle.rss)}).`);
  out.push('');

  // --- What went wrong, and what the brokers said.
  for (const key of ['disk', 'memory'] as const) {
    const s = stops.get(key)!;
    if (s.killed || s.code !== 0) notes.push(`${LABEL[key]} did not exit cleanly on SIGTERM: code ${s.code}, signal ${s.signal}${s.killed ? ' (killed after 10 s)' : ''}.`);
    else notes.push(`${LABEL[key]} exited 0 on SIGTERM after ${ms(s.ms)}.`);
    const loud = brokers[key].proc.lines.filter((l) => {
      try {
        return ((JSON.parse(l) as { level?: number }).level ?? 0) >= 40;
      } catch {
        return l.trim() !== '';
      }
    });
    notes.push(loud.length ? `${LABEL[key]} logged ${loud.length} warning, error or non-JSON line(s); the first: \`${loud[0].slice(0, 300)}\`` : `${LABEL[key]} logged no warnings or errors.`);
  }
  if (failures.length) out.push('**Failures**', '', ...failures.map((f) => `- ${f}`), '');
  out.push('**Notes**', '', ...notes.map((n) => `- ${n}`), '');
  return out;
}

function dirSize(dir: string): number {
  let total = 0;
  try {
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else total += st.size;
      }
    };
    walk(dir);
  } catch {
    // best effort
  }
  return total;
}
