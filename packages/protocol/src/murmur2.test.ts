import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from './murmur2.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('murmur2', () => {
  // Expected values from Kafka's UtilsTest.testMurmur2, i.e. what the Java client computes.
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  it.each(vectors)('hashes %j like Kafka\'s Java client', (input, expected) => {
    expect(murmur2(utf8(input))).toBe(expected);
  });

  // The Kafka vectors have no input with 1 leftover byte, so cross-check every tail length
  // against a transcription of the Java code that does its int arithmetic with BigInt.
  function murmur2Reference(data: Uint8Array): number {
    const int = (x: bigint): bigint => BigInt.asIntN(32, x);
    const ushr = (x: bigint, n: bigint): bigint => BigInt.asUintN(32, x) >> n;
    const m = 0x5bd1e995n;
    let h = int(0x9747b28cn ^ BigInt(data.length));
    const length4 = Math.floor(data.length / 4);
    for (let i = 0; i < length4; i++) {
      const b = (j: number): bigint => BigInt(data[i * 4 + j] ?? 0);
      let k = int(b(0) | (b(1) << 8n) | (b(2) << 16n) | (b(3) << 24n));
      k = int(k * m);
      k = int(k ^ ushr(k, 24n));
      k = int(k * m);
      h = int(int(h * m) ^ k);
    }
    const tail = (j: number): bigint => BigInt(data[(data.length & ~3) + j] ?? 0);
    const leftover = data.length % 4;
    if (leftover >= 3) h = int(h ^ (tail(2) << 16n));
    if (leftover >= 2) h = int(h ^ (tail(1) << 8n));
    if (leftover >= 1) h = int(int(h ^ tail(0)) * m);
    h = int(h ^ ushr(h, 13n));
    h = int(h * m);
    h = int(h ^ ushr(h, 15n));
    return Number(h);
  }

  it('the reference transcription reproduces the Kafka vectors', () => {
    for (const [input, expected] of vectors) expect(murmur2Reference(utf8(input))).toBe(expected);
  });

  it('agrees with the reference for every length 0..40, covering all tail sizes and high bytes', () => {
    const data = Uint8Array.from({ length: 40 }, (_, i) => (i * 197 + 251) & 0xff);
    for (let n = 0; n <= data.length; n++) {
      expect(murmur2(data.subarray(0, n)), `length ${n}`).toBe(murmur2Reference(data.subarray(0, n)));
    }
  });

  it('returns signed 32-bit integers', () => {
    for (const [input] of vectors) {
      const h = murmur2(utf8(input));
      expect(h).toBe(h | 0);
    }
  });
});

describe('toPositive', () => {
  it('clears the sign bit instead of negating, so INT_MIN maps to 0', () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-973932308)).toBe(-973932308 & 0x7fffffff);
    expect(toPositive(42)).toBe(42);
  });
});

describe('partitionForKey', () => {
  it('is toPositive(murmur2(key)) mod the partition count', () => {
    const key = utf8('foobar');
    expect(partitionForKey(key, 7)).toBe((-790332482 & 0x7fffffff) % 7);
  });

  it('always lands inside [0, numPartitions)', () => {
    for (let i = 0; i < 200; i++) {
      const p = partitionForKey(utf8(`key-${i}`), 13);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(13);
    }
  });

  it('rejects a non-positive or fractional partition count', () => {
    expect(() => partitionForKey(utf8('k'), 0)).toThrow(RangeError);
    expect(() => partitionForKey(utf8('k'), 2.5)).toThrow(RangeError);
  });
});
