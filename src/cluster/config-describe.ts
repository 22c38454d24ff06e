/**
 * What DescribeConfigs shows, resolved the way Kafka's ConfigHelper does: each config's value,
 * where it comes from (topic override, dynamic per-broker, dynamic cluster default, static, default)
 * and its synonyms, highest precedence first.
 */
import type { BrokerConfig, Properties } from '../config.js';
import { BROKER_CONFIGS, brokerConfigDef, brokerDefault, brokerSynonyms } from './broker-configs.js';
import { type ConfigType, ConfigSource, canonical } from './config-schema.js';
import { TOPIC_CONFIGS, brokerDefaultFor } from './topic-configs.js';

export interface ConfigSynonymEntry {
  name: string;
  value: string | null;
  source: ConfigSource;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  source: ConfigSource;
  isSensitive: boolean;
  /** All synonyms; the caller leaves them out unless includeSynonyms. */
  synonyms: ConfigSynonymEntry[];
  /** null when the config is unknown (a custom broker property). */
  type: ConfigType | null;
  doc: string | null;
}

/** The broker's settings by source, in Kafka's order of precedence. */
function layers(broker: BrokerConfig): [ConfigSource, (name: string) => string | undefined][] {
  const { broker: perBroker, clusterDefault } = broker.dynamic;
  const statics = staticLayer(broker);
  return [
    [ConfigSource.DYNAMIC_BROKER_CONFIG, (n) => own(perBroker, n)],
    [ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, (n) => own(clusterDefault, n)],
    [ConfigSource.STATIC_BROKER_CONFIG, (n) => own(statics, n)],
    [ConfigSource.DEFAULT_CONFIG, (n) => defaultValue(n) ?? undefined],
  ];
}

const own = (p: Readonly<Properties>, name: string): string | undefined => (Object.hasOwn(p, name) ? p[name] : undefined);

/** Kafka copies node.id to broker.id (and back) when only one of them is set. */
function staticLayer(broker: BrokerConfig): Properties {
  const s: Properties = { ...broker.staticProps };
  if (s['node.id'] !== undefined && s['broker.id'] === undefined) s['broker.id'] = s['node.id'];
  if (s['broker.id'] !== undefined && s['node.id'] === undefined) s['node.id'] = s['broker.id'];
  return s;
}

function defaultValue(name: string): string | null {
  return name === 'broker.id' ? brokerDefault('node.id') : brokerDefault(name);
}

/** Kafka's ConfigHelper.configSynonyms: every level where one of the names is set, then drop those before `name`. */
function configSynonyms(broker: BrokerConfig, name: string, names: readonly string[], sensitive: boolean): ConfigSynonymEntry[] {
  const all: ConfigSynonymEntry[] = [];
  for (const [source, lookup] of layers(broker)) {
    for (const n of names) {
      const v = lookup(n);
      if (v !== undefined) all.push({ name: n, value: sensitive ? null : v, source });
    }
  }
  const first = all.findIndex((s) => s.name === name);
  return first < 0 ? [] : all.slice(first);
}

/** Every topic config of a topic with these overrides. */
export function describeTopicConfigs(overrides: Readonly<Record<string, string>>, broker: BrokerConfig): ConfigEntry[] {
  return TOPIC_CONFIGS.map((def) => {
    const overridden = Object.hasOwn(overrides, def.name);
    const value = canonical(def, overridden ? overrides[def.name] : brokerDefaultFor(def, broker));
    const server = def.synonyms[0]?.name;
    const synonyms = server === undefined ? [] : configSynonyms(broker, server, brokerSynonyms(server), false);
    if (overridden) synonyms.unshift({ name: def.name, value, source: ConfigSource.TOPIC_CONFIG });
    return {
      name: def.name,
      value,
      readOnly: false,
      source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      isSensitive: false,
      synonyms,
      type: def.type,
      doc: def.doc,
    };
  });
}

function brokerEntry(broker: BrokerConfig, name: string, perBroker: boolean): ConfigEntry {
  const def = brokerConfigDef(name);
  // Kafka treats what it cannot type (custom properties) as possibly secret.
  const sensitive = def === undefined || def.type === 'password';
  let synonyms = configSynonyms(broker, name, brokerSynonyms(name), sensitive);
  if (!perBroker) synonyms = synonyms.filter((s) => s.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
  const { broker: dyn, clusterDefault } = broker.dynamic;
  const raw = perBroker
    ? own(dyn, name) ?? own(clusterDefault, name) ?? own(staticLayer(broker), name) ?? defaultValue(name)
    : own(clusterDefault, name) ?? null;
  return {
    name,
    value: sensitive || raw === null ? null : canonical(def, raw),
    readOnly: def?.dynamic !== true,
    source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
    isSensitive: sensitive,
    synonyms,
    type: def?.type ?? null,
    doc: def?.doc ?? null,
  };
}

/**
 * Broker configs: for this broker (perBroker) every config it knows and every property it was
 * given; for the cluster-wide default resource only the dynamic defaults that are set.
 */
export function describeBrokerConfigs(broker: BrokerConfig, perBroker: boolean): ConfigEntry[] {
  const { broker: dyn, clusterDefault } = broker.dynamic;
  const names = new Set<string>();
  if (perBroker) {
    for (const d of BROKER_CONFIGS) if (!d.internal) names.add(d.name);
    for (const n of Object.keys(broker.staticProps)) names.add(n);
    for (const n of Object.keys(dyn)) names.add(n);
  }
  for (const n of Object.keys(clusterDefault)) names.add(n);
  return [...names].map((n) => brokerEntry(broker, n, perBroker));
}

/**
 * The topic configs CreateTopics v5+ returns: each value with the level it comes from, the first
 * synonym set at the highest level (Kafka's KafkaConfigSchema.resolveEffectiveTopicConfig).
 */
export function effectiveTopicConfigs(overrides: Readonly<Record<string, string>>, broker: BrokerConfig): { name: string; value: string; source: ConfigSource }[] {
  const levels = layers(broker).filter(([source]) => source !== ConfigSource.DEFAULT_CONFIG);
  return TOPIC_CONFIGS.map((def) => {
    if (Object.hasOwn(overrides, def.name)) return { name: def.name, value: canonical(def, overrides[def.name]), source: ConfigSource.TOPIC_CONFIG };
    const value = canonical(def, brokerDefaultFor(def, broker));
    for (const [source, lookup] of levels) {
      if (def.synonyms.some((s) => lookup(s.name) !== undefined)) return { name: def.name, value, source };
    }
    return { name: def.name, value, source: ConfigSource.DEFAULT_CONFIG };
  });
}
