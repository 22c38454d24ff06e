/**
 * The last member leaving a group that is still completing its rebalance: Kafka completes the new
 * join at once (every member, none, has joined: tryCompleteElseWatch) and the group is Empty. It
 * stayed PreparingRebalance until a timer fired (the rebalance timeout of a group without members,
 * 0 ms), so a request right behind the leave saw it so; a test of the suite failed on that now and then.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { startBroker } from '../../src/index.js';
import { RawClient } from '../support/raw-client.js';

test('the last member leaving before its SyncGroup leaves the group Empty at once', async () => {
  const broker = await startBroker({ port: 0 });
  const c = await RawClient.connect(broker.port);
  try {
    const state = async (groupId: string) => (await c.send(ApiKey.DescribeGroups, 4, { groups: [groupId], includeAuthorizedOperations: false })).groups[0];
    for (const groupInstanceId of ['static-0', null]) {
      const groupId = `last-${groupInstanceId ?? 'dynamic'}`;
      const join = (memberId: string) => c.send(ApiKey.JoinGroup, 5, {
        groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId, groupInstanceId, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      });
      let joined = await join('');
      if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) joined = await join(joined.memberId);
      assert.equal(joined.errorCode, ErrorCode.NONE);
      assert.equal((await state(groupId)).groupState, 'CompletingRebalance');
      // Sent in one write: the DescribeGroups is handled right after the LeaveGroup, before any timer.
      const leave = c.prepare(ApiKey.LeaveGroup, 3, { groupId, members: [{ memberId: joined.memberId, groupInstanceId }] });
      const describe = c.prepare(ApiKey.DescribeGroups, 4, { groups: [groupId], includeAuthorizedOperations: false });
      c.writeRaw(Buffer.concat([leave.bytes, describe.bytes]));
      const left = await leave.response;
      assert.deepEqual([left.errorCode, left.members[0].errorCode], [ErrorCode.NONE, ErrorCode.NONE]);
      const after = (await describe.response).groups[0];
      assert.deepEqual([after.groupState, after.members.length], ['Empty', 0], `${groupId} after its last member left`);
    }
  } finally {
    c.close();
    await broker.stop();
  }
});
