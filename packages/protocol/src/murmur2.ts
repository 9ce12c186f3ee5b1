// Kafka's default partitioner hashes keys with this 32-bit MurmurHash2 variant
// (org.apache.kafka.common.utils.Utils.murmur2). Matching it bit for bit means a key lands on the
// same partition whether a Java client or a Runnel client produced it.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 of `data`: a signed 32-bit int, like Java's. Math.imul gives Java's wrapping int multiply. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      ((data[i4] as number) & 0xff) |
      (((data[i4 + 1] as number) & 0xff) << 8) |
      (((data[i4 + 2] as number) & 0xff) << 16) |
      (((data[i4 + 3] as number) & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The tail mirrors Java's switch fall-through (3 leftover bytes also mix in bytes 2 and 1),
  // written as ifs because the compiler forbids fall-through cases.
  const tail = length & ~3;
  const leftover = length % 4;
  if (leftover >= 3) h ^= ((data[tail + 2] as number) & 0xff) << 16;
  if (leftover >= 2) h ^= ((data[tail + 1] as number) & 0xff) << 8;
  if (leftover >= 1) {
    h ^= (data[tail] as number) & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils.toPositive: clears the sign bit (not Math.abs, which overflows on MIN_VALUE in Java). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  }
  return toPositive(murmur2(key)) % numPartitions;
}
