/**
 * Committed offsets and the group-level admin operations around them (OffsetCommit, OffsetFetch,
 * OffsetDelete, DeleteGroups, retention), with the same validation as Kafka's coordinator.
 * Also loads __consumer_offsets back into the coordinator at start.
 */
import { ErrorCode } from '../../../protocol/error-codes.js';
import type { Logger } from '../../logger.js';
import { storageFailureLevel } from '../../storage/storage.js';
import { ClassicGroup, type CommittedOffset, offsetKey } from './classic-group.js';
import type { GroupCoordinator } from './group-coordinator.js';
import type { GroupStore } from './group-store.js';
import type { GroupRecord } from './offsets-topic.js';

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
  /** -1: now. */
  commitTimestamp: bigint;
  /** -1: no expiry of its own. */
  expireTimestamp: bigint;
}

export interface CommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: OffsetToCommit[];
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  errorCode: number;
}

/** Whether a transaction's offset replaces `current` when it commits: only a record written after it (Kafka's olderThan). */
const isNewer = (pending: CommittedOffset, current: CommittedOffset | undefined): boolean => current === undefined || (current.order ?? 0) < (pending.order ?? 0);

export interface OffsetManagerConfig {
  metadataMaxBytes: number;
  retentionMs: number;
}

export class OffsetManager {
  /** Topics deleted before the load finished: their offsets are removed once it has. */
  private readonly deletedWhileLoading = new Set<string>();
  /**
   * Commits whose write is in flight, per group, and when each topic was deleted (a count of
   * deletions) while any were: such a commit must not bring a deleted topic's offset back into
   * memory, nor land in a group removed meanwhile (Kafka's pendingOffsetCommits).
   */
  private readonly commitsInFlight = new Map<ClassicGroup, number>();
  private deletions = 0;
  private readonly deletedAt = new Map<string, number>();
  /** Commit records written or loaded so far: the order of each (CommittedOffset.order). */
  private appended = 0;

