/**
 * Producer ids that are never handed out twice, across restarts: ids are taken from blocks whose
 * upper end is persisted before the first id of the block is used (Kafka's controller does the
 * same with ProducerIdsRecord). Ids of a block unused at a restart are simply skipped.
 */
import type { ProducerIdSource } from './transaction-coordinator.js';

export const PRODUCER_ID_BLOCK_SIZE = 1000n;

export interface ProducerIdPersistence {
  /** The first id not yet reserved (0 when nothing was ever reserved). */
  load(): Promise<bigint>;
  /** Records that every id below `next` is reserved. */
  save(next: bigint): Promise<void>;
}

export class ProducerIdBlocks implements ProducerIdSource {
  private nextId = -1n;
  private blockEnd = -1n;
  private reserving: Promise<void> | null = null;

  constructor(private readonly persistence: ProducerIdPersistence) {}

  async next(): Promise<bigint> {
    while (this.nextId < 0n || this.nextId >= this.blockEnd) {
      this.reserving ??= this.reserve().finally(() => (this.reserving = null));
      await this.reserving;
    }
    return this.nextId++;
  }

  private async reserve(): Promise<void> {
    const start = this.blockEnd >= 0n ? this.blockEnd : await this.persistence.load();
    const end = start + PRODUCER_ID_BLOCK_SIZE;
    await this.persistence.save(end);
    this.nextId = start;
    this.blockEnd = end;
  }
}
