// Minimal typings for the parts of buffer-layout 1.2 that the records library uses.
// The package ships none; only what batch.ts touches is declared here.
declare module 'buffer-layout' {
  export class Layout<T = unknown> {
    constructor(span: number, property?: string);
    readonly span: number;
    readonly property: string | undefined;
    decode(b: Buffer, offset?: number): T;
    encode(src: T, b: Buffer, offset?: number): number;
    getSpan(b?: Buffer, offset?: number): number;
  }

  export class Structure<T> extends Layout<T> {
    readonly fields: Layout<unknown>[];
    offsetOf(property: string): number | undefined;
    layoutFor(property: string): Layout<unknown> | undefined;
  }

  export function struct<T>(fields: Layout<any>[], property?: string, decodePrefixes?: boolean): Structure<T>;
  export function s8(property?: string): Layout<number>;
  export function s16be(property?: string): Layout<number>;
  export function s32be(property?: string): Layout<number>;
  export function u32be(property?: string): Layout<number>;
}