  constructor(
    private readonly coordinator: GroupCoordinator,
    private readonly store: GroupStore,
    private readonly config: OffsetManagerConfig,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Validates who commits (Kafka's validateOffsetCommit); NONE or the error for every partition. */
  private validateCommit(req: CommitRequest): { error: number; group?: ClassicGroup } {
    const c = this.coordinator;
    if (c.loading) return { error: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
    let group = c.groups.get(req.groupId);
    if (!group) {
      if (req.generationId >= 0) return { error: ErrorCode.ILLEGAL_GENERATION };
      // A "simple" commit (no group membership) creates an empty group to hold the offsets.
      group = new ClassicGroup(req.groupId, this.now());
      c.groups.set(req.groupId, group);
    }
    if (group.state === 'Dead') return { error: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    if (req.generationId < 0 && group.state === 'Empty') return { error: ErrorCode.NONE, group };
    if (req.generationId >= 0 || req.memberId !== '' || req.groupInstanceId !== null) {
      const e = group.validateMember(req.memberId, req.groupInstanceId);
      if (e !== ErrorCode.NONE) return { error: e };
      if (req.generationId !== group.generationId) return { error: ErrorCode.ILLEGAL_GENERATION };
    } else {
      return { error: ErrorCode.UNKNOWN_MEMBER_ID };
    }
    if (group.state === 'CompletingRebalance') return { error: ErrorCode.REBALANCE_IN_PROGRESS };
    const member = group.members.get(req.memberId);
    if (member && (group.state === 'Stable' || group.state === 'PreparingRebalance')) c.heartbeatReceived(group, member);
    return { error: ErrorCode.NONE, group };
  }

  /** Commits offsets; resolves to one error code per requested partition, in request order. */
  async commit(req: CommitRequest): Promise<number[]> {
    const { error, group } = this.validateCommit(req);
    if (error !== ErrorCode.NONE || !group) return req.offsets.map(() => error);
    const now = BigInt(this.now());
    const errors = req.offsets.map((o) => ((o.metadata ?? '').length > this.config.metadataMaxBytes ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE));
    const accepted = req.offsets.filter((_, i) => errors[i] === ErrorCode.NONE);
    const values = accepted.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      leaderEpoch: o.leaderEpoch,
      metadata: o.metadata ?? '',
      commitTimestamp: o.commitTimestamp >= 0n ? o.commitTimestamp : now,
      expireTimestamp: o.expireTimestamp,
    }));
    const startedAt = this.deletions;
    this.commitsInFlight.set(group, (this.commitsInFlight.get(group) ?? 0) + 1);
    try {
      await this.store.append(group.groupId, values.map((v) => ({ kind: 'offset', group: group.groupId, topic: v.topic, partition: v.partition, value: v })));
    } catch (err) {
      this.commitEnded(group);
      this.log[storageFailureLevel(err)]({ err, group: group.groupId }, 'could not store committed offsets');
      return errors.map((e) => (e === ErrorCode.NONE ? ErrorCode.NOT_COORDINATOR : e));
    }
    // A topic deleted since this commit began has its tombstone after this record in the log.
    const order = ++this.appended;
    for (const v of values) if ((this.deletedAt.get(v.topic) ?? -1) <= startedAt) group.offsets.set(offsetKey(v.topic, v.partition), { ...v, order });
    this.commitEnded(group);
    return errors;
  }

  private commitEnded(group: ClassicGroup): void {
    const left = this.commitsInFlight.get(group)! - 1;
    if (left > 0) this.commitsInFlight.set(group, left);
    else this.commitsInFlight.delete(group);
    if (this.commitsInFlight.size === 0) this.deletedAt.clear();
  }

  /** Committed offsets of a group: the partitions asked for (-1 where none), or all when `partitions` is null. */
  fetch(groupId: string, partitions: { topic: string; partition: number }[] | null): { errorCode: number; offsets: FetchedOffset[] } {
    if (this.coordinator.loading) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, offsets: [] };
    const group = this.coordinator.groups.get(groupId);
    const stored = group?.offsets ?? new Map<string, CommittedOffset & { topic: string; partition: number }>();
    const out = (p: { topic: string; partition: number }): FetchedOffset => {
      const o = stored.get(offsetKey(p.topic, p.partition));
      return o
        ? { topic: p.topic, partition: p.partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE }
        : { topic: p.topic, partition: p.partition, offset: -1n, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
    };
    if (partitions === null) return { errorCode: ErrorCode.NONE, offsets: [...stored.values()].map(out) };
    return { errorCode: ErrorCode.NONE, offsets: partitions.map(out) };
  }

  /** DeleteGroups for one group. */
  async deleteGroup(groupId: string): Promise<number> {
    if (this.coordinator.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    const group = this.coordinator.groups.get(groupId);
    if (!group || group.state === 'Dead') return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP;
    const records: GroupRecord[] = [...group.offsets.values()].map((o) => ({ kind: 'offset', group: groupId, topic: o.topic, partition: o.partition, value: null }));
    // Pending transactional offsets get tombstones too (Kafka's deleteAllOffsets), so that the
    // transaction's commit, replayed, does not bring them back.
    const pendingKeys = new Map<string, { topic: string; partition: number }>();
    for (const pending of group.pendingTxnOffsets.values()) for (const [k, o] of pending) if (!group.offsets.has(k)) pendingKeys.set(k, o);
    for (const o of pendingKeys.values()) records.push({ kind: 'offset', group: groupId, topic: o.topic, partition: o.partition, value: null });
    if (group.generationId > 0) records.push({ kind: 'group', group: groupId, value: null });
    this.coordinator.removeGroup(groupId);
    try {
      await this.store.append(groupId, records);
    } catch (err) {
      this.log[storageFailureLevel(err)]({ err, group: groupId }, 'could not write the deletion of a group');
    }
    return ErrorCode.NONE;
  }

  /** OffsetDelete: a group-level error, or per-partition errors in request order. */
  async deleteOffsets(groupId: string, partitions: { topic: string; partition: number }[]): Promise<{ errorCode: number; partitions: number[] }> {
    // Kafka's validateGroupStatus: an empty id is valid only for OffsetCommit/Fetch and Describe/DeleteGroups.
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, partitions: [] };
    if (this.coordinator.loading) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, partitions: [] };
    const group = this.coordinator.groups.get(groupId);
    if (!group || group.state === 'Dead') return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitions: [] };
    if (group.state !== 'Empty' && group.protocolType !== 'consumer') return { errorCode: ErrorCode.NON_EMPTY_GROUP, partitions: [] };
    const errors = partitions.map((p) => (group.state !== 'Empty' && group.isSubscribedTo(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE));
    const doomed = partitions.filter((_, i) => errors[i] === ErrorCode.NONE);
    // A tombstone where an offset is committed or pending in a transaction (Kafka's deleteOffsets):
    // it removes the pending ones, which the transaction's commit would otherwise apply.
    const hasPending = (key: string) => [...group.pendingTxnOffsets.values()].some((m) => m.has(key));
    const records: GroupRecord[] = doomed.filter((p) => group.offsets.has(offsetKey(p.topic, p.partition)) || hasPending(offsetKey(p.topic, p.partition))).map((p) => ({ kind: 'offset', group: groupId, topic: p.topic, partition: p.partition, value: null }));
    try {
      await this.store.append(groupId, records);
    } catch (err) {
      this.log[storageFailureLevel(err)]({ err, group: groupId }, 'could not write offset deletions');
      return { errorCode: ErrorCode.NOT_COORDINATOR, partitions: [] };
    }
    for (const p of doomed) {
      const key = offsetKey(p.topic, p.partition);
      group.offsets.delete(key);
      for (const [producerId, pending] of group.pendingTxnOffsets) {
        pending.delete(key);
        if (pending.size === 0) group.pendingTxnOffsets.delete(producerId);
      }
    }
    // An empty group left without offsets is deleted, as Kafka's cleanupGroupMetadata does (which
    // runs only when some partition was eligible for deletion).
    if (doomed.length > 0 && group.state === 'Empty' && group.offsets.size === 0 && group.pendingTxnOffsets.size === 0 && !this.commitsInFlight.has(group)) {
      this.coordinator.removeGroup(groupId);
      if (group.generationId > 0) {
        await this.store.append(groupId, [{ kind: 'group', group: groupId, value: null }]).catch((err: unknown) => this.log.warn({ err, group: groupId }, 'could not write the removal of a group left without offsets'));
      }
    }
    return { errorCode: ErrorCode.NONE, partitions: errors };
  }

