/** A Kafka schema version range: "3+", "0-2", "5" or "none". Upper bound Infinity means open-ended. */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const NO_VERSIONS: VersionRange = { min: 0, max: -1 };

export function parseRange(text: string | undefined): VersionRange {
  if (text === undefined || text.trim() === 'none') return NO_VERSIONS;
  const t = text.trim();
  let m = /^(\d+)\+$/.exec(t);
  if (m) return { min: Number(m[1]), max: Infinity };
  m = /^(\d+)-(\d+)$/.exec(t);
  if (m) return { min: Number(m[1]), max: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  if (m) return { min: Number(m[1]), max: Number(m[1]) };
  throw new Error(`bad version range: ${text}`);
}

export function formatRange(r: VersionRange): string {
  if (r.max < r.min) return 'none';
  if (r.max === Infinity) return `${r.min}+`;
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}

export function isEmpty(r: VersionRange): boolean {
  return r.max < r.min;
}

export function contains(r: VersionRange, v: number): boolean {
  return v >= r.min && v <= r.max;
}

export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  const min = Math.max(a.min, b.min);
  const max = Math.min(a.max, b.max);
  return max < min ? NO_VERSIONS : { min, max };
}
