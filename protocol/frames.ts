/**
 * Whole request and response frames: header version rules, the ApiVersions exceptions, and the
 * typed errors a server needs to answer or close a connection. Frames here exclude the int32 size
 * prefix on input; encoders produce it.
 */
import type { ApiInfo } from './codec.js';
import { APIS, ApiKey, RequestHeader, ResponseHeader } from './generated/index.js';
import { DecodeError } from './primitives/errors.js';
import { Reader } from './primitives/reader.js';
import type { Encodable } from './primitives/types.js';
import { Writer } from './primitives/writer.js';

export function apiInfo(apiKey: number): ApiInfo | undefined {
  return apiKey >= 0 && apiKey < APIS.length ? APIS[apiKey] : undefined;
}

function isFlexible(apiKey: number, apiVersion: number): boolean {
  const api = apiInfo(apiKey);
  return api !== undefined && apiVersion >= api.flexibleMin;
}

/** Request header v2 for flexible versions (also beyond the known range), v0 only for ControlledShutdown v0. */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ControlledShutdown && apiVersion === 0) return 0;
  return isFlexible(apiKey, apiVersion) ? 2 : 1;
}

/** Response header v1 for flexible versions, except ApiVersions which always uses v0 (KIP-511). */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexible(apiKey, apiVersion) ? 1 : 0;
}

/** A request that could not be decoded; what is known of its header is kept so the server can log or answer it. */
export class RequestDecodeError extends DecodeError {
  constructor(
    code: DecodeError['code'],
    message: string,
    readonly apiKey: number,
    readonly apiVersion: number,
    readonly correlationId: number,
  ) {
    super(code, message);
  }
}

export interface DecodedRequest {
  header: RequestHeader;
  api: ApiInfo;
  /**
   * The decoded body; null only for an ApiVersions request in a version this library does not know,
   * which must still be answered (UNSUPPORTED_VERSION with a v0 body).
   */
  body: any;
  /** Bytes of the frame (header and body, without the size prefix). */
  size: number;
}

/** Decodes a request frame (without its size prefix). Throws RequestDecodeError. */
export function decodeRequest(frame: Buffer): DecodedRequest {
  if (frame.length < 8) throw new RequestDecodeError('TRUNCATED', `request of ${frame.length} bytes has no header`, -1, -1, -1);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const fail = (e: unknown): never => {
    if (e instanceof DecodeError) throw new RequestDecodeError(e.code, e.message, apiKey, apiVersion, correlationId);
    throw e;
  };
  const api = apiInfo(apiKey);
  if (!api) throw new RequestDecodeError('UNKNOWN_API_KEY', `unknown api key ${apiKey}`, apiKey, apiVersion, correlationId);
  const supported = apiVersion >= api.minVersion && apiVersion <= api.maxVersion;
  if (!supported && apiKey !== ApiKey.ApiVersions) {
    throw new RequestDecodeError('UNSUPPORTED_VERSION', `${api.name} v${apiVersion} is not supported`, apiKey, apiVersion, correlationId);
  }
  const r = new Reader(frame);
  let header: RequestHeader;
  try {
    header = RequestHeader.read(r, requestHeaderVersion(apiKey, apiVersion));
  } catch (e) {
    return fail(e);
  }
  if (!supported) return { header, api, body: null, size: frame.length };
  try {
    return { header, api, body: api.request.read(r, apiVersion), size: frame.length };
  } catch (e) {
    return fail(e);
  }
}

/** Encodes a request frame, size prefix included (for clients and tests). */
export function encodeRequest(apiKey: number, apiVersion: number, correlationId: number, clientId: string | null, body: unknown): Buffer {
  const api = apiInfo(apiKey);
  if (!api) throw new RangeError(`unknown api key ${apiKey}`);
  const w = new Writer({ framed: true });
  RequestHeader.write(w, requestHeaderVersion(apiKey, apiVersion), { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId });
  api.request.write(w, apiVersion, body as Encodable<unknown>);
  return w.toBuffer();
}

/**
 * Encodes a response frame, size prefix included, as chunks for writev: record batches in the body
 * are referenced, not copied. `bodyVersion` differs from the request version only for the
 * ApiVersions fallback, which answers any version with a v0 body.
 */
export function encodeResponse(apiKey: number, apiVersion: number, correlationId: number, body: unknown, bodyVersion = apiVersion): Buffer[] {
  const api = apiInfo(apiKey);
  if (!api) throw new RangeError(`unknown api key ${apiKey}`);
  const w = new Writer({ framed: true });
  ResponseHeader.write(w, responseHeaderVersion(apiKey, apiVersion), { correlationId });
  api.response.write(w, bodyVersion, body as Encodable<unknown>);
  return w.finish();
}

/** Decodes a response frame (without its size prefix), for clients and tests. */
export function decodeResponse(apiKey: number, apiVersion: number, frame: Buffer): { header: ResponseHeader; body: any } {
  const api = apiInfo(apiKey);
  if (!api) throw new DecodeError('UNKNOWN_API_KEY', `unknown api key ${apiKey}`);
  const r = new Reader(frame);
  const header = ResponseHeader.read(r, responseHeaderVersion(apiKey, apiVersion));
  return { header, body: api.response.decode(apiVersion, r) };
}
