/**
 * Crash safety on the disk engine: a broker killed with SIGKILL while acks=all producers write loses
 * nothing it acknowledged; after restart offsets continue without gaps or reuse. A segment cut
 * in the middle of a batch by hand is truncated back to the last whole batch.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { BATCH_HEADER_SIZE, readBatchSize } from '../../protocol/records/index.js';
import { type BrokerProcess, sleep, startBrokerProcess, tempDir } from '../support/processes.js';
import { byPartition, kcatProduce, kcatReadAll } from '../support/kcat.js';
import { takesDirect } from '../storage/disk-helpers.js';

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

/** Where the whole batches at the start of a segment file end (zero padding reads as a batch shorter than any header). */
function wholeBatchesEnd(bytes: Buffer): number {
  let at = 0;
  while (at + BATCH_HEADER_SIZE <= bytes.length) {
    const size = readBatchSize(bytes, at);
    if (size < BATCH_HEADER_SIZE || at + size > bytes.length) break;
    at += size;
  }
  return at;
}

for (const direct of [true, false]) {
  test(`large batches (${direct ? 'written past the page cache' : 'samsa.log.direct.writes=false'}) survive SIGKILL byte for byte`, async (t) => {
    const dir = tempDir();
    if (direct && !(await takesDirect(dir.path))) {
      dir.remove();
      return t.skip('this filesystem refuses O_DIRECT');
    }
    const args = ['--port', '0', '--data-dir', dir.path, '--set', `samsa.log.direct.writes=${direct}`];
    let broker: BrokerProcess | undefined;
    try {
      broker = await startBrokerProcess(args);
      // 6,000 distinct 1 KiB messages: kcat sends them in batches of up to 1 MB, acks=all.
      const lines = Array.from({ length: 6000 }, (_, i) => `${String(i).padStart(6, '0')}-`.padEnd(1024, String.fromCharCode(97 + (i % 26))));
      await kcatProduce(broker.bootstrap, 'big', lines, ['-p', '0', '-X', 'acks=all', '-X', 'linger.ms=20']);
      const partDir = join(dir.path, 'big-0');
      const log = join(partDir, readdirSync(partDir).filter((f) => f.endsWith('.log')).sort().pop()!);
      const size = statSync(log).size;
      // Direct writes pad the active segment to a page; through the page cache it is the log itself.
      if (direct) assert.equal(size % 4096, 0, `the active segment (${size} B) is padded to a page boundary`);
      else assert.equal(wholeBatchesEnd(readFileSync(log)), size, 'the active segment holds whole batches and nothing else');
      await broker.kill();

      broker = await startBrokerProcess(args);
      const read = await kcatReadAll(broker.bootstrap, 'big');
      assert.equal(read.length, lines.length);
      read.forEach((m, i) => {
        assert.equal(m.offset, i);
        assert.equal(m.value, lines[i]);
      });
      const complaints = broker.logs.filter((l) => /"level":(40|50)/.test(l));
      assert.deepEqual(complaints, [], 'the restart reports no torn or invalid data');
      await kcatProduce(broker.bootstrap, 'big', ['after'], ['-p', '0']);
      const again = await kcatReadAll(broker.bootstrap, 'big');
      assert.deepEqual(again.slice(-1).map((m) => [m.offset, m.value]), [[lines.length, 'after']]);
      assert.equal((await broker.stop()), 0);
      broker = undefined;
      const bytes = readFileSync(log);
      assert.equal(wholeBatchesEnd(bytes), bytes.length, 'a clean stop leaves whole batches and nothing after them');
    } finally {
      await broker?.kill();
      dir.remove();
    }
  });
}

test('one broker per data directory: a second one is refused while the first runs, and takes over after a SIGKILL', async () => {
  const dir = tempDir();
  let first: BrokerProcess | undefined;
  let third: BrokerProcess | undefined;
  try {
    first = await startBrokerProcess(brokerArgs(dir.path));
    await kcatProduce(first.bootstrap, 'locked', ['a', 'b']);
    // Another port, the same directory: refused before it touches a partition.
    const second = await startBrokerProcess([...brokerArgs(dir.path), '--log-level', 'debug']).then(
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
