/**
 * group.initial.rebalance.delay.ms: 0 by default, as in the apache/kafka Docker image, so a
 * group's first join is answered at once; a broker configured with Kafka's code default (3000)
 * holds it back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';

async function firstJoinMs(config: Record<string, number>): Promise<number> {
  const broker = await startBroker({ port: 0, config });
  const c = await RawClient.connect(broker.port);
  try {
    const t0 = Date.now();
    const join = { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] };
    // v4+: the first join of a member without an id is answered MEMBER_ID_REQUIRED, then joins.
    const first = await c.send(ApiKey.JoinGroup, 5, { ...join, memberId: '', groupInstanceId: null });
    assert.equal(first.errorCode, 79);
    const joined = await c.send(ApiKey.JoinGroup, 5, { ...join, memberId: first.memberId, groupInstanceId: null });
    assert.equal(joined.errorCode, 0);
    assert.equal(joined.leader, first.memberId);
    return Date.now() - t0;
  } finally {
    c.close();
    await broker.stop();
  }
}

test("a group's first join is answered at once with the default settings", async () => {
  const ms = await firstJoinMs({});
  assert.ok(ms < 1000, `joined after ${ms} ms`);
});

test('group.initial.rebalance.delay.ms=3000 (Kafka\'s code default) holds the first join back', { timeout: 20_000 }, async () => {
  const ms = await firstJoinMs({ 'group.initial.rebalance.delay.ms': 3000 });
  assert.ok(ms >= 2900, `joined after ${ms} ms`);
});

test('stopping the broker answers a join held back by the initial delay at once (it held the stop for 10 s)', { timeout: 20_000 }, async () => {
  const broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 10_000 } });
  const c = await RawClient.connect(broker.port);
  try {
    const join = { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] };
    const first = await c.send(ApiKey.JoinGroup, 5, { ...join, memberId: '', groupInstanceId: null });
    const held = c.send(ApiKey.JoinGroup, 5, { ...join, memberId: first.memberId, groupInstanceId: null });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await broker.stop();
    assert.ok(Date.now() - t0 < 2000, `stopped after ${Date.now() - t0} ms`);
    assert.equal((await held).errorCode, 16, 'NOT_COORDINATOR: the client looks for the coordinator again');
  } finally {
    c.close();
    await broker.stop();
  }
});
