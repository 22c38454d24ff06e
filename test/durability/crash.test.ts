/**
 * Crash safety on the disk engine: a broker killed with SIGKILL while acks=all producers write loses
 * nothing it acknowledged; after restart offsets continue without gaps or reuse. A segment cut
 * in the middle of a batch by hand is truncated back to the last whole batch.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type BrokerProcess, sleep, startBrokerProcess, tempDir } from '../support/processes.js';
import { byPartition, kcatProduce, kcatReadAll } from '../support/kcat.js';

const { Kafka, logLevel } = kafkajs;

function brokerArgs(dataDir: string, port = 0): string[] {
  return ['--port', String(port), '--data-dir', dataDir, '--set', 'num.partitions=3'];
}

interface Ack {
  partition: number;
  offset: number;
  value: string;
}

test('SIGKILL during acks=all production loses no acknowledged message; offsets continue', async () => {
  const dir = tempDir();
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBrokerProcess(brokerArgs(dir.path));
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'crash', numPartitions: 3 }] });
    await admin.disconnect();

    const acks: Ack[] = [];
    let seq = 0;
    let stop = false;
    // Four concurrent writers, each sending small batches to every partition with acks=all.
    const writer = async () => {
      const producer = kafka.producer({ retry: { retries: 0 } });
      await producer.connect();
      while (!stop) {
        const messages = Array.from({ length: 20 }, () => ({ value: `m${seq++}`, partition: seq % 3 }));
        try {
          const result = await producer.send({ topic: 'crash', acks: -1, messages });
          for (const r of result) {
            const mine = messages.filter((m) => m.partition === r.partition);
            mine.forEach((m, i) => acks.push({ partition: r.partition, offset: Number(r.baseOffset) + i, value: m.value }));
          }
        } catch {
          break; // the broker is gone
        }
      }
      await producer.disconnect().catch(() => {});
    };
    const writers = [writer(), writer(), writer(), writer()];
    await sleep(700 + Math.floor(Math.random() * 800));
    await broker.kill();
    stop = true;
    await Promise.all(writers);
    assert.ok(acks.length > 100, `only ${acks.length} messages were acknowledged before the kill`);

    broker = await startBrokerProcess(brokerArgs(dir.path));
    const read = await kcatReadAll(broker.bootstrap, 'crash');
    const parts = byPartition(read);
    for (const [p, msgs] of parts) {
      msgs.forEach((m, i) => assert.equal(m.offset, i, `partition ${p}: gap or reordering at ${i}`));
    }
    const at = new Map(read.map((m) => [`${m.partition}/${m.offset}`, m.value]));
    for (const a of acks) assert.equal(at.get(`${a.partition}/${a.offset}`), a.value, `acknowledged ${a.value} at ${a.partition}/${a.offset} is missing`);

    // New writes continue where the log ends.
    const ends = [0, 1, 2].map((p) => parts.get(p)?.length ?? 0);
    const producer = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const after = await producer.send({ topic: 'crash', acks: -1, messages: [0, 1, 2].map((p) => ({ value: `after-${p}`, partition: p })) });
    await producer.disconnect();
    for (const r of after) assert.equal(Number(r.baseOffset), ends[r.partition], `partition ${r.partition} reused or skipped offsets`);
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('a segment cut in the middle of a batch is truncated to the last whole batch on restart', async () => {
  const dir = tempDir();
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBrokerProcess(brokerArgs(dir.path));
    // Ten batches of 10 messages (kcat sends one batch per produce run with a long linger).
    for (let b = 0; b < 10; b++) {
      await kcatProduce(broker.bootstrap, 'cut', Array.from({ length: 10 }, (_, i) => `b${b}-${i}`), ['-p', '0', '-X', 'linger.ms=50']);
    }
    await broker.kill();
    const partDir = join(dir.path, 'cut-0');
    const log = readdirSync(partDir).filter((f) => f.endsWith('.log')).sort().pop()!;
    const size = statSync(join(partDir, log)).size;
    truncateSync(join(partDir, log), size - 7); // into the last batch

    broker = await startBrokerProcess(brokerArgs(dir.path));
    const read = await kcatReadAll(broker.bootstrap, 'cut');
    assert.equal(read.length, 90, 'the nine whole batches survive, the cut one is gone');
    read.forEach((m, i) => assert.equal(m.offset, i));
    assert.equal(read[89].value, 'b8-9');
    await kcatProduce(broker.bootstrap, 'cut', ['again'], ['-p', '0', '-X', 'linger.ms=50']);
    const again = await kcatReadAll(broker.bootstrap, 'cut');
    assert.deepEqual(again.slice(-1).map((m) => [m.offset, m.value]), [[90, 'again']]);
    assert.ok(statSync(join(partDir, log)).size < size, 'the torn bytes were cut off');
  } finally {
    await broker?.stop();
    dir.remove();
  }
});

test('one broker per data directory: a second one is refused while the first runs, and takes over after a SIGKILL', async () => {
  const dir = tempDir();
  let first: BrokerProcess | undefined;
  let third: BrokerProcess | undefined;
  try {
    first = await startBrokerProcess(brokerArgs(dir.path));
    await kcatProduce(first.bootstrap, 'locked', ['a', 'b']);
    // Another port, the same directory: refused before it touches a partition.
    const second = await startBrokerProcess(brokerArgs(dir.path)).then(
      (b) => b.stop().then(() => 'started'),
      (e: Error) => e.message,
    );
    assert.match(second, /in use by process \d+/);
    assert.doesNotMatch(second, /loaded partition/);
    // The first one is untouched and still serves.
    await kcatProduce(first.bootstrap, 'locked', ['c']);
    assert.deepEqual((await kcatReadAll(first.bootstrap, 'locked')).map((m) => m.value).sort(), ['a', 'b', 'c']);
    // Killed, it leaves its lock behind; the next broker takes it over.
    await first.kill();
    first = undefined;
    third = await startBrokerProcess(brokerArgs(dir.path));
    assert.deepEqual((await kcatReadAll(third.bootstrap, 'locked')).map((m) => m.value).sort(), ['a', 'b', 'c']);
  } finally {
    await first?.kill();
    await third?.stop();
    dir.remove();
  }
});
