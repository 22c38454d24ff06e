/**
 * Scenarios known not to pass on Samsa yet, each with the issue it waits for. They apply only when
 * the target is Samsa (the suite's own broker, or --expect samsa): against any other broker every
 * failure counts. A scenario listed here that passes is reported as a failure, so this list cannot
 * go stale.
 */
export interface Expectation {
  scenario: string;
  /** Only for this client (default: every client). */
  client?: string;
  issue: number;
  reason: string;
}

export const EXPECTATIONS: Record<string, Expectation[]> = {
  // Empty since commit df2af9c (DescribeConfigs/AlterConfigs, CreatePartitions, DeleteRecords: #5).
  // Before it: admin-configs, create-partitions and delete-records for every client, and
  // sarama/admin-topics (its ListTopics also sends DescribeConfigs), each waiting for #5.
  samsa: [],
};

export function expectationFor(target: string | null, client: string, scenario: string): Expectation | undefined {
  if (!target) return undefined;
  return (EXPECTATIONS[target] ?? []).find((e) => e.scenario === scenario && (!e.client || e.client === client));
}
