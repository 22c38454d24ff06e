/**
 * Volume on the disk engine: 1,000,000 small messages over 8 partitions from librdkafka (kcat),
 * read back with none missing, duplicated or reordered within a partition.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BrokerProcess, startBrokerProcess, tempDir } from '../support/processes.js';
import { byPartition, kcatProduce, kcatReadAll } from '../support/kcat.js';

const COUNT = 1_000_000;

test(`${COUNT} messages over 8 partitions come back complete and in order per partition`, { timeout: 300_000 }, async () => {
  const dir = tempDir();
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBrokerProcess(['--port', '0', '--data-dir', dir.path, '--set', 'num.partitions=8']);
    let input = '';
    for (let i = 0; i < COUNT; i++) input += `${i % 997}:${i}\n`;
    // Keyed messages, so librdkafka's hash partitioner spreads them over every partition.
    await kcatProduce(broker.bootstrap, 'volume', input, ['-K', ':', '-X', 'linger.ms=20', '-X', 'batch.num.messages=10000', '-X', 'queue.buffering.max.messages=1000000']);

    const read = await kcatReadAll(broker.bootstrap, 'volume');
    assert.equal(read.length, COUNT, 'every message came back once');
    const parts = byPartition(read);
    assert.equal(parts.size, 8, 'all 8 partitions were used');
    const seen = new Uint8Array(COUNT);
    for (const [p, msgs] of parts) {
      let last = -1;
      msgs.forEach((m, i) => {
        assert.equal(m.offset, i, `partition ${p}: offsets must be contiguous`);
        const v = Number(m.value);
        assert.ok(v > last, `partition ${p}: ${v} after ${last} is out of order`);
        last = v;
        assert.equal(seen[v], 0, `${v} duplicated`);
        seen[v] = 1;
      });
    }
    assert.equal(seen.reduce((a, b) => a + b, 0), COUNT);
  } finally {
    await broker?.stop();
    dir.remove();
  }
});
