/**
 * Committed offsets survive a broker restart on the disk engine. A confluent-kafka-python
 * (librdkafka) group member consumes part of a topic, committing every message synchronously; the
 * broker process is stopped with SIGTERM (after the member left), or killed with SIGKILL (while the
 * member is still in the group, right after its last commit was acknowledged); a new broker on the
 * same data directory reports the same committed offsets, and a kafka-python consumer of the same
 * group resumes exactly there, so that across the restart every message is read once.
 * And a member that stays up while the broker restarts on the same port carries on as the same
 * member, without a rebalance, from its own commits.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type BrokerProcess, PYTHON, run, startBrokerProcess, tempDir } from '../support/processes.js';
import { type Produced, committedAndEnd, createTopics, describeGroup, produceEach, tpKey } from './support-py/group-checks.js';
import { PyProcess, SUPPORT_PY, waitUntil } from './support-py/py-process.js';

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const brokerArgs = (dir: string, port = 0) => ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dir, '--set', 'group.initial.rebalance.delay.ms=0', '--set', 'group.min.session.timeout.ms=1000'];

async function startBroker(dir: string, port = 0): Promise<BrokerProcess> {
  const b = await startBrokerProcess(brokerArgs(dir, port));
  cleanup.push(() => b.kill());
  return b;
}

interface KpResult {
  committed_before: Record<string, number | null>;
  messages: [number, number, string][];
  committed_after: Record<string, number | null>;
  end_offsets: Record<string, number>;
}

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  test(`committed offsets survive a broker restart (${how})`, { timeout: 60_000 }, async () => {
    const started = Date.now();
    const dir = tempDir('samsa-groups-restart-');
    cleanup.push(() => dir.remove());
    const topic = `restart-${how.toLowerCase()}`;
    const group = `restart-group-${how.toLowerCase()}`;

    const first = await startBroker(dir.path);
    await createTopics(first.bootstrap, [{ topic, numPartitions: 3 }]);
    const produced: Produced[] = await produceEach(first.bootstrap, topic, 3, 20, 'before');

    const member = new PyProcess('ck-committer', 'ck_member.py', {
      topics: [topic],
      limit: 25,
      conf: { 'bootstrap.servers': first.bootstrap, 'group.id': group, 'client.id': 'committer', 'session.timeout.ms': 3000 },
    });
    cleanup.push(() => member.kill());
    await waitUntil('25 messages consumed and committed', () => member.of('limit').length === 1, 20_000, [member]);
    assert.deepEqual(member.of('error'), [], member.diagnostics());
    const read = member.of('msg');
    assert.equal(read.length, 25);
    const committed = new Map<number, number>();
    for (const e of member.of('commit')) committed.set(e.p as number, Math.max(committed.get(e.p as number) ?? 0, e.o as number));
    assert.equal([...committed.values()].reduce((a, b) => a + b, 0), 25, 'commits cover the 25 messages');
    const before = await committedAndEnd(first.bootstrap, group, [topic]);
    for (const [p, o] of committed) assert.equal(before.committed.get(tpKey(topic, p)), o);

    let staleMember = '';
    if (how === 'SIGTERM') {
      assert.equal((await member.close()).code, 0, member.diagnostics());
      assert.equal(await first.stop(), 0, 'clean shutdown');
    } else {
      const g = await describeGroup(first.bootstrap, group);
      assert.equal(g.members.length, 1);
      staleMember = g.members[0].memberId;
      await first.kill(); // the last commit was acknowledged moments ago
      member.kill();
    }

    const second = await startBroker(dir.path);
    const afterRestart = await committedAndEnd(second.bootstrap, group, [topic]);
    for (let p = 0; p < 3; p++) {
      assert.equal(afterRestart.end.get(tpKey(topic, p)), 20, `log end of partition ${p} after restart`);
      assert.equal(afterRestart.committed.get(tpKey(topic, p)), committed.get(p) ?? -1, `committed offset of partition ${p} after restart`);
    }
    const restored = await describeGroup(second.bootstrap, group);
    if (how === 'SIGTERM') assert.deepEqual([restored.state, restored.members.length], ['Empty', 0]);
    // After a crash the group comes back as it was stored, its member there until its session expires.
    else assert.deepEqual(restored.members.map((m) => m.memberId), [staleMember]);

    // A kafka-python consumer of the group resumes at the committed offsets and reads the rest.
    const r = await run(PYTHON, [join(SUPPORT_PY, 'kp_consume.py'), JSON.stringify({ bootstrap: second.bootstrap, group, topic, count: null, commit: true })], { timeoutMs: 40_000 });
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const resumed = JSON.parse(r.stdout) as KpResult;
    const want = new Map(produced.map((m) => [`${m.p}@${m.o}`, m.v]));
    for (let p = 0; p < 3; p++) {
      const start = committed.get(p) ?? 0;
      assert.equal(resumed.committed_before[p], committed.get(p) ?? null, `committed() of partition ${p} after restart`);
      const offsets = resumed.messages.filter(([mp]) => mp === p).map(([, o]) => o);
      assert.deepEqual(offsets, Array.from({ length: 20 - start }, (_, i) => start + i), `partition ${p} resumed at ${start}`);
      assert.equal(resumed.committed_after[p], 20);
      assert.equal(resumed.end_offsets[p], 20);
    }
    for (const [p, o, v] of resumed.messages) assert.equal(v, want.get(`${p}@${o}`));
    const seen = new Set(read.map((e) => `${e.p}@${e.o}`));
    for (const [p, o] of resumed.messages) assert.ok(!seen.has(`${p}@${o}`), `${p}@${o} read again after the restart`);
    assert.equal(read.length + resumed.messages.length, 60);
    console.log(`# restart (${how}): ${Date.now() - started} ms`);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

test('a member that stays up rides through a broker restart (SIGTERM) on the same port', { timeout: 60_000 }, async () => {
  const started = Date.now();
  const dir = tempDir('samsa-groups-restart-');
  cleanup.push(() => dir.remove());
  const topic = 'restart-live';
  const group = 'restart-live-group';
  const port = await freePort();
  const first = await startBroker(dir.path, port);
  await createTopics(first.bootstrap, [{ topic, numPartitions: 3 }]);
  const produced = await produceEach(first.bootstrap, topic, 3, 10, 'before');
  const member = new PyProcess('ck-live', 'ck_member.py', {
    topics: [topic],
    conf: { 'bootstrap.servers': first.bootstrap, 'group.id': group, 'client.id': 'live', 'session.timeout.ms': 6000 },
  });
  cleanup.push(() => member.kill());
  await waitUntil('30 messages consumed and committed', () => member.of('commit').length === 30, 20_000, [member]);
  const g1 = await describeGroup(first.bootstrap, group);
  assert.equal(g1.members.length, 1);
  assert.equal(await first.stop(), 0);

  const second = await startBroker(dir.path, port);
  produced.push(...(await produceEach(second.bootstrap, topic, 3, 10, 'after')));
  await waitUntil('the 30 new messages consumed and committed', () => member.of('commit').filter((e) => e.o === 20).length === 3, 30_000, [member]);
  await new Promise((r) => setTimeout(r, 300));
  // One assignment, never revoked: the restored group still knew the member and its generation.
  assert.deepEqual(member.of('revoke'), []);
  assert.deepEqual(member.of('lost'), []);
  assert.equal(member.of('assign').length, 1);
  const g2 = await describeGroup(second.bootstrap, group);
  assert.deepEqual(g2.members.map((m) => m.memberId), g1.members.map((m) => m.memberId));
  assert.equal(g2.state, 'Stable');
  const got = member.of('msg').map((e) => `${e.p}@${e.o}=${e.v}`).sort();
  assert.deepEqual(got, produced.map((m) => `${m.p}@${m.o}=${m.v}`).sort(), 'every message once, across the restart');
  const { committed } = await committedAndEnd(second.bootstrap, group, [topic]);
  for (let p = 0; p < 3; p++) assert.equal(committed.get(tpKey(topic, p)), 20);
  // The member was idle while the broker was down, so no commit of it ever failed.
  assert.deepEqual(member.of('error'), []);
  assert.equal((await member.close()).code, 0, member.diagnostics());
  console.log(`# restart with a live member: ${Date.now() - started} ms`);
});