  /**
   * A deleted topic's committed offsets go with it, as in Kafka (cleanupGroupMetadata on deleted
   * partitions): a topic created again under the same name starts with none, and nothing keeps
   * them in memory until the retention. Pending transactional offsets go too, with tombstones so
   * that a replay does not bring them back. An empty group left without offsets is deleted.
   * Memory changes at once (before any await); the tombstones follow. While the coordinator is
   * still loading, the topic is remembered and removed when the load ends.
   */
  async forgetTopic(topic: string): Promise<number> {
    if (this.coordinator.loading) {
      this.deletedWhileLoading.add(topic);
      return 0;
    }
    if (this.commitsInFlight.size > 0) this.deletedAt.set(topic, ++this.deletions);
    const writes: [string, GroupRecord[]][] = [];
    let removed = 0;
    for (const group of [...this.coordinator.groups.values()]) {
      const keys = new Map<string, { topic: string; partition: number }>();
      for (const [key, o] of group.offsets) {
        if (o.topic !== topic) continue;
        group.offsets.delete(key);
        keys.set(key, o);
      }
      for (const [producerId, pending] of group.pendingTxnOffsets) {
        for (const [key, o] of pending) {
          if (o.topic !== topic) continue;
          pending.delete(key);
          keys.set(key, o);
        }
        if (pending.size === 0) group.pendingTxnOffsets.delete(producerId);
      }
      if (keys.size === 0) continue;
      removed += keys.size;
      const records: GroupRecord[] = [...keys.values()].map((o) => ({ kind: 'offset', group: group.groupId, topic: o.topic, partition: o.partition, value: null }));
      if (group.state === 'Empty' && group.offsets.size === 0 && group.pendingTxnOffsets.size === 0 && !this.commitsInFlight.has(group)) {
        if (group.generationId > 0) records.push({ kind: 'group', group: group.groupId, value: null });
        this.coordinator.removeGroup(group.groupId);
      }
      writes.push([group.groupId, records]);
    }
    for (const [groupId, records] of writes) {
      await this.store.append(groupId, records).catch((err: unknown) => this.log.warn({ err, group: groupId, topic }, 'could not write the removal of a deleted topic\'s offsets'));
    }
    if (removed > 0) this.log.info({ topic, offsets: removed }, 'removed committed offsets of a deleted topic');
    return removed;
  }

