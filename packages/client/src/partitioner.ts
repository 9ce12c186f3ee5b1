// Where a record goes when the caller does not say: keyed records by murmur2 of the key (the same
// partition Kafka's Java client picks, so mixed clients agree), keyless records to a "sticky"
// partition that changes once per batch, so keyless traffic fills whole batches (KIP-480).

import { partitionForKey } from '@runnel/protocol';

/** Chooses the partition of a record that names none. */
export class DefaultPartitioner {
  private readonly random: () => number;
  private readonly sticky = new Map<string, { partition: number; used: boolean }>();

  /** `random` in [0, 1) picks sticky partitions; injected so tests can predict them. */
  constructor(random: () => number) {
    this.random = random;
  }

  /**
   * The partition for a record with `key` on a topic of `numPartitions`. `hasOpenBatch(p)` says
   * whether partition p still has an unsent batch with room; when the sticky partition's batch is
   * gone (sent or full) the sticky choice moves to another partition.
   */
  partition(topic: string, key: Uint8Array | null, numPartitions: number, recordSizeBytes: number, hasOpenBatch: (partition: number, sizeBytes: number) => boolean): number {
    if (!(Number.isInteger(numPartitions) && numPartitions > 0)) throw new RangeError(`topic "${topic}" has no partitions`);
    if (key !== null) return partitionForKey(key, numPartitions);
    let sticky = this.sticky.get(topic);
    if (sticky === undefined || sticky.partition >= numPartitions) {
      sticky = { partition: this.pick(numPartitions, -1), used: false };
      this.sticky.set(topic, sticky);
    } else if (sticky.used && !hasOpenBatch(sticky.partition, recordSizeBytes)) {
      sticky = { partition: this.pick(numPartitions, sticky.partition), used: false };
      this.sticky.set(topic, sticky);
    }
    sticky.used = true;
    return sticky.partition;
  }

  private pick(numPartitions: number, previous: number): number {
    if (numPartitions === 1) return 0;
    if (previous < 0) return Math.min(numPartitions - 1, Math.floor(this.random() * numPartitions));
    // Any partition but the previous one, uniformly.
    const offset = 1 + Math.min(numPartitions - 2, Math.floor(this.random() * (numPartitions - 1)));
    return (previous + offset) % numPartitions;
  }
}
