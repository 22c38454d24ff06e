/**
 * Kafka UUIDs travel as 16 raw bytes; we hold them as Kafka prints them (Uuid.toString):
 * URL-safe base64 without padding, 22 characters. Usable as map keys and in logs.
 */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

export function uuidFromBytes(buf: Buffer, pos: number): string {
  return buf.toString('base64url', pos, pos + 16);
}

export function uuidToBytes(id: string): Buffer {
  const b = Buffer.from(id, 'base64url');
  if (b.length !== 16) throw new RangeError(`not a Kafka UUID: ${id}`);
  return b;
}

/** A random version-4 UUID, never the zero UUID (Kafka reserves it as "unset"). */
export function randomUuid(): string {
  const b = Buffer.from(crypto.randomUUID().replace(/-/g, ''), 'hex');
  return b.toString('base64url');
}
