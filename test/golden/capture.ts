/**
 * Regenerates test/golden/fixtures/: runs each real client's fixed scenario against a fresh
 * CaptureBroker and stores its request frames plus scenario.json. Run by hand, not by `npm test`:
 *
 *   npx tsc -p . && node dist/test/golden/capture.js [client ...] [--verbose]
 *
 * Clients: kafkajs kcat kafka-python confluent-kafka platformatic (default: all). A client whose run
 * fails leaves its existing fixtures untouched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CaptureBroker } from './capture-broker.js';
import { runKafkajs } from './drivers/kafkajs.js';
import { runKcat } from './drivers/kcat.js';
import { runPlatformatic } from './drivers/platformatic.js';
import { runConfluentKafka, runKafkaPython } from './drivers/python.js';
import { fixturesDir, type Scenario } from './scenario.js';

type Driver = (address: string) => Promise<Scenario>;

export const DRIVERS: Record<string, Driver> = {
  kafkajs: runKafkajs,
  kcat: runKcat,
  'kafka-python': runKafkaPython,
  'confluent-kafka': runConfluentKafka,
  platformatic: runPlatformatic,
};

export async function captureClient(client: string, verbose = false): Promise<{ ok: boolean; scenario?: Scenario; error?: string }> {
  const driver = DRIVERS[client];
  if (!driver) throw new Error(`unknown client ${client}; known: ${Object.keys(DRIVERS).join(', ')}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `golden-${client}-`));
  const broker = await new CaptureBroker({ outDir: tmp, verbose }).start();
  let scenario: Scenario;
  try {
    scenario = await driver(broker.address);
  } catch (e) {
    await broker.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
    return { ok: false, error: (e as Error).stack ?? String(e) };
  }
  await broker.stop();
  if (broker.errors.length) {
    fs.rmSync(tmp, { recursive: true, force: true });
    return { ok: false, error: `capture broker errors:\n${broker.errors.join('\n')}` };
  }
  const unexpected = [...broker.topics.keys()].filter((t) => !scenario.topics.includes(t));
  if (unexpected.length) scenario.notes.push(`topics the broker saw that the scenario did not declare: ${unexpected.join(', ')}`);
  if (broker.defaulted.size) scenario.notes.push(`answered with an empty default body: ${[...broker.defaulted].sort().join(', ')}`);
  scenario.frames = broker.saved.length;
  scenario.skippedFrames = broker.skipped;
  fs.writeFileSync(path.join(tmp, 'scenario.json'), `${JSON.stringify(scenario, null, 2)}\n`);
  const dest = path.join(fixturesDir(), client);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.cpSync(tmp, dest, { recursive: true });
  fs.chmodSync(dest, 0o755); // mkdtemp made it 0700
  fs.rmSync(tmp, { recursive: true, force: true });
  return { ok: true, scenario };
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const wanted = argv.filter((a) => !a.startsWith('--'));
  const clients = wanted.length ? wanted : Object.keys(DRIVERS);
  let failed = 0;
  for (const client of clients) {
    const started = Date.now();
    process.stdout.write(`capturing ${client} ... `);
    const r = await captureClient(client, verbose);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (r.ok) {
      const s = r.scenario!;
      process.stdout.write(`${s.frames} frames (${s.skippedFrames} repeats skipped) in ${secs}s\n`);
      for (const n of s.notes) process.stdout.write(`  note: ${n}\n`);
    } else {
      failed++;
      process.stdout.write(`FAILED in ${secs}s\n${r.error}\n`);
    }
  }
  return failed ? 1 : 0;
}

// Node's test runner runs every .js under dist/test/; capturing only happens when invoked directly.
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain && process.env.NODE_TEST_CONTEXT === undefined) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(2);
    },
  );
}
