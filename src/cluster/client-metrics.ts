/**
 * Client metrics subscriptions (KIP-714): the CLIENT_METRICS config resources a Kafka 3.9 KRaft
 * cluster keeps, set with (Incremental)AlterConfigs, shown by DescribeConfigs and named by
 * ListClientMetricsResources (kafka-client-metrics.sh). They are only kept: like a Kafka broker
 * without a telemetry reporter, Samsa offers clients no GetTelemetrySubscriptions/PushTelemetry.
 * Persisted through the storage engine ('client-metrics' state document).
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import type { Logger } from '../logger.js';
import { type AlterableConfig, type Altered, type ApiError, AlterOp } from './config-changes.js';
import type { StateStore } from './dynamic-configs.js';
import { javaSplit } from './config-schema.js';

const STATE = 'client-metrics';

/** ClientMetricsConfigs' names: metrics and match are LIST configs, interval.ms an INT. */
const NAMES = new Set(['metrics', 'interval.ms', 'match']);
const MATCH_PARAMS = new Set(['client_instance_id', 'client_id', 'client_software_name', 'client_software_version', 'client_source_address', 'client_source_port']);

/** Java's String.split: a string without the separator (the empty one too) is its own only part. */
const split = (s: string, sep: string): string[] => (s.includes(sep) ? javaSplit(s, sep) : [s]);

/**
 * The subscription's configs after the operations, as the KRaft controller computes them
 * (ConfigurationControlManager). Its config schema has no CLIENT_METRICS entry, so APPEND and
 * SUBTRACT are refused even for the LIST configs.
 */
export function applyClientMetricsOps(current: Readonly<Record<string, string>>, ops: readonly AlterableConfig[]): Altered {
  const next: Record<string, string> = { ...current };
  for (const op of ops) {
    if (op.configOperation === AlterOp.SET) next[op.name] = op.value!;
    else if (op.configOperation === AlterOp.DELETE) delete next[op.name];
    else if (op.configOperation === AlterOp.APPEND || op.configOperation === AlterOp.SUBTRACT) {
      const what = op.configOperation === AlterOp.APPEND ? 'APPEND' : 'SUBTRACT';
      return { ok: false, error: { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Can't ${what} to key ${op.name} because its type is not LIST.` } };
    } else return { ok: false, error: { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown operations type ${op.configOperation}` } };
  }
  return { ok: true, configs: next };
}

/** Kafka's ClientMetricsConfigs.validate on a subscription's complete configs: the error, or null. */
export function clientMetricsError(name: string, configs: Readonly<Record<string, string>>): ApiError | null {
  const invalidRequest = (errorMessage: string): ApiError => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage });
  if (name === '') return invalidRequest("Subscription name can't be empty");
  for (const key of Object.keys(configs)) if (!NAMES.has(key)) return invalidRequest(`Unknown client metrics configuration: ${key}`);
  const interval = configs['interval.ms'];
  if (interval !== undefined) {
    // Integer.parseInt: no blanks, within an int; otherwise a NumberFormatException, which Kafka answers as an unknown error.
    const n = /^[+-]?\d+$/.test(interval) ? Number(interval) : NaN;
    if (!(n >= -2147483648 && n <= 2147483647)) return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null };
    if (n < 100 || n > 3600000) return invalidRequest(`Invalid value ${n} for interval.ms, interval must be between 100 and 3600000 (1 hour)`);
  }
  const match = configs['match'];
  if (match !== undefined) {
    for (const pattern of split(match, ',')) {
      const illegal: ApiError = { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `Illegal client matching pattern: ${pattern}` };
      const pair = split(pattern, '=');
      if (pair.length !== 2 || !MATCH_PARAMS.has(pair[0]!.trim())) return illegal;
      try {
        new RegExp(pair[1]!.trim()); // Kafka compiles a java.util.regex.Pattern; the syntaxes differ only at the edges
      } catch {
        return illegal;
      }
    }
  }
  return null;
}

export class ClientMetricsSubscriptions {
  private subscriptions = new Map<string, Record<string, string>>();
  /** Writes, one at a time, each of the state current when it starts. */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    const text = await this.store.readState(STATE);
    if (text === null) return;
    const file = JSON.parse(text) as { subscriptions?: Record<string, Record<string, string>> };
    this.subscriptions = new Map(Object.entries(file.subscriptions ?? {}));
  }

  /** A subscription's configs (none when it does not exist). */
  configs(name: string): Readonly<Record<string, string>> {
    return this.subscriptions.get(name) ?? {};
  }

  /** The subscriptions that have configs, as ListClientMetricsResources names them. */
  names(): string[] {
    return [...this.subscriptions.keys()].sort();
  }

  /** Replaces a subscription's configs (already validated; none removes it): persisted first, then in force. */
  replace(name: string, configs: Record<string, string>): Promise<void> {
    const next = this.saving.then(async () => {
      const after = new Map(this.subscriptions);
      if (Object.keys(configs).length === 0) after.delete(name);
      else after.set(name, { ...configs });
      await this.store.writeState(STATE, JSON.stringify({ version: 1, subscriptions: Object.fromEntries(after) }, null, 2) + '\n');
      this.subscriptions = after;
      this.log.info({ subscription: name, configs }, 'client metrics subscription changed');
    });
    this.saving = next.catch(() => {});
    return next;
  }
}
