/** Injected randomness: the controller core never calls Math.random, so a seed replays a run. */
export interface Random {
  /** A uniformly distributed integer in [0, n). */
  int(n: number): number;
}

/** mulberry32: small, fast, good enough for placement offsets, topic ids and simulations. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return {
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Random.int needs a positive integer bound, got ${n}`);
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      return Math.floor(unit * n);
    },
  };
}
