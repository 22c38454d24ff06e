/**
 * kcat driver: every op is one or more kcat command lines (-P, -C, -G, -L), as a shell user would
 * write them. Runs in the harness process; kcat itself is the client (librdkafka from Debian).
 */
import type { ChildProcess } from 'node:child_process';
import type { Client } from '../clients.js';
import type { InMessage, Op, OpRequest, OpResult, OutMessage, RebalanceResult, StaticResult } from '../ops.js';
import { run, start } from '../proc.js';

const KCAT = 'kcat';

type Result = Record<string, unknown>;

class KcatError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(25);
  }
}

/** The last "% ..." error lines kcat printed. */
function kcatErrors(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => /ERROR|fail|error/i.test(l));
  return (lines.length ? lines : stderr.split('\n')).slice(-3).join(' | ').trim();
}

function parseJsonLines(out: string): InMessage[] {
  const got: InMessage[] = [];
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const j = JSON.parse(line) as { partition: number; offset: number; ts: number; headers?: string[]; key: string | null; payload: string | null };
    const headers: [string, string][] = [];
    for (let i = 0; j.headers && i + 1 < j.headers.length; i += 2) headers.push([j.headers[i], j.headers[i + 1]]);
    got.push({ partition: j.partition, offset: j.offset, key: j.key, value: j.payload, headers, timestamp: j.ts });
  }
  return got;
}

/** Produces messages, one kcat -P per run of messages sharing headers and partition (kcat's -H and -p apply to a whole run). */
async function produce(b: string, topic: string, messages: OutMessage[], extra: string[]): Promise<void> {
  const runs: OutMessage[][] = [];
  for (const m of messages) {
    const last = runs[runs.length - 1];
    const same = last && JSON.stringify(last[0].headers ?? []) === JSON.stringify(m.headers ?? []) && last[0].partition === m.partition;
    if (same) last.push(m);
    else runs.push([m]);
  }
  for (const r of runs) {
    const headers = (r[0].headers ?? []).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
    const partition = r[0].partition !== undefined ? ['-p', String(r[0].partition)] : [];
    // Key and value separated by a tab (-K); a line without a tab has no key; -Z makes an empty value null.
    const input = r.map((m) => (m.key === null ? '' : `${m.key}\t`) + (m.value ?? '') + '\n').join('');
    const res = await run(KCAT, ['-P', '-b', b, '-t', topic, '-K', '\t', '-Z', ...partition, ...headers, '-X', 'allow.auto.create.topics=false', '-X', 'topic.metadata.propagation.max.ms=2000', '-X', 'acks=all', ...extra], {
      input,
      timeoutMs: 30000,
    });
    if (res.code !== 0) throw new KcatError(kcatErrors(res.stderr) || `kcat exited with ${res.code}`);
  }
}

interface Member {
  proc: ChildProcess;
  consumed: InMessage[];
  assigned: number[];
  /** "rebalanced" lines (assign and revoke events). */
  events: number;
  stderr: string;
  exited: Promise<void>;
}

/** A long-running kcat -G group member; parses its JSON output and its rebalance notices. */
function member(b: string, group: string, topic: string, extra: string[]): Member {
  const proc = start(KCAT, ['-b', b, '-G', group, topic, '-J', '-u', '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=10000', '-X', 'heartbeat.interval.ms=500', ...extra]);
  const m: Member = { proc, consumed: [], assigned: [], events: 0, stderr: '', exited: new Promise((r) => proc.on('close', () => r())) };
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    m.consumed.push(...parseJsonLines(lines.join('\n')));
  });
  let ePartial = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    m.stderr += d;
    const lines = (ePartial + d).split('\n');
    ePartial = lines.pop()!;
    for (const line of lines) {
      const x = /rebalanced .*: (assigned|revoked): (.*)$/.exec(line);
      if (!x) continue;
      m.events++;
      const parts = [...x[2].matchAll(/\[(\d+)\]/g)].map((y) => Number(y[1])).sort((p, q) => p - q);
      m.assigned = x[1] === 'assigned' ? parts : [];
    }
  });
  return m;
}

async function stop(m: Member): Promise<void> {
  m.proc.kill('SIGTERM');
  await Promise.race([m.exited, sleep(8000)]);
  m.proc.kill('SIGKILL');
}

