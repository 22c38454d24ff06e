/**
 * The client compatibility suite: every scenario driven by every real client that supports it,
 * against Samsa (started here on an ephemeral port and data dir) or any broker given by --bootstrap.
 *
 *   node dist/compat/main.js [--bootstrap HOST:PORT] [--clients a,b] [--only PATTERN]
 *                            [--matrix FILE] [--expect samsa|none] [--strict] [--samsa DIR] [--parallel N] [--list]
 *
 * Prints `PASS client/scenario` / `FAIL client/scenario: reason` per scenario, then `N passed, M
 * failed`, and writes a Markdown matrix. Exits 1 on any unexpected result.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { HarnessAdmin } from './admin.js';
import { OpFailed, show } from './check.js';
import { CLIENTS, type Client } from './clients.js';
import { type Expectation, expectationFor } from './expectations.js';
import { type Op, type OpResult } from './ops.js';
import { ROOT, killAll, start } from './proc.js';
import { type Ctx, SCENARIOS, type Scenario, isCheckFailure } from './scenarios.js';

type Status = 'pass' | 'fail' | 'xfail' | 'xpass' | 'n/a';
// xpass: passed although listed in expectations.ts; a failure only with --strict.

interface Outcome {
  client: string;
  scenario: string;
  status: Status;
  reason?: string;
  expectation?: Expectation;
  notes: string[];
  ms: number;
}

interface Args {
  bootstrap: string | null;
  clients: string[] | null;
  only: RegExp | null;
  matrix: string | null;
  expect: string | null;
  parallel: number;
  list: boolean;
  strict: boolean;
  samsa: string;
}

const USAGE = `usage: npm run compat -- [--bootstrap HOST:PORT] [--clients a,b,...] [--only PATTERN] [--matrix FILE] [--expect samsa|none] [--strict] [--samsa DIR] [--parallel N] [--list]
  --bootstrap  a running Kafka-compatible broker; without it a Samsa broker is started on an ephemeral port and data dir
  --clients    comma-separated client names (default: all): ${CLIENTS.map((c) => c.name).join(', ')}
  --only       run only client/scenario names matching this regular expression (e.g. 'kafkajs/' or 'compression')
  --matrix     where to write the Markdown matrix (default compat/MATRIX.md for a full run on Samsa, else compat/matrix.local.md)
  --expect     which expected-failure list applies (default: samsa when the suite starts Samsa, none with --bootstrap)
  --strict     a scenario listed as an expected failure that passes fails the run (default: reported as XPASS)
  --samsa      the Samsa checkout to start (its dist/samsa.mjs; default this repository)
  --parallel   scenarios run at once (default 2)
  --list       print the clients and scenarios and exit`;

function parseArgs(argv: string[]): Args {
  const a: Args = { bootstrap: null, clients: null, only: null, matrix: null, expect: null, parallel: 2, list: false, strict: false, samsa: ROOT };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value\n${USAGE}`);
      return x;
    };
    if (k === '--bootstrap') a.bootstrap = v();
    else if (k === '--clients') a.clients = v().split(',').map((s) => s.trim()).filter(Boolean);
    else if (k === '--only') a.only = new RegExp(v());
    else if (k === '--matrix') a.matrix = v();
    else if (k === '--expect') a.expect = v();
    else if (k === '--parallel') a.parallel = Math.max(1, Number(v()));
    else if (k === '--list') a.list = true;
    else if (k === '--strict') a.strict = true;
    else if (k === '--samsa') a.samsa = v();
    else if (k === '--help' || k === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${k}\n${USAGE}`);
  }
  if (a.clients) for (const c of a.clients) if (!CLIENTS.some((x) => x.name === c)) throw new Error(`unknown client ${c}; known: ${CLIENTS.map((x) => x.name).join(', ')}`);
  return a;
}

interface OwnBroker {
  bootstrap: string;
  version: string;
  stop(): Promise<void>;
  logFile: string;
}

/** Starts Samsa (the CLI, as a separate process) on a free port with a fresh data directory. */
async function startSamsa(samsaDir: string): Promise<OwnBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'samsa-compat-'));
  const logFile = join(dir, 'broker.log');
  const bundle = join(samsaDir, 'dist/samsa.mjs');
  const cli = existsSync(bundle) ? bundle : join(samsaDir, 'dist/src/cli/main.js');
  const child = start(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dir, 'data'), '--log-level', 'info', '--set', 'group.initial.rebalance.delay.ms=0']);
  const logs: string[] = [];
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => reject(new Error(`Samsa did not start:\n${logs.join('\n')}`)), 20000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        if (logs.length > 20000) logs.splice(0, 10000);
        try {
          const j = JSON.parse(line) as { listening?: string };
          if (j.listening) {
            clearTimeout(timer);
            resolve(`127.0.0.1:${j.listening.split(':').pop()}`);
          }
        } catch {
          // not JSON
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => logs.push(d));
    child.on('exit', (code) => reject(new Error(`Samsa exited with ${code}:\n${logs.join('\n')}`)));
  });
  let version = (JSON.parse(readFileSync(join(samsaDir, 'package.json'), 'utf8')) as { version: string }).version;
  const git = spawnSync('git', ['-C', samsaDir, 'describe', '--always', '--dirty'], { encoding: 'utf8' });
  if (git.status === 0 && git.stdout.trim()) version += ` (${git.stdout.trim()})`;
  return {
    bootstrap,
    version,
    logFile,
    async stop() {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      child.kill('SIGKILL');
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      writeFileSync(logFile, logs.join('\n'));
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p.finally(() => clearTimeout(timer)), new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms)))]);
}

