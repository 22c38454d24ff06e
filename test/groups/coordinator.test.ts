/**
 * The group coordinator's timing rules, driven directly with a recording store and a controlled
 * clock: offset retention (KIP-211), load from records, persistence of what Kafka persists.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GroupCoordinator } from '../../src/coordinator/groups/group-coordinator.js';
import type { GroupStore, LoadedEvent } from '../../src/coordinator/groups/group-store.js';
import { OffsetManager } from '../../src/coordinator/groups/offset-manager.js';
import { type GroupRecord, decodeRecord, encodeRecord, partitionFor } from '../../src/coordinator/groups/offsets-topic.js';
import { silentLogger } from '../../src/logger.js';

class RecordingStore implements GroupStore {
  readonly events: LoadedEvent[] = [];
  get records(): GroupRecord[] {
    return this.events.flatMap((e) => (e.kind === 'record' ? [e.record] : []));
  }
  append(_groupId: string, records: GroupRecord[], txn?: { producerId: bigint }): Promise<void> {
    // Through the real encoding, so what is loaded back is what Kafka would read.
    for (const r of records) {
      const { key, value } = encodeRecord(r);
      this.events.push({ kind: 'record', record: decodeRecord(key, value)!, producerId: txn?.producerId ?? null });
    }
    return Promise.resolve();
  }
  /** A transaction marker written to the offsets partition. */
  marker(producerId: bigint, commit: boolean): void {
    this.events.push({ kind: 'marker', producerId, commit });
  }
  async *load(): AsyncIterable<LoadedEvent> {
    yield* this.events;
  }
}

function setup(now: { t: number }, store = new RecordingStore()) {
  const log = silentLogger();
  const coordinator = new GroupCoordinator({ minSessionTimeoutMs: 10, maxSessionTimeoutMs: 60_000, initialRebalanceDelayMs: 0, maxGroupSize: 100 }, store, log, () => now.t);
  const offsets = new OffsetManager(coordinator, store, { metadataMaxBytes: 10, retentionMs: 1000 }, log, () => now.t);
  return { coordinator, offsets, store };
}

const commit = (groupId: string, offset: bigint, metadata: string | null = '') => ({
  groupId, generationId: -1, memberId: '', groupInstanceId: null,
  offsets: [{ topic: 't', partition: 0, offset, leaderEpoch: -1, metadata, commitTimestamp: -1n, expireTimestamp: -1n }],
});

test('partitionFor follows Java String.hashCode (values checked on a JVM)', () => {
  assert.equal(partitionFor('', 50), 0);
  assert.equal(partitionFor('a', 50), 47);
  assert.equal(partitionFor('my-group', 50), 12);
  assert.equal(partitionFor('polygenelubricants', 50), 0); // hashCode is Integer.MIN_VALUE
  assert.equal(partitionFor('grüppe-😀', 50), 14);
});

test('simple commits are stored, fetched, size-checked, expire after the retention and survive a reload', async () => {
  const now = { t: 1_000_000 };
  const { coordinator, offsets, store } = setup(now);
  await offsets.load();
  assert.deepEqual(await offsets.commit(commit('g1', 42n, 'meta')), [ErrorCode.NONE]);
  assert.deepEqual(await offsets.commit(commit('g1', 43n, 'x'.repeat(11))), [ErrorCode.OFFSET_METADATA_TOO_LARGE]);
  assert.equal(offsets.fetch('g1', [{ topic: 't', partition: 0 }]).offsets[0].offset, 42n);
  assert.equal(offsets.fetch('g1', [{ topic: 't', partition: 1 }]).offsets[0].offset, -1n);
  assert.equal(offsets.fetch('nobody', null).offsets.length, 0);

  // Reload from the records into a fresh coordinator.
  const again = setup(now, store);
  await again.offsets.load();
  assert.equal(again.offsets.fetch('g1', null).offsets[0].offset, 42n);

  now.t += 999;
  assert.equal(await offsets.expireOffsets(), 0);
  now.t += 1;
  assert.equal(await offsets.expireOffsets(), 1);
  assert.equal(offsets.fetch('g1', null).offsets.length, 0);
  assert.equal(coordinator.groups.has('g1'), false, 'an empty group with no offsets is removed');
  const tombstone = store.records[store.records.length - 1];
  assert.deepEqual([tombstone.kind, tombstone.value], ['offset', null]);
});

