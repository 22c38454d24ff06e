/**
 * IncrementalAlterConfigs operations (SET, DELETE, APPEND, SUBTRACT) applied to a resource's
 * current dynamic configs, with Kafka's rules: APPEND and SUBTRACT only for LIST configs, starting
 * from the config's default when it is not set. Topics follow the KRaft controller
 * (ConfigurationControlManager), broker resources the broker's own preprocessing (ConfigAdminManager).
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import type { Properties } from '../config.js';
import { brokerConfigDef, brokerDefault } from './broker-configs.js';
import { javaSplit } from './config-schema.js';
import { topicConfigDef } from './topic-configs.js';

export enum AlterOp {
  SET = 0,
  DELETE = 1,
  APPEND = 2,
  SUBTRACT = 3,
}

export interface AlterableConfig {
  name: string;
  configOperation: number;
  value: string | null;
}

export interface ApiError {
  errorCode: number;
  errorMessage: string | null;
}

export type Altered = { ok: true; configs: Record<string, string> } | { ok: false; error: ApiError };

const fail = (errorCode: number, errorMessage: string): Altered => ({ ok: false, error: { errorCode, errorMessage } });

/** The checks Kafka's broker makes on every resource before anything else; null when they pass. */
export function preprocessError(configs: readonly { name: string; value: string | null; configOperation?: number }[]): ApiError | null {
  const names = new Set<string>();
  for (const c of configs) {
    if (names.has(c.name)) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Error due to duplicate config keys' };
    names.add(c.name);
  }
  const nulls = configs.filter((c) => c.value === null && c.configOperation !== AlterOp.DELETE).map((c) => c.name);
  if (nulls.length > 0) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Null value not supported for : ${nulls.join(', ')}` };
  return null;
}

const OP_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'];

/** A topic's overrides after the operations (KRaft controller rules). */
export function applyTopicOps(current: Readonly<Record<string, string>>, ops: readonly AlterableConfig[]): Altered {
  const next: Record<string, string> = { ...current };
  for (const op of ops) {
    switch (op.configOperation) {
      case AlterOp.SET:
        next[op.name] = op.value!;
        break;
      case AlterOp.DELETE:
        delete next[op.name];
        break;
      case AlterOp.APPEND:
      case AlterOp.SUBTRACT: {
        const def = topicConfigDef(op.name);
        if (def?.type !== 'list') return fail(ErrorCode.INVALID_CONFIG, `Can't ${OP_NAMES[op.configOperation]} to key ${op.name} because its type is not LIST.`);
        const base = Object.hasOwn(next, op.name) ? next[op.name] : def.default;
        const parts = base === null ? [] : javaSplit(base).filter((p) => p !== '');
        for (const v of javaSplit(op.value!)) {
          if (op.configOperation === AlterOp.APPEND) {
            if (!parts.includes(v)) parts.push(v);
          } else {
            const i = parts.indexOf(v);
            if (i >= 0) parts.splice(i, 1);
          }
        }
        next[op.name] = parts.join(',');
        break;
      }
      default:
        return fail(ErrorCode.INVALID_REQUEST, `Unknown operations type ${op.configOperation}`);
    }
  }
  return { ok: true, configs: next };
}

/** A broker level's dynamic configs after the operations (Kafka's prepareIncrementalConfigs). */
export function applyBrokerOps(current: Readonly<Properties>, ops: readonly AlterableConfig[]): Altered {
  for (const op of ops) {
    if (!(op.configOperation >= AlterOp.SET && op.configOperation <= AlterOp.SUBTRACT)) return fail(ErrorCode.INVALID_REQUEST, `Unknown operations type ${op.configOperation}`);
  }
  const next: Properties = { ...current };
  for (const op of ops) {
    switch (op.configOperation) {
      case AlterOp.SET:
        next[op.name] = op.value!;
        break;
      case AlterOp.DELETE:
        delete next[op.name];
        break;
      default: {
        const def = brokerConfigDef(op.name);
        if (!def) return fail(ErrorCode.INVALID_CONFIG, `Unknown config name: ${op.name}`);
        const what = op.configOperation === AlterOp.APPEND ? 'append' : 'subtract';
        if (def.type !== 'list') return fail(ErrorCode.INVALID_CONFIG, `Config value ${what} is not allowed for config key: ${op.name}`);
        const base = Object.hasOwn(next, op.name) ? next[op.name] : brokerDefault(op.name);
        const values = javaSplit(op.value!);
        if (op.configOperation === AlterOp.APPEND) {
          const old = base === null || base === '' ? [] : javaSplit(base);
          next[op.name] = [...old, ...values.filter((v) => !old.includes(v))].join(',');
        } else {
          const old = javaSplit(base ?? '');
          for (const v of values) {
            const i = old.indexOf(v);
            if (i >= 0) old.splice(i, 1);
          }
          next[op.name] = old.join(',');
        }
      }
    }
  }
  return { ok: true, configs: next };
}
