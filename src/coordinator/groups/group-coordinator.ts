/**
 * The classic group coordinator, following Kafka 3.9's default (GroupCoordinator.scala): join and
 * sync phases with their timers, heartbeats and session expiry, static membership, and the group's
 * state persisted to __consumer_offsets. Committed offsets live in offset-manager.ts.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../../protocol/error-codes.js';
import type { Logger } from '../../logger.js';
import { storageFailureLevel } from '../../storage/storage.js';
import { ClassicGroup, type JoinResult, Member, type Protocol, type SyncResult, joinError, syncError } from './classic-group.js';
import type { GroupStore } from './group-store.js';
import type { GroupValue } from './offsets-topic.js';

/** Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: how long a new member may wait in a join phase. */
const NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000;

export interface GroupCoordinatorConfig {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  maxGroupSize: number;
}

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  clientId: string;
  clientHost: string;
  /** v4+ without an instance id: answer a first join with MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  /** v9+: a returning static leader may skip running the assignor. */
  supportSkipAssignment: boolean;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface MemberRef {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export class GroupCoordinator {
  readonly groups = new Map<string, ClassicGroup>();
  /** True until __consumer_offsets has been read back. */
  loading = true;
  private closed = false;

  constructor(
    private readonly config: GroupCoordinatorConfig,
    private readonly store: GroupStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- JoinGroup -------------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> {
    // Kafka's coordinator once shut down (not active): so too for sync, heartbeat and leave.
    if (this.closed) return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (this.loading) return Promise.resolve(joinError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, req.memberId));
    if (req.groupId === '') return Promise.resolve(joinError(ErrorCode.INVALID_GROUP_ID, req.memberId));
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (req.memberId !== '') return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
      group = new ClassicGroup(req.groupId, this.now());
      this.groups.set(req.groupId, group);
    }
    if (!this.acceptJoiningMember(group, req.memberId)) {
      const m = group.members.get(req.memberId);
      if (m) this.removeMemberAndUpdateGroup(group, m, 'the group is full');
      else this.dropPendingMember(group, req.memberId);
      return Promise.resolve(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED));
    }
    if (group.state === 'Dead') return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (!group.supportsProtocols(req.protocolType, req.protocols.map((p) => p.name))) {
      return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    return req.memberId === '' ? this.joinNewMember(group, req) : this.joinCurrentMember(group, req);
  }

  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return (group.members.get(memberId)?.awaitingJoin ?? null) !== null || group.awaitingJoinCount < this.config.maxGroupSize;
      default:
        return group.members.has(memberId) || group.members.size < this.config.maxGroupSize;
    }
  }

  private joinNewMember(group: ClassicGroup, req: JoinRequest): Promise<JoinResult> {
    const memberId = `${req.groupInstanceId ?? req.clientId}-${randomUUID()}`;
    if (req.groupInstanceId !== null) {
      const existing = group.staticMembers.get(req.groupInstanceId);
      if (existing !== undefined) return this.replaceStaticMember(group, existing, memberId, req);
      return this.addMemberAndRebalance(group, memberId, req);
    }
    if (req.requireKnownMemberId) {
      // KIP-394: hand out the id first; the member holds the join phase open until it rejoins or expires.
      const timer = setTimeout(() => this.expirePendingMember(group, memberId), req.sessionTimeoutMs);
      timer.unref();
      group.pendingMembers.set(memberId, timer);
      return Promise.resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId));
    }
    return this.addMemberAndRebalance(group, memberId, req);
  }

  private joinCurrentMember(group: ClassicGroup, req: JoinRequest): Promise<JoinResult> {
    const pending = group.pendingMembers.get(req.memberId);
    if (pending !== undefined) {
      clearTimeout(pending);
      group.pendingMembers.delete(req.memberId);
      return this.addMemberAndRebalance(group, req.memberId, req);
    }
    const error = group.validateMember(req.memberId, req.groupInstanceId);
    if (error !== ErrorCode.NONE) return Promise.resolve(joinError(error, req.memberId));
    const member = group.members.get(req.memberId)!;
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, req);
      case 'CompletingRebalance':
        if (member.matches(req.protocols)) return Promise.resolve(this.currentJoinResult(group, member, group.leaderId === member.memberId, false));
        return this.updateMemberAndRebalance(group, member, req);
      case 'Stable':
        // The leader rejoining always rebalances, so it can react to metadata changes.
        if (group.leaderId === member.memberId || !member.matches(req.protocols)) return this.updateMemberAndRebalance(group, member, req);
        return Promise.resolve(this.currentJoinResult(group, member, false, false));
      default:
        return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    }
  }

  private currentJoinResult(group: ClassicGroup, member: Member, withMembers: boolean, skipAssignment: boolean, leader = group.leaderId ?? ''): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader,
      skipAssignment,
      memberId: member.memberId,
      members: withMembers ? this.memberMetadata(group) : [],
    };
  }

  private memberMetadata(group: ClassicGroup): JoinResult['members'] {
    return [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(group.protocolName ?? '') }));
  }

  private addMemberAndRebalance(group: ClassicGroup, memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member = new Member(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.rebalanceTimeoutMs, req.sessionTimeoutMs, req.protocolType, req.protocols);
    member.isNew = true;
    if (group.state === 'PreparingRebalance' && group.generationId === 0) group.newMemberAdded = true;
    group.add(member);
    const result = this.park(member);
    this.armSession(group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.maybePrepareRebalance(group, `${memberId} joined`);
    this.tryCompleteJoin(group);
    return result;
  }

  private updateMemberAndRebalance(group: ClassicGroup, member: Member, req: JoinRequest): Promise<JoinResult> {
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    // (The client id and host stay those of the first join: fixed in Kafka's MemberMetadata.)
    const result = this.park(member);
    this.maybePrepareRebalance(group, `${member.memberId} rejoined`);
    this.tryCompleteJoin(group);
    return result;
  }

  private park(member: Member): Promise<JoinResult> {
    // A second JoinGroup from the same member replaces the first, which learns it was superseded.
    member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    return new Promise((resolve) => (member.awaitingJoin = resolve));
  }

  /** A known static instance joining with a new member id: fence the old id, and skip the rebalance if nothing changed. */
  private replaceStaticMember(group: ClassicGroup, oldId: string, newId: string, req: JoinRequest): Promise<JoinResult> {
    const member = group.members.get(oldId)!;
    const oldLeader = group.leaderId ?? '';
    const oldProtocols = member.protocols;
    member.awaitingJoin?.(joinError(ErrorCode.FENCED_INSTANCE_ID, oldId));
    member.awaitingJoin = null;
    member.awaitingSync?.(syncError(ErrorCode.FENCED_INSTANCE_ID));
    member.awaitingSync = null;
    this.renameMember(group, member, newId);
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    // Kafka renames the member and keeps the rest: DescribeGroups still shows the first client id and host.
    if (group.state === 'Stable' && group.selectProtocol() === group.protocolName) {
      this.armSession(group, member, member.sessionTimeoutMs);
      const isLeader = group.leaderId === newId;
      return this.store.append(group.groupId, [this.groupRecord(group)]).then(
        () => {
          // Before v9 a returning static leader is not told it leads, so it does not reassign.
          const leader = req.supportSkipAssignment ? group.leaderId ?? '' : oldLeader;
          return this.currentJoinResult(group, member, req.supportSkipAssignment && isLeader, req.supportSkipAssignment && isLeader, leader);
        },
        (err: unknown) => {
          this.log.warn({ err, group: group.groupId }, 'could not store a static member replacement; reverting it');
          this.renameMember(group, member, oldId);
          member.protocols = oldProtocols;
          return joinError(ErrorCode.UNKNOWN_SERVER_ERROR);
        },
      );
    }
    return this.updateMemberAndRebalance(group, member, req);
  }

  private renameMember(group: ClassicGroup, member: Member, newId: string): void {
    const oldId = member.memberId;
    group.members.delete(oldId);
    member.memberId = newId;
    group.members.set(newId, member);
    if (member.groupInstanceId !== null) group.staticMembers.set(member.groupInstanceId, newId);
    if (group.leaderId === oldId) group.leaderId = newId;
    if (group.pendingSync.delete(oldId)) group.pendingSync.add(newId);
  }

  // ---- Rebalance phases ------------------------------------------------------------------------

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.state === 'Stable' || group.state === 'CompletingRebalance' || group.state === 'Empty') this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.state === 'CompletingRebalance') this.failPendingSyncs(group, ErrorCode.REBALANCE_IN_PROGRESS);
    group.pendingSync.clear();
    this.clearTimer(group, 'syncTimer');
    this.clearTimer(group, 'joinTimer');
    const wasEmpty = group.state === 'Empty';
    group.transition('PreparingRebalance', this.now());
    this.log.info({ group: group.groupId, generation: group.generationId, reason }, 'preparing to rebalance group');
    if (wasEmpty) {
      const delay = this.config.initialRebalanceDelayMs;
      this.initialDelayedJoin(group, delay, Math.max(group.rebalanceTimeoutMs() - delay, 0));
    } else {
      this.delayedJoin(group, group.rebalanceTimeoutMs());
      // Kafka's tryCompleteElseWatch: a group whose members have all joined already (none left,
      // say, after the last one left) completes the join now rather than at the rebalance timeout.
      this.tryCompleteJoin(group);
    }
  }

  /** A fresh group always waits the initial delay, extended while new members keep arriving. */
  private initialDelayedJoin(group: ClassicGroup, delay: number, remaining: number): void {
    group.initialJoin = true;
    group.joinTimer = setTimeout(() => {
      group.joinTimer = null;
      if (group.newMemberAdded && remaining > 0) {
        group.newMemberAdded = false;
        const next = Math.min(this.config.initialRebalanceDelayMs, remaining);
        this.initialDelayedJoin(group, next, Math.max(remaining - delay, 0));
        return;
      }
      group.initialJoin = false;
      this.completeJoin(group);
    }, delay);
    group.joinTimer.unref();
  }

  private delayedJoin(group: ClassicGroup, timeoutMs: number): void {
    group.initialJoin = false;
    group.joinTimer = setTimeout(() => {
      group.joinTimer = null;
      this.completeJoin(group);
    }, timeoutMs);
    group.joinTimer.unref();
  }

  private tryCompleteJoin(group: ClassicGroup): void {
    if (group.state === 'PreparingRebalance' && !group.initialJoin && group.hasAllMembersJoined()) {
      this.clearTimer(group, 'joinTimer');
      this.completeJoin(group);
    }
  }

  private completeJoin(group: ClassicGroup): void {
    if (group.state !== 'PreparingRebalance') return;
    // Dynamic members that did not rejoin are gone; static ones keep their place.
    for (const m of [...group.members.values()]) {
      if (m.awaitingJoin === null && m.groupInstanceId === null) this.removeMember(group, m, 'did not rejoin before the rebalance timeout');
    }
    const leader = group.leaderId === null ? undefined : group.members.get(group.leaderId);
    if (!leader?.awaitingJoin) {
      const joined = [...group.members.values()].find((m) => m.awaitingJoin !== null);
      if (joined) group.leaderId = joined.memberId;
      else if (!group.isEmpty) {
        // Only static members remain and none rejoined: give them another rebalance timeout.
        this.delayedJoin(group, group.rebalanceTimeoutMs());
        return;
      }
    }
    group.generationId++;
    if (group.isEmpty) {
      group.protocolName = null;
      group.leaderId = null;
      group.transition('Empty', this.now());
      group.computeSubscribedTopics();
      this.log.info({ group: group.groupId, generation: group.generationId }, 'group is empty');
      this.persist(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    group.computeSubscribedTopics();
    group.transition('CompletingRebalance', this.now());
    this.log.info({ group: group.groupId, generation: group.generationId, protocol: group.protocolName, members: group.members.size }, 'group rebalanced; awaiting the leader\'s assignment');
    for (const m of group.members.values()) {
      const isLeader = m.memberId === group.leaderId;
      const respond = m.awaitingJoin;
      m.awaitingJoin = null;
      m.isNew = false;
      respond?.(this.currentJoinResult(group, m, isLeader, false));
      this.armSession(group, m, m.sessionTimeoutMs);
      group.pendingSync.add(m.memberId);
    }
    const generation = group.generationId;
    group.syncTimer = setTimeout(() => {
      group.syncTimer = null;
      if ((group.state === 'CompletingRebalance' || group.state === 'Stable') && group.generationId === generation && group.pendingSync.size > 0) {
        for (const id of [...group.pendingSync]) {
          const m = group.members.get(id);
          if (m) this.removeMember(group, m, 'did not send SyncGroup in time');
        }
        this.prepareRebalance(group, 'members did not sync');
      }
    }, group.rebalanceTimeoutMs());
    group.syncTimer.unref();
  }

  // ---- SyncGroup -------------------------------------------------------------------------------

  sync(req: SyncRequest): Promise<SyncResult> {
    if (this.closed) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (this.loading) return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    if (req.groupId === '') return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    const group = this.groups.get(req.groupId);
    if (!group) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.state === 'Dead') return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const error = group.validateMember(req.memberId, req.groupInstanceId);
    if (error !== ErrorCode.NONE) return Promise.resolve(syncError(error));
    if (req.generationId !== group.generationId) return Promise.resolve(syncError(ErrorCode.ILLEGAL_GENERATION));
    if ((req.protocolType !== null && req.protocolType !== group.protocolType) || (req.protocolName !== null && req.protocolName !== group.protocolName)) {
      return Promise.resolve(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const member = group.members.get(req.memberId)!;
    switch (group.state) {
      case 'Empty':
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'Stable':
        group.pendingSync.delete(member.memberId);
        this.armSession(group, member, member.sessionTimeoutMs);
        return Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
      default: {
        member.awaitingSync?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        const result = new Promise<SyncResult>((resolve) => (member.awaitingSync = resolve));
        group.pendingSync.delete(member.memberId);
        if (member.memberId === group.leaderId) this.storeAssignment(group, req.assignments);
        return result;
      }
    }
  }

  private storeAssignment(group: ClassicGroup, assignments: SyncRequest['assignments']): void {
    const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    const assignment = new Map<string, Buffer>();
    for (const id of group.members.keys()) {
      if (!byMember.has(id)) this.log.warn({ group: group.groupId, member: id }, 'the leader sent no assignment for this member; it gets an empty one');
      assignment.set(id, byMember.get(id) ?? Buffer.alloc(0));
    }
    const generation = group.generationId;
    this.store.append(group.groupId, [this.groupRecord(group, assignment)]).then(
      () => {
        if (group.state !== 'CompletingRebalance' || group.generationId !== generation) return;
        for (const [id, a] of assignment) {
          const m = group.members.get(id);
          if (m) m.assignment = a;
        }
        for (const m of group.members.values()) {
          const respond = m.awaitingSync;
          m.awaitingSync = null;
          if (respond) {
            respond({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: m.assignment });
            this.armSession(group, m, m.sessionTimeoutMs);
          }
        }
        group.transition('Stable', this.now());
        this.log.info({ group: group.groupId, generation }, 'group is stable');
      },
      (err: unknown) => {
        this.log[storageFailureLevel(err)]({ err, group: group.groupId }, 'could not store the group assignment');
        if (group.state !== 'CompletingRebalance' || group.generationId !== generation) return;
        this.failPendingSyncs(group, ErrorCode.NOT_COORDINATOR);
        this.maybePrepareRebalance(group, 'the assignment could not be stored');
      },
    );
  }

  private failPendingSyncs(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) {
      m.assignment = Buffer.alloc(0);
      const respond = m.awaitingSync;
      m.awaitingSync = null;
      respond?.(syncError(errorCode));
    }
  }

  // ---- Heartbeat and LeaveGroup ----------------------------------------------------------------

  heartbeat(req: MemberRef): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (this.loading) return ErrorCode.NONE; // Kafka's answer while loading: the member keeps its session
    if (req.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const group = this.groups.get(req.groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const error = group.validateMember(req.memberId, req.groupInstanceId);
    if (error !== ErrorCode.NONE) return error;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.members.get(req.memberId)!;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.heartbeatReceived(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        this.heartbeatReceived(group, member);
        return ErrorCode.NONE;
    }
  }

  /** Resets a member's session timer (heartbeats, and offset commits from current members). */
  heartbeatReceived(group: ClassicGroup, member: Member): void {
    member.heartbeatSatisfied = true;
    this.armSession(group, member, member.sessionTimeoutMs);
  }

  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]): { errorCode: number; members: { memberId: string; groupInstanceId: string | null; errorCode: number }[] } {
    const all = (errorCode: number) => members.map((m) => ({ ...m, errorCode }));
    // Once closed, a leave would start a rebalance whose timers nobody clears.
    if (this.closed) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (this.loading) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, members: [] };
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.NONE, members: all(ErrorCode.UNKNOWN_MEMBER_ID) };
    if (group.state === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const results = members.map((ref) => {
      if (ref.memberId === '') {
        const id = ref.groupInstanceId === null ? undefined : group.staticMembers.get(ref.groupInstanceId);
        const m = id === undefined ? undefined : group.members.get(id);
        if (!m) return { ...ref, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
        this.removeMemberAndUpdateGroup(group, m, 'left the group (by instance id)');
        return { ...ref, errorCode: ErrorCode.NONE };
      }
      if (this.dropPendingMember(group, ref.memberId)) return { ...ref, errorCode: ErrorCode.NONE };
      const error = group.validateMember(ref.memberId, ref.groupInstanceId);
      if (error !== ErrorCode.NONE) return { ...ref, errorCode: error };
      this.removeMemberAndUpdateGroup(group, group.members.get(ref.memberId)!, 'left the group');
      return { ...ref, errorCode: ErrorCode.NONE };
    });
    return { errorCode: ErrorCode.NONE, members: results };
  }

  // ---- Membership and timers -------------------------------------------------------------------

  /** (Re)starts a member's session timer; when it fires without a heartbeat the member is removed. */
  private armSession(group: ClassicGroup, member: Member, timeoutMs: number): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    if (this.closed) return;
    member.heartbeatSatisfied = false;
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member) return;
      // Members parked in a phase are alive by definition (new ones only until their join timeout).
      const waiting = (!member.isNew && member.awaitingJoin !== null) || member.awaitingSync !== null;
      if (waiting || member.heartbeatSatisfied) {
        this.armSession(group, member, member.sessionTimeoutMs);
        return;
      }
      this.removeMemberAndUpdateGroup(group, member, 'session timed out');
    }, timeoutMs);
    member.sessionTimer.unref();
  }

  /**
   * Forgets an id handed out with MEMBER_ID_REQUIRED whose member left or was refused (Kafka's
   * GroupMetadata.remove): a join phase waiting for it may complete now. False if it was not pending.
   */
  private dropPendingMember(group: ClassicGroup, memberId: string): boolean {
    const pending = group.pendingMembers.get(memberId);
    if (pending === undefined) return false;
    clearTimeout(pending);
    group.pendingMembers.delete(memberId);
    this.tryCompleteJoin(group);
    return true;
  }

  private expirePendingMember(group: ClassicGroup, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return;
    this.log.debug({ group: group.groupId, member: memberId }, 'pending member did not rejoin in time');
    this.tryCompleteJoin(group);
  }

  private removeMember(group: ClassicGroup, member: Member, reason: string): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    const respond = member.awaitingJoin;
    member.awaitingJoin = null;
    respond?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID));
    member.awaitingSync = null;
    group.remove(member.memberId);
    this.log.info({ group: group.groupId, member: member.memberId, reason }, 'member removed from group');
  }

  private removeMemberAndUpdateGroup(group: ClassicGroup, member: Member, reason: string): void {
    this.removeMember(group, member, reason);
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.maybePrepareRebalance(group, `${member.memberId} ${reason}`);
    else if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
  }

  private clearTimer(group: ClassicGroup, which: 'joinTimer' | 'syncTimer'): void {
    const t = group[which];
    if (t) clearTimeout(t);
    group[which] = null;
  }

  // ---- Persistence -----------------------------------------------------------------------------

  groupRecord(group: ClassicGroup, assignment?: Map<string, Buffer>) {
    const value: GroupValue = {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: BigInt(group.currentStateTimestamp),
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: m.metadataFor(group.protocolName ?? ''),
        assignment: assignment?.get(m.memberId) ?? m.assignment,
      })),
    };
    return { kind: 'group' as const, group: group.groupId, value };
  }

  private persist(group: ClassicGroup): void {
    this.store.append(group.groupId, [this.groupRecord(group)]).catch((err: unknown) => this.log[storageFailureLevel(err)]({ err, group: group.groupId }, 'could not store group metadata'));
  }

  /** Rebuilds a group from its last GroupMetadata record (members must heartbeat to stay). */
  restore(groupId: string, value: GroupValue): ClassicGroup {
    const group = this.groups.get(groupId) ?? new ClassicGroup(groupId, this.now());
    this.groups.set(groupId, group);
    for (const m of group.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
    group.members.clear();
    group.staticMembers.clear();
    group.generationId = value.generation;
    group.protocolType = value.protocolType === '' ? null : value.protocolType;
    group.protocolName = value.protocol;
    group.leaderId = null;
    for (const v of value.members) {
      const m = new Member(v.memberId, v.groupInstanceId, v.clientId, v.clientHost, v.rebalanceTimeout < 0 ? v.sessionTimeout : v.rebalanceTimeout, v.sessionTimeout, group.protocolType ?? '', [{ name: value.protocol ?? '', metadata: v.subscription }]);
      m.assignment = v.assignment;
      group.add(m);
    }
    group.leaderId = value.leader;
    group.currentStateTimestamp = value.currentStateTimestamp >= 0n ? Number(value.currentStateTimestamp) : this.now();
    group.state = group.isEmpty ? 'Empty' : 'Stable';
    group.computeSubscribedTopics();
    return group;
  }

  /** After loading: every restored member gets a fresh session. */
  startSessions(): void {
    for (const group of this.groups.values()) for (const m of group.members.values()) this.armSession(group, m, m.sessionTimeoutMs);
  }

  removeGroup(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group) return;
    for (const m of group.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
    for (const t of group.pendingMembers.values()) clearTimeout(t);
    this.clearTimer(group, 'joinTimer');
    this.clearTimer(group, 'syncTimer');
    group.state = 'Dead';
    this.groups.delete(groupId);
  }

  /**
   * __consumer_offsets was deleted: as Kafka's coordinator resigning the topic's partitions
   * (BrokerMetadataPublisher.updateCoordinator → onResignation), every group is unloaded with its
   * offsets, members waiting in a join or sync are answered NOT_COORDINATOR, and the topic is made
   * again, empty, at its next use. Returns how many groups went.
   */
  unloadAll(): number {
    const n = this.groups.size;
    for (const id of [...this.groups.keys()]) {
      this.resign(this.groups.get(id)!);
      this.removeGroup(id);
    }
    return n;
  }

  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) this.resign(group);
  }

  /** This broker stops coordinating the group: members waiting in a join or sync are answered NOT_COORDINATOR, its timers stop. */
  private resign(group: ClassicGroup): void {
    for (const m of group.members.values()) {
      m.awaitingJoin?.(joinError(ErrorCode.NOT_COORDINATOR, m.memberId));
      m.awaitingSync?.(syncError(ErrorCode.NOT_COORDINATOR));
      m.awaitingJoin = null;
      m.awaitingSync = null;
      if (m.sessionTimer) clearTimeout(m.sessionTimer);
    }
    for (const t of group.pendingMembers.values()) clearTimeout(t);
    this.clearTimer(group, 'joinTimer');
    this.clearTimer(group, 'syncTimer');
  }
}
