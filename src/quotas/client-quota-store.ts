/**
 * Client quota configuration as Kafka 3.9 (KRaft) keeps it: quota values per entity, an entity being
 * a user, a client id, a user and client id, or an IP address, each possibly the default entity
 * (name null). AlterClientQuotas validates and changes it the way Kafka's controller does
 * (ClientQuotaControlManager), DescribeClientQuotas filters it the way the broker's metadata image
 * does (ClientQuotasImage.describe). Persisted through Storage.writeState('client-quotas').
 */
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { ErrorCode } from '../../protocol/error-codes.js';

export const USER = 'user';
export const CLIENT_ID = 'client-id';
export const IP = 'ip';

export const PRODUCER_BYTE_RATE = 'producer_byte_rate';
export const CONSUMER_BYTE_RATE = 'consumer_byte_rate';
export const REQUEST_PERCENTAGE = 'request_percentage';
export const CONTROLLER_MUTATION_RATE = 'controller_mutation_rate';
export const CONNECTION_CREATION_RATE = 'connection_creation_rate';

type ValueType = 'long' | 'int' | 'double';

/** Kafka's QuotaConfigs: the keys a user and/or client-id entity may set, and those of an IP entity. */
const USER_CLIENT_KEYS = new Map<string, ValueType>([
  [PRODUCER_BYTE_RATE, 'long'],
  [CONSUMER_BYTE_RATE, 'long'],
  [REQUEST_PERCENTAGE, 'double'],
  [CONTROLLER_MUTATION_RATE, 'double'],
]);
const IP_KEYS = new Map<string, ValueType>([[CONNECTION_CREATION_RATE, 'int']]);

/** DescribeClientQuotas match types. */
export const MATCH_EXACT = 0;
export const MATCH_DEFAULT = 1;
export const MATCH_SPECIFIED = 2;

/** An entity: entity type → name, null for the default entity of that type. */
export type QuotaEntity = ReadonlyMap<string, string | null>;

export interface EntityData {
  entityType: string;
  entityName: string | null;
}

export interface QuotaOp {
  key: string;
  value: number;
  remove: boolean;
}

export interface AlterEntry {
  entity: readonly EntityData[];
  ops: readonly QuotaOp[];
}

export interface AlterResult {
  entity: EntityData[];
  errorCode: number;
  errorMessage: string | null;
}

export interface DescribeComponent {
  entityType: string;
  matchType: number;
  match: string | null;
}

export interface DescribeResult {
  errorCode: number;
  errorMessage: string | null;
  /** null with an error. */
  entries: { entity: EntityData[]; values: { key: string; value: number }[] }[] | null;
}

/** Persistence and change notification, as the broker wires them. */
export interface QuotaStorePersistence {
  readState(name: string): Promise<string | null>;
  writeState(name: string, text: string): Promise<void>;
}

/** Called for every quota key whose value changed on an entity (set or removed). */
export type QuotaChangeListener = (entity: QuotaEntity, key: string) => void;

interface StoredEntity {
  entity: QuotaEntity;
  quotas: Map<string, number>;
}

interface StateFile {
  version: 1;
  entities: { entity: [string, string | null][]; quotas: Record<string, string> }[];
}

const STATE_NAME = 'client-quotas';
const TYPE_ORDER = [USER, CLIENT_ID, IP];

