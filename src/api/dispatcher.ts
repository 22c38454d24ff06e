/** Routes decoded requests to their handlers; the handler table is also what ApiVersions advertises. */
import type { DecodedRequest } from '../../protocol/frames.js';
import type { Connection, Reply, RequestDispatcher } from '../server/connection.js';
import { type ApiHandler, type BrokerState, type RequestContext, VersionedBody } from './context.js';
import { RequestQuota } from '../quotas/request-quota.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { errorResponse } from './error-responses.js';

/** A response body carrying the throttle time of a violated quota (the larger, if it has one of its own). */
function withThrottle(body: unknown, throttleMs: number): unknown {
  if (throttleMs <= 0 || typeof body !== 'object' || body === null) return body;
  const own = (body as { throttleTimeMs?: number }).throttleTimeMs ?? 0;
  return { ...body, throttleTimeMs: Math.max(own, throttleMs) };
}

export class Dispatcher implements RequestDispatcher {
  private readonly table: (ApiHandler | undefined)[] = [];

  constructor(
    private readonly broker: BrokerState,
    handlers: readonly ApiHandler[],
  ) {
    for (const h of handlers) this.table[h.apiKey] = h;
  }

  /** The advertised API versions, in key order. */
  get apis(): readonly ApiHandler[] {
    return this.table.filter((h): h is ApiHandler => h !== undefined);
  }

  dispatch(request: DecodedRequest, connection: Connection): Promise<Reply | null> {
    const { header } = request;
    const h = this.table[header.requestApiKey];
    // ApiVersions answers unknown versions itself (KIP-511); other out-of-range versions close the connection.
    const inRange = h !== undefined && header.requestApiVersion >= h.minVersion && header.requestApiVersion <= h.maxVersion;
    if (!h || (!inRange && request.body !== null)) {
      const what = h ? `version ${header.requestApiVersion} of ${request.api.name} is not supported` : `${request.api.name} is not supported`;
      connection.close(what, 'warn', { apiKey: header.requestApiKey, apiVersion: header.requestApiVersion, clientId: header.clientId });
      return new Promise(() => {}); // never answered: the connection is closing
    }
    // The request quota counts the time the handler runs before it first waits (its synchronous
    // part), and the work it does after waiting inside quota.timed.
    const started = process.hrtime.bigint();
    let handlingNanos: number | undefined;
    const quota = new RequestQuota(this.broker.quotas, header.requestApiKey, header.clientId ?? '', request.size, connection,
      () => handlingNanos ?? Number(process.hrtime.bigint() - started));
    const sent: (() => void)[] = [];
    const afterSent = (f: () => void) => void sent.push(f);
    const onSent = () => {
      for (const f of sent.splice(0)) f();
    };
    const ctx: RequestContext = { broker: this.broker, header, apiVersion: header.requestApiVersion, body: request.body, connection, advertised: this.broker.advertisedOn(connection.listener), quota, afterSent };
    let handled: unknown;
    try {
      handled = h.handle(ctx);
    } catch (e) {
      handled = Promise.reject(e);
    }
    handlingNanos = Number(process.hrtime.bigint() - started);
    quota.handlerReturned();
    return Promise.resolve(handled).then(
      (result) => {
        if (result === null) {
          onSent();
          return null;
        }
        const throttleMs = quota.finish();
        if (result instanceof VersionedBody) return { body: result.body, version: result.version, onSent };
        return { body: withThrottle(result, throttleMs), onSent };
      },
      (err: unknown) => {
        // As Kafka's KafkaApis: the API's error response, UNKNOWN_SERVER_ERROR for everything asked
        // about; with none to give (an acks=0 produce) the connection closes (the rejection).
        let body: object | null = null;
        try {
          body = errorResponse(header.requestApiKey, header.requestApiVersion, request.body, ErrorCode.UNKNOWN_SERVER_ERROR);
        } catch {
          // a request this builder cannot read: close, as with none
        }
        if (body === null) {
          onSent(); // never will be: what the handler holds until then goes back now
          throw err;
        }
        this.broker.log.error({ err, apiKey: header.requestApiKey, apiVersion: header.requestApiVersion, clientId: header.clientId }, `${request.api.name} failed: answered UNKNOWN_SERVER_ERROR`);
        return { body: withThrottle(body, quota.finish()), onSent, lenient: true };
      },
    );
  }
}
