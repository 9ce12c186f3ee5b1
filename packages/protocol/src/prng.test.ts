import { describe, expect, it } from 'vitest';
import { Prng } from '@runnel/protocol/prng';

function draws(seed: number, count: number): number[] {
  const r = new Prng(seed);
  return Array.from({ length: count }, () => r.nextUint32());
}

describe('Prng', () => {
  it('gives the same sequence for the same seed', () => {
    expect(draws(42, 100)).toEqual(draws(42, 100));
  });

  it('gives unrelated sequences for neighbouring seeds', () => {
    const a = draws(1, 100);
    const b = draws(2, 100);
    expect(a.filter((x, i) => x === b[i])).toHaveLength(0);
  });

  it('int stays in range and hits every value of a small range', () => {
    const r = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const x = r.int(6);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(6);
      seen.add(x);
    }
    expect(seen.size).toBe(6);
    expect(() => r.int(0)).toThrow();
  });

  it('float is in [0, 1) and chance follows its probability roughly', () => {
    const r = new Prng(9);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) {
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
      if (r.chance(0.3)) hits++;
    }
    expect(hits).toBeGreaterThan(2_700);
    expect(hits).toBeLessThan(3_300);
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
  });

  it('forked streams are deterministic too', () => {
    const a = new Prng(5).fork();
    const b = new Prng(5).fork();
    expect([a.int(1000), a.int(1000), a.pick(['x', 'y', 'z'])]).toEqual([b.int(1000), b.int(1000), b.pick(['x', 'y', 'z'])]);
  });
});
