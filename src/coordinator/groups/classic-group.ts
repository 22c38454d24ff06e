/**
 * A classic consumer group and its members: the state Kafka's GroupMetadata/MemberMetadata hold.
 * Pure bookkeeping; the coordinator drives transitions, timers and persistence.
 */
import { ErrorCode } from '../../../protocol/error-codes.js';
import { ConsumerProtocolSubscription } from '../../../protocol/generated/index.js';
import { Reader } from '../../../protocol/primitives/reader.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function joinError(errorCode: number, memberId = ''): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId, members: [] };
}

export function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export class Member {
  assignment: Buffer = EMPTY;
  /** A JoinGroup parked until the join phase completes. */
  awaitingJoin: ((r: JoinResult) => void) | null = null;
  /** A SyncGroup parked until the leader's assignment is stored. */
  awaitingSync: ((r: SyncResult) => void) | null = null;
  /** Joined during the current join phase, not yet through a completed one. */
  isNew = false;
  /** A heartbeat (or equivalent) arrived since the session timer was last armed. */
  heartbeatSatisfied = false;
  sessionTimer: NodeJS.Timeout | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocolType: string,
    public protocols: Protocol[],
  ) {}

  metadataFor(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }

  /** Same protocols, names and bytes, in the same order (Kafka's MemberMetadata.matches). */
  matches(protocols: Protocol[]): boolean {
    return protocols.length === this.protocols.length && protocols.every((p, i) => p.name === this.protocols[i].name && p.metadata.equals(this.protocols[i].metadata));
  }

  /** Its first preferred protocol among the candidates. */
  vote(candidates: Set<string>): string {
    return this.protocols.find((p) => candidates.has(p.name))!.name;
  }
}

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: bigint;
  /** -1 unless the commit asked for its own retention (OffsetCommit v2–4). */
  expireTimestamp: bigint;
  /**
   * Where its record stands in the group's log, relative to the others (Kafka compares their log
   * offsets): a transaction's offsets replace only older ones when it commits.
   */
  order?: number;
}

export function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class ClassicGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id → member id of static members. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, waiting for the rejoin; value: expiry timer. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  /** Members of the completed join phase that have not sent SyncGroup yet. */
  readonly pendingSync = new Set<string>();
  /** A member was added to a generation-0 group during its initial delayed join. */
  newMemberAdded = false;
  /** The running join phase is the initial delayed join, which never completes early. */
  initialJoin = false;
  /** When the group entered its current state (ms), persisted for offset expiry of empty groups. */
  currentStateTimestamp: number;
  /** Topics the members subscribe to, for offset expiry and OffsetDelete; null when unknown. */
  subscribedTopics: Set<string> | null = null;
  readonly offsets = new Map<string, CommittedOffset & { topic: string; partition: number }>();
  /** Offsets committed inside transactions not yet ended, by producer id (TxnOffsetCommit). */
  readonly pendingTxnOffsets = new Map<bigint, Map<string, CommittedOffset & { topic: string; partition: number }>>();
  joinTimer: NodeJS.Timeout | null = null;
  syncTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.currentStateTimestamp = now;
  }

  transition(state: GroupState, now: number): void {
    this.state = state;
    this.currentStateTimestamp = now;
  }

  get isEmpty(): boolean {
    return this.members.size === 0;
  }

  /** Members whose JoinGroup is parked in the current join phase. */
  get awaitingJoinCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.awaitingJoin) n++;
    return n;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.awaitingJoinCount && this.pendingMembers.size === 0;
  }

  /** The rebalance timeout of the group: the largest of its members'. */
  rebalanceTimeoutMs(): number {
    let t = 0;
    for (const m of this.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  /** Can members with this protocol type and these protocols join (Kafka's supportsProtocols)? */
  supportsProtocols(protocolType: string, names: string[]): boolean {
    if (this.isEmpty) return protocolType !== '' && names.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return names.some((n) => candidates.has(n));
  }

  /** Protocols every member supports. */
  candidateProtocols(): Set<string> {
    let set: Set<string> | null = null;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      set = set === null ? names : new Set([...set].filter((n: string) => names.has(n)));
    }
    return set ?? new Set();
  }

  /** Each member votes for its first supported candidate; the most votes win (ties: first seen). */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const v = m.vote(candidates);
      votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    let best = '';
    let most = -1;
    for (const [name, n] of votes) {
      if (n > most) {
        best = name;
        most = n;
      }
    }
    return best;
  }

  add(member: Member): void {
    if (this.isEmpty) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.leaderId === null) this.leaderId = member.memberId;
  }

  remove(memberId: string): Member | undefined {
    const m = this.members.get(memberId);
    if (!m) return undefined;
    this.members.delete(memberId);
    this.pendingSync.delete(memberId);
    if (m.groupInstanceId !== null && this.staticMembers.get(m.groupInstanceId) === memberId) this.staticMembers.delete(m.groupInstanceId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return m;
  }

  /** Kafka's validateCurrentMember: fenced static ids, unknown members. */
  validateMember(memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = this.staticMembers.get(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    return this.members.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  /** Recomputes the topics the members subscribe to from their ConsumerProtocol metadata. */
  computeSubscribedTopics(): void {
    if (this.protocolType !== 'consumer' || this.protocolName === null || this.isEmpty) {
      this.subscribedTopics = this.protocolType === 'consumer' && this.isEmpty ? new Set() : null;
      return;
    }
    const topics = new Set<string>();
    try {
      for (const m of this.members.values()) {
        const r = new Reader(m.metadataFor(this.protocolName));
        const version = r.int16();
        // Newer subscription versions keep the v0 prefix; read as the highest version we know.
        const sub = ConsumerProtocolSubscription.read(r, Math.min(version, ConsumerProtocolSubscription.maxVersion));
        for (const t of sub.topics) topics.add(t);
      }
      this.subscribedTopics = topics;
    } catch {
      this.subscribedTopics = null; // unparseable: treat every topic as subscribed
    }
  }

  isSubscribedTo(topic: string): boolean {
    return this.subscribedTopics === null || this.subscribedTopics.has(topic);
  }
}
