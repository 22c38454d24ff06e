/** kafkajs helpers for tests: quiet clients and consumers that record what they got. */
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
export type { Consumer, Producer } from 'kafkajs';

export function kafka(bootstrap: string, clientId = 'samsa-test') {
  return new Kafka({ brokers: [bootstrap], clientId, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
}

export interface Received {
  member: string;
  partition: number;
  offset: number;
  value: string;
}

/** Waits until `check` is true, polling; fails after timeoutMs with the message. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${message}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