test('a committed transaction replaces only offsets whose records are older than its own, live and on load (Kafka\'s olderThan)', async () => {
  const now = { t: 1_000_000 };
  const { offsets, store } = setup(now);
  await offsets.load();
  const txnCommit = (groupId: string, offset: bigint, producerId: bigint) =>
    offsets.txnCommit({ ...commit(groupId, offset, 'txn'), producerId, producerEpoch: 0, verified: ErrorCode.NONE });
  const end = (producerId: bigint) => {
    store.marker(producerId, true);
    offsets.transactionCompleted(() => true, producerId, true);
  };
  const committed = (o: OffsetManager, groupId: string) => o.fetch(groupId, [{ topic: 't', partition: 0 }]).offsets[0].offset;
  // A plain commit written while the transaction is open is newer: it stays.
  assert.deepEqual(await txnCommit('newer-plain', 10n, 5n), [ErrorCode.NONE]);
  assert.deepEqual(await offsets.commit(commit('newer-plain', 20n, 'plain')), [ErrorCode.NONE]);
  end(5n);
  assert.equal(committed(offsets, 'newer-plain'), 20n);
  // A plain commit written before the transaction's is older: the transaction's replaces it.
  await offsets.commit(commit('older-plain', 30n));
  await txnCommit('older-plain', 40n, 6n);
  end(6n);
  assert.equal(committed(offsets, 'older-plain'), 40n);
  const again = setup(now, store);
  await again.offsets.load();
  assert.deepEqual([committed(again.offsets, 'newer-plain'), committed(again.offsets, 'older-plain')], [20n, 40n]);
});

test('a member commit needs the current generation; a simple commit into a live group is refused', async () => {
  const now = { t: 0 };
  const { coordinator, offsets } = setup(now);
  await offsets.load();
  const joined = await coordinator.join({
    groupId: 'g2', memberId: '', groupInstanceId: null, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], clientId: 'c', clientHost: '/127.0.0.1', requireKnownMemberId: false, supportSkipAssignment: false,
  });
  assert.equal(joined.errorCode, ErrorCode.NONE);
  assert.equal(joined.generationId, 1);
  assert.equal(joined.leader, joined.memberId);
  const member = { groupId: 'g2', memberId: joined.memberId, groupInstanceId: null, offsets: commit('g2', 1n).offsets };
  // Awaiting the leader's SyncGroup: commits are refused.
  assert.deepEqual(await offsets.commit({ ...member, generationId: 1 }), [ErrorCode.REBALANCE_IN_PROGRESS]);
  const synced = await coordinator.sync({ groupId: 'g2', generationId: 1, memberId: joined.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: joined.memberId, assignment: Buffer.from('A') }] });
  assert.deepEqual([synced.errorCode, String(synced.assignment)], [ErrorCode.NONE, 'A']);
  assert.deepEqual(await offsets.commit({ ...member, generationId: 1 }), [ErrorCode.NONE]);
  assert.deepEqual(await offsets.commit({ ...member, generationId: 0 }), [ErrorCode.ILLEGAL_GENERATION]);
  assert.deepEqual(await offsets.commit({ ...member, memberId: 'stranger', generationId: 1 }), [ErrorCode.UNKNOWN_MEMBER_ID]);
  assert.deepEqual(await offsets.commit(commit('g2', 5n)), [ErrorCode.UNKNOWN_MEMBER_ID]);
  assert.equal(coordinator.heartbeat({ groupId: 'g2', generationId: 1, memberId: joined.memberId, groupInstanceId: null }), ErrorCode.NONE);
  assert.equal(await offsets.deleteGroup('g2'), ErrorCode.NON_EMPTY_GROUP);
  coordinator.close();
});

test('while loading, group APIs answer as Kafka does', () => {
  const { coordinator, offsets } = setup({ t: 0 });
  assert.equal(coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }), ErrorCode.NONE);
  assert.equal(offsets.fetch('g', null).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  assert.equal(coordinator.leave('g', [{ memberId: 'm', groupInstanceId: null }]).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
});

/** A recording store whose writes wait until `release()`, to hold a commit in flight. */
class HeldStore extends RecordingStore {
  private held: (() => void)[] = [];
  holding = false;
  override append(groupId: string, records: GroupRecord[]): Promise<void> {
    if (!this.holding) return super.append(groupId, records);
    return new Promise((resolve) => this.held.push(() => void super.append(groupId, records).then(resolve)));
  }
  release(): void {
    this.holding = false;
    for (const r of this.held.splice(0)) r();
  }
}

