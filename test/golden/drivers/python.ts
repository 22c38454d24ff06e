/**
 * The Python clients, each run as a /usr/bin/python3 script from test/golden/drivers/ that takes a
 * JSON plan on stdin and prints a JSON report. A codec whose library is missing is skipped by the
 * script (kafka-python refuses to build the producer) and recorded in scenario.notes.
 */
import path from 'node:path';
import { CODECS, driversSourceDir, standardMessages, topicFor, type Codec, type Scenario, type ScenarioProduce } from '../scenario.js';
import { compareConsumed, run, type ConsumedMessage } from './common.js';

const PYTHON = '/usr/bin/python3';

interface PyReport {
  produced: Codec[];
  skipped: { codec: Codec; reason: string }[];
  consumed?: ConsumedMessage[];
  errors: unknown[];
}

async function runScript(script: string, plan: unknown, timeoutMs: number): Promise<PyReport> {
  const r = await run(PYTHON, [path.join(driversSourceDir(), script)], { input: JSON.stringify(plan), timeoutMs });
  if (r.code !== 0) throw new Error(`${script} exited ${r.code}${r.timedOut ? ' (timeout)' : ''}:\n${r.stderr.slice(-4000)}`);
  return JSON.parse(r.stdout) as PyReport;
}

async function pythonVersionOf(module: string, expr: string): Promise<string> {
  const r = await run(PYTHON, ['-c', `import ${module}; print(${expr})`], { timeoutMs: 10000 });
  if (r.code !== 0) throw new Error(`${PYTHON} cannot import ${module}: ${r.stderr.trim().split('\n').pop()}`);
  return r.stdout.trim();
}

export async function runKafkaPython(address: string): Promise<Scenario> {
  const clientId = 'golden-kafka-python';
  const version = await pythonVersionOf('kafka', 'kafka.__version__');
  const produce: ScenarioProduce[] = CODECS.map((codec) => ({
    topic: topicFor(codec),
    partition: 0,
    codec,
    clientId,
    acks: 1,
    producerId: '-1',
    messages: standardMessages('kafka-python', codec, true),
  }));
  const golden = produce.find((p) => p.topic === 'golden')!.messages;
  const createTopics = CODECS.map((c) => ({ name: topicFor(c), numPartitions: 1, replicationFactor: 1 }));
  const report = await runScript(
    'kafka_python_driver.py',
    { address, clientId, createTopics, produce, group: { groupId: 'golden-group', topics: ['golden'], expected: golden.length } },
    90000,
  );
  const scenario: Scenario = {
    client: 'kafka-python',
    clientVersion: version,
    clientIds: [clientId],
    software: null, // kafka-python 2.0.2 only sends ApiVersions v0
    createTopics,
    produce: produce.filter((p) => report.produced.includes(p.codec)),
    groups: [{
      groupId: 'golden-group',
      clientId,
      topics: ['golden'],
      protocols: ['range', 'roundrobin'],
      commits: [{ topic: 'golden', partition: 0, offset: String(golden.length) }],
    }],
    topics: createTopics.map((t) => t.name),
    notes: report.skipped.map((s) => `codec ${s.codec} not captured: ${s.reason}`),
  };
  if (report.errors.length) scenario.notes.push(`errors: ${JSON.stringify(report.errors)}`);
  const problems = compareConsumed(golden, report.consumed ?? []);
  if (problems.length) scenario.notes.push(`consumer check failed: ${problems.join('; ')}`);
  return scenario;
}

export async function runConfluentKafka(address: string): Promise<Scenario> {
  const clientId = 'golden-confluent-kafka';
  const software = { name: 'golden-confluent-kafka', version: '1.7.0-golden' };
  const version = await pythonVersionOf('confluent_kafka', "confluent_kafka.version()[0] + ' / librdkafka ' + confluent_kafka.libversion()[0]");
  const codecs: Codec[] = ['snappy', 'zstd'];
  const produce: ScenarioProduce[] = codecs.map((codec) => ({
    topic: topicFor(codec),
    partition: 0,
    codec,
    clientId,
    acks: -1,
    producerId: '-1',
    uncompressedFallback: true,
    messages: standardMessages('confluent-kafka', codec, true),
  }));
  const createTopics = codecs.map((c) => ({ name: topicFor(c), numPartitions: 1, replicationFactor: 1 }));
  const report = await runScript('confluent_kafka_driver.py', { address, clientId, software, createTopics, produce }, 60000);
  if (report.errors.length) throw new Error(`confluent-kafka delivery errors: ${JSON.stringify(report.errors)}`);
  return {
    client: 'confluent-kafka',
    clientVersion: version,
    clientIds: [clientId],
    software,
    createTopics,
    produce: produce.filter((p) => report.produced.includes(p.codec)),
    groups: [],
    topics: createTopics.map((t) => t.name),
    notes: report.skipped.map((s) => `codec ${s.codec} not captured: ${s.reason}`),
  };
}
