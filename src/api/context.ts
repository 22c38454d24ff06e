/** What request handlers see: the decoded request and the broker they act on. */
import type { RequestHeader } from '../../protocol/generated/index.js';
import type { BrokerConfig, Endpoint } from '../config.js';
import type { Logger } from '../logger.js';
import type { TopicRegistry } from '../cluster/topics.js';
import type { GroupCoordinator } from '../coordinator/groups/group-coordinator.js';
import type { OffsetsTopicStore } from '../coordinator/groups/group-store.js';
import type { OffsetManager } from '../coordinator/groups/offset-manager.js';
import type { MarkerWriter, TransactionCoordinator } from '../coordinator/txn/transaction-coordinator.js';
import type { TransactionTopicStore } from '../coordinator/txn/transaction-log.js';
import type { ClientMetricsSubscriptions } from '../cluster/client-metrics.js';
import type { DynamicBrokerConfigs } from '../cluster/dynamic-configs.js';
import type { Connection } from '../server/connection.js';
import type { ClientQuotas } from '../quotas/quota-manager.js';
import type { RequestQuota } from '../quotas/request-quota.js';
import type { FetchSessionCache } from './fetch-sessions.js';

export interface BrokerState {
  readonly config: BrokerConfig;
  readonly log: Logger;
  readonly topics: TopicRegistry;
  readonly groups: GroupCoordinator;
  readonly offsets: OffsetManager;
  readonly offsetsTopic: OffsetsTopicStore;
  readonly transactions: TransactionCoordinator;
  readonly transactionTopic: TransactionTopicStore;
  /** Writes COMMIT/ABORT markers into partitions, as their leader (for the coordinator, and WriteTxnMarkers). */
  readonly markers: MarkerWriter;
  /** Dynamic broker configs (AlterConfigs on the broker resource), persisted through the storage engine. */
  readonly dynamicConfigs: DynamicBrokerConfigs;
  /** Client metrics subscriptions (CLIENT_METRICS config resources), persisted through the storage engine. */
  readonly clientMetrics: ClientMetricsSubscriptions;
  /** Client quotas: their configuration and the rates measured against them. */
  readonly quotas: ClientQuotas;
  /** Incremental fetch sessions (KIP-227). */
  readonly fetchSessions: FetchSessionCache;
  readonly clusterId: string;
  readonly nodeId: number;
  /** This broker's address for clients of the listener named (the one a request came in on). */
  advertisedOn(listener: string): Endpoint;
  /** Set when shutdown begins: long polls return at once. */
  readonly shuttingDown: boolean;
  /**
   * Aborted when shutdown begins. A signal rather than a promise: a long poll's listener must come
   * off again when the poll ends, or every poll of a broker's lifetime stays reachable.
   */
  readonly shutdownSignal: AbortSignal;
}

export interface RequestContext<Body = any> {
  readonly broker: BrokerState;
  readonly header: RequestHeader;
  readonly apiVersion: number;
  readonly body: Body;
  readonly connection: Connection;
  /**
   * This broker's address as clients of the request's listener know it: what Metadata,
   * FindCoordinator and the like answer, as Kafka answers with the endpoints of the listener a
   * request arrived on.
   */
  readonly advertised: Endpoint;
  /**
   * This request's quotas. Every response gets the request-time throttle unless the handler settles
   * the throttle itself (Produce, Fetch: bandwidth quotas).
   */
  readonly quota: RequestQuota;
  /**
   * Runs `f` once the response is written to the socket, or once it never will be (no response,
   * connection closed): for memory the response points into, such as the log's cache blocks.
   */
  afterSent(f: () => void): void;
}

/** A response body to encode at a version other than the request's (the ApiVersions fallback). */
export class VersionedBody {
  constructor(
    readonly body: unknown,
    readonly version: number,
  ) {}
}

/** A handler returns the response body, a VersionedBody, or null for no response at all. */
export type Handler = (ctx: RequestContext) => unknown | Promise<unknown>;

export interface ApiHandler {
  apiKey: number;
  /** The versions this broker implements and advertises. */
  minVersion: number;
  maxVersion: number;
  handle: Handler;
}
