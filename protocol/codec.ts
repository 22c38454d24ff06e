import { DecodeError, EncodeError } from './primitives/errors.js';
import { Reader } from './primitives/reader.js';
import type { Encodable } from './primitives/types.js';
import { Writer } from './primitives/writer.js';

/** The generated encoder/decoder of one message (a request, a response, a header or a data struct). */
export interface MessageCodec<T> {
  readonly name: string;
  /** -1 for headers and data messages. */
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version; Infinity when the message has none. */
  readonly flexibleMin: number;
  /** Low-level: reads at the reader's position, no version check. */
  read(r: Reader, v: number): T;
  /** Low-level: appends to a writer, no version check. */
  write(w: Writer, v: number, x: Encodable<T>): void;
  decode(v: number, input: Reader | Buffer): T;
  encode(v: number, x: Encodable<T>): Buffer;
}

export interface CodecMeta {
  name: string;
  apiKey: number;
  minVersion: number;
  maxVersion: number;
  flexibleMin: number;
}

export function messageCodec<T>(
  meta: CodecMeta,
  read: (r: Reader, v: number) => T,
  write: (w: Writer, v: number, x: Encodable<T>) => void,
): MessageCodec<T> {
  return {
    ...meta,
    read,
    write,
    decode(v, input) {
      if (!(v >= meta.minVersion && v <= meta.maxVersion)) {
        throw new DecodeError('UNSUPPORTED_VERSION', `${meta.name} has no version ${v}`);
      }
      return read(input instanceof Reader ? input : new Reader(input), v);
    },
    encode(v, x) {
      if (!(v >= meta.minVersion && v <= meta.maxVersion)) throw new EncodeError(`${meta.name} has no version ${v}`);
      const w = new Writer();
      write(w, v, x);
      return w.toBuffer();
    },
  };
}

let lenient = 0;

/**
 * Called by generated writers for a non-default value in a field the version lacks. Like Kafka's
 * generated Java it throws, unless inside `encodeLeniently`, where the value is dropped.
 */
export function absentField(message: string, field: string, v: number): void {
  if (lenient === 0) throw new EncodeError(`${message}.${field} cannot be written in version ${v}: the field does not exist there`);
}

/** Runs an encoder that drops values the version cannot carry instead of throwing (a server's last resort). */
export function encodeLeniently<T>(encode: () => T): T {
  lenient++;
  try {
    return encode();
  } finally {
    lenient--;
  }
}

export function nullField(message: string, field: string, v: number): EncodeError {
  return new EncodeError(`${message}.${field} cannot be null in version ${v}`);
}

/** What the schemas say about one API key. */
export interface ApiInfo {
  apiKey: number;
  name: string;
  request: MessageCodec<any>;
  response: MessageCodec<any>;
  minVersion: number;
  maxVersion: number;
  /** First flexible version; Infinity when none. */
  flexibleMin: number;
  deprecatedVersions: { min: number; max: number } | null;
  latestVersionUnstable: boolean;
  /** Which Kafka server roles expose it: 'broker', 'controller', 'zkBroker'. */
  listeners: readonly string[];
}
