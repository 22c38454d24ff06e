/**
 * Static membership (group.instance.id) with librdkafka: a member restarted within its session
 * timeout gets its partitions back, without a rebalance — the other member sees no revocation
 * and the group's generation does not change.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { test } from 'node:test';
import { ApiKey } from '../../protocol/generated/index.js';
import { startBroker } from '../../src/index.js';
import { waitFor } from '../support/kafkajs.js';
import { PYTHON } from '../support/processes.js';
import { RawClient } from '../support/raw-client.js';

const MEMBER = `
import json, sys, time
from confluent_kafka import Consumer
bootstrap, group, instance, topic = sys.argv[1:5]
def say(**kw):
    print(json.dumps(kw), flush=True)
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'group.instance.id': instance,
              'session.timeout.ms': 10000, 'heartbeat.interval.ms': 500, 'auto.offset.reset': 'earliest'})
c.subscribe([topic], on_assign=lambda c, ps: say(event='assign', partitions=sorted(p.partition for p in ps)),
             on_revoke=lambda c, ps: say(event='revoke', partitions=sorted(p.partition for p in ps)))
while True:
    c.poll(0.2)
`;

interface Member {
  child: ChildProcess;
  events: { event: string; partitions: number[] }[];
}

function startMember(bootstrap: string, instance: string): Member {
  const child = spawn(PYTHON, ['-c', MEMBER, bootstrap, 'g-static', instance, 'static-topic'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const m: Member = { child, events: [] };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l) m.events.push(JSON.parse(l));
  });
  return m;
}

const lastAssign = (m: Member) => [...m.events].reverse().find((e) => e.event === 'assign')?.partitions;

test('a static member restarted within its session timeout gets its partitions back without a rebalance', { timeout: 90_000 }, async () => {
  const broker = await startBroker({ port: 0, config: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000, 'num.partitions': 4 } });
  const raw = await RawClient.connect(broker.port);
  const members: Member[] = [];
  try {
    await raw.send(ApiKey.CreateTopics, 5, { timeoutMs: 5000, validateOnly: false, topics: [{ name: 'static-topic', numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }] });
    const a = startMember(broker.bootstrap, 'instance-a');
    members.push(a);
    await waitFor(() => lastAssign(a)?.length === 4, 30_000, 'a owns every partition');
    const b = startMember(broker.bootstrap, 'instance-b');
    members.push(b);
    await waitFor(() => (lastAssign(b)?.length ?? 0) === 2 && lastAssign(a)?.length === 2, 30_000, 'the partitions are split');
    const aPartitions = lastAssign(a)!;
    const bEventsBefore = b.events.length;
    const describe = async () => (await raw.send(ApiKey.DescribeGroups, 4, { groups: ['g-static'], includeAuthorizedOperations: false })).groups[0];
    const before = await describe();
    assert.equal(before.groupState, 'Stable');
    assert.deepEqual(before.members.map((m: { groupInstanceId: string }) => m.groupInstanceId).sort(), ['instance-a', 'instance-b']);

    // Kill a: no LeaveGroup is sent. Restart it as the same instance well within the 10 s session.
    a.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const a2 = startMember(broker.bootstrap, 'instance-a');
    members.push(a2);
    await waitFor(() => lastAssign(a2) !== undefined, 30_000, 'the restarted member is assigned');
    assert.deepEqual(lastAssign(a2), aPartitions, 'it gets its own partitions back');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(b.events.length, bEventsBefore, `the other member saw no rebalance: ${JSON.stringify(b.events.slice(bEventsBefore))}`);
    const afterDescribe = await describe();
    assert.equal(afterDescribe.groupState, 'Stable');
    assert.equal(afterDescribe.members.length, 2);
    const group = broker.broker.groups.groups.get('g-static')!;
    assert.equal(group.generationId, 2, 'one generation for a alone, one for a and b: none for the restart');
  } finally {
    for (const m of members) m.child.kill('SIGKILL');
    raw.close();
    await broker.stop();
  }
});