  /** KIP-211 expiry: offsets of empty groups after the retention, unsubscribed topics of stable consumer groups. */
  async expireOffsets(): Promise<number> {
    if (this.coordinator.loading) return 0;
    const now = this.now();
    let expired = 0;
    for (const group of [...this.coordinator.groups.values()]) {
      const records: GroupRecord[] = [];
      for (const [key, o] of group.offsets) {
        const since = this.retentionStart(group, o);
        if (since === null) continue;
        const due = o.expireTimestamp >= 0n ? now >= Number(o.expireTimestamp) : now - since >= this.config.retentionMs;
        if (due) {
          group.offsets.delete(key);
          records.push({ kind: 'offset', group: group.groupId, topic: o.topic, partition: o.partition, value: null });
        }
      }
      expired += records.length;
      // Kafka's hasOffsets counts commits in flight too: a new simple group has none stored yet.
      if (group.state === 'Empty' && group.offsets.size === 0 && !this.commitsInFlight.has(group)) {
        if (group.generationId > 0) records.push({ kind: 'group', group: group.groupId, value: null });
        this.coordinator.removeGroup(group.groupId);
      }
      if (records.length > 0) {
        await this.store.append(group.groupId, records).catch((err: unknown) => this.log.warn({ err, group: group.groupId }, 'could not write offset expiry; retrying next time'));
      }
    }
    if (expired > 0) this.log.info({ expired }, 'expired committed offsets');
    return expired;
  }

  /** When an offset's retention clock started, or null when it cannot expire in the group's state. */
  private retentionStart(group: ClassicGroup, o: CommittedOffset & { topic: string }): number | null {
    if (group.protocolType === null) return Number(o.commitTimestamp); // simple commits, no membership
    if (group.state === 'Empty') return group.currentStateTimestamp;
    if (group.state === 'Stable' && group.protocolType === 'consumer' && group.subscribedTopics !== null && !group.subscribedTopics.has(o.topic)) {
      return Number(o.commitTimestamp);
    }
    return null;
  }

  /** Replays __consumer_offsets into the coordinator, then opens it for requests. */
  async load(): Promise<void> {
    const c = this.coordinator;
    const metadata = new Map<string, GroupRecord & { kind: 'group' }>();
    type Stored = CommittedOffset & { topic: string; partition: number };
    const offsets = new Map<string, Map<string, Stored>>();
    // Transactional commits wait for their marker: producer id → group → offsets.
    const pending = new Map<bigint, Map<string, Map<string, Stored | null>>>();
    const apply = (group: string, key: string, value: Stored | null) => {
      let g = offsets.get(group);
      if (!g) offsets.set(group, (g = new Map()));
      if (value === null) g.delete(key);
      else g.set(key, value);
    };
    let count = 0;
    for await (const e of this.store.load()) {
      count++;
      if (e.kind === 'marker') {
        const txn = pending.get(e.producerId);
        pending.delete(e.producerId);
        if (txn && e.commit) for (const [group, g] of txn) for (const [key, v] of g) if (v === null || isNewer(v, offsets.get(group)?.get(key))) apply(group, key, v);
        continue;
      }
      const r = e.record;
      if (r.kind === 'group') {
        if (r.value === null) {
          metadata.delete(r.group);
          offsets.delete(r.group); // a deleted group's offsets were tombstoned before its metadata
        } else metadata.set(r.group, r);
        continue;
      }
      const key = offsetKey(r.topic, r.partition);
      const value = r.value === null ? null : { topic: r.topic, partition: r.partition, ...r.value, order: count };
      if (e.producerId === null) {
        apply(r.group, key, value);
        // A tombstone outside a transaction removes the key's pending transactional offsets too.
        if (value === null) for (const txn of pending.values()) txn.get(r.group)?.delete(key);
        continue;
      }
      let txn = pending.get(e.producerId);
      if (!txn) pending.set(e.producerId, (txn = new Map()));
      let g = txn.get(r.group);
      if (!g) txn.set(r.group, (g = new Map()));
      g.set(key, value);
    }
    this.appended = count;
    for (const [id, r] of metadata) c.restore(id, r.value!);
    const groupOf = (id: string) => {
      let group = c.groups.get(id);
      if (!group) c.groups.set(id, (group = new ClassicGroup(id, this.now())));
      return group;
    };
    for (const [id, g] of offsets) {
      if (g.size === 0) continue;
      const group = groupOf(id);
      for (const [k, o] of g) group.offsets.set(k, o);
    }
    // Transactions still open: their offsets stay pending until the coordinator ends them.
    for (const [pid, txn] of pending) {
      for (const [id, g] of txn) {
        const stored = new Map([...g].filter((e): e is [string, Stored] => e[1] !== null));
        if (stored.size > 0) groupOf(id).pendingTxnOffsets.set(pid, stored);
      }
    }
    c.loading = false;
    c.startSessions();
    if (count > 0) this.log.info({ records: count, groups: c.groups.size }, 'loaded consumer groups and offsets');
    const deleted = [...this.deletedWhileLoading];
    this.deletedWhileLoading.clear();
    // Each call removes from memory before its first await: all of them before any request runs.
    await Promise.all(deleted.map((t) => this.forgetTopic(t)));
  }

