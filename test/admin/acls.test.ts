/**
 * The ACL APIs answer as Kafka does with no authorizer configured: SECURITY_DISABLED with Kafka's
 * messages, in every version, and admin clients get that error rather than an unknown API.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiKey } from '../../protocol/generated/index.js';
import { type RunningBroker, startBroker } from '../../src/index.js';
import { kafka } from '../support/kafkajs.js';
import { RawClient } from '../support/raw-client.js';

let broker: RunningBroker;
let raw: RawClient;
before(async () => {
  broker = await startBroker({ port: 0, logger: 'silent' });
  raw = await RawClient.connect(broker.port);
});
after(async () => {
  raw.close();
  await broker.stop();
});

const binding = { resourceType: 2, resourceName: 'orders', resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 };

test('DescribeAcls, CreateAcls and DeleteAcls v0-3: SECURITY_DISABLED with Kafka\'s messages', async () => {
  const versions = await raw.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
  for (const key of [ApiKey.DescribeAcls, ApiKey.CreateAcls, ApiKey.DeleteAcls]) {
    assert.deepEqual(versions.apiKeys.filter((k: any) => k.apiKey === key).map((k: any) => [k.minVersion, k.maxVersion]), [[0, 3]], `API ${key} advertised`);
  }
  for (let v = 0; v <= 3; v++) {
    const described = await raw.send(ApiKey.DescribeAcls, v, {
      resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 3, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1,
    });
    assert.deepEqual([described.errorCode, described.errorMessage, described.resources], [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured on the broker', []], `DescribeAcls v${v}`);
    const created = await raw.send(ApiKey.CreateAcls, v, { creations: [binding, { ...binding, resourceName: 'payments' }] });
    assert.deepEqual(created.results.map((r: any) => [r.errorCode, r.errorMessage]), [
      [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.'],
      [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.'],
    ], `CreateAcls v${v}`);
    const deleted = await raw.send(ApiKey.DeleteAcls, v, {
      filters: [{ resourceTypeFilter: 2, resourceNameFilter: 'orders', patternTypeFilter: 3, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 }],
    });
    assert.deepEqual(deleted.filterResults.map((r: any) => [r.errorCode, r.errorMessage, r.matchingAcls]), [[ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured.', []]], `DeleteAcls v${v}`);
  }
});

test('kafkajs admin.describeAcls gets SECURITY_DISABLED', async () => {
  const admin = kafka(broker.bootstrap, 'acls').admin();
  await admin.connect();
  try {
    await assert.rejects(
      admin.describeAcls({
        resourceType: kafkajs.AclResourceTypes.TOPIC, resourcePatternType: kafkajs.ResourcePatternTypes.ANY,
        operation: kafkajs.AclOperationTypes.ANY, permissionType: kafkajs.AclPermissionTypes.ANY,
      }),
      (e: Error & { type?: string }) => e.type === 'SECURITY_DISABLED',
    );
  } finally {
    await admin.disconnect();
  }
});
