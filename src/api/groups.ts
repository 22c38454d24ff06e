/**
 * The classic group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * DescribeGroups, ListGroups, DeleteGroups. Thin: the GroupCoordinator holds the semantics.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type {
  DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, SyncGroupRequest,
} from '../../protocol/generated/index.js';
import { AUTHORIZED_OPERATIONS_OMITTED, GROUP_AUTHORIZED_OPERATIONS } from './cluster-info.js';
import type { ApiHandler, BrokerState, RequestContext } from './context.js';
import { INVALID_REQUEST_MESSAGE } from './java-messages.js';

const GROUP_KEY = 0;
const TRANSACTION_KEY = 1;
const SHARE_KEY = 2;

/**
 * The coordinator's answer and Kafka's message for it: v1–3 say "NONE" on success and carry the
 * generic INVALID_REQUEST text for a key type they cannot take; v4+ leave the message empty but
 * for an unknown key type.
 */
async function coordinatorFor(broker: BrokerState, keyType: number, version: number): Promise<{ errorCode: number; errorMessage: string | null }> {
  const ok = { errorCode: ErrorCode.NONE, errorMessage: version >= 4 ? '' : 'NONE' };
  if (keyType === GROUP_KEY) {
    await broker.offsetsTopic.ensureTopic();
    return ok;
  }
  if (keyType === TRANSACTION_KEY) {
    await broker.transactionTopic.ensureTopic();
    return ok;
  }
  if (keyType !== SHARE_KEY || version < 4) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: INVALID_REQUEST_MESSAGE };
  // Share groups (KIP-932) need v6, and have no coordinator here.
  return { errorCode: version < 6 ? ErrorCode.INVALID_REQUEST : ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: '' };
}

async function findCoordinator(ctx: RequestContext<FindCoordinatorRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  const keyType = apiVersion >= 1 ? body.keyType : GROUP_KEY;
  const self = { nodeId: broker.nodeId, host: ctx.advertised.host, port: ctx.advertised.port };
  const result = await coordinatorFor(broker, keyType, apiVersion);
  const ok = result.errorCode === ErrorCode.NONE;
  if (apiVersion >= 4) {
    return { throttleTimeMs: 0, coordinators: body.coordinatorKeys.map((key) => ({ key, ...(ok ? self : { nodeId: -1, host: '', port: -1 }), ...result })) };
  }
  return { throttleTimeMs: 0, ...(ok ? self : { nodeId: -1, host: '', port: -1 }), errorCode: result.errorCode, errorMessage: apiVersion >= 1 ? result.errorMessage : null };
}

async function joinGroup(ctx: RequestContext<JoinGroupRequest>): Promise<unknown> {
  const { broker, body, apiVersion, header, connection } = ctx;
  const r = await broker.groups.join({
    groupId: body.groupId,
    memberId: body.memberId,
    groupInstanceId: apiVersion >= 5 ? body.groupInstanceId : null,
    sessionTimeoutMs: body.sessionTimeoutMs,
    // v0 has no rebalance timeout: Kafka uses the session timeout.
    rebalanceTimeoutMs: apiVersion >= 1 ? body.rebalanceTimeoutMs : body.sessionTimeoutMs,
    protocolType: body.protocolType,
    protocols: body.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
    clientId: header.clientId ?? '',
    clientHost: `/${connection.socket.remoteAddress ?? ''}`,
    requireKnownMemberId: apiVersion >= 4 && (apiVersion < 5 || body.groupInstanceId === null),
    supportSkipAssignment: apiVersion >= 9,
  });
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    // Before v7 the protocol name is a non-null string.
    protocolType: apiVersion >= 7 ? r.protocolType : null,
    protocolName: apiVersion >= 7 ? r.protocolName : r.protocolName ?? '',
    leader: r.leader,
    skipAssignment: apiVersion >= 9 ? r.skipAssignment : false,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: apiVersion >= 5 ? m.groupInstanceId : null, metadata: m.metadata })),
  };
}

async function syncGroup(ctx: RequestContext<SyncGroupRequest>): Promise<unknown> {
  const { broker, body, apiVersion } = ctx;
  if (apiVersion >= 5 && (body.protocolType === null || body.protocolName === null)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, assignment: Buffer.alloc(0) };
  }
  const r = await broker.groups.sync({
    groupId: body.groupId,
    generationId: body.generationId,
    memberId: body.memberId,
    groupInstanceId: apiVersion >= 3 ? body.groupInstanceId : null,
    protocolType: apiVersion >= 5 ? body.protocolType : null,
    protocolName: apiVersion >= 5 ? body.protocolName : null,
    assignments: body.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
  });
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    protocolType: apiVersion >= 5 ? r.protocolType : null,
    protocolName: apiVersion >= 5 ? r.protocolName : null,
    assignment: r.assignment,
  };
}

