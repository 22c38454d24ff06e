/**
 * SaslHandshake and SaslAuthenticate on a listener without SASL (Samsa's only kind so far),
 * answered as Kafka's KafkaApis answers them there: ILLEGAL_SASL_STATE, so that a client set up
 * for SASL is told so instead of seeing its connection closed.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { ApiHandler } from './context.js';

export const saslHandlers: readonly ApiHandler[] = [
  {
    apiKey: ApiKey.SaslHandshake, minVersion: 0, maxVersion: 1,
    handle: () => ({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] }),
  },
  {
    apiKey: ApiKey.SaslAuthenticate, minVersion: 0, maxVersion: 2,
    handle: () => ({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate request received after successful authentication', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n }),
  },
];
