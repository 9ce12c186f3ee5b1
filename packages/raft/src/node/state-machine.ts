import type { Entry } from '../core/types.js';

/**
 * The replicated application (the metadata image). Raft guarantees every node applies the same
 * entries in the same order, so `apply` must be deterministic and must not throw for a valid entry:
 * a throw stops the node, because skipping an entry would make its state diverge from its peers'.
 */
export interface StateMachine {
  /** 'normal' entries only, in index order, each exactly once per process lifetime. */
  apply(entry: Entry): void;
  /** State as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replace the whole state with a snapshot's bytes (at start-up, or when the leader sends one). */
  restore(data: Uint8Array): void;
}