/** The canonical key of an entity, whatever the order its components came in. */
export function entityKey(entity: QuotaEntity): string {
  const pairs = [...entity].sort(([a], [b]) => (TYPE_ORDER.indexOf(a) - TYPE_ORDER.indexOf(b)) || (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(pairs);
}

/** Builds an entity from its parts (as Kafka's request does: a type given twice keeps its last name). */
export function entityOf(parts: readonly EntityData[] | readonly [string, string | null][]): QuotaEntity {
  const m = new Map<string, string | null>();
  for (const p of parts) {
    if (Array.isArray(p)) m.set(p[0], p[1]);
    else m.set((p as EntityData).entityType, (p as EntityData).entityName);
  }
  return m;
}

function entityData(entity: QuotaEntity): EntityData[] {
  return [...entity].map(([entityType, entityName]) => ({ entityType, entityName }));
}

/** Kafka's ClientQuotaEntity.toString, used in its error messages. */
function describeEntity(entity: QuotaEntity): string {
  return `ClientQuotaEntity(entries={${[...entity].map(([t, n]) => `${t}=${n}`).join(', ')}})`;
}

class InvalidRequest extends Error {}

async function resolvable(host: string): Promise<boolean> {
  if (isIP(host) !== 0) return true;
  try {
    await lookup(host);
    return true;
  } catch {
    return false;
  }
}

export class ClientQuotaStore {
  private entities = new Map<string, StoredEntity>();
  private readonly listeners: QuotaChangeListener[] = [];
  /** Alterations apply one at a time. */
  private altering: Promise<unknown> = Promise.resolve();

  constructor(private readonly persistence: QuotaStorePersistence) {}

  onChange(listener: QuotaChangeListener): void {
    this.listeners.push(listener);
  }

  async load(): Promise<void> {
    const text = await this.persistence.readState(STATE_NAME);
    const loaded = new Map<string, StoredEntity>();
    if (text !== null) {
      const file = JSON.parse(text) as StateFile;
      if (file.version !== 1 || !Array.isArray(file.entities)) throw new Error('client-quotas: unsupported content');
      for (const e of file.entities) {
        const entity = entityOf(e.entity);
        loaded.set(entityKey(entity), { entity, quotas: new Map(Object.entries(e.quotas).map(([k, v]) => [k, Number(v)])) });
      }
    }
    this.entities = loaded;
    for (const e of loaded.values()) for (const key of e.quotas.keys()) this.notify(e.entity, key);
  }

  /** The value of `key` set on exactly this entity, or undefined. */
  value(entity: QuotaEntity, key: string): number | undefined {
    return this.entities.get(entityKey(entity))?.quotas.get(key);
  }

  /** Every entity with its quotas (tests, logs). */
  all(): { entity: QuotaEntity; quotas: ReadonlyMap<string, number> }[] {
    return [...this.entities.values()].map((e) => ({ entity: e.entity, quotas: e.quotas }));
  }

  /** DescribeClientQuotas: the entities matching every filter component (and nothing else when strict). */
  describe(components: readonly DescribeComponent[], strict: boolean): DescribeResult {
    const exact = new Map<string, string | null>();
    const specified = new Set<string>();
    const fail = (errorCode: number, errorMessage: string): DescribeResult => ({ errorCode, errorMessage, entries: null });
    for (const c of components) {
      if (c.entityType === '') return fail(ErrorCode.INVALID_REQUEST, 'Invalid empty entity type.');
      if (exact.has(c.entityType) || specified.has(c.entityType)) {
        return fail(ErrorCode.INVALID_REQUEST, `Entity type ${c.entityType} cannot appear more than once in the filter.`);
      }
      if (c.entityType !== IP && c.entityType !== USER && c.entityType !== CLIENT_ID) {
        return fail(ErrorCode.UNSUPPORTED_VERSION, `Unsupported entity type ${c.entityType}`);
      }
      switch (c.matchType) {
        case MATCH_EXACT:
          if (c.match === null) return fail(ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_EXACT, but set match string to null.');
          exact.set(c.entityType, c.match);
          break;
        case MATCH_DEFAULT:
          if (c.match !== null) return fail(ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_DEFAULT, but also specified a match string.');
          exact.set(c.entityType, null);
          break;
        case MATCH_SPECIFIED:
          if (c.match !== null) return fail(ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.');
          specified.add(c.entityType);
          break;
        default:
          return fail(ErrorCode.INVALID_REQUEST, `Unknown match type ${c.matchType}`);
      }
    }
    const mentions = (t: string) => exact.has(t) || specified.has(t);
    if (mentions(IP) && (mentions(USER) || mentions(CLIENT_ID))) {
      return fail(ErrorCode.INVALID_REQUEST, 'Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.');
    }
    const matches = (entity: QuotaEntity): boolean => {
      if (strict && entity.size !== exact.size + specified.size) return false;
      for (const [t, name] of exact) if (!entity.has(t) || entity.get(t) !== name) return false;
      for (const t of specified) if (!entity.has(t)) return false;
      return true;
    };
    const entries = [...this.entities.values()]
      .filter((e) => matches(e.entity))
      .map((e) => ({ entity: entityData(e.entity), values: [...e.quotas].map(([key, value]) => ({ key, value })) }));
    return { errorCode: ErrorCode.NONE, errorMessage: null, entries };
  }

  /**
   * AlterClientQuotas. As in Kafka, an entity with an invalid alteration is left alone while the
   * others are applied; one result per distinct entity. Kafka's quirks are kept: an entity given
   * twice is applied once but reported as "Ignoring duplicate entity", and so is an entity with a
   * key given twice (not applied). Removing a key that is not set is a silent no-op.
   */
  alter(entries: readonly AlterEntry[], validateOnly: boolean): Promise<AlterResult[]> {
    const run = this.altering.catch(() => undefined).then(() => this.alterNow(entries, validateOnly));
    this.altering = run;
    return run;
  }

  private async alterNow(entries: readonly AlterEntry[], validateOnly: boolean): Promise<AlterResult[]> {
    const results = new Map<string, { entity: QuotaEntity; errorCode: number; errorMessage: string | null }>();
    const changes: { entity: QuotaEntity; alterations: Map<string, number | null> }[] = [];
    for (const entry of entries) {
      const entity = entityOf(entry.entity);
      const key = entityKey(entity);
      const alterations = new Map<string, number | null>();
      for (const op of entry.ops) {
        if (alterations.has(op.key)) {
          results.set(key, { entity, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Duplicate quota key ${op.key} not updating quota for this entity ${describeEntity(entity)}` });
        } else {
          alterations.set(op.key, op.remove ? null : op.value);
        }
      }
      if (results.has(key)) {
        results.set(key, { entity: results.get(key)!.entity, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Ignoring duplicate entity ${describeEntity(entity)}` });
        continue;
      }
      try {
        await this.validate(entity, alterations);
        results.set(key, { entity, errorCode: ErrorCode.NONE, errorMessage: null });
        changes.push({ entity, alterations });
      } catch (e) {
        if (!(e instanceof InvalidRequest)) throw e;
        results.set(key, { entity, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: e.message });
      }
    }
    if (!validateOnly) await this.apply(changes);
    return [...results.values()].map((r) => ({ entity: entityData(r.entity), errorCode: r.errorCode, errorMessage: r.errorMessage }));
  }

  /** Kafka's validateEntity, configKeysForEntityType and validateQuotaKeyValue; throws InvalidRequest. */
  private async validate(entity: QuotaEntity, alterations: ReadonlyMap<string, number | null>): Promise<void> {
    if (entity.size === 0) throw new InvalidRequest('Invalid empty client quota entity');
    for (const [type, name] of entity) {
      if (type !== USER && type !== CLIENT_ID && type !== IP) throw new InvalidRequest(`Unhandled client quota entity type: ${type}`);
      if (name === '') throw new InvalidRequest(`Empty ${type} not supported`);
    }
    let keys: ReadonlyMap<string, ValueType>;
    if (entity.has(IP)) {
      // Kafka's message, missing space included.
      if (entity.has(USER) || entity.has(CLIENT_ID)) throw new InvalidRequest('Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId');
      const ip = entity.get(IP)!;
      if (ip !== null && !(await resolvable(ip))) throw new InvalidRequest(`${ip} is not a valid IP or resolvable host.`);
      keys = IP_KEYS;
    } else {
      keys = USER_CLIENT_KEYS;
    }
    for (const [key, value] of alterations) {
      if (value === null) continue;
      const type = keys.get(key);
      if (type === undefined) throw new InvalidRequest(`Invalid configuration key ${key}`);
      if (value <= 0) throw new InvalidRequest(`Quota ${key} must be greater than 0`);
      if (type === 'double') continue;
      if (type === 'int' && value > 2147483647) throw new InvalidRequest(`Proposed value for ${key} is too large for an INT.`);
      if (type === 'long' && value > 9223372036854775807) throw new InvalidRequest(`Proposed value for ${key} is too large for a LONG.`);
      if (Math.abs(value % 1) > 1e-6) throw new InvalidRequest(`${key} cannot be a fractional value.`);
    }
  }

  /** Applies validated alterations: persists the new table, then switches to it and tells the listeners. */
  private async apply(changes: readonly { entity: QuotaEntity; alterations: ReadonlyMap<string, number | null> }[]): Promise<void> {
    const next = new Map([...this.entities].map(([k, e]) => [k, { entity: e.entity, quotas: new Map(e.quotas) }]));
    const changed: [QuotaEntity, string][] = [];
    for (const { entity, alterations } of changes) {
      const key = entityKey(entity);
      for (const [quota, value] of alterations) {
        const current = next.get(key);
        if (value === null) {
          if (!current?.quotas.has(quota)) continue;
          current.quotas.delete(quota);
          if (current.quotas.size === 0) next.delete(key);
        } else {
          if (current?.quotas.get(quota) === value) continue;
          if (current) current.quotas.set(quota, value);
          else next.set(key, { entity, quotas: new Map([[quota, value]]) });
        }
        changed.push([entity, quota]);
      }
    }
    if (changed.length === 0) return;
    const file: StateFile = {
      version: 1,
      entities: [...next.values()].map((e) => ({ entity: [...e.entity], quotas: Object.fromEntries([...e.quotas].map(([k, v]) => [k, String(v)])) })),
    };
    await this.persistence.writeState(STATE_NAME, JSON.stringify(file, null, 2) + '\n');
    this.entities = next;
    for (const [entity, key] of changed) this.notify(entity, key);
  }

  private notify(entity: QuotaEntity, key: string): void {
    for (const l of this.listeners) l(entity, key);
  }
}
