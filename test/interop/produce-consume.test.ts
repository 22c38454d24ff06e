/**
 * Messages cross real clients unchanged: kafkajs producer → kcat consumer, and kcat producer →
 * confluent-kafka-python consumer (assign, no group), with every compression codec: keys, values,
 * headers, timestamps and order identical.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { registerKafkajsCodecs } from '../support/kafkajs-codecs.js';
import { PYTHON, run } from '../support/processes.js';

const { Kafka, logLevel, CompressionTypes } = kafkajs;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const KAFKAJS_CODEC = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD };

let broker: RunningBroker;
before(async () => {
  registerKafkajsCodecs();
  broker = await startBroker({ port: 0, config: { 'num.partitions': 1 } });
});
after(() => broker.stop());

interface KcatMessage {
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  headers: string[] | null;
  key: string | null;
  payload: string | null;
}

function kcatConsume(topic: string, count: number): Promise<KcatMessage[]> {
  return run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', 'beginning', '-c', String(count), '-e', '-J', '-q'], { timeoutMs: 30_000 }).then((r) => {
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as KcatMessage);
  });
}

for (const codec of CODECS) {
  test(`kafkajs (${codec}) → kcat`, async () => {
    const topic = `kjs-to-kcat-${codec}`;
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, clientId: 'interop' });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const base = Date.now() - 10_000;
    const messages = Array.from({ length: 50 }, (_, i) => ({
      key: i % 7 === 0 ? null : `key-${i}`,
      value: i % 11 === 5 ? null : `value-${i}-${'ü'.repeat(i % 3)}`,
      headers: i % 2 === 0 ? { h1: `hv-${i}`, h2: 'x' } : {},
      timestamp: String(base + i * 10),
    }));
    await producer.send({ topic, compression: KAFKAJS_CODEC[codec], messages: messages.slice(0, 20) });
    await producer.send({ topic, compression: KAFKAJS_CODEC[codec], messages: messages.slice(20) });
    await producer.disconnect();

    const got = await kcatConsume(topic, messages.length);
    assert.equal(got.length, messages.length);
    got.forEach((m, i) => {
      const want = messages[i];
      assert.equal(m.offset, i);
      assert.equal(m.key, want.key, `key of ${i}`);
      assert.equal(m.payload, want.value, `value of ${i}`);
      assert.equal(m.tstype, 'create');
      assert.equal(m.ts, Number(want.timestamp), `timestamp of ${i}`);
      const headers = Object.entries(want.headers).flat();
      assert.deepEqual(m.headers ?? [], headers, `headers of ${i}`);
    });
  });
}

const PY_CONSUMER = `
import json, sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'unused-assign-only', 'enable.auto.commit': False})
c.assign([TopicPartition(topic, 0, 0)])
out = []
while len(out) < count:
    m = c.poll(10.0)
    if m is None:
        break
    if m.error():
        raise SystemExit(str(m.error()))
    out.append({'offset': m.offset(), 'key': None if m.key() is None else m.key().decode(), 'value': None if m.value() is None else m.value().decode(),
                'headers': [[k, None if v is None else v.decode()] for k, v in (m.headers() or [])], 'ts': m.timestamp()})
c.close()
print(json.dumps(out))
`;

for (const codec of CODECS) {
  test(`kcat (${codec}) → confluent-kafka-python`, async () => {
    const topic = `kcat-to-py-${codec}`;
    const lines = Array.from({ length: 40 }, (_, i) => `k${i}\tv${i}-${'é'.repeat(i % 4)}`);
    const p = await run('kcat', ['-P', '-b', broker.bootstrap, '-t', topic, '-z', codec, '-K', '\t', '-H', 'source=kcat', '-H', `codec=${codec}`, '-X', 'topic.metadata.refresh.interval.ms=100'], { input: lines.join('\n') + '\n', timeoutMs: 30_000 });
    assert.equal(p.code, 0, p.stderr);
    const before = Date.now();
    const r = await run(PYTHON, ['-c', PY_CONSUMER, broker.bootstrap, topic, String(lines.length)], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { offset: number; key: string; value: string; headers: string[][]; ts: [number, number] }[];
    assert.equal(got.length, lines.length);
    got.forEach((m, i) => {
      assert.equal(m.offset, i);
      assert.equal(`${m.key}\t${m.value}`, lines[i]);
      assert.deepEqual(m.headers, [['source', 'kcat'], ['codec', codec]]);
      assert.equal(m.ts[0], 1, 'CreateTime');
      assert.ok(m.ts[1] > before - 120_000 && m.ts[1] <= Date.now(), `timestamp ${m.ts[1]}`);
    });
  });
}
