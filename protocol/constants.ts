/** Shared immutable defaults for encoders: written, never mutated. */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);
export const EMPTY_ARRAY: readonly never[] = Object.freeze([]);