  // ---- Transactional offsets --------------------------------------------------------------------

  /**
   * TxnOffsetCommit: offsets written inside the producer's transaction, applied when it commits.
   * `verified` is the coordinator's verdict on the group's offsets partition (NONE when it was
   * added to the transaction), already mapped for the request version.
   */
  async txnCommit(req: CommitRequest & { producerId: bigint; producerEpoch: number; verified: number }): Promise<number[]> {
    const c = this.coordinator;
    const all = (e: number) => req.offsets.map(() => e);
    if (c.loading) return all(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    if (req.groupId === '') return all(ErrorCode.INVALID_GROUP_ID);
    let group = c.groups.get(req.groupId);
    if (!group) {
      group = new ClassicGroup(req.groupId, this.now());
      c.groups.set(req.groupId, group);
    }
    // Kafka's GroupCoordinator verifies the transaction first: a fenced producer is told so even
    // when its member is gone too (a fatal error for the client, not an abortable one).
    if (req.verified !== ErrorCode.NONE) return all(req.verified);
    if (group.state === 'Dead') return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!(req.generationId < 0 && group.state === 'Empty') && (req.generationId >= 0 || req.memberId !== '' || req.groupInstanceId !== null)) {
      const e = group.validateMember(req.memberId, req.groupInstanceId);
      if (e !== ErrorCode.NONE) return all(e);
      if (req.generationId !== group.generationId) return all(ErrorCode.ILLEGAL_GENERATION);
    }
    const now = BigInt(this.now());
    const errors = req.offsets.map((o) => ((o.metadata ?? '').length > this.config.metadataMaxBytes ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE));
    const values = req.offsets.filter((_, i) => errors[i] === ErrorCode.NONE).map((o) => ({
      topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', commitTimestamp: now, expireTimestamp: -1n,
    }));
    try {
      await this.store.append(group.groupId, values.map((v) => ({ kind: 'offset', group: group.groupId, topic: v.topic, partition: v.partition, value: v })), { producerId: req.producerId, producerEpoch: req.producerEpoch });
    } catch (err) {
      const code = (err as { errorCode?: number }).errorCode ?? ErrorCode.NOT_COORDINATOR;
      if ((err as { errorCode?: number }).errorCode === undefined) this.log.error({ err, group: group.groupId }, 'could not store transactional offsets');
      return errors.map((e) => (e === ErrorCode.NONE ? code : e));
    }
    let pending = group.pendingTxnOffsets.get(req.producerId);
    if (!pending) group.pendingTxnOffsets.set(req.producerId, (pending = new Map()));
    const order = ++this.appended;
    for (const v of values) pending.set(offsetKey(v.topic, v.partition), { ...v, order });
    return errors;
  }

  /** A transaction marker reached an offsets partition: apply or drop that producer's pending offsets there. */
  transactionCompleted(groupsInPartition: (groupId: string) => boolean, producerId: bigint, commit: boolean): void {
    for (const group of this.coordinator.groups.values()) {
      if (!groupsInPartition(group.groupId)) continue;
      const pending = group.pendingTxnOffsets.get(producerId);
      if (!pending) continue;
      group.pendingTxnOffsets.delete(producerId);
      if (commit) for (const [k, o] of pending) if (isNewer(o, group.offsets.get(k))) group.offsets.set(k, o);
    }
  }

  /** Partitions with transactional commits not yet ended (OffsetFetch requireStable). */
  hasPendingTxnOffset(groupId: string, topic: string, partition: number): boolean {
    const group = this.coordinator.groups.get(groupId);
    if (!group) return false;
    const key = offsetKey(topic, partition);
    for (const p of group.pendingTxnOffsets.values()) if (p.has(key)) return true;
    return false;
  }
}
