/**
 * The measure of Kafka's controller mutation quota (its metrics TokenBucket, KIP-599): a bucket
 * that fills at the quota's rate up to a burst of samples × window × quota, and from which each
 * mutation takes its partitions. Below zero, the quota is exceeded for as long as the bucket takes
 * to fill back to zero. Time comes from the caller, in ms.
 */
export class TokenBucket {
  private tokens = 0;
  /** Null until first used, when the bucket starts full (Kafka's starts empty at time 0, and its first refill, at the epoch time, fills it). */
  private lastUpdateMs: number | null = null;

  /** The tokens at `now`, with the bucket refilled. */
  measure(quota: number, burst: number, now: number): number {
    this.refill(quota, burst, now);
    return this.tokens;
  }

  record(quota: number, burst: number, value: number, now: number): void {
    this.refill(quota, burst, now);
    this.tokens = Math.min(burst, this.tokens - value);
  }

  get lastRecordMs(): number {
    return this.lastUpdateMs ?? -Infinity;
  }

  private refill(quota: number, burst: number, now: number): void {
    this.tokens = this.lastUpdateMs === null ? burst : Math.min(burst, this.tokens + (quota * (now - this.lastUpdateMs)) / 1000);
    this.lastUpdateMs = now;
  }
}
