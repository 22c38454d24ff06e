/** A tagged field the decoder did not know: kept as raw bytes so re-encoding is lossless. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}

/**
 * What the encoders accept: any field may be left out and is then written as its schema default,
 * so handlers only spell out what they mean.
 */
export type Encodable<T> = T extends Buffer | string | number | bigint | boolean | null | undefined
  ? T
  : T extends readonly (infer U)[]
    ? readonly Encodable<U>[]
    : { [K in keyof T]?: K extends '_unknownTaggedFields' ? T[K] : Encodable<T[K]> };
