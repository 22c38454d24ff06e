/**
 * The clients of the broker benchmark: kcat (librdkafka) producing from a file and consuming into
 * one, kafkajs producing and consuming in this process, confluent-kafka-python measuring end-to-end
 * latency, and a plain Node socket feeding the discard server. Every function reports what it
 * measured; none decides what is good.
 */
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { decodeResponse, encodeRequest } from '../protocol/frames.js';
import { ApiKey } from '../protocol/generated/index.js';
import { signal, tempDir, track } from './broker-procs.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

export const PYTHON = '/usr/bin/python3';

/**
 * The consumer settings used with kcat against every broker. kcat starts its partitions one after
 * the other; with the default fetch.wait.max.ms (500) the first drained partition's long poll
 * holds back the others for half a second — against every broker alike — which would swamp a
 * transfer of a tenth of a second.
 */
export const KCAT_CONSUMER = ['-X', 'fetch.wait.max.ms=10'];
/** The producer settings used with kcat against every broker. */
export const KCAT_PRODUCER = ['-X', 'acks=1', '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', '-X', 'queue.buffering.max.messages=1000000'];

interface Exit {
  code: number | null;
  stderr: string;
  /** utime + stime of the client, seconds (NaN when /usr/bin/time is unavailable). */
  cpu: number;
}

const TIME = '/usr/bin/time';
let timeFiles = 0;
let timeDir: string | null = null;

function timeFile(): string | null {
  if (!existsSync(TIME)) return null;
  if (timeDir === null || !existsSync(timeDir)) timeDir = tempDir('samsa-bench-time-');
  return join(timeDir, String(++timeFiles));
}

/** Runs a client to its exit, under /usr/bin/time when there is one, to learn its CPU time. */
function runToExit(cmd: string, args: string[], stdout: 'ignore' | number = 'ignore'): { done: Promise<Exit>; spawnedAt: number } {
  const times = timeFile();
  const spawnedAt = performance.now();
  const options = { stdio: ['ignore', stdout, 'pipe'] as ['ignore', 'ignore' | number, 'pipe'], detached: true };
  const child = track(times ? spawn(TIME, ['-f', '%U %S', '-o', times, cmd, ...args], options) : spawn(cmd, args, options));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString('utf8');
  });
  const done = new Promise<Exit>((resolve) => {
    child.on('error', (e) => resolve({ code: -1, stderr: String(e), cpu: NaN }));
    child.on('close', (code) => {
      let cpu = NaN;
      if (times) {
        try {
          const [u, s] = readFileSync(times, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
          cpu = u + s;
        } catch {
          // no figure
        }
        rmSync(times, { force: true });
      }
      resolve({ code, stderr, cpu });
    });
  });
  return { done, spawnedAt };
}

/** Writes `count` newline-separated messages of `size` bytes, each distinct (a counter and a rotating alphabet). */
export function writeMessageFile(path: string, count: number, size: number): void {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.repeat(Math.ceil(size / 62) + 2);
  const chunk = 50_000;
  writeFileSync(path, '');
  for (let start = 0; start < count; start += chunk) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const head = String(i).padStart(10, '0');
      lines.push(head + alphabet.slice(i % 62, i % 62 + size - head.length));
    }
    writeFileSync(path, lines.join('\n') + '\n', { flag: 'a' });
  }
}

export interface Timed {
  seconds: number;
  /** CPU seconds the client used (NaN if unknown). */
  clientCpu: number;
  ok: boolean;
  error?: string;
}

/** kcat -P from a file; the time is from spawn to exit (kcat exits once every message is acknowledged). */
export async function kcatProduce(bootstrap: string, topic: string, file: string, partition?: number): Promise<Timed> {
  const args = ['-P', '-b', bootstrap, '-t', topic, ...KCAT_PRODUCER, ...(partition === undefined ? [] : ['-p', String(partition)]), '-l', file];
  const { done, spawnedAt } = runToExit('kcat', args);
  const r = await done;
  const seconds = (performance.now() - spawnedAt) / 1000;
  const failed = r.code !== 0 || /fail|error/i.test(r.stderr);
  return { seconds, clientCpu: r.cpu, ok: !failed, ...(failed ? { error: `kcat -P exited ${r.code}: ${r.stderr.trim().split('\n').slice(0, 3).join(' / ')}` } : {}) };
}

