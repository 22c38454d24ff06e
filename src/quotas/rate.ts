/**
 * The rate Kafka's client quotas measure (its metrics Rate over a WindowedSum): values are summed
 * into `samples` windows of `windowMs` each, reused round-robin; the rate is the sum of the live
 * windows over the time they span, counted as at least `samples - 1` whole windows so that a client
 * that just started is not measured over a tiny interval. Time comes from the caller, in ms.
 */

interface Sample {
  value: number;
  eventCount: number;
  startTimeMs: number;
  lastEventMs: number;
}

export class SampledRate {
  private readonly samples: Sample[] = [];
  private current = 0;

  constructor(
    readonly numSamples: number,
    readonly windowMs: number,
  ) {
    if (!(numSamples >= 1) || !(windowMs >= 1)) throw new RangeError(`a rate needs at least one sample of at least 1 ms, not ${numSamples} × ${windowMs} ms`);
  }

  /** Adds `value` at time `now` (negative values take back what was recorded). */
  record(value: number, now: number): void {
    let sample = this.currentSample(now);
    if (now - sample.startTimeMs >= this.windowMs) sample = this.advance(now);
    sample.value += value;
    sample.eventCount += 1;
    sample.lastEventMs = now;
  }

  /** The rate per second at `now`. */
  measure(now: number): number {
    this.purgeObsolete(now);
    let sum = 0;
    for (const s of this.samples) sum += s.value;
    return sum / (this.windowSize(now) / 1000);
  }

  /**
   * Kafka's QuotaUtils.throttleTime, capped at `maxMs`: how long nothing more may be recorded for
   * the rate to fall back to `quota`, 0 while it is within it ((rate - quota) / quota × window).
   */
  throttleMs(quota: number, now: number, maxMs: number): number {
    const measured = this.measure(now);
    return measured <= quota ? 0 : Math.min(Math.round(((measured - quota) / quota) * this.windowSize(now)), maxMs);
  }

  /** The time in ms the rate is computed over at `now`. */
  windowSize(now: number): number {
    this.purgeObsolete(now);
    let elapsed = now - this.oldest(now).startTimeMs;
    const fullWindows = Math.floor(elapsed / this.windowMs);
    const minFullWindows = this.numSamples - 1;
    if (fullWindows < minFullWindows) elapsed += (minFullWindows - fullWindows) * this.windowMs;
    return Math.max(elapsed, 1);
  }

  /** Time of the latest record (or creation): idle rates can be dropped. */
  get lastRecordMs(): number {
    return this.samples.length === 0 ? -Infinity : Math.max(...this.samples.map((s) => s.lastEventMs));
  }

  private currentSample(now: number): Sample {
    if (this.samples.length === 0) this.samples.push(newSample(now));
    return this.samples[this.current]!;
  }

  private advance(now: number): Sample {
    this.current = (this.current + 1) % (this.numSamples + 1);
    if (this.current >= this.samples.length) {
      const s = newSample(now);
      this.samples.push(s);
      return s;
    }
    const s = this.samples[this.current]!;
    reset(s, now);
    return s;
  }

  private oldest(now: number): Sample {
    if (this.samples.length === 0) this.samples.push(newSample(now));
    let oldest = this.samples[0]!;
    for (const s of this.samples) if (s.startTimeMs < oldest.startTimeMs) oldest = s;
    return oldest;
  }

  /** Windows with no record for `numSamples` windows start over at `now`. */
  private purgeObsolete(now: number): void {
    const expireAge = this.numSamples * this.windowMs;
    for (const s of this.samples) if (now - s.lastEventMs >= expireAge) reset(s, now);
  }
}

function newSample(now: number): Sample {
  return { value: 0, eventCount: 0, startTimeMs: now, lastEventMs: now };
}

function reset(s: Sample, now: number): void {
  s.value = 0;
  s.eventCount = 0;
  s.startTimeMs = now;
  s.lastEventMs = now;
}