let nameCounter = 0;

async function runScenario(s: Scenario, client: Client, bootstrap: string, runId: string): Promise<{ error?: unknown; notes: string[] }> {
  const admin = new HarnessAdmin(bootstrap);
  const topics = new Set<string>();
  const groups = new Set<string>();
  const notes: string[] = [];
  const prefix = `compat-${runId}-${client.name}-${s.name}`;
  const tryOp = (op: Op, timeoutMs = 20000): Promise<OpResult> => client.run({ bootstrap, clientId: prefix, op }, timeoutMs);
  const ctx: Ctx = {
    client,
    admin,
    bootstrap,
    fresh(kind) {
      const name = `${prefix}-${kind}-${++nameCounter}`;
      if (kind === 'topic') topics.add(name);
      if (kind === 'group') groups.add(name);
      return name;
    },
    async topic(partitions, configs) {
      const name = ctx.fresh('topic');
      await admin.createTopic(name, partitions, configs);
      return name;
    },
    tryOp,
    async op<T>(op: Op, timeoutMs?: number) {
      const r = await tryOp(op, timeoutMs);
      if (!r.ok) throw new OpFailed(op.op, r.error);
      return r as unknown as T;
    },
    note: (t) => notes.push(t),
  };
  let error: unknown;
  try {
    await withTimeout(admin.connect(), 20000, 'harness admin connect');
    await withTimeout(s.run(ctx), s.timeoutMs, 'scenario');
  } catch (e) {
    error = e;
  }
  // Clean up: the scenario's groups and topics (whoever created them).
  try {
    const existing = new Set(await admin.listTopics());
    await admin.deleteTopics([...topics].filter((t) => existing.has(t)));
  } catch (e) {
    notes.push(`cleanup of topics failed: ${(e as Error).message}`);
  }
  for (const g of groups) await admin.deleteGroups([g]).catch(() => {});
  await admin.close();
  return { error, notes };
}

