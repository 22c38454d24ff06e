/** ApiVersions: what this broker implements, including the KIP-511 answer to versions it does not know. */
import { ApiKey } from '../../protocol/generated/index.js';
import type { ApiVersionsResponse } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { type ApiHandler, type RequestContext, VersionedBody } from './context.js';

export const API_VERSIONS_MIN = 0;
export const API_VERSIONS_MAX = 4;
/** The feature level of metadata.version 3.9-IV0, the version this broker behaves as. */
const METADATA_VERSION_LEVEL = 21;

/** What Kafka accepts as ClientSoftwareName and ClientSoftwareVersion. */
const SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

export function apiVersionsHandler(advertised: () => readonly ApiHandler[]): ApiHandler {
  return {
    apiKey: ApiKey.ApiVersions,
    minVersion: API_VERSIONS_MIN,
    maxVersion: API_VERSIONS_MAX,
    handle(ctx: RequestContext): unknown {
      if (ctx.body === null || ctx.apiVersion > API_VERSIONS_MAX) {
        // Kafka answers with a v0 body listing only ApiVersions, so the client can retry lower.
        const body: Encodable<ApiVersionsResponse> = {
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: API_VERSIONS_MIN, maxVersion: API_VERSIONS_MAX }],
        };
        return new VersionedBody(body, 0);
      }
      if (ctx.apiVersion >= 3 && !(SOFTWARE.test(ctx.body.clientSoftwareName) && SOFTWARE.test(ctx.body.clientSoftwareVersion))) {
        // Kafka's KIP-511 validation: the client falls back to v0 and carries on.
        return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 };
      }
      const body: Encodable<ApiVersionsResponse> = {
        errorCode: ErrorCode.NONE,
        apiKeys: advertised().map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion })),
        throttleTimeMs: 0,
        // Kafka 3.9's features (v3+): metadata.version 1 to 21 (3.9-IV0), finalized at 21;
        // kraft.version 0 to 1, shown from v4 only (a minimum of 0 breaks older clients, KAFKA-17492),
        // finalized at 0, which Kafka leaves out.
        supportedFeatures: [
          { name: 'metadata.version', minVersion: 1, maxVersion: METADATA_VERSION_LEVEL },
          ...(ctx.apiVersion >= 4 ? [{ name: 'kraft.version', minVersion: 0, maxVersion: 1 }] : []),
        ],
        finalizedFeaturesEpoch: 0n,
        finalizedFeatures: [{ name: 'metadata.version', minVersionLevel: METADATA_VERSION_LEVEL, maxVersionLevel: METADATA_VERSION_LEVEL }],
      };
      return body;
    },
  };
}
