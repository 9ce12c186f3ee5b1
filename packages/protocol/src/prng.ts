// Seeded randomness for simulations and randomized tests.
// Every random choice of a run draws from a Prng derived from one seed, so a failing seed
// replays the exact same run.
//
// Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 32-bit), seeded through
// splitmix32 so that nearby seeds (1, 2, 3, ...) give unrelated streams.

/** Seeded randomness as Runnel's pure cores consume it (structurally the same as their own Random). */
export interface Random {
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

const UINT32_RANGE = 0x1_0000_0000;

/** One splitmix32 step: returns [output, next state]. Used only to expand a seed into sfc32 state. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

export class Prng implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Prng seed must be an integer, got ${seed}`);
    let state = seed | 0;
    let out: number;
    [out, state] = splitmix32(state);
    this.a = out;
    [out, state] = splitmix32(state);
    this.b = out;
    [out, state] = splitmix32(state);
    this.c = out;
    [out, state] = splitmix32(state);
    this.d = out;
    // sfc32's first outputs are weakly mixed; discard them as its author recommends.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Uniform unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextUint32() / UINT32_RANGE;
  }

  /** Uniform integer in [0, maxExclusive). Rejection sampling keeps it unbiased. */
  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive <= 0 || maxExclusive > UINT32_RANGE) {
      throw new Error(`Prng.int bound must be an integer in [1, 2^32], got ${maxExclusive}`);
    }
    const limit = UINT32_RANGE - (UINT32_RANGE % maxExclusive);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % maxExclusive;
    }
  }

  /** Uniform integer in [min, max]. */
  intBetween(min: number, max: number): number {
    if (max < min) throw new Error(`Prng.intBetween: max ${max} < min ${min}`);
    return min + this.int(max - min + 1);
  }

  /** True with probability p (p <= 0 never, p >= 1 always, without consuming a draw in those cases). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Prng.pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Fisher-Yates, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /**
   * An independent child stream. Giving each consumer (network, each node's core, client load) its
   * own stream keeps one consumer's extra draws from shifting every other consumer's choices, so a
   * small change in, say, how often a client proposes does not reshuffle the whole run.
   */
  fork(): Prng {
    return new Prng(this.nextUint32() | 0);
  }
}
