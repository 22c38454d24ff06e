/** The topic, partition, cluster, quota and ACL administration APIs, registered together by the broker. */
import { aclHandlers } from './acls.js';
import { alterClientQuotasHandler, describeClientQuotasHandler } from './client-quotas.js';
import { describeClusterHandler, describeLogDirsHandler } from './cluster-info.js';
import type { ApiHandler } from './context.js';
import { createPartitionsHandler } from './create-partitions.js';
import { deleteRecordsHandler } from './delete-records.js';
import { describeTopicPartitionsHandler } from './describe-topic-partitions.js';
import { alterPartitionReassignmentsHandler, electLeadersHandler, listPartitionReassignmentsHandler } from './leadership.js';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.js';

export const clusterAdminHandlers: readonly ApiHandler[] = [
  createPartitionsHandler,
  deleteRecordsHandler,
  offsetForLeaderEpochHandler,
  describeClusterHandler,
  describeLogDirsHandler,
  describeTopicPartitionsHandler,
  electLeadersHandler,
  alterPartitionReassignmentsHandler,
  listPartitionReassignmentsHandler,
  describeClientQuotasHandler,
  alterClientQuotasHandler,
  ...aclHandlers,
];
