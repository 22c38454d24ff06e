/**
 * group.max.size: a member id handed out with MEMBER_ID_REQUIRED whose join is then refused with
 * GROUP_MAX_SIZE_REACHED is forgotten at once (Kafka's GroupMetadata.remove), so the members that
 * did rejoin are answered without waiting for that id's session timeout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';

const SESSION_MS = 10_000;

test('a pending member refused for a full group does not hold up the rebalance of the others', async () => {
  const broker = await startBroker({ port: 0, logger: 'silent', config: { 'group.max.size': 2 } });
  const [a, c, b, d] = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(broker.port)));
  const join = (client: RawClient, memberId: string) =>
    client.send(ApiKey.JoinGroup, 5, {
      groupId: 'full', sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: 30_000, memberId, groupInstanceId: null, protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    });
  const sync = (client: RawClient, j: { generationId: number; memberId: string }) =>
    client.send(ApiKey.SyncGroup, 3, { groupId: 'full', generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, assignments: [] });
  try {
    // A and C make a stable group of two, then C leaves: a rebalance with nobody rejoined yet.
    const aId = (await join(a, '')).memberId;
    const cId = (await join(c, '')).memberId;
    const [ja, jc] = await Promise.all([join(a, aId), join(c, cId)]);
    await Promise.all([sync(a, ja), sync(c, jc)]);
    await c.send(ApiKey.LeaveGroup, 3, { groupId: 'full', members: [{ memberId: cId, groupInstanceId: null }] });
    // B and D get ids to join with; A and D rejoin, which fills the group; B's join is refused.
    const [b0, d0] = [await join(b, ''), await join(d, '')];
    assert.deepEqual([b0.errorCode, d0.errorCode], [ErrorCode.MEMBER_ID_REQUIRED, ErrorCode.MEMBER_ID_REQUIRED]);
    const started = Date.now();
    const rejoined = Promise.all([join(a, aId), join(d, d0.memberId)]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await join(b, b0.memberId)).errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
    const [ra, rd] = await rejoined;
    assert.deepEqual([ra.errorCode, rd.errorCode, ra.generationId], [ErrorCode.NONE, ErrorCode.NONE, rd.generationId]);
    assert.ok(Date.now() - started < SESSION_MS / 2, `the others were answered after ${Date.now() - started} ms`);
  } finally {
    for (const client of [a, c, b, d]) client.close();
    await broker.stop();
  }
});