function heartbeat(ctx: RequestContext<HeartbeatRequest>): unknown {
  const { broker, body, apiVersion } = ctx;
  const errorCode = broker.groups.heartbeat({ groupId: body.groupId, generationId: body.generationId, memberId: body.memberId, groupInstanceId: apiVersion >= 3 ? body.groupInstanceId : null });
  return { throttleTimeMs: 0, errorCode };
}

function leaveGroup(ctx: RequestContext<LeaveGroupRequest>): unknown {
  const { broker, body, apiVersion } = ctx;
  const members = apiVersion >= 3 ? body.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })) : [{ memberId: body.memberId, groupInstanceId: null }];
  const r = broker.groups.leave(body.groupId, members);
  if (apiVersion >= 3) return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
  // Before v3 there is one member and one error.
  return { throttleTimeMs: 0, errorCode: r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? ErrorCode.NONE) };
}

function describeGroups(ctx: RequestContext<DescribeGroupsRequest>): unknown {
  const { broker, body, apiVersion } = ctx;
  // Without an authorizer, Kafka reports every operation a group supports, when asked (v3+).
  const operations = apiVersion >= 3 && body.includeAuthorizedOperations ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
  const groups = body.groups.map((groupId) => {
    if (broker.groups.loading) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
    const g = broker.groups.groups.get(groupId);
    if (!g) return { errorCode: ErrorCode.NONE, groupId, authorizedOperations: operations, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
    const stable = g.state === 'Stable';
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      authorizedOperations: operations,
      groupState: g.state,
      protocolType: g.protocolType ?? '',
      protocolData: stable ? (g.protocolName ?? '') : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: apiVersion >= 4 ? m.groupInstanceId : null,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: stable ? m.metadataFor(g.protocolName ?? '') : Buffer.alloc(0),
        memberAssignment: stable ? m.assignment : Buffer.alloc(0),
      })),
    };
  });
  return { throttleTimeMs: 0, groups };
}

function listGroups(ctx: RequestContext<ListGroupsRequest>): unknown {
  const { broker, body, apiVersion } = ctx;
  const states = apiVersion >= 4 ? new Set(body.statesFilter.map((s) => s.toLowerCase())) : new Set<string>();
  const types = apiVersion >= 5 ? new Set(body.typesFilter.map((t) => t.toLowerCase())) : new Set<string>();
  if (types.size > 0 && !types.has('classic')) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups: [] };
  const groups = [...broker.groups.groups.values()]
    .filter((g) => g.state !== 'Dead' && (states.size === 0 || states.has(g.state.toLowerCase())))
    .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: apiVersion >= 4 ? g.state : '', groupType: apiVersion >= 5 ? 'classic' : '' }));
  return { throttleTimeMs: 0, errorCode: broker.groups.loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE, groups };
}

async function deleteGroups(ctx: RequestContext<DeleteGroupsRequest>): Promise<unknown> {
  const { broker, body } = ctx;
  const ids = [...new Set(body.groupsNames)];
  const results = [];
  for (const groupId of ids) results.push({ groupId, errorCode: await broker.offsets.deleteGroup(groupId) });
  return { throttleTimeMs: 0, results };
}

export const groupHandlers: ApiHandler[] = [
  { apiKey: ApiKey.FindCoordinator, minVersion: 0, maxVersion: 6, handle: findCoordinator },
  { apiKey: ApiKey.JoinGroup, minVersion: 0, maxVersion: 9, handle: joinGroup },
  { apiKey: ApiKey.SyncGroup, minVersion: 0, maxVersion: 5, handle: syncGroup },
  { apiKey: ApiKey.Heartbeat, minVersion: 0, maxVersion: 4, handle: heartbeat },
  { apiKey: ApiKey.LeaveGroup, minVersion: 0, maxVersion: 5, handle: leaveGroup },
  { apiKey: ApiKey.DescribeGroups, minVersion: 0, maxVersion: 5, handle: describeGroups },
  { apiKey: ApiKey.ListGroups, minVersion: 0, maxVersion: 5, handle: listGroups },
  { apiKey: ApiKey.DeleteGroups, minVersion: 0, maxVersion: 2, handle: deleteGroups },
];