export interface Consumed {
  messages: number;
  bytes: number;
  /** From the first byte kcat wrote to the last (start-up and the end-of-partition wait excluded). */
  activeSeconds: number;
  wallSeconds: number;
  clientCpu: number;
  ok: boolean;
  error?: string;
}

async function countLines(path: string): Promise<{ lines: number; bytes: number }> {
  let lines = 0;
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    let i = -1;
    while ((i = chunk.indexOf(10, i + 1)) !== -1) lines++;
  }
  return { lines, bytes };
}

/**
 * kcat -C -e -o beginning -q into a file; the file's size is watched every millisecond to time
 * the stretch in which messages arrived (kcat's own start-up and its end-of-partition detection,
 * about a second together, would otherwise dominate). Payload bytes exclude the newlines.
 */
export async function kcatConsume(bootstrap: string, topic: string, outFile: string): Promise<Consumed> {
  const fd = openSync(outFile, 'w');
  const { done, spawnedAt } = runToExit('kcat', ['-C', '-b', bootstrap, '-t', topic, ...KCAT_CONSUMER, '-e', '-o', 'beginning', '-q'], fd);
  let first = 0;
  let last = 0;
  let size = 0;
  let running = true;
  const watch = (async () => {
    while (running) {
      const s = fstatSync(fd).size;
      if (s !== size) {
        const now = performance.now();
        if (!first) first = now;
        last = now;
        size = s;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const r = await done;
  const wall = (performance.now() - spawnedAt) / 1000;
  running = false;
  await watch;
  const final = fstatSync(fd).size;
  if (final !== size) last = performance.now();
  closeSync(fd);
  const { lines, bytes } = await countLines(outFile);
  const ok = r.code === 0 && lines > 0;
  return {
    messages: lines, bytes: bytes - lines, activeSeconds: (last - first) / 1000, wallSeconds: wall, clientCpu: r.cpu, ok,
    ...(ok ? {} : { error: `kcat -C exited ${r.code} after ${lines} messages: ${r.stderr.trim().split('\n').slice(0, 3).join(' / ')}` }),
  };
}

function kafka(bootstrap: string) {
  return new Kafka({ clientId: 'samsa-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

/** kafkajs producer: batches of `batch` messages, `inFlight` sends at a time, acks=1; the time excludes connecting. */
export async function kafkajsProduce(bootstrap: string, topic: string, size: number, total: number, batch = 1000, inFlight = 4): Promise<Timed> {
  const producer = kafka(bootstrap).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  try {
    await producer.connect();
    const messages = Array.from({ length: batch }, (_, i) => ({ value: Buffer.alloc(size, 48 + (i % 62)) }));
    await producer.send({ topic, acks: 1, messages: messages.slice(0, 10) }); // creates the topic, warms the connection
    let next = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const worker = async () => {
      while (next < total) {
        next += batch;
        await producer.send({ topic, acks: 1, messages });
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const cpu = process.cpuUsage(cpu0);
    return { seconds: (performance.now() - t0) / 1000, clientCpu: (cpu.user + cpu.system) / 1e6, ok: true };
  } catch (e) {
    return { seconds: NaN, clientCpu: NaN, ok: false, error: `kafkajs producer: ${(e as Error).message}` };
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

export interface GroupConsumed {
  joinSeconds: number;
  activeSeconds: number;
  messages: number;
  ok: boolean;
  error?: string;
}

/** kafkajs group consumer from the beginning until `expected` messages arrived. */
export async function kafkajsConsume(bootstrap: string, topic: string, expected: number, timeoutMs = 15_000): Promise<GroupConsumed> {
  const consumer = kafka(bootstrap).consumer({ groupId: `samsa-bench-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 100 });
  const t00 = performance.now();
  let first = 0;
  let last = 0;
  let messages = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish!: (reason: string | null) => void;
    const finished = new Promise<string | null>((r) => (finish = r));
    const timer = setTimeout(() => finish(`timed out after ${timeoutMs} ms with ${messages} of ${expected} messages`), timeoutMs);
    consumer.on(consumer.events.CRASH, (e: { payload: { error: Error } }) => finish(`consumer crashed: ${e.payload.error.message}`));
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        if (!first) first = performance.now();
        messages += batch.messages.length;
        last = performance.now();
        if (messages >= expected) finish(null);
      },
    });
    const error = await finished;
    clearTimeout(timer);
    return { joinSeconds: (first - t00) / 1000, activeSeconds: (last - first) / 1000, messages, ok: error === null, ...(error ? { error } : {}) };
  } catch (e) {
    return { joinSeconds: NaN, activeSeconds: NaN, messages, ok: false, error: `kafkajs consumer: ${(e as Error).message}` };
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

/** The API keys a broker advertises in ApiVersions v0. */
export function advertisedApis(port: number, timeoutMs = 3000): Promise<Set<number>> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('ApiVersions timed out'));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('connect', () => s.write(encodeRequest(ApiKey.ApiVersions, 0, 1, 'samsa-bench', {})));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
      clearTimeout(timer);
      s.destroy();
      const { body } = decodeResponse(ApiKey.ApiVersions, 0, buf.subarray(4, 4 + buf.readInt32BE(0)));
      resolve(new Set((body.apiKeys as { apiKey: number }[]).map((k) => k.apiKey)));
    });
  });
}

/** Writes `total` bytes to the server in 1 MiB writes, ends, and waits for the server to close. */
export function blast(port: number, total: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(1 << 20, 120);
    const s = connect({ port, host: '127.0.0.1' });
    let t0 = 0;
    let sent = 0;
    s.on('error', reject);
    s.resume();
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          s.once('drain', pump);
          return;
        }
      }
      s.end();
    };
    s.on('connect', () => {
      t0 = performance.now();
      pump();
    });
    s.on('close', () => resolve((performance.now() - t0) / 1000));
  });
}

export interface FileWriteCost {
  /** CPU seconds of the writes that grow a new file (the kernel allocates every page). */
  fresh: number;
  /** CPU seconds of the same writes over the file just written (its pages cached). */
  cached: number;
  /**
   * CPU seconds of the same writes to another new file with O_DIRECT, from page-aligned memory
   * (what Samsa's disk engine does with large appends); null where O_DIRECT is refused.
   */
  direct: number | null;
}

/**
 * What writing `bytes` costs this machine apart from any broker: a Node process writes them in
 * 1 MiB writes to a new file in `dir`, then once more over the same file, then to another new
 * file with O_DIRECT, and reports the CPU of each pass. A broker that keeps what it is sent pays the first kind for every byte produced;
 * the mock cluster, which keeps a few MiB per partition, reuses its memory instead. The file is
 * left in place: deleting it would hand its pages, freshly touched, to whatever runs next.
 */
export async function fileWriteCost(dir: string, bytes: number): Promise<FileWriteCost> {
  const script = `
    const fs = require('fs');
    const [path, total] = [process.argv[1], Number(process.argv[2])];
    const chunk = Buffer.alloc(1 << 20, 120);
    const pass = () => {
      const fd = fs.openSync(path, fs.existsSync(path) ? 'r+' : 'w');
      const c0 = process.cpuUsage();
      for (let at = 0; at < total; at += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, total - at), at);
      const c = process.cpuUsage(c0);
      fs.closeSync(fd);
      return (c.user + c.system) / 1e6;
    };
    const directPass = () => {
      const aligned = Buffer.from(new WebAssembly.Memory({ initial: 16 }).buffer).fill(120);
      let fd;
      try {
        fd = fs.openSync(path + '-direct', fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_DIRECT);
      } catch {
        return null;
      }
      const c0 = process.cpuUsage();
      try {
        for (let at = 0; at < total; at += aligned.length) fs.writeSync(fd, aligned, 0, aligned.length, at);
      } catch {
        return null; // the kernel refused the aligned write
      } finally {
        fs.closeSync(fd);
      }
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1e6;
    };
    const fresh = pass();
    const cached = pass();
    console.log(JSON.stringify({ fresh, cached, direct: directPass() }));`;
  const path = join(dir, `write-cost-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const child = track(spawn(process.execPath, ['-e', script, path, String(bytes)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the write-cost process exited ${code}: ${stderr.trim().split('\n')[0] ?? ''}`);
  return JSON.parse(stdout) as FileWriteCost;
}

export interface Latency {
  sent: number;
  received: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
  ok: boolean;
  error?: string;
}

/**
 * confluent-kafka-python, one thread: a producer (linger.ms=0) sends `rate` messages a second to
 * partition 0, each carrying its send time, while a consumer (assign at the end, fetch.wait.max.ms=5)
 * waits in poll() between sends; latency = receive − send on the same monotonic clock.
 */
const LATENCY_PY = String.raw`
import json, sys, time
from confluent_kafka import Consumer, OFFSET_END, Producer, TopicPartition

bs, topic, rate, seconds, size = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
common = {'bootstrap.servers': bs, 'socket.nagle.disable': True}
errors = []
def report(err, msg):
    if err is not None and len(errors) < 5: errors.append(str(err))
p = Producer(dict(common, **{'linger.ms': 0, 'acks': 1}))
p.produce(topic, b'create', partition=0, on_delivery=report)
if p.flush(15) != 0 or errors:
    print(json.dumps({'error': 'could not produce the first message: %s' % errors})); sys.exit(0)
c = Consumer(dict(common, **{'group.id': 'samsa-bench-latency', 'enable.auto.commit': False, 'fetch.wait.max.ms': 5, 'enable.partition.eof': False}))
c.assign([TopicPartition(topic, 0, OFFSET_END)])
lat = []
def handle(m):
    if m is None or m.error(): return False
    v = m.value()
    if v[:1] == b'L': lat.append(time.perf_counter_ns() - int(v[1:20]))
    return True
deadline = time.perf_counter() + 15
warm = False
while not warm and time.perf_counter() < deadline:
    p.produce(topic, b'warm-up', partition=0); p.poll(0)
    end = time.perf_counter() + 0.05
    while time.perf_counter() < end:
        if handle(c.poll(0.01)): warm = True
if not warm:
    print(json.dumps({'error': 'the consumer never received a warm-up message'})); sys.exit(0)
end = time.perf_counter() + 0.3
while time.perf_counter() < end: handle(c.poll(0.01))
n = int(rate * seconds)
t0 = time.perf_counter() + 0.01
for i in range(n):
    target = t0 + i / rate
    while True:
        now = time.perf_counter()
        if now >= target: break
        handle(c.poll(max(0.001, target - now)))
    p.produce(topic, (b'L%019d' % time.perf_counter_ns()).ljust(size, b'x'), partition=0, on_delivery=report)
    p.poll(0)
elapsed = time.perf_counter() - t0
deadline = time.perf_counter() + 5
while len(lat) < n and time.perf_counter() < deadline:
    handle(c.poll(0.05)); p.poll(0)
p.flush(5)
c.close()
lat.sort()
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6 if lat else None
print(json.dumps({'sent': n, 'received': len(lat), 'rate': n / elapsed, 'p50': pick(0.5), 'p99': pick(0.99), 'max': lat[-1] / 1e6 if lat else None, 'errors': errors}))
`;

export async function pythonLatency(bootstrap: string, topic: string, scratch: string, rate: number, seconds: number, size: number): Promise<Latency> {
  const script = join(scratch, 'latency.py');
  writeFileSync(script, LATENCY_PY);
  const child = track(spawn(PYTHON, [script, bootstrap, topic, String(rate), String(seconds), String(size)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 10_000) err += d.toString('utf8');
  });
  const timer = setTimeout(() => signal(child, 'SIGKILL'), (seconds + 40) * 1000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  const bad = (error: string): Latency => ({ sent: 0, received: 0, rate: 0, p50: NaN, p99: NaN, max: NaN, ok: false, error });
  let j: { error?: string; sent: number; received: number; rate: number; p50: number; p99: number; max: number; errors: string[] };
  try {
    j = JSON.parse(out.trim().split('\n').pop() ?? '');
  } catch {
    return bad(`python exited ${code}: ${(out + err).trim().split('\n').slice(-3).join(' / ')}`);
  }
  if (j.error) return bad(j.error);
  const ok = j.received === j.sent && j.errors.length === 0;
  return {
    sent: j.sent, received: j.received, rate: j.rate, p50: j.p50, p99: j.p99, max: j.max, ok,
    ...(ok ? {} : { error: `${j.received}/${j.sent} received${j.errors.length ? `; delivery errors: ${j.errors.join('; ')}` : ''}` }),
  };
}
