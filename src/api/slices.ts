/**
 * Requests naming thousands of partitions (a producer or consumer of a large topic) are handled a
 * slice of partitions at a time, the event loop serving other connections in between: in one go,
 * their appends or reads (and the writes those start) held every other client for hundreds of
 * milliseconds, where Kafka's request handler threads let other connections go on meanwhile.
 */

/**
 * Partitions handled between two turns of the event loop: what other connections wait for at most.
 * A slice of appends to the disk engine costs a few milliseconds (its JS, one write submitted per
 * partition, their share of GC). Requests of up to this many partitions, nearly all, take no turn.
 */
export const PARTITIONS_PER_SLICE = 128;

/** Resolves once the event loop has served the I/O that was ready (setImmediate runs after the poll phase). */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * `f` over `items` in order: at once when they fit one slice, else a slice at a time (the result
 * then comes as a promise).
 */
export function mapInSlices<T, R>(items: readonly T[], f: (item: T) => R): R[] | Promise<R[]> {
  if (items.length <= PARTITIONS_PER_SLICE) return items.map(f);
  return (async () => {
    const out: R[] = [];
    for (let i = 0; i < items.length; i++) {
      if (i > 0 && i % PARTITIONS_PER_SLICE === 0) await yieldToEventLoop();
      out.push(f(items[i]!));
    }
    return out;
  })();
}
