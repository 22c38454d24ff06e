/**
 * DescribeAcls, CreateAcls and DeleteAcls, answered as Kafka answers them with no authorizer
 * configured (Samsa has none yet): SECURITY_DISABLED, which admin tools take as "no ACLs here",
 * rather than an API the broker does not know.
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import type { CreateAclsRequest, DeleteAclsRequest } from '../../protocol/generated/index.js';
import type { ApiHandler, RequestContext } from './context.js';

/** Kafka's messages: AclApis (DescribeAcls) and the SecurityDisabledException of Create/DeleteAcls. */
const DESCRIBE_MESSAGE = 'No Authorizer is configured on the broker';
const ALTER_MESSAGE = 'No Authorizer is configured.';

export const aclHandlers: readonly ApiHandler[] = [
  {
    apiKey: ApiKey.DescribeAcls, minVersion: 0, maxVersion: 3,
    handle: () => ({ throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: DESCRIBE_MESSAGE, resources: [] }),
  },
  {
    apiKey: ApiKey.CreateAcls, minVersion: 0, maxVersion: 3,
    handle: (ctx: RequestContext<CreateAclsRequest>) => ({
      throttleTimeMs: 0,
      results: ctx.body.creations.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: ALTER_MESSAGE })),
    }),
  },
  {
    apiKey: ApiKey.DeleteAcls, minVersion: 0, maxVersion: 3,
    handle: (ctx: RequestContext<DeleteAclsRequest>) => ({
      throttleTimeMs: 0,
      filterResults: ctx.body.filters.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: ALTER_MESSAGE, matchingAcls: [] })),
    }),
  },
];
