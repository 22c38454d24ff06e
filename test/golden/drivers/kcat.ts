/**
 * kcat (librdkafka 2.0.2): one producer run per codec (none to `golden`, the others to
 * `golden-<codec>`), a balanced consumer on `golden` in group `golden-group`, and `-L` metadata.
 * kcat's -H headers apply to every message of a run, and every message has a key (-K:).
 */
import { CODECS, topicFor, type Scenario, type ScenarioMessage } from '../scenario.js';
import { compareConsumed, run, type ConsumedMessage } from './common.js';

const KCAT = '/usr/bin/kcat';
const CLIENT_ID = 'golden-kcat';
const SOFTWARE = { name: 'golden-kcat', version: '1.7.1-golden' };

function kcatMessages(codec: string): ScenarioMessage[] {
  const headers: [string, string][] = [['source', 'kcat'], ['trace', `t-${codec}`], ['dup', 'first'], ['dup', 'second']];
  return [
    { key: 'key-0', value: `kcat ${codec} message 0`, headers },
    { key: 'key-1', value: `kcat ${codec} ünïcödé ✓ 日本`, headers },
    { key: 'key-2', value: `kcat ${codec} `.concat('abcdefgh'.repeat(40)), headers },
  ];
}

export async function runKcat(address: string): Promise<Scenario> {
  const common = ['-b', address, '-X', `client.id=${CLIENT_ID}`, '-X', `client.software.name=${SOFTWARE.name}`, '-X', `client.software.version=${SOFTWARE.version}`];
  const scenario: Scenario = {
    client: 'kcat',
    clientVersion: 'kcat 1.7.1 / librdkafka 2.0.2',
    clientIds: [CLIENT_ID],
    software: SOFTWARE,
    createTopics: [],
    produce: [],
    groups: [],
    topics: CODECS.map(topicFor),
    notes: [],
  };

  for (const codec of CODECS) {
    const topic = topicFor(codec);
    const messages = kcatMessages(codec);
    const headerArgs = messages[0]!.headers.flatMap(([k, v]) => ['-H', `${k}=${v}`]);
    const args = ['-P', ...common, '-t', topic, '-p', '0', '-K', ':', ...headerArgs, '-X', 'linger.ms=50', '-X', 'acks=all'];
    if (codec !== 'none') args.push('-z', codec);
    const input = messages.map((m) => `${m.key}:${m.value}\n`).join('');
    const r = await run(KCAT, args, { input, timeoutMs: 20000 });
    if (r.code !== 0) throw new Error(`kcat -P ${codec} exited ${r.code}${r.timedOut ? ' (timeout)' : ''}: ${r.stderr}`);
    scenario.produce.push({ topic, partition: 0, codec, clientId: CLIENT_ID, acks: -1, producerId: '-1', uncompressedFallback: codec !== 'none', messages });
  }

  const golden = scenario.produce.find((p) => p.topic === 'golden')!.messages;
  const consume = await run(
    KCAT,
    [
      ...common, '-G', 'golden-group', '-c', String(golden.length), '-e', '-J',
      '-X', 'auto.offset.reset=earliest', '-X', 'auto.commit.interval.ms=200', '-X', 'fetch.wait.max.ms=100',
      'golden',
    ],
    { timeoutMs: 30000 },
  );
  if (consume.code !== 0) throw new Error(`kcat -G exited ${consume.code}${consume.timedOut ? ' (timeout)' : ''}: ${consume.stderr}`);
  const got: ConsumedMessage[] = consume.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      const j = JSON.parse(l) as { topic: string; partition: number; offset: number; key: string | null; payload: string | null; headers?: string[] };
      const h: [string, string][] = [];
      for (let i = 0; i + 1 < (j.headers ?? []).length; i += 2) h.push([j.headers![i]!, j.headers![i + 1]!]);
      return { topic: j.topic, partition: j.partition, offset: String(j.offset), key: j.key, value: j.payload, headers: h };
    });
  const problems = compareConsumed(golden, got);
  if (problems.length) scenario.notes.push(`consumer check failed: ${problems.join('; ')}`);
  scenario.groups.push({
    groupId: 'golden-group',
    clientId: CLIENT_ID,
    topics: ['golden'],
    protocols: ['range', 'roundrobin'],
    commits: [{ topic: 'golden', partition: 0, offset: String(golden.length) }],
  });

  const meta = await run(KCAT, ['-L', ...common, '-J'], { timeoutMs: 20000 });
  if (meta.code !== 0) throw new Error(`kcat -L exited ${meta.code}: ${meta.stderr}`);
  const listed = (JSON.parse(meta.stdout) as { topics: { topic: string }[] }).topics.map((t) => t.topic).sort();
  const expected = [...scenario.topics].sort();
  if (JSON.stringify(listed) !== JSON.stringify(expected)) scenario.notes.push(`kcat -L listed ${listed.join(',')}, expected ${expected.join(',')}`);
  return scenario;
}