async function doOp(op: Op, b: string): Promise<Result> {
  switch (op.op) {
    case 'version': {
      const r = await run(KCAT, ['-V'], { timeoutMs: 10000 });
      const v = /Version ([^\s]+)/.exec(r.stdout)?.[1];
      const lib = /librdkafka ([^\s]+)/.exec(r.stdout)?.[1];
      if (!v) throw new Error(`kcat -V: ${r.stdout}${r.stderr}`);
      return { version: `${v} (librdkafka ${lib ?? '?'})` };
    }
    case 'listTopics': {
      const r = await run(KCAT, ['-L', '-J', '-b', b], { timeoutMs: 20000 });
      if (r.code !== 0) throw new KcatError(kcatErrors(r.stderr));
      return { topics: (JSON.parse(r.stdout) as { topics: { topic: string }[] }).topics.map((t) => t.topic) };
    }
    case 'describeTopic': {
      const r = await run(KCAT, ['-L', '-J', '-b', b, '-t', op.topic], { timeoutMs: 20000 });
      if (r.code !== 0) throw new KcatError(kcatErrors(r.stderr));
      const t = (JSON.parse(r.stdout) as { topics: { topic: string; partitions: unknown[]; error?: string }[] }).topics.find((x) => x.topic === op.topic);
      if (!t || t.error) throw new KcatError(`topic ${op.topic}: ${t?.error ?? 'not listed'}`);
      return { partitions: t.partitions.length };
    }
    case 'produce': {
      const extra = [...(op.compression && op.compression !== 'none' ? ['-z', op.compression] : []), ...(op.idempotent ? ['-X', 'enable.idempotence=true'] : [])];
      await produce(b, op.topic, op.messages, extra);
      return {};
    }
    case 'consume': {
      const from = op.from === 'earliest' ? 'beginning' : 'offset' in op.from ? String(op.from.offset) : `s@${op.from.timestamp}`;
      const args = ['-C', '-b', b, '-t', op.topic, '-p', String(op.partition), '-o', from, '-c', String(op.count), '-J', '-X', `isolation.level=${op.isolation ?? 'read_committed'}`, '-X', 'fetch.wait.max.ms=100'];
      if (op.strict) args.push('-X', 'auto.offset.reset=error', '-e');
      const r = await run(KCAT, args, { timeoutMs: op.timeoutMs });
      const messages = parseJsonLines(r.stdout);
      if (r.code !== 0 && !r.timedOut) throw new KcatError(kcatErrors(r.stderr));
      return { messages };
    }
    case 'groupConsume': {
      // -c: stop after exactly `count` messages; kcat commits what it consumed when it closes.
      const r = await run(KCAT, ['-b', b, '-G', op.group, op.topic, '-J', '-c', String(op.count), '-X', 'auto.offset.reset=earliest', '-X', 'fetch.wait.max.ms=100'], { timeoutMs: op.timeoutMs });
      if (r.code !== 0 && !r.timedOut) throw new KcatError(kcatErrors(r.stderr));
      return { messages: parseJsonLines(r.stdout) };
    }
    case 'rebalance': {
      const members: Member[] = [];
      const result: RebalanceResult = { phase1: [], phase2: null, consumed: { A: [], B: [] } };
      try {
        const a = member(b, op.group, op.topic, []);
        members.push(a);
        await until(() => a.consumed.length >= op.preCount && a.assigned.length === op.partitions, op.timeoutMs, `member A alone (${a.stderr.slice(-300)})`);
        result.phase1 = [...a.assigned];
        const bm = member(b, op.group, op.topic, []);
        members.push(bm);
        const split = () => a.assigned.length > 0 && bm.assigned.length > 0 && a.assigned.length + bm.assigned.length === op.partitions && a.assigned.every((p) => !bm.assigned.includes(p));
        await until(split, op.timeoutMs, 'A and B sharing the partitions');
        result.phase2 = { A: [...a.assigned], B: [...bm.assigned] };
        for (let p = 0; p < op.partitions; p++) await produce(b, op.topic, [0, 1].map((i) => ({ key: null, value: `post-${p}-${i}`, partition: p })), []);
        const all = () => [...a.consumed, ...bm.consumed].map((m) => m.value);
        await until(() => Array.from({ length: op.partitions * 2 }, (_, i) => `post-${i >> 1}-${i & 1}`).every((v) => all().includes(v)), op.timeoutMs, 'post-rebalance messages consumed');
        result.consumed.A = a.consumed.map((m) => ({ partition: m.partition, value: m.value! }));
        result.consumed.B = bm.consumed.map((m) => ({ partition: m.partition, value: m.value! }));
        return result as unknown as Result;
      } finally {
        await Promise.all(members.map(stop));
      }
    }
    case 'staticMembership': {
      const members: Member[] = [];
      const opts = (id: string) => ['-X', `group.instance.id=${id}`, '-X', 'partition.assignment.strategy=range'];
      try {
        const a = member(b, op.group, op.topic, opts('a'));
        const bm = member(b, op.group, op.topic, opts('b'));
        members.push(a, bm);
        const split = () => a.assigned.length === 1 && bm.assigned.length === 1 && a.assigned[0] !== bm.assigned[0];
        await until(split, op.timeoutMs, `A and B with one partition each (A ${a.assigned}, B ${bm.assigned})`);
        await sleep(1500);
        const result: StaticResult = { before: { A: [...a.assigned], B: [...bm.assigned] }, after: { A: [] }, bEventsBefore: bm.events, bEventsAfter: 0 };
        await stop(a);
        const a2 = member(b, op.group, op.topic, opts('a'));
        members.push(a2);
        await until(() => a2.assigned.length > 0, op.timeoutMs, 'restarted A assigned');
        await sleep(3000);
        result.after.A = [...a2.assigned];
        result.bEventsAfter = bm.events;
        return result as unknown as Result;
      } finally {
        await Promise.all(members.map(stop));
      }
    }
    default:
      throw Object.assign(new Error(`kcat cannot do ${op.op}`), { name: 'NotImplemented' });
  }
}

export function kcatDriver(): Pick<Client, 'run' | 'version'> {
  const self = {
    async run(req: OpRequest, timeoutMs: number): Promise<OpResult> {
      let timer: NodeJS.Timeout | undefined;
      try {
        const r = await Promise.race([
          doOp(req.op, req.bootstrap),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(`${req.op.op}: timed out after ${timeoutMs} ms`), { name: 'DriverTimeout' })), timeoutMs))),
        ]);
        return { ok: true, ...r };
      } catch (e) {
        const err = e as KcatError;
        return { ok: false, error: { name: err.name === 'Error' ? 'KcatError' : err.name, message: err.message, ...(err.code !== undefined ? { code: err.code } : {}) } };
      } finally {
        clearTimeout(timer);
      }
    },
    async version() {
      const r = await self.run({ bootstrap: '', clientId: '', op: { op: 'version' } }, 10000);
      if (!r.ok) throw new Error(r.error.message);
      return String(r.version);
    },
  };
  return self;
}