function reasonOf(e: unknown): string {
  if (isCheckFailure(e)) return e.message;
  const err = e as Error;
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`.replace(/\s+/g, ' ');
}

async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await f(items[next++]);
    }),
  );
}

const CELL: Record<Status, string> = { pass: '✅', fail: '❌', xfail: '⚠️', xpass: '❗', 'n/a': '—' };

function matrixMarkdown(outcomes: Outcome[], clients: Client[], versions: Map<string, string>, scenarios: Scenario[], header: string[]): string {
  const get = (c: string, s: string) => outcomes.find((o) => o.client === c && o.scenario === s);
  const out: string[] = ['# Client compatibility matrix', '', ...header, ''];
  out.push(`| scenario | ${clients.map((c) => `${c.name}<br>${versions.get(c.name) ?? '?'}`).join(' | ')} |`);
  out.push(`| --- | ${clients.map(() => ':---:').join(' | ')} |`);
  for (const s of scenarios) {
    const cells = clients.map((c) => {
      const o = get(c.name, s.name);
      if (!o) return ' ';
      return o.status === 'xfail' && o.expectation ? `${CELL.xfail} #${o.expectation.issue}` : CELL[o.status];
    });
    out.push(`| ${s.name} | ${cells.join(' | ')} |`);
  }
  out.push('', `${CELL.pass} passed · ${CELL.fail} failed · ${CELL.xfail} expected failure (waits for the issue named) · ${CELL.xpass} passed but marked as expected to fail · ${CELL['n/a']} the client has no such feature`, '');
  out.push('## Scenarios', '', ...scenarios.map((s) => `- **${s.name}**: ${s.title}.`), '');
  const section = (title: string, st: Status[], text: (o: Outcome) => string) => {
    const xs = outcomes.filter((o) => st.includes(o.status));
    if (xs.length) out.push(`## ${title}`, '', ...xs.map((o) => `- ${o.client}/${o.scenario}: ${text(o)}`), '');
  };
  section('Failures', ['fail', 'xpass'], (o) => o.reason ?? '');
  section('Expected failures', ['xfail'], (o) => `waits for #${o.expectation!.issue} (${o.expectation!.reason}); fails with: ${o.reason}`);
  section('Not supported by the client', ['n/a'], (o) => o.reason ?? '');
  const noted = outcomes.filter((o) => o.notes.length && o.status === 'pass');
  if (noted.length) out.push('## Notes', '', ...noted.map((o) => `- ${o.client}/${o.scenario}: ${o.notes.join('; ')}`), '');
  out.push('## Clients', '', ...clients.map((c) => `- **${c.name}** ${versions.get(c.name) ?? ''}: ${c.source}`), '');
  return out.join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const clients = CLIENTS.filter((c) => !args.clients || args.clients.includes(c.name));
  const selected = (c: Client, s: Scenario) => !args.only || args.only.test(`${c.name}/${s.name}`);
  if (args.list) {
    for (const c of clients) console.log(`${c.name}: ${SCENARIOS.filter((s) => selected(c, s)).map((s) => (c.unsupported[s.name] ? `(${s.name})` : s.name)).join(' ')}`);
    return 0;
  }
  const began = Date.now();
  const own = args.bootstrap ? null : await startSamsa(args.samsa);
  const bootstrap = args.bootstrap ?? own!.bootstrap;
  const target = args.expect === 'none' ? null : (args.expect ?? (own ? 'samsa' : null));
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  console.log(`compat: ${own ? `Samsa ${own.version} started at ${bootstrap}` : `broker at ${bootstrap}`}${target ? `; expected failures: ${target}` : ''}`);

  const probe = new HarnessAdmin(bootstrap);
  const outcomes: Outcome[] = [];
  const versions = new Map<string, string>();
  const broken = new Map<string, string>();
  try {
    await withTimeout(probe.connect(), 30000, `connecting to ${bootstrap}`);
    await probe.close();
    const wanted = clients.filter((c) => SCENARIOS.some((s) => selected(c, s)));
    await Promise.all(
      wanted.map(async (c) => {
        try {
          await c.prepare?.();
          versions.set(c.name, await c.version());
        } catch (e) {
          broken.set(c.name, (e as Error).message.replace(/\s+/g, ' ').slice(0, 400));
          versions.set(c.name, 'unavailable');
        }
      }),
    );
    for (const c of wanted) console.log(`compat: ${c.name} ${versions.get(c.name)}${broken.has(c.name) ? `: ${broken.get(c.name)}` : ''}`);
    const runId = Date.now().toString(36);
    const tasks: { c: Client; s: Scenario }[] = [];
    // Interleave clients so that parallel lanes rarely run two scenarios of one client at once.
    for (const s of SCENARIOS) for (const c of wanted) if (selected(c, s)) tasks.push({ c, s });
    await pool(tasks, args.parallel, async ({ c, s }) => {
      const t0 = Date.now();
      const record = (o: Omit<Outcome, 'client' | 'scenario' | 'ms'>) => {
        const full: Outcome = { client: c.name, scenario: s.name, ms: Date.now() - t0, ...o };
        outcomes.push(full);
        const id = `${c.name}/${s.name}`;
        if (o.status === 'pass') console.log(`PASS ${id}`);
        else if (o.status === 'fail') console.log(`FAIL ${id}: ${o.reason}`);
        else if (o.status === 'xfail') console.log(`XFAIL ${id}: ${o.reason} (expected: waits for #${o.expectation!.issue})`);
        else if (o.status === 'xpass') console.log(`${args.strict ? 'FAIL' : 'XPASS'} ${id}: ${o.reason}`);
      };
      const unsupported = c.unsupported[s.name];
      if (unsupported) return record({ status: 'n/a', reason: unsupported, notes: [] });
      const expectation = expectationFor(target, c.name, s.name);
      if (broken.has(c.name)) {
        const reason = `client unavailable: ${broken.get(c.name)}`;
        return record(expectation ? { status: 'xfail', reason, expectation, notes: [] } : { status: 'fail', reason, notes: [] });
      }
      const { error, notes } = await runScenario(s, c, bootstrap, runId);
      if (error === undefined) {
        if (expectation) return record({ status: 'xpass', reason: `passed, but compat/expectations.ts still expects it to fail (#${expectation.issue}): remove that entry`, expectation, notes });
        return record({ status: 'pass', notes });
      }
      const reason = reasonOf(error).slice(0, 500);
      record(expectation ? { status: 'xfail', reason, expectation, notes } : { status: 'fail', reason, notes });
    });
  } finally {
    await own?.stop();
  }

  const seconds = Math.round((Date.now() - began) / 1000);
  const count = (st: Status) => outcomes.filter((o) => o.status === st).length;
  const order = (o: Outcome) => SCENARIOS.findIndex((s) => s.name === o.scenario) * 100 + clients.findIndex((c) => c.name === o.client);
  outcomes.sort((a, b) => order(a) - order(b));
  const full = !args.only && !args.clients;
  const file = args.matrix ?? join(ROOT, 'compat', own && full ? 'MATRIX.md' : 'matrix.local.md');
  const header = [
    `Broker: ${own ? `Samsa ${own.version}, started by the suite (disk storage, \`group.initial.rebalance.delay.ms=0\`)` : `\`${bootstrap}\``}. Expected failures: ${target ?? 'none'}.`,
    `Run: \`npm run compat${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}\`, ${new Date().toISOString().slice(0, 10)}, ${seconds} s. ` +
      `${count('pass')} passed, ${count('fail')} failed, ${count('xfail')} expected failures, ${count('xpass') ? `${count('xpass')} passed although expected to fail, ` : ''}${count('n/a')} not supported by the client.`,
  ];
  const shown = SCENARIOS.filter((s) => outcomes.some((o) => o.scenario === s.name));
  writeFileSync(file, matrixMarkdown(outcomes, clients.filter((c) => outcomes.some((o) => o.client === c.name)), versions, shown, header));
  console.log(`compat: matrix written to ${relative(process.cwd(), file) || file}; ${seconds} s`);
  if (count('xfail')) console.log(`compat: ${count('xfail')} expected failures (${[...new Set(outcomes.filter((o) => o.status === 'xfail').map((o) => `#${o.expectation!.issue}`))].join(', ')}), ${count('n/a')} not supported by their client`);
  const failed = count('fail') + (args.strict ? count('xpass') : 0);
  if (count('xpass')) console.log(`compat: ${count('xpass')} listed as expected failures passed (XPASS): remove them from compat/expectations.ts`);
  if (failed && own) console.log(`compat: the broker's log is in ${own.logFile}`);
  else if (own) rmSync(dirname(own.logFile), { recursive: true, force: true });
  console.log(`${count('pass') + (args.strict ? 0 : count('xpass'))} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`compat: ${(e as Error).stack ?? show(e)}`);
    killAll();
    process.exit(2);
  },
);

