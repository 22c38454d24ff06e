/**
 * DescribeClientQuotas (v0–1) and AlterClientQuotas (v0–1): the quota configuration in
 * src/quotas/client-quota-store.ts, which the produce, fetch and request quota managers enforce.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest, DescribeClientQuotasResponse } from '../../protocol/generated/index.js';
import type { Encodable } from '../../protocol/primitives/types.js';
import type { ApiHandler, RequestContext } from './context.js';

function describeClientQuotas(ctx: RequestContext<DescribeClientQuotasRequest>): Encodable<DescribeClientQuotasResponse> {
  const { broker, body } = ctx;
  return { throttleTimeMs: 0, ...broker.quotas.store.describe(body.components, body.strict) };
}

async function alterClientQuotas(ctx: RequestContext<AlterClientQuotasRequest>): Promise<Encodable<AlterClientQuotasResponse>> {
  const { broker, body } = ctx;
  try {
    const entries = await broker.quotas.store.alter(body.entries, body.validateOnly);
    return { throttleTimeMs: 0, entries };
  } catch (err) {
    // Persisting failed: every entry fails, as Kafka's getErrorResponse answers.
    broker.log.error({ err }, 'AlterClientQuotas failed');
    return {
      throttleTimeMs: 0,
      entries: body.entries.map((e) => ({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null, entity: e.entity.map((x) => ({ entityType: x.entityType, entityName: x.entityName })) })),
    };
  }
}

export const describeClientQuotasHandler: ApiHandler = { apiKey: ApiKey.DescribeClientQuotas, minVersion: 0, maxVersion: 1, handle: describeClientQuotas };
export const alterClientQuotasHandler: ApiHandler = { apiKey: ApiKey.AlterClientQuotas, minVersion: 0, maxVersion: 1, handle: alterClientQuotas };
