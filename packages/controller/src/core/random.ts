import { Prng } from '@runnel/protocol/prng';
import type { Random } from '@runnel/protocol/prng';

/** Injected randomness: the controller core never calls Math.random, so a seed replays a run. */
export type { Random };

/** The shared seeded generator, for placement offsets in tests and simulations. */
export function seededRandom(seed: number): Random {
  return new Prng(seed);
}
