/**
 * Dynamic broker configs (KIP-226): set with AlterConfigs/IncrementalAlterConfigs on the broker
 * resource, for this broker (resource name = node id) or as cluster-wide defaults (empty name).
 * They override the static settings while the broker runs, are kept through the storage engine
 * ('broker-configs' state document) and come back at the next start.
 */
import type { BrokerConfig, Properties } from '../config.js';
import type { Logger } from '../logger.js';
import { brokerConfigDef } from './broker-configs.js';
import { checkValue } from './config-schema.js';
import type { LogConfig } from '../storage/storage.js';
import { logConfigFor } from './topic-configs.js';

export type DynamicLevel = 'broker' | 'clusterDefault';

/** The storage engine's small named documents (Storage.readState/writeState). */
export interface StateStore {
  readState(name: string): Promise<string | null>;
  writeState(name: string, text: string): Promise<void>;
}

const STATE = 'broker-configs';

interface StateFile {
  version: 1;
  broker: Properties;
  clusterDefault: Properties;
}

/**
 * Kafka's DynamicBrokerConfig.validateConfigs for a complete set of dynamic configs of one level:
 * the reason it is refused (Kafka answers INVALID_REQUEST with it), or null. Names Kafka does not
 * know are accepted as custom properties, as Kafka does.
 */
export function invalidDynamicConfigs(props: Readonly<Properties>): string | null {
  const names = Object.keys(props);
  const nonDynamic = names.filter((n) => {
    const def = brokerConfigDef(n);
    return def !== undefined && def.dynamic !== true;
  });
  if (nonDynamic.length > 0) return `Cannot update these configs dynamically: Set(${nonDynamic.join(', ')})`;
  for (const n of names) {
    const def = brokerConfigDef(n);
    const reason = def ? checkValue(def, props[n]) : null;
    if (reason) return reason;
  }
  return null;
}

/** Applies the current broker defaults to every open partition log (after a dynamic change). */
export function applyLogConfigs(topics: Iterable<{ record: { configs: Record<string, string> }; partitions: readonly { setConfig(c: LogConfig): void }[] }>, config: BrokerConfig): void {
  for (const topic of topics) {
    const logConfig = logConfigFor(topic.record.configs, config);
    for (const log of topic.partitions) log.setConfig(logConfig);
  }
}

export class DynamicBrokerConfigs {
  /** Writes, one at a time, each of the state current when it starts. */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: BrokerConfig,
    private readonly store: StateStore,
    private readonly log: Logger,
    /** Called after every change is in force (to apply new log settings to open partitions). */
    private readonly changed: () => void,
  ) {}

  /** Reads what was stored; entries that are no longer acceptable are dropped with a warning, as Kafka does. */
  async load(): Promise<void> {
    const text = await this.store.readState(STATE);
    if (text === null) return;
    const file = JSON.parse(text) as Partial<StateFile>;
    for (const level of ['broker', 'clusterDefault'] as const) {
      const props: Properties = {};
      for (const [k, v] of Object.entries(file[level] ?? {})) {
        const reason = invalidDynamicConfigs({ [k]: v });
        if (reason) this.log.warn({ config: k, level, reason }, 'ignoring a stored dynamic broker config');
        else props[k] = v;
      }
      this.config.setDynamic(level, props);
    }
    const { broker, clusterDefault } = this.config.dynamic;
    if (Object.keys(broker).length + Object.keys(clusterDefault).length > 0) this.log.info({ broker, clusterDefault }, 'dynamic broker configs loaded');
  }

  current(level: DynamicLevel): Readonly<Properties> {
    return level === 'broker' ? this.config.dynamic.broker : this.config.dynamic.clusterDefault;
  }

  /** Replaces the dynamic configs of one level (already validated): persisted first, then in force. */
  replace(level: DynamicLevel, props: Properties): Promise<void> {
    const next = this.saving.then(async () => {
      const state: StateFile = { version: 1, broker: { ...this.config.dynamic.broker }, clusterDefault: { ...this.config.dynamic.clusterDefault } };
      state[level] = { ...props };
      await this.store.writeState(STATE, JSON.stringify(state, null, 2) + '\n');
      this.config.setDynamic(level, props);
      this.log.info({ level, configs: props }, 'dynamic broker configs changed');
      this.changed();
    });
    this.saving = next.catch(() => {});
    return next;
  }
}