test('a commit in flight while its topic is deleted: the offset stays gone, the group stays', async () => {
  const now = { t: 1_000 };
  const store = new HeldStore();
  const { coordinator, offsets } = setup(now, store);
  await offsets.load();
  // A new simple group: its first commit is in flight when the topic goes.
  store.holding = true;
  const first = offsets.commit({ ...commit('g', 5n), offsets: [...commit('g', 5n).offsets, { ...commit('g', 5n).offsets[0], topic: 'other' }] });
  await offsets.forgetTopic('t');
  assert.equal(await offsets.expireOffsets(), 0);
  assert.ok(coordinator.groups.has('g'), 'not removed as an empty group while its commit is in flight');
  store.release();
  assert.deepEqual(await first, [ErrorCode.NONE, ErrorCode.NONE]);
  const fetched = offsets.fetch('g', [{ topic: 't', partition: 0 }, { topic: 'other', partition: 0 }]);
  assert.deepEqual(fetched.offsets.map((o) => o.offset), [-1n, 5n], "the deleted topic's offset is not brought back; the other topic's is kept");
  // A commit that begins after the deletion (the topic made again) is applied.
  assert.deepEqual(await offsets.commit(commit('g', 7n)), [ErrorCode.NONE]);
  assert.equal(offsets.fetch('g', [{ topic: 't', partition: 0 }]).offsets[0].offset, 7n);
});

test('a topic deleted while the coordinator is loading loses its offsets when the load ends', async () => {
  const now = { t: 1_000 };
  const first = setup(now);
  await first.offsets.load();
  await first.offsets.commit(commit('g', 5n));
  await first.offsets.commit({ ...commit('g', 6n), offsets: [{ ...commit('g', 6n).offsets[0], topic: 'kept' }] });
  // The same records, loaded by a coordinator that is asked to forget 't' half-way through.
  let resume!: () => void;
  const paused = new Promise<void>((r) => (resume = r));
  const slow = new RecordingStore();
  slow.events.push(...first.store.events);
  const origLoad = slow.load.bind(slow);
  slow.load = async function* () {
    await paused;
    yield* origLoad();
  };
  const { offsets } = setup(now, slow);
  const loading = offsets.load();
  assert.equal(await offsets.forgetTopic('t'), 0, 'nothing to remove yet');
  resume();
  await loading;
  assert.deepEqual(offsets.fetch('g', [{ topic: 't', partition: 0 }, { topic: 'kept', partition: 0 }]).offsets.map((o) => o.offset), [-1n, 6n]);
  const last = slow.records[slow.records.length - 1];
  assert.deepEqual([last.kind, last.kind === 'offset' ? last.topic : '', last.value], ['offset', 't', null], 'a tombstone is written');
});

test('OffsetDelete and DeleteGroups remove pending transactional offsets too, live and on load (Kafka writes their tombstones)', async () => {
  const now = { t: 1_000_000 };
  const { offsets, store } = setup(now);
  await offsets.load();
  const txnCommit = (groupId: string, offset: bigint, producerId: bigint, partition = 0) =>
    offsets.txnCommit({ ...commit(groupId, offset, 'txn'), offsets: [{ topic: 't', partition, offset, leaderEpoch: -1, metadata: '', commitTimestamp: -1n, expireTimestamp: -1n }], producerId, producerEpoch: 0, verified: ErrorCode.NONE });
  const fetched = (o: OffsetManager, groupId: string, partition = 0) => o.fetch(groupId, [{ topic: 't', partition }]).offsets[0].offset;
  // OffsetDelete of a partition with a committed offset and a pending transactional one.
  await offsets.commit(commit('od', 5n));
  await txnCommit('od', 7n, 11n);
  assert.deepEqual((await offsets.deleteOffsets('od', [{ topic: 't', partition: 0 }])).partitions, [ErrorCode.NONE]);
  assert.equal(offsets.hasPendingTxnOffset('od', 't', 0), false, 'no longer unstable');
  // DeleteGroups of a group with a pending transactional offset only (partition 1).
  await offsets.commit(commit('dg', 5n));
  await txnCommit('dg', 9n, 12n, 1);
  assert.equal(await offsets.deleteGroup('dg'), ErrorCode.NONE);
  for (const p of [11n, 12n]) {
    store.marker(p, true);
    offsets.transactionCompleted(() => true, p, true);
  }
  assert.equal(fetched(offsets, 'od'), -1n, 'the transaction does not bring a deleted offset back');
  const again = setup(now, store);
  await again.offsets.load();
  assert.equal(fetched(again.offsets, 'od'), -1n, 'nor does a reload');
  assert.equal(fetched(again.offsets, 'dg', 1), -1n, 'nor the offsets of a deleted group');
  assert.equal(again.coordinator.groups.has('dg'), false);
});
