/**
 * The tail caches of all partitions share one budget. A partition keeps up to `perPartition`
 * bytes of its latest written batches, so consumers near the end of the log read memory rather
 * than files; when the caches together hold more than `limit`, the partitions appended to least
 * recently give theirs back down to `floor`, and when that is not enough (more partitions than
 * limit / floor are written to), the coldest give back all of theirs: the limit holds however
 * many partitions there are.
 */
export interface TailCacheHolder {
  /** Drops the oldest cached batches until at most `bytes` remain; returns the bytes still held. */
  shrinkTailCache(bytes: number): number;
}

export class TailCacheBudget {
  /** The bytes of every holder holding any, least recently appended first. */
  private readonly held = new Map<TailCacheHolder, number>();
  /** The holders above the floor, least recently appended first: the only ones to shrink. */
  private readonly above = new Map<TailCacheHolder, number>();
  private total = 0;

  constructor(
    readonly perPartition: number,
    readonly floor: number,
    readonly limit: number,
  ) {}

  get bytes(): number {
    return this.total;
  }

  /** `holder` was just appended to and now holds `bytes`; shrinks the coldest others while over the limit. */
  report(holder: TailCacheHolder, bytes: number): void {
    this.set(holder, bytes);
    for (const h of this.above.keys()) {
      if (this.total <= this.limit) break;
      if (h === holder) continue;
      this.resize(h, h.shrinkTailCache(this.floor));
      this.above.delete(h);
    }
    for (const h of this.held.keys()) {
      if (this.total <= this.limit) break;
      if (h === holder) continue;
      this.resize(h, h.shrinkTailCache(0));
    }
    if (this.total > this.limit) this.set(holder, holder.shrinkTailCache(Math.max(0, bytes - (this.total - this.limit))));
  }

  /** `holder` now holds `bytes` without having been appended to (its batches were dropped): its place in the order stays. */
  resize(holder: TailCacheHolder, bytes: number): void {
    const before = this.held.get(holder);
    if (before === undefined) return;
    this.total += bytes - before;
    if (bytes === 0) this.held.delete(holder);
    else this.held.set(holder, bytes);
    if (bytes <= this.floor) this.above.delete(holder);
    else if (this.above.has(holder)) this.above.set(holder, bytes);
  }

  forget(holder: TailCacheHolder): void {
    this.total -= this.held.get(holder) ?? 0;
    this.held.delete(holder);
    this.above.delete(holder);
  }

  /** Records `bytes` for `holder` as the most recently appended. */
  private set(holder: TailCacheHolder, bytes: number): void {
    this.forget(holder);
    if (bytes === 0) return;
    this.held.set(holder, bytes);
    this.total += bytes;
    if (bytes > this.floor) this.above.set(holder, bytes);
  }
}
