/** Samsa's Kafka wire protocol library: generated codecs for every API, frames, primitives and record batches. */
export * from './primitives/index.js';
export * from './generated/index.js';
export * from './codec.js';
export * from './frames.js';
export * from './error-codes.js';
